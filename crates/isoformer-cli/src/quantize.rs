//! `isoformer quantize`: an int8 copy of a model directory, written only if it passes an
//! accuracy gate against the original on a calibration set.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::Device;
use clap::ValueEnum;
use isoformer_io::open_input;
use isoformer_model::quant::{self, INT8_PER_CHANNEL};
use isoformer_model::{Modality, ModelFiles, Predictor};
use isoformer_pipeline::input::{Records, Source, read_tsv};
use isoformer_pipeline::job::Job;
use isoformer_pipeline::model_dir::read_files;
use isoformer_train::metrics::{Agreement, agreement};

use crate::predict::{run_job, set_threads};

pub const HELP: &str = "EXAMPLE:\n  isoformer quantize --model models/demo --calibration calibration.tsv -o models/demo-int8\n\n\
Weights with at least 4,096 values are stored as int8 with one f32 scale per output channel (symmetric, \
max |w| / 127); vectors, token embeddings, the head, Enformer's relative-position projection and the stem's \
first convolution stay f32. The quantized model loads everywhere the original does (CPU, GPU, the page): \
its weights are expanded back to f32 when it loads, so each int8 tensor takes a quarter of its f32 \
bytes on disk while the arithmetic stays f32.\n\n\
GATE: both models predict the calibration TSV (predict's input format; default MODEL/example.tsv) on the \
CPU. Printed per output: cosine and max |delta| across transcripts, and the Spearman correlation across \
transcripts. Overall: cosine of all values, and the mean Spearman correlation of each transcript's \
output profile. The directory is written only when the cosine is at least 0.999 and the mean \
Spearman drift (1 - the worse mean Spearman) is at most 0.01, unless --force. Nothing is left behind \
otherwise.";

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Scheme {
    /// 8-bit integers, one f32 scale per output channel.
    Int8,
}

#[derive(clap::Args)]
pub struct QuantizeArgs {
    /// The model directory to quantize.
    #[arg(short, long)]
    pub model: PathBuf,
    /// The new model directory (must not exist yet).
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value_t = Scheme::Int8)]
    pub scheme: Scheme,
    /// Transcripts to compare the two models on (a TSV as `predict` reads; `.gz` accepted).
    /// Default: MODEL/example.tsv.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Write the directory even when the gate refuses it.
    #[arg(long)]
    pub force: bool,
    /// CPU threads.
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
}

/// The gate's thresholds.
pub const MIN_COSINE: f64 = 0.999;
pub const MAX_SPEARMAN_DRIFT: f64 = 0.01;

fn predictions(predictor: &Predictor, records: Records) -> Result<Vec<Vec<f32>>> {
    let mut job = Job::new(predictor, records, isoformer_pipeline::DEFAULT_BATCH_SIZE)?;
    run_job(&mut job, true, |_, _| Ok(()))?;
    Ok(job.finish()?.rows.into_iter().map(|r| r.values).collect())
}

fn print_agreement(a: &Agreement, transcripts: usize) {
    eprintln!("{:<28} {:>10} {:>12} {:>10}", "output", "cosine", "max |delta|", "spearman");
    for (name, cos, max, rho) in &a.outputs {
        eprintln!("{name:<28} {cos:>10.6} {max:>12.3e} {rho:>10.4}");
    }
    eprintln!(
        "overall ({transcripts} transcripts): cosine {:.6}, max |delta| {:.3e}, mean Spearman within transcripts {:.4}, across transcripts {:.4}, drift {:.4}",
        a.cosine,
        a.max_abs,
        a.spearman_within,
        a.spearman_across,
        a.spearman_drift()
    );
}

/// Write `files` as a model directory at `out`, whole or not at all: a sibling temporary
/// directory renamed into place.
fn write_dir(out: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    if out.exists() {
        bail!("{}: already exists; quantize writes a new model directory", out.display());
    }
    let name = out.file_name().ok_or_else(|| anyhow!("{}: not a directory name", out.display()))?;
    let tmp = out.with_file_name(format!(".{}.partial-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> Result<()> {
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        for (file, bytes) in files {
            std::fs::write(tmp.join(file), bytes).with_context(|| format!("writing {}", tmp.join(file).display()))?;
        }
        std::fs::rename(&tmp, out).with_context(|| format!("moving {} to {}", tmp.display(), out.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

pub fn run(args: &QuantizeArgs) -> Result<()> {
    set_threads(args.threads)?;
    if args.output.exists() {
        bail!("{}: already exists; quantize writes a new model directory", args.output.display());
    }
    let calibration = args.calibration.clone().unwrap_or_else(|| args.model.join("example.tsv"));
    if !calibration.exists() {
        bail!("{}: no calibration set; give --calibration TSV (predict's input format)", calibration.display());
    }
    let files = read_files(&args.model)?;
    let (weights, summary) =
        quant::quantize_safetensors(&files.safetensors).with_context(|| format!("{}: model.safetensors", args.model.display()))?;
    let mut config: serde_json::Value = serde_json::from_str(&files.config_json).context("config.json")?;
    config
        .as_object_mut()
        .ok_or_else(|| anyhow!("{}: config.json is not an object", args.model.display()))?
        .insert("isoformer_quantization".into(), INT8_PER_CHANNEL.into());
    let quantized = ModelFiles {
        config_json: serde_json::to_string_pretty(&config)? + "\n",
        safetensors: weights,
        dna_vocab: files.dna_vocab.clone(),
        rna_vocab: files.rna_vocab.clone(),
        protein_vocab: files.protein_vocab.clone(),
    };
    eprintln!(
        "{} parameters to int8 ({} values), {} kept f32 ({} values): model.safetensors {:.1} MB -> {:.1} MB",
        summary.quantized,
        summary.quantized_values,
        summary.kept,
        summary.kept_values,
        summary.bytes_before as f64 / 1e6,
        summary.bytes_after as f64 / 1e6
    );

    gate_and_write(&files, &quantized, &calibration, &args.output, args.force)
}

/// Run both models on `calibration`, print the comparison, and write `quantized` to `output`
/// if it passes the gate (or `force`); an error otherwise, with nothing written.
fn gate_and_write(files: &ModelFiles, quantized: &ModelFiles, calibration: &Path, output: &Path, force: bool) -> Result<()> {
    let device = Device::flex();
    let original = Predictor::from_files(files, &device)?;
    let small = Predictor::from_files(quantized, &device).context("loading the quantized model back")?;
    let records = read_tsv(Source::new(calibration, open_input(calibration)?))?;
    let reference = predictions(&original, records.clone())?;
    let got = predictions(&small, records)?;
    let report = agreement(&original.output_names(), &got, &reference);
    print_agreement(&report, reference.len());
    let passed = report.cosine >= MIN_COSINE && report.spearman_drift() <= MAX_SPEARMAN_DRIFT;
    if !passed && !force {
        bail!(
            "the int8 model does not pass the gate (cosine {:.6}, at least {MIN_COSINE} wanted; Spearman drift {:.4}, at most {MAX_SPEARMAN_DRIFT} wanted); nothing written (--force writes it anyway)",
            report.cosine,
            report.spearman_drift()
        );
    }
    write_dir(
        output,
        &[
            (ModelFiles::CONFIG, quantized.config_json.as_bytes()),
            (ModelFiles::WEIGHTS, &quantized.safetensors),
            (Modality::Dna.vocab_file(), quantized.dna_vocab.as_bytes()),
            (Modality::Rna.vocab_file(), quantized.rna_vocab.as_bytes()),
            (Modality::Protein.vocab_file(), quantized.protein_vocab.as_bytes()),
        ],
    )?;
    eprintln!("{}: written{}", output.display(), if passed { "" } else { " (--force: the gate refused it)" });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny")
    }

    /// A quantization with every scale zeroed predicts nonsense: the gate refuses it and no
    /// directory (nor its temporary twin) is left.
    #[test]
    fn the_gate_refuses_zeroed_scales_and_leaves_nothing() {
        let files = read_files(&tiny()).unwrap();
        let (weights, _) = quant::quantize_safetensors(&files.safetensors).unwrap();
        let st = safetensors::SafeTensors::deserialize(&weights).unwrap();
        let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for name in st.names() {
            let t = st.tensor(name).unwrap();
            let data = if name.ends_with(quant::SCALE_SUFFIX) { vec![0u8; t.data().len()] } else { t.data().to_vec() };
            owned.push((name.to_string(), t.dtype(), t.shape().to_vec(), data));
        }
        let views: Vec<_> = owned
            .iter()
            .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        let broken = ModelFiles { safetensors: safetensors::serialize(views, None).unwrap(), ..files.clone() };
        let dir = std::env::temp_dir().join(format!("isoformer-quantize-gate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("broken-int8");
        let err = gate_and_write(&files, &broken, &tiny().join("example.tsv"), &out, false).unwrap_err().to_string();
        assert!(err.starts_with("the int8 model does not pass the gate"), "{err}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "something was left in {}", dir.display());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
