//! Each WGSL kernel against its reference twin (plain burn ops) on the same wgpu device (Mesa's
//! lavapipe in CI): the cases of `isoformer_model::kernels::parity`, which the browser tests run
//! on WebGPU too.
#![cfg(feature = "wgsl")]

mod common;

use burn::tensor::Device;
use common::wgpu;
use isoformer_model::kernels::parity::{self, Case};
use isoformer_model::kernels::{WgslUse, set_wgsl_use, wgsl_runs_on};

fn check(cases: Vec<Case>) {
    common::check_cases("kernel", cases);
}

/// The wgpu device, with the kernels on at every size (this binary runs nothing else).
fn device() -> Option<Device> {
    set_wgsl_use(WgslUse::Always);
    let device = wgpu()?;
    assert!(wgsl_runs_on(&device), "the wgpu device must take the kernel path");
    Some(device)
}

#[test]
fn flash_attention_matches_its_reference() {
    if let Some(d) = device() {
        check(parity::attention_cases(&d));
    }
}

#[test]
fn relative_attention_matches_its_reference() {
    if let Some(d) = device() {
        check(parity::relative_cases(&d));
    }
}

#[test]
fn fusion_residual_matches_its_reference() {
    if let Some(d) = device() {
        check(parity::residual_cases(&d));
    }
}

#[test]
fn matmul_and_conv1d_match_their_references() {
    if let Some(d) = device() {
        // Under `WgslUse::Always` the register-blocked kernels run whatever the adapter.
        assert!(isoformer_model::kernels::use_register_kernels(&d), "the matmul and conv1d kernels must run");
        check(parity::matmul_cases(&d));
    }
}

