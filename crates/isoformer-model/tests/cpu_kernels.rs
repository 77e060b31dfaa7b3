//! The CPU backend's kernels (`kernels::cpu_attention`) against their reference twins (plain
//! burn ops) on flex: the same cases as the WGSL kernels (`isoformer_model::kernels::parity`).

mod common;

use burn::tensor::Device;
use common::read;
use isoformer_model::kernels::parity::{self, Case};

fn check(cases: Vec<Case>) {
    for c in cases {
        assert_eq!(c.kernel.dims(), c.reference.dims(), "{}: shape", c.label);
        match parity::compare(&c.label, &read(c.kernel), &read(c.reference)) {
            Ok(max) => println!("max |Δ| cpu kernel {:<46} {max:.3e}", c.label),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn attention_matches_its_reference_on_the_cpu() {
    check(parity::attention_cases(&Device::flex()));
}

#[test]
fn relative_attention_matches_its_reference_on_the_cpu() {
    check(parity::relative_cases(&Device::flex()));
}
