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
