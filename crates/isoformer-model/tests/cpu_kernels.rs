//! The CPU backend's kernels (`kernels::cpu_attention`) against their reference twins (plain
//! burn ops) on flex: the same cases as the WGSL kernels (`isoformer_model::kernels::parity`).

mod common;

use burn::tensor::Device;
use isoformer_model::kernels::parity::{self, Case};

fn check(cases: Vec<Case>) {
    common::check_cases("cpu kernel", cases);
}

#[test]
fn attention_matches_its_reference_on_the_cpu() {
    check(parity::attention_cases(&Device::flex()));
}

#[test]
fn relative_attention_matches_its_reference_on_the_cpu() {
    check(parity::relative_cases(&Device::flex()));
}
