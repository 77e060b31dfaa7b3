//! The arithmetic hot spots the encoders and the fusion share, one file per kernel.
//!
//! Each kernel file holds:
//! * the **reference** implementation in plain burn tensor ops, which every backend runs (CPU,
//!   wgpu, the browser) and which the PyTorch parity tests pin;
//! * once written, a **WGSL** implementation for the wgpu backend: its shader in
//!   `shaders/<kernel>.wgsl`, `include_str!`-ed by this file and by no other (the shader's header
//!   names this file and each binding's shape), launched where the backend supports it; a
//!   backend without it takes the reference path (never a panic);
//! * a **parity test** comparing the two on seeded input of awkward sizes (lengths that are not
//!   a multiple of the workgroup, fully padded key rows), beside the reference's own unit test
//!   against a hand-computed case.
//!
//! Callers use the public function of the kernel file and never pick a path themselves.
//!
//! Kernels:
//! * [`attention`]: softmax over the last dimension, and scaled dot-product attention with a
//!   key-padding mask (ESM-2 and NT-v2 self-attention, the fusion's cross-attention).

pub mod attention;
