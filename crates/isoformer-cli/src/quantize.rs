//! `isoformer quantize`: an int8 or int4 copy of a model directory, written only if it passes an
//! accuracy gate against the original on a calibration set.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::Device;
use clap::ValueEnum;
use isoformer_io::open_input;
use isoformer_model::quant::{self, Scheme};
use isoformer_model::{IsoformerConfig, Modality, ModelFiles, Predictor};
use isoformer_pipeline::input::{Source, read_tsv};
use isoformer_pipeline::model_dir::read_files;

use crate::compare::{compare, verdict};
use crate::predict::set_threads;

pub const HELP: &str = "EXAMPLES:\n  isoformer quantize --model models/demo --calibration calibration.tsv -o models/demo-int8\n  \
isoformer quantize --model official --scheme int4 --block 32 -o official-int4\n\n\
SCHEMES (symmetric, so zero stays zero):\n  \
int8  one f32 scale per output channel (max |w| / 127): a quarter of the f32 bytes.\n  \
int4  one f32 scale per block of --block values along each output channel (the one of least squared error between 0.7 and 1 times max |w| / 7), two values \
a byte: about 1/8 + 1/(2 x block) of the f32 bytes. A channel whose length is not a multiple of the \
block is stored int8.\n\
Weights with at least 4,096 values are quantized; vectors, token embeddings, the head, Enformer's \
relative-position projection and the stem's first convolution stay f32. The quantized model loads \
everywhere the original does (CPU, GPU, the page): its weights are expanded back to f32 when it loads, \
so the arithmetic stays f32 and only the file shrinks.\n\n\
GATE: both models predict the calibration TSV (predict's input format; default MODEL/example.tsv) on the \
CPU. Printed per output: cosine and max |delta| across transcripts, and the Spearman correlation across \
transcripts. Overall: cosine of all values, and the mean Spearman correlation of each transcript's \
output profile. The directory is written only when the cosine is at least 0.999 and the mean \
Spearman drift (1 - the worse mean Spearman) is at most 0.01, unless --force. Nothing is left behind \
otherwise. `isoformer eval --model QUANTIZED --against ORIGINAL --data TSV` runs the same comparison.";

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SchemeArg {
    /// 8-bit integers, one f32 scale per output channel.
    Int8,
    /// 4-bit integers, one f32 scale per block of --block values.
    Int4,
}

#[derive(clap::Args)]
pub struct QuantizeArgs {
    /// The model directory to quantize.
    #[arg(short, long)]
    pub model: PathBuf,
    /// The new model directory (must not exist yet).
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value_t = SchemeArg::Int8)]
    pub scheme: SchemeArg,
    /// int4: values per scale (even; each output channel's length must be a multiple of it,
    /// else that parameter is stored int8).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(2..=65536))]
    pub block: u32,
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

impl QuantizeArgs {
    fn scheme(&self) -> Result<Scheme> {
        Ok(match self.scheme {
            SchemeArg::Int8 => Scheme::Int8,
            SchemeArg::Int4 if self.block % 2 == 0 => Scheme::Int4 { block: self.block as usize },
            SchemeArg::Int4 => bail!("--block {}: must be even (two int4 values a byte)", self.block),
        })
    }
}

/// Write `files` as a model directory at `out`, whole or not at all: a sibling temporary
/// directory renamed into place.
fn write_dir(out: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    if out.exists() {
        bail!("{}: already exists; quantize writes a new model directory", out.display());
    }
    let name = out.file_name().ok_or_else(|| anyhow!("{}: not a directory name", out.display()))?;
    let tmp = out.with_file_name(format!(".{}.partial-{}", name.to_string_lossy(), std::process::id()));
    // Registered, so that a signal removes the half-made directory too.
    let _registered = isoformer_io::signals::Temporary::new(&tmp);
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
    let scheme = args.scheme()?;
    if args.output.exists() {
        bail!("{}: already exists; quantize writes a new model directory", args.output.display());
    }
    let calibration = args.calibration.clone().unwrap_or_else(|| args.model.join("example.tsv"));
    let mut outputs = isoformer_io::Outputs::new();
    outputs.input_dir(&args.model, &isoformer_pipeline::model_dir::FILES)?;
    outputs.input(&calibration)?;
    outputs.dir(&args.output)?;
    let files = read_files(&args.model)?;
    if let Some(q) = &IsoformerConfig::from_json(&files.config_json)?.isoformer_quantization {
        bail!("{}: already quantized ({q}); quantize its fp32 original", args.model.display());
    }
    if !calibration.exists() {
        bail!("{}: no calibration set; give --calibration TSV (predict's input format)", calibration.display());
    }
    let (weights, summary) =
        quant::quantize_safetensors(&files.safetensors, scheme).with_context(|| format!("{}: model.safetensors", args.model.display()))?;
    let quantized = ModelFiles {
        config_json: with_scheme(&files.config_json, &scheme).with_context(|| format!("{}", args.model.join(ModelFiles::CONFIG).display()))?,
        safetensors: weights,
        dna_vocab: files.dna_vocab.clone(),
        rna_vocab: files.rna_vocab.clone(),
        protein_vocab: files.protein_vocab.clone(),
    };
    let fallback = if summary.int8_fallback > 0 { format!(" ({} of them int8: channels not a multiple of the block)", summary.int8_fallback) } else { String::new() };
    eprintln!(
        "{}: {} parameters quantized ({} values){fallback}, {} kept f32 ({} values): model.safetensors {:.1} MB -> {:.1} MB",
        scheme.name(),
        summary.quantized,
        summary.quantized_values,
        summary.kept,
        summary.kept_values,
        summary.bytes_before as f64 / 1e6,
        summary.bytes_after as f64 / 1e6
    );

    gate_and_write(&files, &quantized, &calibration, &args.output, args.force)
}

/// `config.json` with `"isoformer_quantization": scheme` added as its last field, the rest of
/// the text as it was (re-printing would change the digits of floats that do not round-trip).
fn with_scheme(config_json: &str, scheme: &Scheme) -> Result<String> {
    let fields = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(config_json).context("not a JSON object")?;
    let body = config_json.trim_end().strip_suffix('}').ok_or_else(|| anyhow!("does not end with '}}'"))?.trim_end();
    anyhow::ensure!(!fields.contains_key("isoformer_quantization"), "already has an isoformer_quantization field");
    let comma = if fields.is_empty() { "" } else { "," };
    let text = format!("{body}{comma}\n  \"isoformer_quantization\": \"{}\"\n}}\n", scheme.name());
    let mut expected = fields;
    expected.insert("isoformer_quantization".into(), scheme.name().into());
    anyhow::ensure!(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).ok() == Some(expected), "cannot add a field to it");
    Ok(text)
}

/// Run both models on `calibration`, print the comparison, and write `quantized` to `output`
/// if it passes the gate (or `force`); an error otherwise, with nothing written.
fn gate_and_write(files: &ModelFiles, quantized: &ModelFiles, calibration: &Path, output: &Path, force: bool) -> Result<()> {
    let device = Device::flex();
    let original = Predictor::from_files(files, &device)?;
    let small = Predictor::from_files(quantized, &device).context("loading the quantized model back")?;
    let records = read_tsv(Source::new(calibration, open_input(calibration)?))?;
    let report = compare(&original, &small, records, isoformer_pipeline::DEFAULT_BATCH_SIZE)?;
    let passed = report.passes_gate();
    if !passed && !force {
        bail!("the quantized model does not pass the gate ({}); nothing written (--force writes it anyway)", verdict(&report));
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
        let (weights, _) = quant::quantize_safetensors(&files.safetensors, Scheme::Int8).unwrap();
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
        assert!(err.starts_with("the quantized model does not pass the gate"), "{err}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "something was left in {}", dir.display());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
