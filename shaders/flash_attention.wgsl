// Flash-style masked attention (ESM-2 and NT-v2 self-attention, the fusion's cross-attention).
// Owner: crates/isoformer-model/src/kernels/attention.rs, which fills the `{{ }}` constants and
// checks this kernel against its reference twin (plain burn ops).
//
//   out[b, i, h, :] = Σ_j softmax_j(q[b,h,i,:]·k[b,h,j,:] / divisor) · v[b,h,j,:],  j < len[b]
//
// A row whose length is 0 attends uniformly over all M keys, as the reference's masked softmax
// does. The N×M scores never reach device memory: each invocation owns one query row and keeps
// a running maximum, a running sum and its output accumulator (online softmax, rescaled once per
// tile) while the workgroup walks the keys in tiles of BK staged in workgroup memory. Head
// vectors are held as vec4s (D4 = ⌈D/4⌉, zero-padded), so any head size works.
//
// The loops over a head vector are unrolled by the owner (the score, rescale and accumulate
// placeholders): Mesa's lavapipe stops an invocation's loops after 65,535 iterations in all,
// silently, which a key loop with a head loop inside reaches at a few hundred keys; unrolled,
// only the key loops count (and the vectors stay in registers on a GPU).
//
// Every binding is read_write: burn's allocator may place two tensors in one device buffer, and
// wgpu refuses a read-only and a writable binding of one buffer in the same dispatch.
//
// Bindings (f32 unless said): 0 q (B,H,N,D), 1 k (B,H,M,D), 2 v (B,H,M,DV), any strides, given
// in `info`; 3 lens (u32, B); 4 out (B,N,H,DV) contiguous; 5 info (u32):
//   [B, H, N, M, divisor bits, q strides b h n d, k strides b h m d, v strides b h m d]

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> k: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> lens: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> info: array<u32>;

const D: u32 = {{ d }}u;
const DV: u32 = {{ dv }}u;
const D4: u32 = {{ d4 }}u;
const DV4: u32 = {{ dv4 }}u;
const BK: u32 = {{ bk }}u;
const WG: u32 = {{ wg }}u;

var<workgroup> ks: array<vec4<f32>, {{ bk_d4 }}>;
var<workgroup> vs: array<vec4<f32>, {{ bk_dv4 }}>;
// The keys this workgroup walks, shared so that the loop around the barriers is uniform.
var<workgroup> walk: u32;

// One element of q, k or v (`buf` 0, 1, 2), or 0 at and past `end`.
fn element(buf: u32, base: u32, c: u32, s: u32, end: u32) -> f32 {
    if (c >= end) {
        return 0.0;
    }
    let at = base + c * s;
    if (buf == 0u) {
        return q[at];
    } else if (buf == 1u) {
        return k[at];
    }
    return v[at];
}

// Four consecutive elements of a row starting at element `c` (stride `s`), zero past `end`.
fn quad(buf: u32, base: u32, c: u32, s: u32, end: u32) -> vec4<f32> {
    return vec4<f32>(
        element(buf, base, c, s, end),
        element(buf, base, c + 1u, s, end),
        element(buf, base, c + 2u, s, end),
        element(buf, base, c + 3u, s, end),
    );
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let heads = info[1];
    let n = info[2];
    let m = info[3];
    let divisor = bitcast<f32>(info[4]);
    let b = wid.y / heads;
    let h = wid.y % heads;
    let i = wid.x * WG + t;
    let live = i < n;

    let all_padded = lens[b] == 0u;
    if (t == 0u) {
        walk = select(lens[b], m, all_padded);
    }
    let len = workgroupUniformLoad(&walk);

    let q_base = b * info[5] + h * info[6] + i * info[7];
    let k_base = b * info[9] + h * info[10];
    let v_base = b * info[13] + h * info[14];
    let q_sd = info[8];
    let k_sm = info[11];
    let k_sd = info[12];
    let v_sm = info[15];
    let v_sd = info[16];

    var qv: array<vec4<f32>, D4>;
    if (live) {
        for (var c = 0u; c < D4; c++) {
            qv[c] = quad(0u, q_base, 4u * c, q_sd, D);
        }
    }
    var acc: array<vec4<f32>, DV4>;
    var scores: array<f32, BK>;
    var run_max = bitcast<f32>(0xff7fffffu); // −f32::MAX (a decimal literal may round past it)
    var run_sum = 0.0;

    for (var j0 = 0u; j0 < len; j0 += BK) {
        let count = min(BK, len - j0);
        workgroupBarrier();
        for (var e = t; e < count * D4; e += WG) {
            let jj = e / D4;
            ks[e] = quad(1u, k_base + (j0 + jj) * k_sm, 4u * (e - jj * D4), k_sd, D);
        }
        for (var e = t; e < count * DV4; e += WG) {
            let jj = e / DV4;
            vs[e] = quad(2u, v_base + (j0 + jj) * v_sm, 4u * (e - jj * DV4), v_sd, DV);
        }
        workgroupBarrier();
        if (live) {
            var tile_max = run_max;
            for (var jj = 0u; jj < count; jj++) {
                let kb = jj * D4;
                var s = {{ score }};
                s = select(s / divisor, 0.0, all_padded);
                scores[jj] = s;
                tile_max = max(tile_max, s);
            }
            let shrink = exp(run_max - tile_max);
            run_sum *= shrink;
            {{ rescale }}
            run_max = tile_max;
            for (var jj = 0u; jj < count; jj++) {
                let p = exp(scores[jj] - run_max);
                run_sum += p;
                let vb = jj * DV4;
                {{ accumulate }}
            }
        }
    }

    if (live) {
        let o = ((b * n + i) * heads + h) * DV;
        for (var c = 0u; c < DV; c++) {
            out[o + c] = acc[c / 4u][c % 4u] / run_sum;
        }
    }
}
