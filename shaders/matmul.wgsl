// Batched matrix product without workgroup memory: out[z] = a[z] · b[z].
// Owner: crates/isoformer-model/src/kernels/matmul.rs, which checks it against burn's matmul.
//
// Each invocation computes `rows` × `cols` outputs in registers (vec4s along the columns),
// reading a and b straight from their buffers (any strides: a transposed operand needs no
// copy). There is no workgroup memory and no barrier, on purpose: CPU implementations of WebGPU
// (SwiftShader in Chromium, lavapipe) run a workgroup's invocations as SIMD lanes and implement a
// barrier by switching between coroutines, which makes the tiled kernels written for GPUs
// several times slower there (benches/README.md).
//
// Template: `b_elem` is `vec4<f32>` where b is contiguous along n with every offset a multiple of
// 4 (one load per 4 columns), else `f32`; the kernel file generates the unrolled parts: the row
// offsets and accumulators (`decl`), one k step (`body`) and the stores (`store`).
//
// Bindings: 0 a (f32), 1 b, 2 out (f32, Z·M·N contiguous),
// 3 info (u32): [Z, M, N, K, a batch stride, a row stride, a k stride,
//                b batch stride, b k stride, b column stride]

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<{{ b_elem }}>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

@compute @workgroup_size({{ wgx }}, {{ wgy }}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = info[1];
    let n = info[2];
    let kk = info[3];
    let z = gid.z;
    let m0 = gid.y * {{ rows }}u;
    let n0 = gid.x * {{ cols }}u;
    if (m0 >= m || n0 >= n) {
        return;
    }
    let a_sk = info[6];
    let b_sk = info[8];
    let b_sn = info[9];
    // Rows and columns past the edge read the last valid one; their results are not written.
    let ra = z * info[4];
    let cb = z * info[7];
    {{ decl }}
    for (var k = 0u; k < kk; k++) {
        {{ body }}
    }
    let base = z * m * n;
    {{ store }}
}
