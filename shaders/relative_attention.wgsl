// Enformer's multi-head attention with Transformer-XL relative position logits.
// Owner: crates/isoformer-model/src/kernels/relative_attention.rs, which fills the `{{ }}`
// constants and checks this kernel against its reference twin (plain burn ops).
//
//   logit(i, j) = (q_i + u_h)·k_j + (q_i + w_h)·r[h, j − i + N − 1]
//   out[b, i, h, :] = Σ_j softmax_j(logit(i, j)) · v[b,h,j,:]
//
// q is already scaled by 1/√D. r holds the projected relative position features, one row per
// distance −(N−1)..(N−1); the relative shift of the reference (pad, reshape, slice of an
// (H, N, 2N−1) tensor) is the index j − i + N − 1 here, so neither that tensor nor an (N, N)
// bias is ever written. Keys and values are staged in workgroup memory in tiles of BK; each
// invocation owns one query row and keeps an online softmax, rescaled once per tile. Head
// vectors are held as vec4s (D4 = ⌈D/4⌉, zero-padded).
//
// The loops over a head vector are unrolled by the owner (the score, rescale and accumulate
// placeholders): Mesa's lavapipe stops an invocation's loops after 65,535 iterations in all,
// silently, which a key loop with a head loop inside reaches at a few hundred keys; unrolled,
// only the key loops count (and the vectors stay in registers on a GPU).
//
// Every binding is read_write: burn's allocator may place two tensors in one device buffer, and
// wgpu refuses a read-only and a writable binding of one buffer in the same dispatch.
//
// Bindings (f32): 0 q (B,H,N,D), 1 k (B,H,N,D), 2 v (B,H,N,DV), 3 r (H,2N−1,D), any strides,
// given in `info`; 4 biases (2,H,D) contiguous: u then w; 5 out (B,N,H,DV) contiguous;
// 6 info (u32): [B, H, N, q strides b h n d, k strides b h n d, v strides b h n d,
//                r strides h row d]

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> k: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> r: array<f32>;
@group(0) @binding(4) var<storage, read_write> biases: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> info: array<u32>;

const D: u32 = {{ d }}u;
const DV: u32 = {{ dv }}u;
const D4: u32 = {{ d4 }}u;
const DV4: u32 = {{ dv4 }}u;
const BK: u32 = {{ bk }}u;
const WG: u32 = {{ wg }}u;

var<workgroup> ks: array<vec4<f32>, {{ bk_d4 }}>;
var<workgroup> vs: array<vec4<f32>, {{ bk_dv4 }}>;
// The sequence length, shared so that the loop around the barriers is uniform.
var<workgroup> walk: u32;

// One element of q, k, v, r or the biases (`buf` 0 to 4), or 0 at and past `end`.
fn element(buf: u32, base: u32, c: u32, s: u32, end: u32) -> f32 {
    if (c >= end) {
        return 0.0;
    }
    let at = base + c * s;
    if (buf == 0u) {
        return q[at];
    } else if (buf == 1u) {
        return k[at];
    } else if (buf == 2u) {
        return v[at];
    } else if (buf == 3u) {
        return r[at];
    }
    return biases[at];
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
    if (t == 0u) {
        walk = info[2];
    }
    let n = workgroupUniformLoad(&walk);
    let b = wid.y / heads;
    let h = wid.y % heads;
    let i = wid.x * WG + t;
    let live = i < n;

    let q_base = b * info[3] + h * info[4] + i * info[5];
    let q_sd = info[6];
    let k_base = b * info[7] + h * info[8];
    let k_sn = info[9];
    let k_sd = info[10];
    let v_base = b * info[11] + h * info[12];
    let v_sn = info[13];
    let v_sd = info[14];
    let r_base = h * info[15];
    let r_sr = info[16];
    let r_sd = info[17];

    // (q + u) for the content term, (q + w) for the position term.
    var qu: array<vec4<f32>, D4>;
    var qw: array<vec4<f32>, D4>;
    if (live) {
        for (var c = 0u; c < D4; c++) {
            let x = quad(0u, q_base, 4u * c, q_sd, D);
            qu[c] = x + quad(4u, h * D, 4u * c, 1u, D);
            qw[c] = x + quad(4u, (heads + h) * D, 4u * c, 1u, D);
        }
    }
    var acc: array<vec4<f32>, DV4>;
    var scores: array<f32, BK>;
    var run_max = bitcast<f32>(0xff7fffffu); // −f32::MAX (a decimal literal may round past it)
    var run_sum = 0.0;

    for (var j0 = 0u; j0 < n; j0 += BK) {
        let count = min(BK, n - j0);
        workgroupBarrier();
        for (var e = t; e < count * D4; e += WG) {
            let jj = e / D4;
            ks[e] = quad(1u, k_base + (j0 + jj) * k_sn, 4u * (e - jj * D4), k_sd, D);
        }
        for (var e = t; e < count * DV4; e += WG) {
            let jj = e / DV4;
            vs[e] = quad(2u, v_base + (j0 + jj) * v_sn, 4u * (e - jj * DV4), v_sd, DV);
        }
        workgroupBarrier();
        if (live) {
            var tile_max = run_max;
            for (var jj = 0u; jj < count; jj++) {
                // distance j − i, as a row of r: j − i + N − 1 (never negative).
                let row = r_base + (j0 + jj + n - 1u - i) * r_sr;
                let kb = jj * D4;
                let s = {{ score }};
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
