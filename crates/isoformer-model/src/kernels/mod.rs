//! The arithmetic hot spots the encoders and the fusion share, one file per kernel.
//!
//! Each kernel file holds:
//! * the **reference** implementation in plain burn tensor ops (its `reference` function), which
//!   every backend can run (CPU, wgpu, the browser) and which the PyTorch parity tests pin;
//! * the switch to the **WGSL** implementation for the wgpu backend (the `wgsl` feature): its
//!   shader is `shaders/<kernel>.wgsl`, `include_str!`-ed by [`wgsl`] and by nothing else (the
//!   shader's header names the kernel file and each binding's shape), launched when
//!   [`wgsl_runs_on`] the tensors' device; every other device takes the reference (never a
//!   panic);
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

use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Device;

pub mod attention;
pub mod fusion_residual;
pub mod parity;
pub mod relative_attention;
#[cfg(feature = "wgsl")]
pub mod wgsl;

static WGSL_ENABLED: AtomicBool = AtomicBool::new(true);

/// Turn the WGSL kernels off (or back on) for the whole process: every kernel then takes its
/// reference path on every device. For comparisons and for the test that shows the kernels are
/// what keeps the official geometry within WebGPU's buffer limits.
pub fn set_wgsl_enabled(enabled: bool) {
    WGSL_ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether the kernels take their WGSL path on `device`: built with the `wgsl` feature, not
/// switched off, a wgpu device, and no autodiff (the kernels have no backward pass).
pub fn wgsl_runs_on(device: &Device) -> bool {
    #[cfg(feature = "wgsl")]
    {
        WGSL_ENABLED.load(Ordering::Relaxed) && wgsl::runs_on(device)
    }
    #[cfg(not(feature = "wgsl"))]
    {
        let _ = device;
        false
    }
}
