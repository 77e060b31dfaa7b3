//! IsoFormer in the browser. The page (index.html, web/) hands this crate a model directory's
//! files and an input table, both read with the File API; isoformer-pipeline (the same code as
//! `isoformer predict`) reads the table, tokenizes, batches and writes the result table; this
//! crate picks the device (WebGPU when the browser has an adapter, burn's CPU backend (flex)
//! otherwise) and reads the predictions back asynchronously (synchronous readback panics or
//! deadlocks on WebGPU). Nothing leaves the machine. The bindings exist only for wasm32.

#[cfg(target_arch = "wasm32")]
pub mod web;
#[cfg(target_arch = "wasm32")]
pub mod weights;
