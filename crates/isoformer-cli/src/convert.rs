//! `isoformer convert` and `isoformer inspect`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use isoformer_checkpoint::Checkpoint;
use isoformer_checkpoint::inspect::report;
use isoformer_model::IsoformerConfig;

#[derive(clap::Args)]
#[command(after_help = "EXAMPLE:\n  isoformer convert official/pytorch_model.bin -o official/model.safetensors\n\n\
    Reads PyTorch ZIP (torch >= 1.6) and legacy (torch < 1.6) checkpoints without Python and \
    without executing the pickle: a checkpoint that references anything but torch's \
    tensor-rebuilding functions (e.g. os.system) is refused. Tensors are streamed one at a \
    time (the 2.6 GB official file needs well under 1 GB of memory); Enformer's `_trunk.*` \
    copies are checked identical and dropped. When config.json sits next to the checkpoint \
    (or --config is given) the tensors are checked against it first. The output and \
    manifest.json (sha256 of source and output, parameters per module) appear only when \
    everything succeeded.")]
pub struct ConvertArgs {
    /// The checkpoint: pytorch_model.bin (ZIP or legacy) or a .safetensors file.
    pub input: PathBuf,
    /// Output safetensors file (its directory gets manifest.json).
    #[arg(short, long)]
    pub output: PathBuf,
    /// config.json to check the tensors against (default: the one next to the input, if any).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Do not write manifest.json.
    #[arg(long)]
    pub no_manifest: bool,
}

#[derive(clap::Args)]
#[command(after_help = "EXAMPLES:\n  isoformer inspect official/pytorch_model.bin\n  isoformer inspect official/pytorch_model.bin --model official\n\n\
    Prints the tensors grouped by module (shapes, dtypes, parameter counts), the geometry the \
    shapes imply, and with --model/--config whether the model loads the checkpoint: every \
    missing, unexpected or mis-shaped tensor is listed. Exit status 1 when the check fails.")]
pub struct InspectArgs {
    /// A checkpoint (pytorch_model.bin, ZIP or legacy) or a .safetensors file.
    pub file: PathBuf,
    /// A model directory whose config.json to check against.
    #[arg(long, conflicts_with = "config")]
    pub model: Option<PathBuf>,
    /// A config.json to check against.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Also list every tensor with its shape and dtype.
    #[arg(long)]
    pub tensors: bool,
}

pub fn read_config(path: &Path) -> Result<IsoformerConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    IsoformerConfig::from_json(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

pub fn convert(args: &ConvertArgs) -> Result<()> {
    let ckpt = Checkpoint::open(&args.input)?;
    let config_path = match &args.config {
        Some(p) => Some(p.clone()),
        None => args.input.parent().map(|d| d.join("config.json")).filter(|p| p.exists()),
    };
    let config = config_path.as_ref().map(|p| read_config(p)).transpose()?;
    let manifest = (!args.no_manifest).then(|| {
        args.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("manifest.json")
    });
    let bar = crate::progress::bytes_bar(ckpt.entries.iter().map(|e| e.byte_len() as u64).sum(), "converting");
    let m = isoformer_checkpoint::convert::convert(
        &ckpt,
        &args.output,
        manifest.as_deref(),
        config_path.as_deref().zip(config.as_ref()),
        |done, _| bar.set_position(done),
    )?;
    bar.finish_and_clear();
    eprintln!(
        "{} -> {}: {} tensors, {} parameters ({} `_trunk.*` duplicates dropped)",
        args.input.display(),
        args.output.display(),
        m.tensors,
        m.total_parameters,
        m.dropped_aliases
    );
    for (part, n) in &m.parameters {
        eprintln!("  {part:<9} {n:>12}");
    }
    if config.is_none() {
        eprintln!("note: no config.json next to the input and no --config: the tensors were not checked against a model");
    }
    Ok(())
}

pub fn inspect(args: &InspectArgs) -> Result<()> {
    let ckpt = Checkpoint::open(&args.file)?;
    let cfg_path = match (&args.model, &args.config) {
        (Some(d), _) => Some(d.join("config.json")),
        (None, c) => c.clone(),
    };
    let cfg = cfg_path.as_ref().map(|p| read_config(p)).transpose()?;
    let name = cfg_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let (text, ok) = report(&ckpt, cfg.as_ref().map(|c| (name.as_str(), c)));
    // Written, not printed: a reader that goes away (`| head -1`) is an error to end quietly on,
    // not a panic.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write!(out, "{text}")?;
    if args.tensors {
        writeln!(out, "\ntensors:")?;
        for e in &ckpt.entries {
            writeln!(out, "  {}  {:?}  {:?}", e.name, e.dtype, e.shape)?;
        }
    }
    out.flush()?;
    if ok == Some(false) {
        bail!("{} does not load with {name}", args.file.display());
    }
    Ok(())
}

#[derive(clap::Args)]
#[command(after_help = "EXAMPLES:\n  isoformer download                      # InstaDeepAI/isoformer into ./isoformer\n  isoformer download InstaDeepAI/isoformer --revision main --dir models/official\n\n\
    Fetches config.json, the three vocab files and the weights (model.safetensors where the \
    repository has one, else pytorch_model.bin) into the Hugging Face cache (HF_HOME, shared with \
    Python's huggingface_hub), checks each file's size and sha256 against what the Hub lists, \
    then writes a model directory: the pickle is converted safely to model.safetensors (see \
    `isoformer convert --help`) unless --no-convert. An interrupted download resumes when run \
    again. Environment: HF_ENDPOINT (mirror or another Hub), HF_HOME (cache location), \
    HF_TOKEN (gated or private repositories).")]
pub struct DownloadArgs {
    /// Repository id on the Hub.
    #[arg(default_value = "InstaDeepAI/isoformer")]
    pub repo: String,
    /// Branch, tag or commit.
    #[arg(long, default_value = "main")]
    pub revision: String,
    /// Model directory to write (default: the repository's name).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep pytorch_model.bin as it is (no model.safetensors is written).
    #[arg(long)]
    pub no_convert: bool,
}

/// hf-hub's progress callbacks on an indicatif bar.
struct Bar(indicatif::ProgressBar);

impl hf_hub::api::Progress for Bar {
    fn init(&mut self, size: usize, filename: &str) {
        self.0.set_length(size as u64);
        self.0.set_position(0);
        self.0.set_message(filename.to_string());
    }
    fn update(&mut self, size: usize) {
        self.0.inc(size as u64);
    }
    fn finish(&mut self) {
        self.0.finish_and_clear();
    }
}

pub fn download(args: &DownloadArgs) -> Result<()> {
    use isoformer_checkpoint::download::{fetch, place};
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(args.repo.rsplit('/').next().unwrap_or("model")));
    let fetched = fetch(&args.repo, &args.revision, || Bar(crate::progress::bytes_bar(0, "downloading")))?;
    for (name, path) in &fetched.files {
        if *name != fetched.weights || args.no_convert || name == "model.safetensors" {
            place(path, &dir, name)?;
        }
    }
    if fetched.weights == "pytorch_model.bin" && !args.no_convert {
        let src = &fetched.files.iter().find(|f| f.0 == "pytorch_model.bin").expect("fetched").1;
        let ckpt = Checkpoint::open(src)?;
        let cfg_path = dir.join("config.json");
        let cfg = read_config(&cfg_path)?;
        let bar = crate::progress::bytes_bar(ckpt.entries.iter().map(|e| e.byte_len() as u64).sum(), "converting");
        let m = isoformer_checkpoint::convert::convert(
            &ckpt,
            &dir.join("model.safetensors"),
            Some(&dir.join("manifest.json")),
            Some((&cfg_path, &cfg)),
            |done, _| bar.set_position(done),
        )?;
        bar.finish_and_clear();
        eprintln!("converted pytorch_model.bin: {} tensors, {} parameters", m.tensors, m.total_parameters);
    }
    eprintln!(
        "{}@{} ({}) -> {}",
        args.repo,
        args.revision,
        fetched.commit.as_deref().unwrap_or("commit not reported"),
        dir.display()
    );
    Ok(())
}
