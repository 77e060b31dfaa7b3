//! The realistic batch workload's two helpers (`benches/run.py --workloads batch59`):
//!
//! * `isoformer-bench tokens --model DIR --input TSV --output TOKENS.safetensors [--limit N]`:
//!   the exact model inputs `isoformer predict` builds for each transcript of a `prepare` TSV
//!   (the same tokenizers, crops and one-hot), for the PyTorch side to run one transcript at a
//!   time as the official snippet does. Tensors: `rna.I`, `protein.I` (i64 token ids),
//!   `has_protein` and `window` (i64, one per transcript: the index of its DNA window), and
//!   `dna.W` (u8 one-hot, `[length, 4]`, once per distinct window); metadata `ids`, the
//!   transcript ids one per line.
//! * `isoformer-bench int8-copy --model DIR --output DIR2`: the model directory with its weights
//!   quantized int8 per channel (`quant::quantize_safetensors`, what `isoformer quantize` writes,
//!   without its accuracy gate), for `predict --compute int8`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::Device;
use isoformer_model::Example;
use isoformer_model::quant::{Scheme, quantize_safetensors};
use isoformer_pipeline::input::{Source, read_tsv};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

use crate::Args;

fn path_flag(args: &Args, key: &str) -> Result<PathBuf> {
    args.flags.get(key).map(PathBuf::from).ok_or_else(|| anyhow!("--{key} is required"))
}

pub fn tokens(args: &Args) -> Result<()> {
    let (model, input, output) = (path_flag(args, "model")?, path_flag(args, "input")?, path_flag(args, "output")?);
    let limit = args.num("limit", usize::MAX)?;
    let predictor = isoformer_pipeline::model_dir::load(&model, &Device::flex()).map_err(|e| anyhow!("{}: {e}", model.display()))?;
    let file = std::io::BufReader::new(std::fs::File::open(&input).with_context(|| input.display().to_string())?);
    let records = read_tsv(Source::new(&input, file)).map_err(|e| anyhow!("{e}"))?;
    let mut tensors: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = BTreeMap::new();
    let (mut ids, mut windows, mut has_protein) = (Vec::new(), Vec::new(), Vec::new());
    let mut window_of: HashMap<String, usize> = HashMap::new();
    for (i, r) in records.records.into_iter().take(limit).enumerate() {
        let example = Example { id: r.transcript_id, dna: r.dna, rna: r.rna, protein: r.protein };
        let e = predictor.encode(&example).map_err(|err| anyhow!("{}: {err}", r.at))?;
        let next = window_of.len();
        let w = *window_of.entry(example.dna).or_insert(next);
        if w == next {
            let onehot: Vec<u8> = e.dna_one_hot.iter().map(|&v| v as u8).collect();
            tensors.insert(format!("dna.{w}"), (Dtype::U8, vec![e.dna_len, 4], onehot));
        }
        let as_i64 = |t: &[u32]| t.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect::<Vec<u8>>();
        tensors.insert(format!("rna.{i}"), (Dtype::I64, vec![e.rna_tokens.len()], as_i64(&e.rna_tokens)));
        tensors.insert(format!("protein.{i}"), (Dtype::I64, vec![e.protein_tokens.len()], as_i64(&e.protein_tokens)));
        has_protein.push(e.has_protein() as i64);
        windows.push(w as i64);
        ids.push(e.id);
    }
    if ids.is_empty() {
        bail!("{}: no transcripts", input.display());
    }
    let i64s = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    tensors.insert("has_protein".into(), (Dtype::I64, vec![ids.len()], i64s(&has_protein)));
    tensors.insert("window".into(), (Dtype::I64, vec![ids.len()], i64s(&windows)));
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(k, (dt, shape, bytes))| Ok((k.clone(), TensorView::new(*dt, shape.clone(), bytes)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()?;
    let meta = HashMap::from([("ids".to_string(), ids.join("\n"))]);
    safetensors::serialize_to_file(views, Some(meta), &output).with_context(|| output.display().to_string())?;
    println!("{}", serde_json::json!({ "transcripts": ids.len(), "windows": window_of.len(), "output": output }));
    Ok(())
}

pub fn int8_copy(args: &Args) -> Result<()> {
    let (model, output) = (path_flag(args, "model")?, path_flag(args, "output")?);
    if output.exists() {
        bail!("{}: already exists", output.display());
    }
    let tmp = output.with_extension("partial");
    std::fs::create_dir_all(&tmp)?;
    for entry in std::fs::read_dir(&model)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".txt") {
            std::fs::copy(entry.path(), tmp.join(&name))?;
        }
    }
    let read = |p: &Path| std::fs::read(p).with_context(|| p.display().to_string());
    let mut config: serde_json::Value = serde_json::from_slice(&read(&model.join("config.json"))?)?;
    config["isoformer_quantization"] = Scheme::Int8.name().into();
    std::fs::write(tmp.join("config.json"), serde_json::to_string_pretty(&config)?)?;
    let (bytes, summary) = quantize_safetensors(&read(&model.join("model.safetensors"))?, Scheme::Int8).map_err(|e| anyhow!("{e}"))?;
    std::fs::write(tmp.join("model.safetensors"), &bytes)?;
    std::fs::rename(&tmp, &output)?;
    println!("{}", serde_json::json!({ "output": output, "bytes": bytes.len(), "quantized": summary.quantized }));
    Ok(())
}
