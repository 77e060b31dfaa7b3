//! `isoformer`: predict the expression of transcript isoforms in 30 GTEx tissues.
//!
//! IsoFormer: Garau-Luis et al., "Multi-modal Transfer Learning between Biological Foundation
//! Models", NeurIPS 2024. Official weights: InstaDeepAI/isoformer on the Hugging Face Hub.

mod compare;
mod convert;
mod eval;
mod merge;
mod plot;
mod predict;
mod prepare;
mod progress;
mod provenance;
mod quantize;
mod score_variants;
mod split;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "isoformer",
    version,
    about = "Predict per-isoform expression in 30 GTEx tissues from DNA, RNA and protein (IsoFormer)",
    long_about = "Predict per-isoform expression in 30 GTEx tissues from DNA, RNA and protein.\n\n\
        IsoFormer encodes the DNA around a transcript's TSS with Enformer, its spliced RNA with the \
        Nucleotide Transformer v2 and its protein with ESM-2; the DNA embeddings attend to the RNA \
        and protein embeddings, and a head maps them to 30 tissues (log(TPM+1) scale).\n\n\
        Model directories have the official Hugging Face layout with safetensors weights: \
        config.json, model.safetensors, dna_vocab_list.txt, rna_vocab_list.txt, protein_vocab_list.txt \
        (see models/README.md).\n\n\
        Cite: Garau-Luis et al., Multi-modal Transfer Learning between Biological Foundation Models, NeurIPS 2024."
)]
struct Cli {
    /// Log more (repeat for more detail); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DeviceArg {
    /// burn's CPU backend (flex, multi-threaded).
    Cpu,
    /// A GPU through wgpu (Vulkan / Metal / DX12).
    Gpu,
}

/// The arithmetic of the matrix products and convolutions on the CPU.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq, Default)]
pub enum ComputeArg {
    /// 32-bit floats: exactly the model the weights describe (int8 weights are scaled back to f32).
    #[default]
    F32,
    /// 8-bit integers where the weights are int8 (models written by `isoformer quantize`):
    /// activations rounded to 8 bits per token, i32 sums. 2-3× faster matrix products on CPUs with
    /// AVX-512 VNNI, AVX-512 or AVX2; predictions move by the activations' rounding (judge it
    /// with `isoformer eval --against ORIGINAL --compute int8`). CPU only.
    Int8,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    /// Tab-separated text, values with 6 decimals.
    Tsv,
    /// Apache Parquet, values as written by the model (32-bit floats).
    Parquet,
}

#[derive(Subcommand)]
enum Command {
    /// Predict expression for each transcript of a TSV or of three FASTA files.
    #[command(after_help = "EXAMPLES:\n  isoformer predict --model models/tiny --input models/tiny/example.tsv --output -\n  \
        isoformer predict -m MODEL --dna dna.fa.gz --rna rna.fa.gz --protein protein.fa -o predictions.tsv\n\n\
        INPUT: a TSV with a header holding at least transcript_id, dna, rna, protein (other columns are \
        ignored; protein may be empty for non-coding transcripts), as `isoformer prepare` writes; or three \
        FASTA files paired by record name (the header's first word, the transcript id): every id must be in \
        all three, once, and a non-coding transcript takes an empty protein record (a `>ID` line with no \
        sequence; an id absent from the protein file is an error, so that mismatched files are caught). \
        Letters: IUPAC nucleotides for DNA, the same plus U for RNA, the ESM-2 residue letters for protein (no `*`); \
        lower case is read as upper case. `-` reads standard input (for one of the three at most); gzip is \
        detected from the bytes. DNA is one-hot encoded (N and other IUPAC letters as zeros); its length must be a \
        multiple of 2^enformer_num_downsamples (128 for the official model: 196,608 bp) with at least \
        enformer_target_length bins, and in a FASTA input every DNA record has the first one's length.\n\n\
        OUTPUT: transcript_id (and gene_id when the input has that column, as `isoformer prepare` writes, or \
        is FASTA: the `gene:ID` / `gene=ID` word of the DNA header, empty without one) then one column per \
        tissue, in the official order. Standard output receives nothing until every prediction is made; \
        files are written under a temporary name and renamed at the end, and an error leaves none behind.")]
    Predict(PredictArgs),
    /// Build model inputs (DNA window, spliced RNA, protein) from a genome FASTA and a GTF/GFF3.
    #[command(after_help = prepare::HELP)]
    Prepare(prepare::PrepareArgs),
    /// Convert a PyTorch checkpoint (pytorch_model.bin) to model.safetensors, safely.
    Convert(convert::ConvertArgs),
    /// Show what a checkpoint holds and whether the model loads it.
    Inspect(convert::InspectArgs),
    /// Fetch a model from the Hugging Face Hub (default InstaDeepAI/isoformer) into a model directory.
    Download(convert::DownloadArgs),
    /// Fine-tune a model on a TSV of inputs and target columns (AdamW, cosine schedule, checkpoints, resume).
    #[command(after_help = train::HELP)]
    Train(train::TrainArgs),
    /// Score a model on a TSV with targets: R², Pearson, Spearman, MSE per target and averaged; plots.
    #[command(after_help = eval::HELP)]
    Eval(eval::EvalArgs),
    /// Split a TSV into gene-disjoint parts (train/valid/test).
    #[command(after_help = split::HELP)]
    Split(split::SplitArgs),
    /// Write an int8 copy of a model directory, if it passes an accuracy gate against the original.
    #[command(after_help = quantize::HELP)]
    Quantize(quantize::QuantizeArgs),
    /// Score VCF variants on every isoform they touch, through DNA, RNA and protein: Δ per output.
    #[command(after_help = score_variants::HELP)]
    ScoreVariants(score_variants::ScoreVariantsArgs),
    /// Put shard outputs (`--shard K/N`) of one run back together, byte for byte the unsharded output.
    #[command(after_help = merge::HELP)]
    Merge(merge::MergeArgs),
}

/// How the model runs: the flags `predict` and `score-variants` share.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Where to run the model.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Model inputs per forward pass (a transcript, or a variant's reference or alternate
    /// inputs; inputs with the same DNA length are batched together).
    #[arg(short, long, default_value_t = isoformer_pipeline::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// CPU threads for the model (rayon's pool; default: all cores).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    /// Matrix products in f32, or in int8 for a quantized model's int8 weights (CPU only).
    #[arg(long, value_enum, default_value_t = ComputeArg::F32)]
    pub compute: ComputeArg,
}

#[derive(clap::Args)]
pub struct PredictArgs {
    /// Model directory (config.json, model.safetensors, the three vocab files).
    #[arg(short, long)]
    pub model: PathBuf,
    /// Input TSV with transcript_id, dna, rna, protein (and gene_id) columns, as `prepare` writes
    /// (`-` for standard input, `.gz` accepted). Standard input when neither this nor
    /// --dna/--rna/--protein is given.
    #[arg(short, long, value_name = "TSV", conflicts_with_all = ["dna", "rna", "protein"])]
    pub input: Option<PathBuf>,
    /// Instead of --input: the DNA windows as FASTA, one record per transcript, named by
    /// transcript id (the header's first word); a `gene:ID` or `gene=ID` word in the header gives
    /// the gene id. All records have one length, the model's window. `.gz` accepted.
    #[arg(long, value_name = "DNA.fa", requires_all = ["rna", "protein"])]
    pub dna: Option<PathBuf>,
    /// The spliced RNAs as FASTA (DNA or RNA letters), paired with --dna by transcript id.
    #[arg(long, value_name = "RNA.fa", requires_all = ["dna", "protein"])]
    pub rna: Option<PathBuf>,
    /// The proteins as FASTA, paired with --dna by transcript id; every transcript needs a
    /// record: a non-coding one takes an empty record (a `>ID` line and no sequence).
    #[arg(long, value_name = "PROTEIN.fa", requires_all = ["dna", "rna"])]
    pub protein: Option<PathBuf>,
    /// Output file (`-` for standard output; `.gz` compresses a TSV; written to a temporary file
    /// and renamed on success).
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    /// Output format: a TSV, or Parquet (transcript_id and gene_id as UTF-8 strings, then one
    /// FLOAT column per tissue named as in the TSV header; uncompressed). Default: parquet when
    /// --output ends in `.parquet`, tsv otherwise.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Also write every transcript's embeddings and tokens to this safetensors file.
    #[arg(long, value_name = "DUMP.safetensors")]
    pub dump_embeddings: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    /// No progress bar (it is drawn on stderr only when stderr is a terminal anyway).
    #[arg(short, long)]
    pub quiet: bool,
    /// Also draw an isoforms × tissues heatmap, rows grouped by gene, with labels and a colour
    /// legend: SVG or PNG, by the name's extension (the PNG is the SVG's content at twice its
    /// size, drawn with an embedded font).
    #[arg(long, value_name = "HEATMAP.svg|png")]
    pub plot: Option<PathBuf>,
    /// Only shard K of N (1-based) of the input: transcripts split into N parts by DNA window
    /// (one Enformer pass per window still), parts balanced by windows; `isoformer merge` puts
    /// the parts back in input order, byte for byte the unsharded output. An input that
    /// `prepare --shard` made is a shard already (its INPUT.json says which): no --shard then.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub provenance: provenance::ProvenanceArgs,
}

/// burn's device threads catch their own panics (a wgpu validation error, an allocation over the
/// adapter's limits) and the failure comes back as an error when the results are read, which
/// `predict` reports on one line; the default hook would first print each of them with a
/// backtrace. Panics on those threads go to the log (`-vv`) instead; the main thread's keep the
/// default report (they are bugs).
fn quiet_device_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            default(info);
        } else {
            log::debug!("device thread: {info}");
        }
    }));
}

/// A reader that went away (`isoformer ... | head -1`): the conventional quiet end, status
/// 128 + SIGPIPE as if the signal had ended the process, without a message.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn main() -> ExitCode {
    // Freed memory stays with the process for the next forward pass (isoformer-io's `memory`).
    isoformer_io::memory::keep_freed_memory();
    // SIGINT/SIGTERM/SIGHUP remove temporary outputs and end with 130/143/129 (isoformer-io's
    // output contract).
    isoformer_io::remove_temporaries_on_signals();
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // burn's GPU runtime logs a failed batch as warnings of its own (and its info is noise to a
    // user); `predict` reports the failure itself, on one line. `-vv` shows everything.
    let filter = if cli.verbose >= 2 { level.to_string() } else { format!("{level},cubecl_runtime=error,cubecl_wgpu=error") };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(filter)).init();
    quiet_device_panics();
    let result = match cli.command {
        Command::Predict(args) => predict::run(&args),
        Command::Prepare(args) => prepare::run(&args),
        Command::Convert(args) => convert::convert(&args),
        Command::Inspect(args) => convert::inspect(&args),
        Command::Download(args) => convert::download(&args),
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Split(args) => split::run(&args),
        Command::Quantize(args) => quantize::run(&args),
        Command::ScoreVariants(args) => score_variants::run(&args),
        Command::Merge(args) => merge::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if broken_pipe(&e) => ExitCode::from(141),
        Err(e) => {
            eprintln!("error: {e}");
            let mut shown = e.to_string();
            for cause in e.chain().skip(1) {
                // Errors that quote their cause in their own message are not repeated.
                let text = cause.to_string();
                if !shown.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                shown = text;
            }
            ExitCode::FAILURE
        }
    }
}
