// The fusion layer's epilogue: the residual and the no-protein path in one pass.
// Owner: crates/isoformer-model/src/kernels/fusion_residual.rs, which checks this kernel
// against its reference twin (plain burn ops).
//
//   out[b, i, c] = keep[b] ? y[b, i, c] + x[b, i, c] : x[b, i, c]
//
// y is the output projection of the cross-attention context, x the DNA embeddings entering the
// layer. A transcript without protein (keep = 0) leaves the protein layer with its DNA
// embeddings unchanged; the reference does this with an add and a masked select over an
// expanded (B, N, D) mask, two more passes over the activations.
//
// Bindings: 0 y (f32, B·N·D contiguous), 1 x (f32, same), 2 keep (u32, B), 3 out (f32, same),
// 4 info (u32): [B, N·D]

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> keep: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> info: array<u32>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let per_row = info[1];
    let e = gid.x + gid.y * groups.x * {{ wg }}u;
    if (e >= info[0] * per_row) {
        return;
    }
    if (keep[e / per_row] != 0u) {
        out[e] = y[e] + x[e];
    } else {
        out[e] = x[e];
    }
}
