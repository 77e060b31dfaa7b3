// One-dimensional convolution with zero padding ("same" length) and its bias, without workgroup
// memory: out[z, o, l] = bias[o] + Σ_c Σ_t w[o, c, t] · x[z, c, l + t − pad].
// Owner: crates/isoformer-model/src/kernels/conv1d.rs, which checks it against burn's conv1d.
//
// Each invocation computes `channels` output channels × `positions` positions in registers (vec4s
// along positions); per input channel it reads the K + positions − 1 input values its positions
// need once and the channels·K weights, with no barrier (see shaders/matmul.wgsl for why: CPU
// implementations of WebGPU). The kernel file generates the unrolled parts: the accumulators
// (`decl`), the loads and updates of one input channel (`load`, `body`) and the stores
// (`store`), so only the channel loop loops.
//
// Bindings: 0 x (f32, any strides), 1 w (f32, Cout·Cin·K contiguous), 2 bias (f32, Cout),
// 3 out (f32, Z·Cout·L contiguous),
// 4 info (u32): [Z, Cin, Cout, L, x batch stride, x channel stride, x position stride]

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> info: array<u32>;

// x[xb + p·sl] for position p (signed), 0 outside [0, L).
fn at(xb: u32, p: i32, len: u32, sl: u32) -> f32 {
    let inside = p >= 0 && u32(p) < len;
    return select(0.0, x[xb + u32(max(p, 0)) * sl], inside);
}

@compute @workgroup_size({{ wgx }}, {{ wgy }}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let cin = info[1];
    let cout = info[2];
    let len = info[3];
    let z = gid.z;
    let l0 = gid.x * {{ positions }}u;
    let o0 = gid.y * {{ channels }}u;
    if (l0 >= len || o0 >= cout) {
        return;
    }
    let sl = info[6];
    let p0 = i32(l0) - {{ pad }};
    // Channels past the edge read the last valid one's weights; their results are not written.
    {{ decl }}
    for (var c = 0u; c < cin; c++) {
        let xb = z * info[4] + c * info[5];
        let wc = c * {{ k }}u;
        {{ load }}
        {{ body }}
    }
    let base = z * cout * len;
    {{ store }}
}
