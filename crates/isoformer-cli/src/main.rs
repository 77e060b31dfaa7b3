//! `isoformer`: predict the expression of transcript isoforms in 30 GTEx tissues.
//!
//! IsoFormer: Garau-Luis et al., "Multi-modal Transfer Learning between Biological Foundation
//! Models", NeurIPS 2024. Official weights: InstaDeepAI/isoformer on the Hugging Face Hub.

mod convert;
mod io;
mod predict;
mod prepare;
mod progress;

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

#[derive(Subcommand)]
enum Command {
    /// Predict expression for each transcript of a TSV.
    #[command(after_help = "EXAMPLE:\n  isoformer predict --model models/tiny --input models/tiny/example.tsv --output -\n\n\
        INPUT: a TSV with a header holding at least transcript_id, dna, rna, protein (other columns are \
        ignored; protein may be empty for non-coding transcripts). `-` reads standard input; a .gz file is \
        decompressed. DNA is one-hot encoded (N and other IUPAC letters as zeros); its length must be a \
        multiple of 2^enformer_num_downsamples (128 for the official model: 196,608 bp) with at least \
        enformer_target_length bins.\n\n\
        OUTPUT: transcript_id (and gene_id when the input has that column, as `isoformer prepare` writes) \
        then one column per tissue, in the official order.")]
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
}

#[derive(clap::Args)]
pub struct PredictArgs {
    /// Model directory (config.json, model.safetensors, the three vocab files).
    #[arg(short, long)]
    pub model: PathBuf,
    /// Input TSV (`-` for standard input, `.gz` accepted).
    #[arg(short, long, default_value = "-")]
    pub input: PathBuf,
    /// Output TSV (`-` for standard output; written to a temporary file and renamed on success).
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    /// Also write every transcript's embeddings and tokens to this safetensors file.
    #[arg(long, value_name = "DUMP.safetensors")]
    pub dump_embeddings: Option<PathBuf>,
    /// Where to run the model.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Transcripts per forward pass (transcripts with the same DNA length are batched together).
    #[arg(short, long, default_value_t = 1)]
    pub batch_size: usize,
    /// CPU threads for the model (rayon's pool; default: all cores).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    /// No progress bar (it is drawn on stderr only when stderr is a terminal anyway).
    #[arg(short, long)]
    pub quiet: bool,
    /// Also draw an isoforms × tissues heatmap, rows grouped by gene (SVG).
    #[arg(long, value_name = "HEATMAP.svg")]
    pub plot: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    let result = match cli.command {
        Command::Predict(args) => predict::run(&args),
        Command::Prepare(args) => prepare::run(&args),
        Command::Convert(args) => convert::convert(&args),
        Command::Inspect(args) => convert::inspect(&args),
        Command::Download(args) => convert::download(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
