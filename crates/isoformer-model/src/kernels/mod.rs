//! The arithmetic hot spots the encoders and the fusion share, one file per kernel.
//!
//! Each kernel file holds:
//! * the **reference** implementation in plain burn tensor ops (its `reference` function), which
//!   every backend can run (CPU, wgpu, the browser) and which the PyTorch parity tests pin;
//! * the switch to the **WGSL** implementation for the wgpu backend (the `wgsl` feature): its
//!   shader is `shaders/<kernel>.wgsl`, `include_str!`-ed by [`wgsl`] and by nothing else (the
//!   shader's header names the kernel file and each binding's shape), launched when
//!   [`use_wgsl`] says so for the tensors' device and the size of what the reference would
//!   materialise ([`WgslUse`]); every other device takes the reference (never a panic);
//! * a unit test of the reference against a hand-computed case. The parity cases of the two paths
//!   (seeded input of awkward sizes: lengths that are not a multiple of the workgroup, fully
//!   padded rows, several head sizes, batch > 1) are in [`parity`], run by `tests/kernels.rs`
//!   natively and by the web crate's browser tests on WebGPU.
//!
//! Callers use the public function of the kernel file and never pick a path themselves.
//!
//! Kernels:
//! * [`attention`]: softmax over the last dimension, and scaled dot-product attention with a
//!   key-padding mask (ESM-2 and NT-v2 self-attention, the fusion's cross-attention);
//!   `shaders/flash_attention.wgsl`.
//! * [`relative_attention`]: Enformer's attention with relative position logits;
//!   `shaders/relative_attention.wgsl`.
//! * [`fusion_residual`]: a fusion layer's residual and its no-protein path;
//!   `shaders/fusion_residual.wgsl`.
//! * [`matmul`]: every matrix product and Linear layer; `shaders/matmul.wgsl`.
//! * [`conv1d`]: Enformer's convolutions with their bias; `shaders/conv1d.wgsl`.
//!
//! The last two only help WebGPU implementations that run on the CPU (register-blocked, no
//! workgroup barriers): they are switched by [`use_register_kernels`], not by the size of
//! what the reference would materialise.
//!
//! On burn's flex CPU backend (no autodiff) the same public functions take the CPU kernels, which
//! work on flex tensors' values in place: [`cpu_gemm`] (Linear layers and convolutions),
//! [`cpu_attention`] (attention over valid keys, Enformer's relative attention),
//! [`cpu_elementwise`] (one-pass element-wise steps) and, for int8 weights with
//! [`set_int8_compute`] on, [`cpu_int8`]. `esm::EsmLayer` chains them over plain buffers.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use burn::tensor::Device;

pub mod attention;
pub mod conv1d;
pub(crate) mod cpu;
pub mod cpu_attention;
pub mod cpu_elementwise;
pub mod cpu_gemm;
#[cfg(not(target_family = "wasm"))]
pub mod cpu_int8;
pub mod fusion_residual;
pub mod matmul;
pub mod parity;
pub mod relative_attention;
#[cfg(feature = "wgsl")]
pub mod wgsl;

/// When the kernels take their WGSL path (on a device where [`wgsl_runs_on`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum WgslUse {
    /// Never: the reference everywhere (for comparisons, and the test that shows the kernels
    /// are what keeps the official geometry within WebGPU's buffer limits).
    Never = 0,
    /// The default: an attention kernel where its reference would materialise more than
    /// [`SCORES_BUDGET`] bytes of scores; the fusion residual always. Measured on lavapipe
    /// (benches/README.md): where the scores fit, burn's matmul + softmax is as fast as the
    /// kernel at head size 32 and 5× faster at the fusion's 384, and only the kernel fits
    /// NT-v2's 2,048 tokens and Enformer's 1,536 bins.
    WhenLarge = 1,
    /// Always (the parity tests, which must exercise the kernels at small sizes).
    Always = 2,
}

/// The largest scores tensor (bytes) an attention's reference may materialise on wgpu before the
/// kernel takes over: half of WebGPU's guaranteed 128 MiB storage binding.
pub const SCORES_BUDGET: usize = 64 << 20;

static WGSL_USE: AtomicU8 = AtomicU8::new(WgslUse::WhenLarge as u8);

/// Set when the kernels take their WGSL path, for the whole process.
pub fn set_wgsl_use(mode: WgslUse) {
    WGSL_USE.store(mode as u8, Ordering::Relaxed);
}

/// The current [`WgslUse`].
pub fn wgsl_use() -> WgslUse {
    match WGSL_USE.load(Ordering::Relaxed) {
        0 => WgslUse::Never,
        2 => WgslUse::Always,
        _ => WgslUse::WhenLarge,
    }
}

/// Whether `device` can take the WGSL path at all: built with the `wgsl` feature, a wgpu
/// device, and no autodiff (the kernels have no backward pass).
pub fn wgsl_runs_on(device: &Device) -> bool {
    #[cfg(feature = "wgsl")]
    {
        wgsl::runs_on(device)
    }
    #[cfg(not(feature = "wgsl"))]
    {
        let _ = device;
        false
    }
}

/// Whether a kernel whose reference would materialise `reference_scores` bytes takes its WGSL
/// path on `device` now.
pub fn use_wgsl(device: &Device, reference_scores: usize) -> bool {
    let wanted = match wgsl_use() {
        WgslUse::Never => false,
        WgslUse::WhenLarge => reference_scores > SCORES_BUDGET,
        WgslUse::Always => true,
    };
    wanted && wgsl_runs_on(device)
}

static CPU_ADAPTER: AtomicBool = AtomicBool::new(false);

/// Tells the kernels that the wgpu device runs on the CPU (SwiftShader, lavapipe, llvmpipe: see
/// [`adapter_runs_on_cpu`]), for the whole process. Set by the edges (the CLI's `--device gpu`,
/// the page's WebGPU start); by default false.
pub fn set_cpu_adapter(on_cpu: bool) {
    CPU_ADAPTER.store(on_cpu, Ordering::Relaxed);
}

/// Whether an adapter described by its device type (wgpu's `DeviceType` name, e.g. `Cpu`) or its
/// description (the browser's `GPUAdapterInfo` architecture/description) is an implementation of
/// WebGPU on the CPU.
pub fn adapter_runs_on_cpu(description: &str) -> bool {
    let d = description.to_ascii_lowercase();
    d == "cpu" || ["swiftshader", "lavapipe", "llvmpipe", "microsoft basic render"].iter().any(|name| d.contains(name))
}

/// Whether matrix products and convolutions on `device` take the register-blocked kernels
/// ([`matmul`], [`conv1d`]): on a wgpu device without autodiff, where the adapter runs on the CPU
/// ([`set_cpu_adapter`]) under [`WgslUse::WhenLarge`], always under [`WgslUse::Always`], never
/// under [`WgslUse::Never`]. On GPUs burn's own kernels (tiled through workgroup memory,
/// autotuned) are faster.
pub fn use_register_kernels(device: &Device) -> bool {
    let wanted = match wgsl_use() {
        WgslUse::Never => false,
        WgslUse::WhenLarge => CPU_ADAPTER.load(Ordering::Relaxed),
        WgslUse::Always => true,
    };
    wanted && wgsl_runs_on(device)
}

static INT8_COMPUTE: AtomicBool = AtomicBool::new(false);

/// Matrix products in 8-bit integers ([`cpu_int8`]) for the weights that are int8 per channel
/// (models written by `isoformer quantize --scheme int8`), on the CPU backend, for the whole
/// process; off by default (every path then computes the f32 model the weights describe). Set by
/// the CLI's `--compute int8`. No effect on wasm32 or wgpu.
pub fn set_int8_compute(on: bool) {
    INT8_COMPUTE.store(on, Ordering::Relaxed);
}

/// Whether [`set_int8_compute`] is on and `device` runs the int8 kernels (flex without autodiff,
/// native builds).
pub fn use_int8(device: &Device) -> bool {
    cfg!(not(target_family = "wasm")) && INT8_COMPUTE.load(Ordering::Relaxed) && cpu::runs_on(device)
}
