//! `isoformer score-variants`: a VCF's variants through every isoform they touch, Δ per model
//! output. An adapter: the contract is isoformer-bio's `variants`, the scoring
//! isoformer-pipeline's `variants`, the model runs through the same `Job` as `predict`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use isoformer_bio::annotation::Annotation;
use isoformer_bio::genome::{ChromMap, Genome};
use isoformer_bio::transcript::Transcript;
use isoformer_bio::variants::{PlanOptions, Planner, RefMismatch, VariantError, Vcf, check_contigs, read_vcf};
use isoformer_io::{Outputs, open_input};
use isoformer_pipeline::device_failure::DeviceFailure;
use isoformer_pipeline::job::Job;
use isoformer_pipeline::provenance::{FileId, PARQUET_KEY, Provenance, ShardRecord};
use isoformer_pipeline::shard::Shard;
use isoformer_pipeline::table::PredictionTable;
use isoformer_pipeline::variants::{Scoring, VariantTable, dump_header};

use crate::plot::PlotFormat;
use crate::provenance::HashingRead;
use crate::predict::{device, load_predictor, read_f32, set_compute, set_threads};
use crate::{DeviceArg, FormatArg};

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum RefMismatchArg {
    /// Stop with an error naming the VCF line and the genome's bases.
    Error,
    /// Skip the variant and count it in the summary.
    Skip,
}

#[derive(clap::Args)]
pub struct ScoreVariantsArgs {
    /// Model directory (config.json, model.safetensors, the three vocab files).
    #[arg(short, long)]
    pub model: PathBuf,
    /// Genome FASTA, read as `prepare` reads it (uncompressed with .fai, bgzip with .fai + .gzi,
    /// or plain gzip read whole).
    #[arg(short, long)]
    pub genome: PathBuf,
    /// Annotation: GTF or GFF3 (optionally `.gz`), as for `prepare`.
    #[arg(short, long)]
    pub annotation: PathBuf,
    /// VCF 4.x: plain, gzip or bgzip; `-` for standard input. Need not be sorted.
    #[arg(long, value_name = "VCF")]
    pub vcf: PathBuf,
    /// Output: TSV (`.gz` compresses) or Parquet (by the `.parquet` extension or --format); `-`
    /// for standard output. Written under a temporary name and renamed at the end.
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    /// Output format (default: parquet when --output ends in `.parquet`, tsv otherwise).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// DNA window length, centred on the TSS, checked against --model as `prepare` checks it.
    #[arg(short, long, default_value_t = 196_608)]
    pub window: u64,
    /// Only transcripts of these genes (comma-separated gene_id, gene_id without version, or name).
    #[arg(long, value_delimiter = ',', conflicts_with = "transcripts")]
    pub genes: Vec<String>,
    /// Only these transcripts (comma-separated transcript_id, with or without version).
    #[arg(long, value_delimiter = ',')]
    pub transcripts: Vec<String>,
    /// What a REF that differs from the genome does.
    #[arg(long, value_enum, default_value_t = RefMismatchArg::Error)]
    pub ref_mismatch: RefMismatchArg,
    /// Two-column TSV mapping annotation and VCF sequence names to genome names (chr1 ↔ 1 and
    /// chrM ↔ MT are reconciled without it).
    #[arg(long, value_name = "MAP.tsv")]
    pub chrom_map: Option<PathBuf>,
    /// Also write every scored pair's reference and alternate inputs (a TSV that `isoformer
    /// predict --input` takes as it is).
    #[arg(long, value_name = "INPUTS.tsv")]
    pub dump_inputs: Option<PathBuf>,
    /// Also draw, per variant, an isoforms × outputs Δ heatmap into this folder
    /// (`N_CHROM_POS_REF_ALT.svg` and `.png`).
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub run: crate::RunArgs,
    /// Only shard K of N (1-based): the selected transcripts split into N parts by DNA window,
    /// the windows of one gene kept together (a variant's share_delta needs every isoform of
    /// its gene), parts balanced by those groups; each part scores its transcripts' pairs.
    /// `isoformer merge` puts the parts back in the unsharded order, byte for byte the unsharded
    /// output. Every shard reads the whole VCF.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub provenance: crate::provenance::ProvenanceArgs,
    /// No progress bar and no run summary.
    #[arg(short, long)]
    pub quiet: bool,
}

pub const HELP: &str = "EXAMPLE:\n  isoformer score-variants --model models/demo --window 1024 --genome examples/genome.fa.gz \\\n      --annotation examples/genes.gtf --vcf variants.vcf.gz -o scores.tsv --dump-inputs inputs.tsv --plot plots/\n\n\
    WHAT IS SCORED: each ALT allele of each VCF record (a record with k ALT alleles is k variants) against every \
    selected transcript whose reference DNA window (the --window bases `prepare` cuts around its TSS) or whose \
    transcribed span (first to last exon base) shares a base with REF (POS..POS+len(REF)-1, forward strand). \
    The reference inputs are exactly `prepare`'s. The alternate haplotype is the genome with REF replaced by \
    ALT; its DNA window is cut by the same rule around the TSS, which moves by len(ALT)-len(REF) when REF lies \
    wholly before it (in genome coordinates) and stays when REF lies wholly after it. RNA: REF inside one exon \
    edits that exon and the RNA is re-spliced; otherwise the RNA and protein stay the reference's. Protein (RNA \
    edited, transcript coding, i.e. its reference protein is not empty): from the reference CDS start mapped onto \
    the edited RNA, codons in frame up to the first stop (standard code, X for codons with N), flag no_stop when \
    the RNA ends first; a start codon that was ATG and no longer is gives an empty protein (flag start_lost). \
    RNA and protein are cropped as `predict` crops them.\n\n\
    CONSEQUENCE (the first that applies): exon_boundary (REF crosses an exon edge: only the DNA changes), \
    splice_site (REF outside exons but touching one of the 2 intronic bases next to an exon edge that borders an \
    intron: only the DNA changes), start_lost, frameshift (REF overlaps the CDS, length change not a multiple of 3), \
    inframe_indel, stop_gained (shorter protein), stop_lost (longer protein, or no stop any more), missense, \
    synonymous, 5_prime_utr, 3_prime_utr, noncoding_exon, intron, upstream (before the TSS on the transcript's \
    strand), downstream.\n\n\
    OUTPUT: one row per scored (variant, transcript): variant_id (CHROM:POS:REF:ALT), vcf_id, chrom, pos, ref, alt, \
    transcript_id, gene_id, gene_name, consequence, changed (which of dna,rna,protein the alternate inputs change), \
    then delta:<output> = prediction(alt) - prediction(ref) per model output, in the model's units. Rows follow the \
    VCF's order, transcripts in annotation order. With a model whose outputs are the 30 GTEx tissues in \
    log(TPM+1) (the official one) also share_delta:<tissue>: the change of the isoform's share of its gene's \
    expression, expression = max(e^y - 1, 0) summed over the gene's selected transcripts (those not touched by \
    the variant keep their reference value). --dump-inputs writes two rows per pair (allele ref, then alt): \
    transcript_id (VARIANT_ID|TRANSCRIPT_ID|ALLELE), variant_id, source_transcript_id, allele, gene_id, dna, \
    rna, protein, flags; `isoformer predict --input INPUTS.tsv` runs on it as it is.\n\n\
    SKIPPED AND COUNTED (summary on stderr, not errors): symbolic ALT (<DEL>, <*>, ...), `*` ALT, breakends, \
    missing ALT (`.`), REF not matching the genome with --ref-mismatch skip (per variant), and tss_indel (per \
    pair: an indel whose REF contains the TSS base, whose alternate window has no defined centre). Transcripts \
    on sequences absent from the genome are not scored (counted too).\n\n\
    ERRORS (one line naming the VCF file and line; nothing is written): a header that is not VCF, a record before \
    #CHROM, fewer than 8 fields, POS 0 or not a number, REF or ALT with letters other than ACGTN, REF past the \
    chromosome's end, a contig the genome lacks (after chr1/1 reconciliation and --chrom-map), a ##contig whose length is not the genome's (another assembly), REF not matching \
    the genome (default), the same CHROM:POS:REF:ALT twice. The VCF need not be sorted; a header-only VCF gives \
    a header-only output.\n\n\
    PROVENANCE AND SHARDS: a TSV output gets OUTPUT.json beside it (Parquet: in its metadata) naming the \
    isoformer version, the model's weights, the genome, annotation and VCF by sha256 (--fast-provenance: size and \
    modification time), the parameters and the shard. Genome-wide, one shard per job: `isoformer score-variants ... \
    --shard 3/40 -o scores.3.tsv`, then `isoformer merge -o scores.tsv scores.*.tsv` (see workflow/). With --plot, \
    a shard numbers its variants N within the shard.\n\n\
    SPEED: a transcript's reference is predicted once for all its variants; an alternate allele with the \
    reference's inputs is not run; alleles that change only the RNA or protein share the reference window's \
    Enformer pass (batched in chunks of variants).";

fn format(args: &ScoreVariantsArgs) -> Result<FormatArg> {
    let format = args.format.unwrap_or(if args.output.extension().is_some_and(|e| e == "parquet") { FormatArg::Parquet } else { FormatArg::Tsv });
    if format == FormatArg::Parquet {
        anyhow::ensure!(!args.output.extension().is_some_and(|e| e == "gz"), "--output {}: Parquet is not gzip-compressed from outside; drop the .gz", args.output.display());
        anyhow::ensure!(
            !(args.output.as_os_str() == "-" && std::io::stdout().is_terminal()),
            "not writing Parquet (binary) to a terminal: give --output FILE.parquet or redirect standard output"
        );
    }
    let stdout = [Some(&args.output), args.dump_inputs.as_ref()].into_iter().flatten().filter(|p| p.as_os_str() == "-").count();
    anyhow::ensure!(stdout <= 1, "only one of --output, --dump-inputs can be `-` (standard output)");
    anyhow::ensure!(args.plot.as_ref().is_none_or(|p| p.as_os_str() != "-"), "--plot takes a folder, not `-`");
    Ok(format)
}

/// The message of a REF mismatch, with the option that skips such variants.
fn hint(e: VariantError) -> anyhow::Error {
    match e {
        VariantError::RefMismatch { .. } => anyhow::anyhow!("{e}; --ref-mismatch skip skips such variants"),
        e => e.into(),
    }
}

/// What made the output (its shard is added once the rows are known).
fn provenance(args: &ScoreVariantsArgs, vcf: Option<FileId>) -> Result<Provenance> {
    use crate::provenance::{add_genome, add_model, add_run, file_id};
    let fast = args.provenance.fast_provenance;
    let mut p = Provenance::new("score-variants");
    add_model(&mut p, &args.model, fast)?;
    add_genome(&mut p, &args.genome, &args.annotation, args.chrom_map.as_deref(), fast)?;
    p.files.insert("vcf".into(), match vcf {
        Some(id) => id,
        None => file_id(&args.vcf, fast)?,
    });
    let selection = crate::prepare::selection(args.genes.is_empty() && args.transcripts.is_empty(), &args.genes, &args.transcripts);
    let ref_mismatch = if args.ref_mismatch == RefMismatchArg::Skip { "skip" } else { "error" };
    for (k, v) in [("selection", selection), ("window", args.window.to_string()), ("ref_mismatch", ref_mismatch.into())] {
        p.parameters.insert(k.into(), v);
    }
    add_run(&mut p, &args.run);
    Ok(p)
}

/// `--shard`: score only the shard's transcripts (`planner.only`), and the unsharded run's row
/// numbers of the rows it will write: every variant checked and its pairs listed (no input built),
/// in the order the rows are written. The checks' skip counts are left to the scoring pass.
fn cut_shard(shard: Shard, planner: &mut Planner, genome: &mut Genome, chrom_map: &ChromMap, vcf: &Vcf) -> Result<ShardRecord> {
    let windows: Vec<(&str, char, u64)> = (0..planner.transcripts().len())
        .map(|i| {
            let t = &planner.transcripts()[i];
            (planner.seq(i).unwrap_or(&t.seq), t.strand.symbol(), t.tss())
        })
        .collect();
    let genes: Vec<&str> = planner.transcripts().iter().map(|t| t.gene_id.as_str()).collect();
    let groups = isoformer_pipeline::shard::joined(&windows, &genes);
    let scored: Vec<bool> = isoformer_pipeline::shard::assign(&groups, shard.count).into_iter().map(|s| s + 1 == shard.index).collect();
    let (mut rows, mut total) = (Vec::new(), 0usize);
    for v in &vcf.variants {
        let Some(seq) = planner.check(genome, chrom_map, v).map_err(hint)? else { continue };
        for i in planner.pair_transcripts(&seq, v) {
            if scored[i] {
                rows.push(total);
            }
            total += 1;
        }
    }
    planner.skipped = Default::default();
    planner.only(scored);
    Ok(ShardRecord::new(shard, &rows, total))
}

pub fn run(args: &ScoreVariantsArgs) -> Result<()> {
    let started = Instant::now();
    let shard: Option<Shard> = args.shard.as_deref().map(str::parse).transpose()?;
    anyhow::ensure!(args.run.compute == crate::ComputeArg::F32 || args.run.device == DeviceArg::Cpu, "--compute int8 runs on the CPU only (--device cpu)");
    anyhow::ensure!(args.run.batch_size >= 1, "--batch-size must be at least 1");
    let format = format(args)?;
    set_threads(args.run.threads)?;
    let limits = crate::prepare::window_limits(args.window, Some(&args.model))?;
    let chrom_map = match &args.chrom_map {
        Some(p) => ChromMap::read(p)?,
        None => ChromMap::default(),
    };
    let mut genome = Genome::open(&args.genome)?;
    let annotation = Annotation::read(&args.annotation)?;
    let selected = crate::prepare::select_transcripts(args.genes.is_empty() && args.transcripts.is_empty(), &args.genes, &args.transcripts, &annotation)?;
    let transcripts = selected.iter().map(|&i| Transcript::from_record(&annotation.path, &annotation.transcripts[i])).collect::<Result<Vec<_>, _>>()?;
    // Standard input is identified by its content, hashed as it is read.
    let (vcf, vcf_id) = if args.vcf.as_os_str() == "-" {
        let mut reader = std::io::BufReader::new(HashingRead::new(open_input(&args.vcf)?));
        let vcf = read_vcf(&args.vcf, &mut reader)?;
        let hashed = reader.into_inner();
        (vcf, Some(FileId { name: "-".into(), size: hashed.bytes, sha256: Some(hashed.sha256()), mtime: None }))
    } else {
        (read_vcf(&args.vcf, open_input(&args.vcf)?)?, None)
    };
    check_contigs(&vcf, &genome, &chrom_map)?;
    let mut provenance = provenance(args, vcf_id)?;

    // Outputs claimed before the model runs (checked against each other and the inputs),
    // committed together at the end; a failure removes them (the output contract: README).
    let mut outputs = Outputs::new();
    outputs.input_dir(&args.model, &isoformer_pipeline::model_dir::FILES)?;
    let index = |suffix: &str| std::path::PathBuf::from(format!("{}{suffix}", args.genome.display()));
    for input in [Some(&args.genome), Some(&index(".fai")), Some(&index(".gzi")), Some(&args.annotation), Some(&args.vcf), args.chrom_map.as_ref()].into_iter().flatten() {
        outputs.input(input)?;
    }
    let output = outputs.file(&args.output)?;
    // A TSV's provenance sidecar (`OUT.json`; Parquet keeps it in its metadata).
    let side = crate::provenance::sidecar_for(&args.output).filter(|_| format == FormatArg::Tsv).map(|p| outputs.file(&p)).transpose()?;
    let dump = args.dump_inputs.as_deref().map(|p| outputs.file(p)).transpose()?;
    if let Some(dir) = &args.plot {
        outputs.create_dir(dir)?;
    }

    let device = device(args.run.device)?;
    let mut predictor = load_predictor(&args.model, &device)?;
    set_compute(args.run.compute, args.run.device, &mut predictor, &args.model)?;
    let ref_mismatch = match args.ref_mismatch {
        RefMismatchArg::Error => RefMismatch::Error,
        RefMismatchArg::Skip => RefMismatch::Skip,
    };
    let mut planner = Planner::new(&genome, &chrom_map, &annotation.path, transcripts, PlanOptions { limits, ref_mismatch });
    if let Some(shard) = shard {
        provenance.shard = Some(cut_shard(shard, &mut planner, &mut genome, &chrom_map, &vcf)?);
    }
    let mut scoring = Scoring::new(predictor.output_names(), &planner);
    if let Some(d) = dump {
        outputs.writer(d).write_all(dump_header().as_bytes())?;
    }

    let n = vcf.variants.len();
    let per_chunk = isoformer_pipeline::variants::chunk_variants(limits.window);
    let bar = crate::progress::bar(n as u64, "score-variants [{bar:40}] {pos}/{len} variants {per_sec} ETA {eta}", args.quiet);
    let (mut pairs, mut runs) = (0usize, 0usize);
    let mut first = 0;
    while first < n {
        let count = per_chunk.min(n - first);
        let chunk = scoring.chunk(&mut planner, &mut genome, &chrom_map, &vcf.variants, first, count).map_err(hint)?;
        pairs += chunk.pairs();
        runs += chunk.records.records.len();
        if let Some(d) = dump {
            outputs.writer(d).write_all(chunk.dump_rows(&planner, &vcf.variants).as_bytes())?;
        }
        let table = if chunk.records.records.is_empty() {
            PredictionTable { outputs: predictor.output_names(), has_gene: true, rows: Vec::new() }
        } else {
            let mut job = Job::new(&predictor, chunk.records.clone(), args.run.batch_size)?;
            let batches = job.batches();
            for b in 0..batches {
                let out = job.forward(b);
                let values = read_f32(out.predictions).map_err(|e| {
                    let ids = job.batch(b).iter().map(|e| e.id.clone()).collect();
                    DeviceFailure::from_report(ids, &format!("{e:#}"), None)
                })?;
                job.accept(b, &values)?;
                bar.set_position((first + count * (b + 1) / batches) as u64);
            }
            job.finish()?
        };
        scoring.accept(&planner, &vcf.variants, chunk, &table);
        planner.forget_references();
        first += count;
        bar.set_position(first as u64);
    }
    bar.finish_and_clear();
    let share = scoring.share();
    let table = scoring.finish();

    if let Some(record) = &provenance.shard {
        let listed = record.rows().rows.len();
        anyhow::ensure!(table.rows.len() == listed, "internal error: shard {} scored {} pairs but listed {listed}", record.shard(), table.rows.len());
    }
    let bytes = match format {
        FormatArg::Tsv => table.to_tsv().into_bytes(),
        FormatArg::Parquet => table.to_parquet_with(&[(PARQUET_KEY, provenance.to_json_line())]).context("writing Parquet")?,
    };
    if let Some(side) = side {
        outputs.write_all(side, crate::provenance::sidecar_json(&provenance, table.rows.len(), crate::provenance::sha256_hex(&bytes)).as_bytes())?;
    }
    let plots = args.plot.as_ref().map(|_| plots(&table)).transpose()?;
    outputs.write_all(output, &bytes)?;
    if let (Some(dir), Some(plots)) = (&args.plot, plots) {
        for (name, bytes) in plots {
            let id = outputs.file(&dir.join(name))?;
            outputs.write_all(id, &bytes)?;
        }
    }
    outputs.commit()?;
    if !args.quiet {
        let seconds = started.elapsed().as_secs_f64();
        for (k, line) in isoformer_pipeline::variants::summary(&vcf, &planner, pairs, runs, share).into_iter().enumerate() {
            let timing = if k == 0 { format!(" in {seconds:.2} s ({:.2} variants/s)", n as f64 / seconds.max(1e-9)) } else { String::new() };
            eprintln!("score-variants: {line}{timing}");
        }
    }
    Ok(())
}

/// Per variant with rows, its heatmap as SVG and PNG: `N_CHROM_POS_REF_ALT.{svg,png}` (N, the
/// variant's rank in the output, keeps the files in VCF order; long alleles are shortened).
fn plots(table: &VariantTable) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut k = 0;
    let mut i = 0;
    while i < table.rows.len() {
        let id = &table.rows[i].variant_id;
        let j = i + table.rows[i..].iter().take_while(|r| &r.variant_id == id).count();
        k += 1;
        let short = |s: &str| if s.len() > 20 { format!("{}..{}", &s[..8], s.len()) } else { s.to_string() };
        let r = &table.rows[i];
        let stem: String = format!("{k:04}_{}_{}_{}_{}", r.chrom, r.pos, short(&r.reference), short(&r.alt))
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' { c } else { '_' })
            .collect();
        for f in [PlotFormat::Svg, PlotFormat::Png] {
            let ext = if f == PlotFormat::Svg { "svg" } else { "png" };
            out.push((format!("{stem}.{ext}"), crate::plot::delta_heatmap(f, &table.rows[i..j], &table.outputs)?));
        }
        i = j;
    }
    Ok(out)
}
