//! Write a model directory with seeded weights (`Isoformer::seeded`, reproducible from Python by
//! tools/make_fixtures.py's `seeded_values`) for a given config.json: the starting point of
//! `isoformer train` when no pretrained weights exist (tools/demo/rebuild.sh uses it).
//!
//! `cargo run --release -p isoformer-train --example init_model -- CONFIG.json VOCAB_DIR OUT_DIR HEAD_HIDDEN OUTPUTS`
//! (VOCAB_DIR: where the three vocab files are, e.g. models/tiny; HEAD_HIDDEN: comma-separated widths).

use std::path::PathBuf;

use burn::tensor::Device;
use isoformer_model::{Isoformer, IsoformerConfig, ModelFiles};
use isoformer_train::trainer::{model_bytes, write_model_dir};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 6 {
        eprintln!("usage: init_model CONFIG.json VOCAB_DIR OUT_DIR HEAD_HIDDEN OUTPUTS");
        std::process::exit(2);
    }
    let text = std::fs::read_to_string(&a[1]).unwrap_or_else(|e| panic!("{}: {e}", a[1]));
    let cfg = IsoformerConfig::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", a[1]));
    let vocab = PathBuf::from(&a[2]);
    let read = |f: &str| std::fs::read_to_string(vocab.join(f)).unwrap_or_else(|e| panic!("{}: {e}", vocab.join(f).display()));
    let hidden: Vec<usize> = a[4].split(',').filter(|s| !s.is_empty()).map(|s| s.parse().expect("HEAD_HIDDEN: numbers")).collect();
    let outputs: usize = a[5].parse().expect("OUTPUTS: a number");
    let device = Device::flex();
    let model = Isoformer::seeded(&cfg, &hidden, outputs, &device);
    let base = ModelFiles {
        config_json: text.clone(),
        safetensors: model_bytes(&model, &cfg).expect("weights"),
        dna_vocab: read("dna_vocab_list.txt"),
        rna_vocab: read("rna_vocab_list.txt"),
        protein_vocab: read("protein_vocab_list.txt"),
    };
    write_model_dir(&PathBuf::from(&a[3]), &base, &cfg, &model).expect("write model directory");
    let counts = model.param_counts();
    eprintln!("{}: seeded model, parameters {counts:?}", a[3]);
}
