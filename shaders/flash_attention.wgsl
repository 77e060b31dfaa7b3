// Flash-style masked attention (ESM-2 and NT-v2 self-attention, the fusion's cross-attention).
// Owner: crates/isoformer-model/src/kernels/attention.rs, which fills the `{{ }}` constants and
// checks this kernel against its reference twin (plain burn ops).
//
//   out[b, i, h, :] = Σ_j softmax_j(q[b,h,i,:]·k[b,h,j,:] / divisor) · v[b,h,j,:],  j < len[b]
//
// A row whose length is 0 attends uniformly over all M keys, as the reference's masked softmax
// does. The L×M scores never reach device memory: each invocation owns one query row and keeps
// a running maximum, a running sum and its output accumulator (online softmax) while the
// workgroup walks the keys in tiles of BK staged in workgroup memory.
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
const BK: u32 = {{ bk }}u;
const WG: u32 = {{ wg }}u;

var<workgroup> ks: array<f32, {{ bk_d }}>;
var<workgroup> vs: array<f32, {{ bk_dv }}>;
// The keys this workgroup walks, shared so that the loop around the barriers is uniform.
var<workgroup> walk: u32;

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

    var qv: array<f32, D>;
    if (live) {
        for (var c = 0u; c < D; c++) {
            qv[c] = q[q_base + c * q_sd];
        }
    }
    var acc: array<f32, DV>;
    var run_max = -3.4028235e38;
    var run_sum = 0.0;

    for (var j0 = 0u; j0 < len; j0 += BK) {
        let count = min(BK, len - j0);
        workgroupBarrier();
        for (var e = t; e < count * D; e += WG) {
            let jj = e / D;
            ks[e] = k[k_base + (j0 + jj) * k_sm + (e - jj * D) * k_sd];
        }
        for (var e = t; e < count * DV; e += WG) {
            let jj = e / DV;
            vs[e] = v[v_base + (j0 + jj) * v_sm + (e - jj * DV) * v_sd];
        }
        workgroupBarrier();
        if (live) {
            for (var jj = 0u; jj < count; jj++) {
                var s = 0.0;
                for (var c = 0u; c < D; c++) {
                    s += qv[c] * ks[jj * D + c];
                }
                s = s / divisor;
                if (all_padded) {
                    s = 0.0;
                }
                if (s > run_max) {
                    let shrink = exp(run_max - s);
                    run_sum *= shrink;
                    for (var c = 0u; c < DV; c++) {
                        acc[c] *= shrink;
                    }
                    run_max = s;
                }
                let p = exp(s - run_max);
                run_sum += p;
                for (var c = 0u; c < DV; c++) {
                    acc[c] += p * vs[jj * DV + c];
                }
            }
        }
    }

    if (live) {
        let o = ((b * n + i) * heads + h) * DV;
        for (var c = 0u; c < DV; c++) {
            out[o + c] = acc[c] / run_sum;
        }
    }
}
