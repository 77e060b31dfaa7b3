//! IsoFormer in the browser. The page (../../index.html, web/) hands this crate a model
//! directory's files and an input table, both read with the File API; it tokenizes, runs the
//! forward pass on WebGPU when the browser has an adapter and on burn's CPU backend (flex)
//! otherwise, and reads the predictions back asynchronously (synchronous readback panics or
//! deadlocks on WebGPU). Nothing leaves the machine.
//!
//! [`tsv`] is plain Rust (tested on the host); the bindings in `web` exist only for wasm32.

pub mod tsv;

#[cfg(target_arch = "wasm32")]
pub mod web;
