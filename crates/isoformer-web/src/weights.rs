//! A model's weights file in the browser: bytes already in wasm memory, or a `Blob`/`File` read
//! in slices, one tensor at a time, so that a file of gigabytes is never whole in wasm memory
//! (wasm32 addresses 4 GiB, and the model's own tensors need most of it on the CPU backend).
//!
//! Slices are read with `FileReaderSync`, which exists in workers only (the page's model runs in
//! one: web/worker.js). Two interfaces are declared here instead of enabling web-sys features:
//! `Blob.size`/`Blob.slice` and `FileReaderSync.readAsArrayBuffer` are all this needs.

use isoformer_model::weights::ReadAt;
use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `Blob` (a `File` is one).
    #[wasm_bindgen(js_name = Blob)]
    pub type JsBlob;
    #[wasm_bindgen(method, getter)]
    fn size(this: &JsBlob) -> f64;
    #[wasm_bindgen(method)]
    fn slice(this: &JsBlob, start: f64, end: f64) -> JsBlob;

    /// `FileReaderSync` (workers only).
    type FileReaderSync;
    #[wasm_bindgen(constructor, catch)]
    fn new() -> Result<FileReaderSync, JsValue>;
    #[wasm_bindgen(method, catch, js_name = readAsArrayBuffer)]
    fn read_as_array_buffer(this: &FileReaderSync, blob: &JsBlob) -> Result<ArrayBuffer, JsValue>;
}

/// `model.safetensors` as the page handed it over.
pub enum WebWeights {
    /// Already in wasm memory (tests, small models).
    Bytes(Vec<u8>),
    /// A `Blob` or `File`, read in slices.
    Blob(Slices),
}

/// A `Blob` with the reader that reads it.
pub struct Slices {
    blob: JsBlob,
    reader: FileReaderSync,
    size: u64,
}

/// Why a `Blob` cannot be read in slices here.
#[derive(Debug, thiserror::Error)]
#[error("reading model.safetensors in slices needs FileReaderSync, which only a worker has: {detail}")]
pub struct NoSyncReader {
    detail: String,
}

impl WebWeights {
    /// Slices of `blob` (only in a worker).
    pub fn blob(blob: JsBlob) -> Result<Self, NoSyncReader> {
        let reader = FileReaderSync::new().map_err(|e| NoSyncReader { detail: e.as_string().unwrap_or_else(|| format!("{e:?}")) })?;
        let size = blob.size() as u64;
        Ok(Self::Blob(Slices { blob, reader, size }))
    }
}

impl ReadAt for WebWeights {
    fn size(&self) -> u64 {
        match self {
            Self::Bytes(b) => b.size(),
            Self::Blob(s) => s.size,
        }
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        match self {
            Self::Bytes(b) => b.read_at(offset, len),
            Self::Blob(Slices { blob, reader, size }) => {
                let end = offset + len as u64;
                if end > *size {
                    return Err(format!("bytes {offset}..{end} past the end ({size} bytes)"));
                }
                let part = blob.slice(offset as f64, end as f64);
                let buf = reader.read_as_array_buffer(&part).map_err(|e| format!("the browser could not read bytes {offset}..{end}: {}", e.as_string().unwrap_or_else(|| format!("{e:?}"))))?;
                Ok(Uint8Array::new(&buf).to_vec())
            }
        }
    }
}
