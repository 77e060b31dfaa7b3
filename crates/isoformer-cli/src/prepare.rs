//! `isoformer prepare`: genome FASTA + GTF/GFF3 → one TSV row per transcript with the model's
//! three inputs (see isoformer-bio for the conventions).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use isoformer_bio::annotation::Annotation;
use isoformer_bio::genome::{ChromMap, Genome};
use isoformer_bio::transcript::{Limits, Transcript, prepare};
use isoformer_model::IsoformerConfig;

use isoformer_io::Outputs;
use isoformer_pipeline::prepared;
use isoformer_pipeline::provenance::{Provenance, ShardRecord};
use isoformer_pipeline::shard::{self, Shard};

use crate::provenance::{Hashing, ProvenanceArgs, file_id, sidecar_for, sidecar_json};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["genes", "transcripts", "all"])))]
pub struct PrepareArgs {
    /// Genome FASTA: uncompressed with GENOME.fai, bgzip with GENOME.fai + GENOME.gzi (both read by
    /// random access), or plain gzip (read whole into memory first: slower to start, about a
    /// second per 200 Mb, and needs the genome's size in RAM).
    #[arg(short, long)]
    pub genome: PathBuf,
    /// Annotation: GTF or GFF3 (`.gtf`, `.gff3`, `.gff`, optionally `.gz`).
    #[arg(short, long)]
    pub annotation: PathBuf,
    /// Every transcript of these genes (comma-separated gene_id, gene_id without version, or gene name).
    #[arg(long, value_delimiter = ',')]
    pub genes: Vec<String>,
    /// These transcripts (comma-separated transcript_id, with or without version: ENST01.3
    /// finds ENST01 in the annotation, ENST01 finds ENST01.3; ENST01.3 does not find ENST01.4).
    #[arg(long, value_delimiter = ',')]
    pub transcripts: Vec<String>,
    /// Every transcript of the annotation.
    #[arg(long)]
    pub all: bool,
    /// Model directory: the window must suit its Enformer geometry, and its RNA/protein token
    /// limits are used for the crops (the official limits otherwise: 2048 and 1024).
    #[arg(short, long)]
    pub model: Option<PathBuf>,
    /// DNA window length in bases, centred on the TSS (the official model takes 196,608).
    #[arg(short, long, default_value_t = 196_608)]
    pub window: u64,
    /// Two-column TSV mapping annotation sequence names to genome names (chr1 ↔ 1 and chrM ↔ MT
    /// are reconciled without it).
    #[arg(long, value_name = "MAP.tsv")]
    pub chrom_map: Option<PathBuf>,
    /// Output TSV (`.gz` compresses; written to a temporary file and renamed at the end, so a
    /// failure leaves none). `-` streams rows to standard output as they are made (a genome's
    /// worth can be gigabytes): on a failure the stream stops early and the exit status is 1.
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    /// Only shard K of N (1-based): the selected transcripts split into N parts by DNA window
    /// (chromosome, strand, TSS), every window's transcripts in one part, parts balanced by
    /// windows. `isoformer predict` on each part, then `isoformer merge`, gives the unsharded
    /// result. The shard and its rows are recorded in OUTPUT.json.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub provenance: ProvenanceArgs,
}

pub const HELP: &str = "EXAMPLE:\n  isoformer prepare --genome examples/genome.fa --annotation examples/genes.gtf --all \\\n      --model models/tiny --window 80 -o examples.tsv\n\n\
    OUTPUT: a TSV with transcript_id, gene_id, gene_name, chrom, strand, tss (1-based TSS base), dna, \
    rna, protein, flags. dna: the window of --window bases read 5'->3' on the transcript's strand \
    (reverse complement on -), the TSS base at 0-based index window/2, N past the chromosome ends. \
    rna: the exons joined in transcription order (DNA letters). protein: the CDS translated with the \
    standard code, stop dropped; empty for non-coding transcripts and for frame-broken CDS. RNA longer \
    than the RNA token limit keeps its 3' end, protein keeps its N-terminus.\n\n\
    FLAGS: dna_padded, rna_cropped, protein_cropped, cds_start_incomplete (no ATG or phase != 0), \
    cds_end_incomplete (no final stop), cds_frame_broken (length not a multiple of 3: no protein), \
    cds_internal_stop (no protein).\n\n\
    GENOME ACCESS: uncompressed FASTA needs GENOME.fai (samtools faidx); bgzip FASTA with .fai and .gzi \
    is read by random access too; a plain gzip FASTA is read whole into memory first (slower to start, \
    and the genome's size in RAM: bgzip it with `bgzip -i` and index it with `samtools faidx`).\n\n\
    PROVENANCE: a file output gets OUTPUT.json beside it: the isoformer version, the genome's, \
    annotation's (and --model's config.json) sha256, the parameters, the shard and the output's own \
    sha256; `isoformer predict` reads it and carries it forward. Genome-wide on a cluster, one shard \
    per job: `isoformer prepare ... --all --shard 3/40 -o prepared.3.tsv.gz` (see workflow/).";

/// The largest `--window`: 170 times the official model's 196,608 bases, far below what a row
/// of the output could not hold.
const MAX_WINDOW: u64 = 1 << 25;

/// The window and token limits: `--window`, checked against `--model`'s geometry, whose token
/// limits replace the official ones.
fn limits(args: &PrepareArgs) -> Result<Limits> {
    window_limits(args.window, args.model.as_deref())
}

/// [`limits`] for any command that cuts windows (`score-variants` too).
pub fn window_limits(window: u64, model: Option<&std::path::Path>) -> Result<Limits> {
    let mut limits = Limits { window, ..Limits::OFFICIAL };
    if window == 0 {
        bail!("--window must be positive");
    }
    // Checked before anything is allocated: each row holds the window's bases.
    if window > MAX_WINDOW {
        bail!("--window {window} is more than the {MAX_WINDOW} bases this version takes (the official model uses 196608)");
    }
    if let Some(dir) = model {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let config = IsoformerConfig::from_json(&text).with_context(|| format!("{}: invalid config", path.display()))?;
        limits = isoformer_pipeline::variants::limits(&config, window)
            .map_err(|e| anyhow::anyhow!("--window {} does not suit {}: {}", window, dir.display(), e.source))?;
    }
    Ok(limits)
}

/// Whether a wanted id names an annotation id: the same, or the same without its `.VERSION`
/// when either side has none (`ENST01.3` finds `ENST01` and `ENST01` finds `ENST01.3`, but
/// `ENST01.3` does not find `ENST01.4`).
fn same_id(wanted: &str, id: &str) -> bool {
    let base = |s: &str| s.rsplit_once('.').filter(|(_, v)| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).map_or((s.to_string(), false), |(a, _)| (a.to_string(), true));
    if wanted.is_empty() || id.is_empty() {
        return false;
    }
    if wanted == id {
        return true;
    }
    let ((w, w_versioned), (i, i_versioned)) = (base(wanted), base(id));
    w == i && w_versioned != i_versioned
}

/// Indexes of the transcripts `--genes`, `--transcripts` or `--all` pick (ids with or without
/// their version, see [`same_id`]; genes also by name). An id that matches nothing is an error.
fn select(args: &PrepareArgs, annotation: &Annotation) -> Result<Vec<usize>> {
    select_transcripts(args.all, &args.genes, &args.transcripts, annotation)
}

/// [`select`] for any command with `--genes` / `--transcripts` filters.
pub fn select_transcripts(all: bool, genes: &[String], transcripts: &[String], annotation: &Annotation) -> Result<Vec<usize>> {
    if all {
        return Ok((0..annotation.transcripts.len()).collect());
    }
    let (wanted, by_gene) = if genes.is_empty() { (transcripts, false) } else { (genes, true) };
    let mut found: HashSet<&str> = HashSet::new();
    let mut picked = Vec::new();
    for (i, t) in annotation.transcripts.iter().enumerate() {
        let hit = |w: &&String| if by_gene { same_id(w, &t.gene_id) || (!t.gene_name.is_empty() && **w == t.gene_name) } else { same_id(w, &t.transcript_id) };
        if let Some(w) = wanted.iter().find(hit) {
            found.insert(w.as_str());
            picked.push(i);
        }
    }
    if let Some(missing) = wanted.iter().find(|w| !found.contains(w.as_str())) {
        bail!("{}: no {} `{missing}` (with exons)", annotation.path.display(), if by_gene { "gene" } else { "transcript" });
    }
    Ok(picked)
}

pub fn run(args: &PrepareArgs) -> Result<()> {
    let started = Instant::now();
    let mut outputs = Outputs::new();
    let index = |suffix: &str| PathBuf::from(format!("{}{suffix}", args.genome.display()));
    for input in [Some(&args.genome), Some(&index(".fai")), Some(&index(".gzi")), Some(&args.annotation), args.chrom_map.as_ref()].into_iter().flatten() {
        outputs.input(input)?;
    }
    if let Some(model) = &args.model {
        outputs.input_dir(model, &isoformer_pipeline::model_dir::FILES)?;
    }
    let out = outputs.file(&args.output)?;
    // The provenance sidecar (`OUT.json`), committed with the output.
    let side = sidecar_for(&args.output).map(|p| outputs.file(&p)).transpose()?;
    let limits = limits(args)?;
    let chrom_map = match &args.chrom_map {
        Some(p) => ChromMap::read(p)?,
        None => ChromMap::default(),
    };
    let mut genome = Genome::open(&args.genome)?;
    let annotation = Annotation::read(&args.annotation)?;
    let ann_path = &annotation.path;

    let selected = select(args, &annotation)?;
    let shard: Option<Shard> = args.shard.as_deref().map(str::parse).transpose()?;

    // Every transcript and its genome sequence first: the shard is cut by window (sequence,
    // strand, TSS), and a sequence missing from the genome fails before any output.
    let mut picked = Vec::with_capacity(selected.len());
    for &i in &selected {
        let rec = &annotation.transcripts[i];
        let t = Transcript::from_record(ann_path, rec)?;
        let line = rec.features[0].line;
        let Some(seq) = chrom_map.resolve(&genome, &t.seq).map(str::to_string) else {
            let names = genome.names();
            bail!(
                "{}:{line}: sequence `{}` of transcript {} is not in {} (it has {}{})",
                ann_path.display(),
                t.seq,
                t.transcript_id,
                args.genome.display(),
                names.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                if names.len() > 5 { ", ..." } else { "" }
            );
        };
        picked.push((t, seq));
    }
    let rows: Vec<usize> = match shard {
        Some(s) => shard::rows(&picked.iter().map(|(t, seq)| (seq.as_str(), t.strand.symbol(), t.tss())).collect::<Vec<_>>(), s),
        None => (0..picked.len()).collect(),
    };
    let provenance = provenance(args, &limits, shard.map(|s| ShardRecord::new(s, &rows, picked.len())))?;

    let mut w = Hashing::new(outputs.writer(out));
    prepared::write_header(&mut w)?;
    let mut flagged = 0usize;
    for &r in &rows {
        let (t, seq) = &picked[r];
        let p = prepare(&mut genome, seq, ann_path, t, limits)?;
        if !p.flags.is_empty() {
            flagged += 1;
        }
        prepared::write_row(&mut w, t, &p)?;
    }
    let sha256 = w.sha256();
    if let Some(side) = side {
        outputs.write_all(side, sidecar_json(&provenance, rows.len(), sha256).as_bytes())?;
    }
    outputs.commit()?;
    log::info!(
        "prepare: {} transcripts in {:.2} s ({} flagged), genome read {}",
        rows.len(),
        started.elapsed().as_secs_f64(),
        flagged,
        if genome.is_indexed() { "by random access" } else { "whole" }
    );
    Ok(())
}

/// The transcript selection as provenance records it: `all`, `genes:A,B` or `transcripts:X,Y`.
pub fn selection(all: bool, genes: &[String], transcripts: &[String]) -> String {
    if all {
        "all".to_string()
    } else if genes.is_empty() {
        format!("transcripts:{}", transcripts.join(","))
    } else {
        format!("genes:{}", genes.join(","))
    }
}

/// What made this output: the genome, annotation (chromosome map, model config), the window and
/// token limits and the selection.
fn provenance(args: &PrepareArgs, limits: &Limits, shard: Option<ShardRecord>) -> Result<Provenance> {
    let fast = args.provenance.fast_provenance;
    let mut p = Provenance::new("prepare");
    crate::provenance::add_genome(&mut p, &args.genome, &args.annotation, args.chrom_map.as_deref(), fast)?;
    if let Some(dir) = &args.model {
        p.files.insert("config.json".into(), file_id(&dir.join("config.json"), fast)?);
    }
    for (k, v) in [("selection", selection(args.all, &args.genes, &args.transcripts)), ("window", limits.window.to_string()), ("rna_tokens", limits.rna_tokens.to_string()), ("protein_tokens", limits.protein_tokens.to_string())] {
        p.parameters.insert(k.to_string(), v);
    }
    p.shard = shard;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::same_id;

    #[test]
    fn ids_match_with_or_without_their_version() {
        assert!(same_id("ENST01", "ENST01"));
        assert!(same_id("ENST01.3", "ENST01"));
        assert!(same_id("ENST01", "ENST01.3"));
        assert!(same_id("ENST01.3", "ENST01.3"));
        assert!(!same_id("ENST01.3", "ENST01.4"));
        assert!(!same_id("ENST01", "ENST012"));
        assert!(!same_id("", ""));
        // Only a numeric suffix is a version.
        assert!(!same_id("gene.a", "gene"));
    }
}
