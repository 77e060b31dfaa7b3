//! `isoformer-bench official-model --output DIR`: a model directory of the official geometry
//! (`IsoformerConfig::default()`: Enformer 1536 wide, NT-v2 500M-class, ESM-2 150M) with seeded
//! **random** weights (`Isoformer::seeded`), for the quantization and browser benchmarks: its
//! predictions mean nothing, its sizes and timings are the official model's. Written by
//! training's `write_model_dir` into a sibling directory renamed into place.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::Device;
use isoformer_model::{Isoformer, IsoformerConfig, Modality, ModelFiles};
use isoformer_train::save::write_model_dir;

use crate::{Args, root};

pub fn official_model(args: &Args) -> Result<()> {
    let out = PathBuf::from(args.flags.get("output").ok_or_else(|| anyhow!("--output DIR is required"))?);
    if out.exists() {
        bail!("{}: already exists", out.display());
    }
    let t = Instant::now();
    let cfg = IsoformerConfig::default();
    let model = Isoformer::seeded(&cfg, &[], isoformer_model::TISSUES.len(), &Device::flex());
    let vocab = |m: Modality| std::fs::read_to_string(root().join("models").join(m.vocab_file())).with_context(|| m.vocab_file());
    let base = ModelFiles {
        config_json: "{}".into(),
        safetensors: Vec::new(),
        dna_vocab: vocab(Modality::Dna)?,
        rna_vocab: vocab(Modality::Rna)?,
        protein_vocab: vocab(Modality::Protein)?,
    };
    let tmp = out.with_extension("partial");
    write_model_dir(&tmp, &base, &cfg, &model).with_context(|| tmp.display().to_string())?;
    drop(model);
    std::fs::rename(&tmp, &out)?;
    let size = std::fs::metadata(out.join(ModelFiles::WEIGHTS))?.len();
    println!(
        "{}",
        serde_json::json!({ "workload": "official geometry, seeded (random) weights", "dir": out, "model_safetensors_bytes": size, "seconds": t.elapsed().as_secs_f64() })
    );
    Ok(())
}
