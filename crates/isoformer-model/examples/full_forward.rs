//! One forward pass at the official geometry with seeded random weights: 196,608 bp DNA,
//! 2 kb RNA, 500 aa protein. Prints load and forward times and the process's peak RSS.
//!
//!     cargo run --release -p isoformer-model --example full_forward [-- --device wgpu] [-- --reps N]

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use isoformer_model::{IsoformerConfig, Isoformer};
use isoformer_model::weights::seeded_sequence as sequence;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<f64>().unwrap_or(0.0)))
        .unwrap_or(0.0)
        / 1024.0
}


fn main() {
    let args: Vec<String> = std::env::args().collect();
    let gpu = args.iter().any(|a| a == "wgpu" || a == "gpu");
    let reps: usize = args.iter().position(|a| a == "--reps").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(1);
    let device = if gpu { Device::wgpu_options().init().expect("wgpu adapter") } else { Device::flex() };
    let cfg = IsoformerConfig::default();
    let t = Instant::now();
    let model = Isoformer::seeded(&cfg, &[], 30, &device);
    println!("build (seeded weights, {} params): {:.2?}", {
        let c = model.param_counts();
        c.enformer + c.nt + c.esm + c.fusion + c.head
    }, t.elapsed());

    let rna_tok = isoformer_model::tokenizer::RnaTokenizer::from_vocab(include_str!("../../../models/rna_vocab_list.txt")).unwrap();
    let prot_tok = isoformer_model::tokenizer::ProteinTokenizer::from_vocab(include_str!("../../../models/protein_vocab_list.txt")).unwrap();
    let dna_tok = isoformer_model::tokenizer::DnaTokenizer::from_vocab(include_str!("../../../models/dna_vocab_list.txt")).unwrap();
    let dna = sequence(196_608, b"ACGT", 1);
    let rna = rna_tok.encode(&sequence(2000, b"ACGT", 2)).unwrap();
    let protein = prot_tok.encode(&sequence(500, b"LAGVSERTIDPKQNFYMHWC", 3)).unwrap();
    println!("inputs: DNA 196608 bp, RNA {} tokens, protein {} tokens", rna.len(), protein.len());
    let one_hot = dna_tok.one_hot(&dna).unwrap();
    for rep in 0..reps {
        let x = Tensor::<3>::from_data(TensorData::new(one_hot.clone(), [1, 196_608, 4]), &device);
        let t = Instant::now();
        let out = model.forward(x, std::slice::from_ref(&rna), std::slice::from_ref(&protein));
        let p = out.predictions.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        println!("forward {rep}: {:.2?} (first tissue {:.4}), peak RSS {:.0} MiB", t.elapsed(), p[0], peak_rss_mib());
    }
}
