//! Shared by the parity tests: fixture reading, tolerances, devices.
#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use burn::tensor::{Device, Tensor};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A safetensors fixture: tensors as f32 (ints converted) plus the string metadata.
pub struct Fixture {
    pub tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    pub meta: HashMap<String, String>,
}

impl Fixture {
    pub fn open(rel: &str) -> Self {
        let path = root().join(rel);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {} is missing ({e}); run tools/make_fixtures.py", path.display()));
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).expect("fixture header");
        let st = safetensors::SafeTensors::deserialize(&bytes).expect("fixture");
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            let v: Vec<f32> = match view.dtype() {
                safetensors::Dtype::I32 => view.data().chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32).collect(),
                safetensors::Dtype::I64 => view.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f32).collect(),
                d => isoformer_model::weights::to_f32(d, view.data()).unwrap(),
            };
            tensors.insert(name, (view.shape().to_vec(), v));
        }
        let meta = header.metadata().clone().unwrap_or_default();
        Self { tensors, meta }
    }

    pub fn get(&self, name: &str) -> &(Vec<usize>, Vec<f32>) {
        self.tensors.get(name).unwrap_or_else(|| panic!("fixture has no tensor {name}"))
    }

    /// Integer rows of a padded id matrix, with trailing `pad` removed.
    pub fn id_rows(&self, name: &str, pad: u32) -> Vec<Vec<u32>> {
        let (shape, v) = self.get(name);
        v.chunks(shape[1])
            .map(|row| {
                let mut r: Vec<u32> = row.iter().map(|&x| x as u32).collect();
                while r.last() == Some(&pad) {
                    r.pop();
                }
                r
            })
            .collect()
    }

    pub fn json_strings(&self, key: &str) -> Vec<String> {
        serde_json::from_str(self.meta.get(key).unwrap_or_else(|| panic!("fixture metadata has no {key}"))).unwrap()
    }
}

/// |Δ| ≤ 1e-4 + 1e-4·|ref|, fp32 against PyTorch fp32 (the parity bound).
pub const ABS: f32 = 1e-4;
pub const REL: f32 = 1e-4;

/// Compare a tensor with a fixture entry; returns max |Δ|, panics naming the first bad index.
pub fn compare(label: &str, got: Tensor<3>, want: &(Vec<usize>, Vec<f32>)) -> f32 {
    compare_vec(label, &got.dims(), &read(got), want, ABS, REL)
}

pub fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
}

pub fn compare_vec(label: &str, shape: &[usize], got: &[f32], want: &(Vec<usize>, Vec<f32>), abs: f32, rel: f32) -> f32 {
    assert_eq!(shape, want.0.as_slice(), "{label}: shape");
    let mut max = 0f32;
    for (i, (g, w)) in got.iter().zip(&want.1).enumerate() {
        let d = (g - w).abs();
        assert!(d <= abs + rel * w.abs(), "{label}: index {i}: got {g}, want {w} (|Δ| = {d})");
        assert!(g.is_finite(), "{label}: index {i} is {g}");
        max = max.max(d);
    }
    println!("max |Δ| {label:<40} {max:.3e}");
    max
}

pub fn cpu() -> Device {
    Device::flex()
}

/// The wgpu device, or `None` (with the reason printed) when there is no adapter.
pub fn wgpu() -> Option<Device> {
    static DEV: OnceLock<Option<Device>> = OnceLock::new();
    DEV.get_or_init(|| match std::panic::catch_unwind(|| Device::wgpu_options().init()) {
        Ok(Ok(d)) => Some(d),
        Ok(Err(e)) => {
            println!("SKIPPED wgpu parity: no wgpu adapter ({e})");
            None
        }
        Err(_) => {
            println!("SKIPPED wgpu parity: initialising wgpu panicked (no adapter)");
            None
        }
    })
    .clone()
}
