//! `isoformer-bench official-model --output DIR`: a model directory of the official geometry
//! (`IsoformerConfig::default()`: Enformer 1536 wide, NT-v2 500M-class, ESM-2 150M) with seeded
//! **random** weights (`Isoformer::seeded`), for the quantization and browser benchmarks: its
//! predictions mean nothing, its sizes and timings are the official model's.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::Device;
use isoformer_model::{Isoformer, IsoformerConfig, Modality, ModelFiles};

use crate::{Args, root};

pub fn official_model(args: &Args) -> Result<()> {
    let out = PathBuf::from(args.flags.get("output").ok_or_else(|| anyhow!("--output DIR is required"))?);
    if out.exists() {
        bail!("{}: already exists", out.display());
    }
    let t = Instant::now();
    let cfg = IsoformerConfig::default();
    let model = Isoformer::seeded(&cfg, &[], isoformer_model::TISSUES.len(), &Device::flex());
    let tensors = model.named_tensors(&cfg).map_err(|e| anyhow!("{e}"))?;
    drop(model);
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()?;
    let tmp = out.with_extension("partial");
    std::fs::create_dir_all(&tmp).with_context(|| tmp.display().to_string())?;
    safetensors::serialize_to_file(views, None, &tmp.join(ModelFiles::WEIGHTS))?;
    std::fs::write(tmp.join(ModelFiles::CONFIG), serde_json::to_string_pretty(&cfg)? + "\n")?;
    for m in [Modality::Dna, Modality::Rna, Modality::Protein] {
        std::fs::copy(root().join("models").join(m.vocab_file()), tmp.join(m.vocab_file()))?;
    }
    std::fs::rename(&tmp, &out)?;
    let size = std::fs::metadata(out.join(ModelFiles::WEIGHTS))?.len();
    println!(
        "{}",
        serde_json::json!({ "workload": "official geometry, seeded (random) weights", "dir": out, "model_safetensors_bytes": size, "seconds": t.elapsed().as_secs_f64() })
    );
    Ok(())
}
