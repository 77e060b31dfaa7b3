//! The WGSL kernels' binding to burn's wgpu backend (the `wgsl` feature): one backend extension
//! trait whose methods launch the shaders in `shaders/`, and the launch plumbing they share
//! (tensor strides, the `info` buffer, workgroup tiling). Each kernel's own file decides when its
//! method is called; nothing else in the crate touches this module.
//!
//! The shaders are templates (burn's `template` feature): constants such as the head size are
//! filled in per shape, so every distinct head size compiles its own pipeline once.

use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::backend::{Backend, backend_extension};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Device, Shape};

/// Invocations per workgroup of the attention kernels: one query row each.
pub const ATTENTION_WORKGROUP: u32 = 64;
/// WebGPU guarantees 16 KiB of workgroup memory; the attention kernels stage key and value
/// tiles there as vec4s, so the tile holds `16 KiB / (16 · (⌈D/4⌉ + ⌈DV/4⌉))` keys (at most 64).
pub const WORKGROUP_BYTES: usize = 16 * 1024;
/// Invocations per workgroup of the element-wise kernels.
pub const ELEMENTWISE_WORKGROUP: u32 = 256;
/// WebGPU's `maxComputeWorkgroupsPerDimension` default.
const MAX_GROUPS_PER_DIM: u32 = 65_535;

/// Whether `device` runs the WGSL kernels: a cubecl (wgpu) device without autodiff (the kernels
/// have no backward pass; training takes the reference path).
pub fn runs_on(device: &Device) -> bool {
    matches!(device.as_dispatch(), burn::backend::DispatchDevice::Cube(_)) && !device.is_autodiff()
}

/// Keys per tile for head sizes `d` (scores) and `dv` (values).
pub fn key_tile(d: usize, dv: usize) -> usize {
    (WORKGROUP_BYTES / (16 * (d.div_ceil(4) + dv.div_ceil(4)))).clamp(1, 64)
}

/// Which attention kernel a template is filled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attention {
    Flash,
    Relative,
}

/// The template values of an attention kernel with head sizes `d` and `dv`: the constants, and
/// the unrolled head-vector loops (lavapipe ends an invocation's loops after 65,535 iterations in
/// all, so only the key loops may loop): the score of key `jj` (its vec4s at `ks[kb + c]`), the
/// accumulator's rescale and its update with key `jj`'s value (`vs[vb + c]`, weight `p`).
fn attention_template(kind: Attention, d: usize, dv: usize) -> Vec<(&'static str, String)> {
    let bk = key_tile(d, dv);
    let (d4, dv4) = (d.div_ceil(4), dv.div_ceil(4));
    let score: Vec<String> = (0..d4)
        .map(|c| match kind {
            Attention::Flash => format!("dot(qv[{c}u], ks[kb + {c}u])"),
            Attention::Relative => {
                format!("dot(qu[{c}u], ks[kb + {c}u]) + dot(qw[{c}u], quad(3u, row, {}u, r_sd, D))", 4 * c)
            }
        })
        .collect();
    let rescale: Vec<String> = (0..dv4).map(|c| format!("acc[{c}u] *= shrink;")).collect();
    let accumulate: Vec<String> = (0..dv4).map(|c| format!("acc[{c}u] += p * vs[vb + {c}u];")).collect();
    let mut values: Vec<(&'static str, String)> = [
        ("d", d),
        ("dv", dv),
        ("d4", d4),
        ("dv4", dv4),
        ("bk", bk),
        ("wg", ATTENTION_WORKGROUP as usize),
        ("bk_d4", bk * d4),
        ("bk_dv4", bk * dv4),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    values.push(("score", score.join(" + ")));
    values.push(("rescale", rescale.join(" ")));
    values.push(("accumulate", accumulate.join(" ")));
    values
}

/// Invocations per workgroup of the matmul and conv1d kernels (x: column or position blocks,
/// y: row or channel blocks).
pub const MATMUL_WORKGROUP: (u32, u32) = (8, 8);
/// Rows and columns per invocation of the matmul kernel.
pub const MATMUL_TILE: (usize, usize) = (16, 8);
/// Output channels and positions per invocation of the conv1d kernel, by kernel size: 8 × 16
/// for Enformer's conv tower (k 5) and pointwise convs; 4 × 8 for the stem's k 15, whose fully
/// unrolled 8 × 16 body took SwiftShader 200 s to compile (4 input channels there: its FLOPs are
/// 0.6 % of the model's).
pub fn conv_tile(k: usize) -> (usize, usize) {
    if k <= 5 { (8, 16) } else { (4, 8) }
}

/// The template values of the matmul kernel for output columns `n` and the strides
/// `[a batch, a row, a k, b batch, b k, b column]` (see the shader's header). b is read as vec4s
/// where it is contiguous along n and every offset is a multiple of 4. (Reading a as vec4s along
/// k as well made SwiftShader slower: 2.5 against 3.8 GFLOP/s at an 8 × 4 tile.)
fn matmul_template(n: usize, s: &[u32; 6]) -> Vec<(&'static str, String)> {
    let (rows, cols) = MATMUL_TILE;
    let vecs = cols / 4;
    let b_vec = s[5] == 1 && n % 4 == 0 && s[3] % 4 == 0 && s[4] % 4 == 0;
    let mut decl = String::new();
    for i in 0..rows {
        decl.push_str(&format!("let r{i} = ra + min(m0 + {i}u, m - 1u) * info[5]; "));
        for v in 0..vecs {
            decl.push_str(&format!("var acc{i}_{v} = vec4<f32>(0.0); "));
        }
    }
    for j in 0..cols {
        decl.push_str(&format!("let c{j} = cb + min(n0 + {j}u, n - 1u) * b_sn; "));
    }
    let mut body = String::from("let ko = k * b_sk; ");
    for v in 0..vecs {
        if b_vec {
            body.push_str(&format!("let bv{v} = b[(c{} + ko) / 4u]; ", 4 * v));
        } else {
            let c = |j: usize| format!("b[c{} + ko]", 4 * v + j);
            body.push_str(&format!("let bv{v} = vec4<f32>({}, {}, {}, {}); ", c(0), c(1), c(2), c(3)));
        }
    }
    for i in 0..rows {
        body.push_str(&format!("let a{i} = a[r{i} + k * a_sk]; "));
        for v in 0..vecs {
            body.push_str(&format!("acc{i}_{v} += a{i} * bv{v}; "));
        }
    }
    let mut store = String::new();
    for i in 0..rows {
        store.push_str(&format!("if (m0 + {i}u < m) {{ let row = base + (m0 + {i}u) * n + n0; "));
        for v in 0..vecs {
            for j in 0..4 {
                let c = 4 * v + j;
                store.push_str(&format!("if (n0 + {c}u < n) {{ out[row + {c}u] = acc{i}_{v}[{j}]; }} "));
            }
        }
        store.push_str("} ");
    }
    let (wx, wy) = MATMUL_WORKGROUP;
    vec![
        ("b_elem", if b_vec { "vec4<f32>" } else { "f32" }.to_string()),
        ("rows", rows.to_string()),
        ("cols", cols.to_string()),
        ("decl", decl),
        ("body", body),
        ("store", store),
        ("wgx", wx.to_string()),
        ("wgy", wy.to_string()),
    ]
}

/// The template values of the conv1d kernel for `k` taps (see the shader's header).
fn conv1d_template(k: usize) -> Vec<(&'static str, String)> {
    let (channels, positions) = conv_tile(k);
    let vecs = positions / 4;
    let mut decl = String::new();
    for i in 0..channels {
        decl.push_str(&format!("let w{i} = min(o0 + {i}u, cout - 1u) * cin * {k}u; "));
        for v in 0..vecs {
            decl.push_str(&format!("var acc{i}_{v} = vec4<f32>(0.0); "));
        }
    }
    let load: String = (0..k + positions - 1).map(|j| format!("let xv{j} = at(xb, p0 + {j}, len, sl); ")).collect();
    let mut body = String::new();
    for t in 0..k {
        body.push_str("{ ");
        for v in 0..vecs {
            let p = t + 4 * v;
            body.push_str(&format!("let xs{v} = vec4<f32>(xv{p}, xv{}, xv{}, xv{}); ", p + 1, p + 2, p + 3));
        }
        for i in 0..channels {
            body.push_str(&format!("let wt{i} = w[w{i} + wc + {t}u]; "));
            for v in 0..vecs {
                body.push_str(&format!("acc{i}_{v} += wt{i} * xs{v}; "));
            }
        }
        body.push_str("} ");
    }
    let mut store = String::new();
    for i in 0..channels {
        store.push_str(&format!("if (o0 + {i}u < cout) {{ let row = base + (o0 + {i}u) * len; let bi = bias[o0 + {i}u]; "));
        for v in 0..vecs {
            for j in 0..4 {
                let p = 4 * v + j;
                store.push_str(&format!("if (l0 + {p}u < len) {{ out[row + l0 + {p}u] = acc{i}_{v}[{j}] + bi; }} "));
            }
        }
        store.push_str("} ");
    }
    let (wx, wy) = MATMUL_WORKGROUP;
    vec![
        ("k", k.to_string()),
        ("pad", (k / 2).to_string()),
        ("channels", channels.to_string()),
        ("positions", positions.to_string()),
        ("decl", decl),
        ("load", load),
        ("body", body),
        ("store", store),
        ("wgx", wx.to_string()),
        ("wgy", wy.to_string()),
    ]
}

/// The kernels, as a burn backend extension: implemented for the cubecl backend (wgpu), routed
/// from `Tensor`s by burn's dispatch. Callers go through the kernel files' public functions,
/// which check [`runs_on`] first (any other backend would panic here).
#[backend_extension(Cube: cfg(feature = "wgsl"))]
pub trait WgslKernels: Backend {
    /// `shaders/flash_attention.wgsl`: q `(B,H,N,D)`, k `(B,H,M,D)`, v `(B,H,M,DV)`, `lens[b]`
    /// valid keys per row → `(B,N,H,DV)` contiguous.
    fn flash_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        lens: Vec<u32>,
        divisor: f32,
    ) -> FloatTensor<Self>;

    /// `shaders/relative_attention.wgsl`: q, k `(B,H,N,D)`, v `(B,H,N,DV)`, r `(H,2N−1,D)`,
    /// biases `(2,H,D)` → `(B,N,H,DV)` contiguous.
    fn relative_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        r: FloatTensor<Self>,
        biases: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `shaders/fusion_residual.wgsl`: `keep[b] ? y + x : x` over `(B,N,D)`.
    fn fusion_residual(y: FloatTensor<Self>, x: FloatTensor<Self>, keep: Vec<u32>) -> FloatTensor<Self>;

    /// `shaders/matmul.wgsl`: a `(Z,M,K)` · b `(Z,K,N)` → `(Z,M,N)` contiguous (either batch may
    /// be 1: broadcast).
    fn matmul(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `shaders/conv1d.wgsl`: x `(Z,Cin,L)`, weight `(Cout,Cin,K)` (K odd), bias `(Cout)` →
    /// `(Z,Cout,L)` contiguous, padding K/2 on both sides.
    fn conv1d(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// A shader with its template values.
#[derive(Debug)]
struct Shader {
    name: &'static str,
    text: &'static str,
    constants: Vec<(&'static str, String)>,
}

impl KernelSource for Shader {
    fn source(&self) -> SourceTemplate {
        self.constants.iter().fold(SourceTemplate::new(self.text), |s, (k, v)| s.register(*k, v.clone()))
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((self.name, self.constants.clone()))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

const FLASH_ATTENTION: &str = include_str!("../../../../shaders/flash_attention.wgsl");
const RELATIVE_ATTENTION: &str = include_str!("../../../../shaders/relative_attention.wgsl");
const FUSION_RESIDUAL: &str = include_str!("../../../../shaders/fusion_residual.wgsl");
const MATMUL: &str = include_str!("../../../../shaders/matmul.wgsl");
const CONV1D: &str = include_str!("../../../../shaders/conv1d.wgsl");

fn dims(t: &CubeTensor) -> Vec<usize> {
    t.meta.shape().iter().copied().collect()
}

fn strides(t: &CubeTensor) -> impl Iterator<Item = u32> + '_ {
    t.meta.strides().iter().map(|&s| u32::try_from(s).expect("tensor stride fits u32"))
}

fn u32s(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).expect("size fits u32")
}

/// A new contiguous f32 tensor on `like`'s device.
fn empty_f32(like: &CubeTensor, shape: Vec<usize>) -> CubeTensor {
    let shape = Shape::from(shape);
    let buffer = like.client.empty(shape.num_elements() * DType::F32.size());
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), shape, buffer, DType::F32)
}

/// Workgroups for `rows` query rows of `pairs` (batch, head) pairs.
fn attention_groups(rows: usize, pairs: usize) -> CubeCount {
    let x = u32_of(rows.div_ceil(ATTENTION_WORKGROUP as usize));
    let y = u32_of(pairs);
    assert!(x <= MAX_GROUPS_PER_DIM && y <= MAX_GROUPS_PER_DIM, "attention grid {x}×{y} over the WebGPU limit");
    CubeCount::Static(x, y, 1)
}

fn launch(shader: Shader, workgroup: u32, count: CubeCount, tensors: &[&CubeTensor], host: &[&[u32]], out: &CubeTensor) {
    let client = &out.client;
    let mut buffers: Vec<_> = tensors.iter().map(|t| t.handle.clone().binding()).collect();
    let (last, small) = host.split_last().expect("an info buffer");
    for values in small {
        buffers.push(client.create_from_slice(&u32s(values)).binding());
    }
    buffers.push(out.handle.clone().binding());
    buffers.push(client.create_from_slice(&u32s(last)).binding());
    client.launch(
        Box::new(SourceKernel::new(shader, CubeDim::new_1d(workgroup))),
        count,
        KernelArguments::new().with_buffers(buffers),
    );
}

fn f32_only(tensors: &[&CubeTensor]) {
    for t in tensors {
        assert_eq!(t.dtype, DType::F32, "the WGSL kernels are written for f32 tensors");
    }
}

/// Launches a kernel with workgroups of [`MATMUL_WORKGROUP`]: the tensors' bindings, then `out`,
/// then `info`.
fn launch_2d(shader: Shader, count: CubeCount, tensors: &[&CubeTensor], info: &[u32], out: &CubeTensor) {
    let client = &out.client;
    let mut buffers: Vec<_> = tensors.iter().map(|t| t.handle.clone().binding()).collect();
    buffers.push(out.handle.clone().binding());
    buffers.push(client.create_from_slice(&u32s(info)).binding());
    let (wx, wy) = MATMUL_WORKGROUP;
    client.launch(Box::new(SourceKernel::new(shader, CubeDim::new_2d(wx, wy))), count, KernelArguments::new().with_buffers(buffers));
}

/// Workgroups covering `cols` × `rows` in invocation tiles of `tile_cols` × `tile_rows`, over `z`.
fn grid_2d(cols: usize, tile_cols: usize, rows: usize, tile_rows: usize, z: usize) -> CubeCount {
    let (wx, wy) = MATMUL_WORKGROUP;
    let gx = u32_of(cols.div_ceil(tile_cols * wx as usize));
    let gy = u32_of(rows.div_ceil(tile_rows * wy as usize));
    let gz = u32_of(z);
    assert!(gx <= MAX_GROUPS_PER_DIM && gy <= MAX_GROUPS_PER_DIM && gz <= MAX_GROUPS_PER_DIM, "grid {gx}×{gy}×{gz} over the WebGPU limit");
    CubeCount::Static(gx, gy, gz)
}

impl WgslKernels for CubeBackend {
    fn flash_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        lens: Vec<u32>,
        divisor: f32,
    ) -> FloatTensor<Self> {
        f32_only(&[&q, &k, &v]);
        let [b, h, n, d]: [usize; 4] = dims(&q).try_into().expect("q is 4-D");
        let m = dims(&k)[2];
        let dv = dims(&v)[3];
        assert_eq!(lens.len(), b, "one key length per batch row");
        let out = empty_f32(&q, vec![b, n, h, dv]);
        let shader = Shader { name: "flash_attention", text: FLASH_ATTENTION, constants: attention_template(Attention::Flash, d, dv) };
        let mut info = vec![u32_of(b), u32_of(h), u32_of(n), u32_of(m), divisor.to_bits()];
        info.extend(strides(&q).chain(strides(&k)).chain(strides(&v)));
        launch(shader, ATTENTION_WORKGROUP, attention_groups(n, b * h), &[&q, &k, &v], &[&lens, &info], &out);
        out
    }

    fn relative_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        r: FloatTensor<Self>,
        biases: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        f32_only(&[&q, &k, &v, &r, &biases]);
        let [b, h, n, d]: [usize; 4] = dims(&q).try_into().expect("q is 4-D");
        let dv = dims(&v)[3];
        assert_eq!(dims(&r), vec![h, 2 * n - 1, d], "relative keys (H, 2N−1, D)");
        let biases = burn::backend::wgpu::into_contiguous(biases);
        let out = empty_f32(&q, vec![b, n, h, dv]);
        let shader = Shader {
            name: "relative_attention",
            text: RELATIVE_ATTENTION,
            constants: attention_template(Attention::Relative, d, dv),
        };
        let mut info = vec![u32_of(b), u32_of(h), u32_of(n)];
        info.extend(strides(&q).chain(strides(&k)).chain(strides(&v)).chain(strides(&r)));
        launch(
            shader,
            ATTENTION_WORKGROUP,
            attention_groups(n, b * h),
            &[&q, &k, &v, &r, &biases],
            &[&info],
            &out,
        );
        out
    }

    fn fusion_residual(y: FloatTensor<Self>, x: FloatTensor<Self>, keep: Vec<u32>) -> FloatTensor<Self> {
        f32_only(&[&y, &x]);
        let shape = dims(&x);
        assert_eq!(dims(&y), shape, "y and x have one shape");
        let (y, x) = (burn::backend::wgpu::into_contiguous(y), burn::backend::wgpu::into_contiguous(x));
        let b = shape[0];
        let per_row: usize = shape[1..].iter().product();
        assert_eq!(keep.len(), b, "one flag per batch row");
        let out = empty_f32(&x, shape);
        let groups = (b * per_row).div_ceil(ELEMENTWISE_WORKGROUP as usize);
        let gx = groups.min(MAX_GROUPS_PER_DIM as usize);
        let count = CubeCount::Static(u32_of(gx), u32_of(groups.div_ceil(gx)), 1);
        let shader = Shader {
            name: "fusion_residual",
            text: FUSION_RESIDUAL,
            constants: vec![("wg", ELEMENTWISE_WORKGROUP.to_string())],
        };
        let info = [u32_of(b), u32_of(per_row)];
        launch(shader, ELEMENTWISE_WORKGROUP, count, &[&y, &x], &[&keep, &info], &out);
        out
    }

    fn matmul(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        f32_only(&[&a, &b]);
        let [za, m, k]: [usize; 3] = dims(&a).try_into().expect("a is 3-D");
        let [zb, kb, n]: [usize; 3] = dims(&b).try_into().expect("b is 3-D");
        assert_eq!(k, kb, "inner sizes agree");
        let z = za.max(zb);
        assert!((za == z || za == 1) && (zb == z || zb == 1), "batches agree or broadcast");
        let (sa, sb): (Vec<u32>, Vec<u32>) = (strides(&a).collect(), strides(&b).collect());
        // A batch of 1 broadcasts: batch stride 0.
        let strides = [if za == 1 { 0 } else { sa[0] }, sa[1], sa[2], if zb == 1 { 0 } else { sb[0] }, sb[1], sb[2]];
        let out = empty_f32(&a, vec![z, m, n]);
        let (rows, cols) = MATMUL_TILE;
        let shader = Shader { name: "matmul", text: MATMUL, constants: matmul_template(n, &strides) };
        let mut info = vec![u32_of(z), u32_of(m), u32_of(n), u32_of(k)];
        info.extend(strides);
        launch_2d(shader, grid_2d(n, cols, m, rows, z), &[&a, &b], &info, &out);
        out
    }

    fn conv1d(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        f32_only(&[&x, &weight, &bias]);
        let [z, cin, len]: [usize; 3] = dims(&x).try_into().expect("x is 3-D");
        let [cout, cin_w, k]: [usize; 3] = dims(&weight).try_into().expect("weight is 3-D");
        assert_eq!(cin, cin_w, "input channels agree");
        assert!(k % 2 == 1, "an odd kernel size");
        assert_eq!(dims(&bias), vec![cout], "one bias per output channel");
        let weight = burn::backend::wgpu::into_contiguous(weight);
        let bias = burn::backend::wgpu::into_contiguous(bias);
        let sx: Vec<u32> = strides(&x).collect();
        let out = empty_f32(&x, vec![z, cout, len]);
        let (channels, positions) = conv_tile(k);
        let shader = Shader { name: "conv1d", text: CONV1D, constants: conv1d_template(k) };
        let info = [u32_of(z), u32_of(cin), u32_of(cout), u32_of(len), sx[0], sx[1], sx[2]];
        launch_2d(shader, grid_2d(len, positions, cout, channels, z), &[&x, &weight, &bias], &info, &out);
        out
    }
}

/// WebGPU's guaranteed `maxStorageBufferBindingSize` (128 MiB).
pub const WEBGPU_MAX_BINDING: u64 = 128 << 20;
/// WebGPU's guaranteed `maxBufferSize` (256 MiB).
pub const WEBGPU_MAX_BUFFER: u64 = 256 << 20;

/// A native wgpu device whose limits are WebGPU's defaults (above all 128 MiB per storage
/// binding and 256 MiB per buffer) whatever the adapter allows: what a browser guarantees, on
/// this machine's adapter (Mesa's lavapipe in CI). Every buffer burn allocates on it must fit
/// those limits, which is how the tests and benches show that the official forward would run in
/// a browser. `Err` says why no device could be made.
#[cfg(not(target_family = "wasm"))]
pub fn webgpu_limited_device() -> Result<Device, String> {
    use burn::cubecl::future::block_on;
    use burn::tensor::wgpu::{WgpuSetup, wgpu};
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .map_err(|e| format!("no wgpu adapter: {e}"))?;
    let required_limits = wgpu::Limits {
        max_storage_buffer_binding_size: WEBGPU_MAX_BINDING,
        max_buffer_size: WEBGPU_MAX_BUFFER,
        ..wgpu::Limits::defaults()
    };
    let (device, queue) = block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("isoformer (WebGPU default limits)"),
        required_features: adapter.features().difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
        required_limits,
        // SAFETY: what burn's own device request enables (cubecl-wgpu `try_request_device`).
        experimental_features: unsafe { wgpu::ExperimentalFeatures::enabled() },
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        trace: wgpu::Trace::Off,
    }))
    .map_err(|e| format!("the adapter refused WebGPU's default limits: {e}"))?;
    let backend = adapter.get_info().backend;
    Device::wgpu_options()
        .setup(WgpuSetup { instance, adapter, device, queue, backend })
        .init()
        .map_err(|e| format!("burn could not use the limited device: {e}"))
}
