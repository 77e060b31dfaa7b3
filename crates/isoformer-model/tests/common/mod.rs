//! Shared by the parity tests: fixture reading, tolerances, devices.
#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::path::PathBuf;
use std::sync::OnceLock;

use burn::tensor::{Device, Tensor};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[path = "../fixture/mod.rs"]
mod fixture;
#[allow(unused_imports)] // not every test binary encodes
pub use fixture::{ABS, REL, encode_checked};

/// A fixture file of tests/fixtures (see fixture/mod.rs).
pub struct Fixture(fixture::Fixture);

impl std::ops::Deref for Fixture {
    type Target = fixture::Fixture;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Fixture {
    pub fn open(rel: &str) -> Self {
        let path = root().join(rel);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {} is missing ({e}); run tools/make_fixtures.py", path.display()));
        Self(fixture::Fixture::from_bytes(&bytes))
    }
}

/// Compare a tensor with a fixture entry; returns max |Δ|, panics naming the first bad index.
pub fn compare(label: &str, got: Tensor<3>, want: &(Vec<usize>, Vec<f32>)) -> f32 {
    compare_vec(label, &got.dims(), &read(got), want, ABS, REL)
}

pub fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
}

pub fn compare_vec(label: &str, shape: &[usize], got: &[f32], want: &(Vec<usize>, Vec<f32>), abs: f32, rel: f32) -> f32 {
    let max = fixture::max_delta(label, shape, got, want, abs, rel);
    println!("max |Δ| {label:<40} {max:.3e}");
    max
}

pub fn cpu() -> Device {
    Device::flex()
}

/// The wgpu device, or `None` (with the reason printed) when there is no adapter. With
/// `ISOFORMER_REQUIRE_WGPU=1` (tools/test.sh sets it; `.ci/run` installs Mesa's lavapipe) a
/// missing adapter fails the test instead. The WGSL kernels run at every size on it (the
/// default policy would leave the small parity shapes to the reference).
pub fn wgpu() -> Option<Device> {
    isoformer_model::kernels::set_wgsl_use(isoformer_model::kernels::WgslUse::Always);
    static DEV: OnceLock<Option<Device>> = OnceLock::new();
    let required = std::env::var("ISOFORMER_REQUIRE_WGPU").is_ok_and(|v| v == "1");
    DEV.get_or_init(|| {
        let why = match std::panic::catch_unwind(|| Device::wgpu_options().init()) {
            Ok(Ok(d)) => return Some(d),
            Ok(Err(e)) => format!("no wgpu adapter ({e})"),
            Err(_) => "initialising wgpu panicked (no adapter)".to_string(),
        };
        assert!(!required, "ISOFORMER_REQUIRE_WGPU=1 but {why}");
        println!("SKIPPED wgpu parity: {why}");
        None
    })
    .clone()
}

/// Each kernel case (`isoformer_model::kernels::parity`) against its reference twin: the largest
/// |Δ| printed under `side`'s name, a panic on the first case out of tolerance.
pub fn check_cases(side: &str, cases: Vec<isoformer_model::kernels::parity::Case>) {
    for c in cases {
        assert_eq!(c.kernel.dims(), c.reference.dims(), "{}: shape", c.label);
        match isoformer_model::kernels::parity::compare(&c.label, &read(c.kernel), &read(c.reference)) {
            Ok(max) => println!("max |Δ| {side} {:<46} {max:.3e}", c.label),
            Err(e) => panic!("{e}"),
        }
    }
}
