//! Variant scoring, shared by `isoformer score-variants` and the page: variants (from
//! [`isoformer_bio::variants`], which owns the contract from a VCF record to model inputs) in
//! chunks, each chunk a set of prepared-input [`Records`] for one [`crate::job::Job`], and the
//! predictions back into Δ rows.
//!
//! Reuse: a transcript's reference inputs are predicted once (the first chunk that needs them)
//! and kept as numbers; an alternate allele whose inputs equal the reference's (a variant in the
//! transcribed span but outside the window, whose RNA is unchanged) is not run (Δ = 0); equal
//! inputs are run once; and within a chunk the job runs Enformer once per distinct window, so an
//! allele that changes only the RNA or protein reuses the reference window's DNA embeddings.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use isoformer_bio::genome::{ChromMap, Genome};
use isoformer_bio::transcript::Prepared;
use isoformer_bio::transcript::Limits;
use isoformer_bio::variants::{Pair, Planner, Variant, VariantError, Vcf};
use isoformer_model::IsoformerConfig;
use isoformer_io::Location;
use isoformer_model::TISSUES;

use crate::input::{Record, Records};
use crate::table::PredictionTable;

/// The columns before the Δ columns, in order.
pub const COLUMNS: [&str; 11] = ["variant_id", "vcf_id", "chrom", "pos", "ref", "alt", "transcript_id", "gene_id", "gene_name", "consequence", "changed"];

/// `--dump-inputs`' columns, in order (`predict` reads the file as it is).
pub const DUMP_COLUMNS: [&str; 9] = ["transcript_id", "variant_id", "source_transcript_id", "allele", "gene_id", "dna", "rna", "protein", "flags"];

/// One (variant, transcript) row.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantRow {
    pub variant_id: String,
    pub vcf_id: String,
    pub chrom: String,
    pub pos: u64,
    pub reference: String,
    pub alt: String,
    pub transcript_id: String,
    pub gene_id: String,
    pub gene_name: String,
    pub consequence: &'static str,
    pub changed: String,
    /// prediction(alt) − prediction(ref), one per model output.
    pub delta: Vec<f32>,
    /// The change of the isoform's share of its gene's expression, one per output (empty when
    /// the model's outputs are not expression).
    pub share_delta: Vec<f32>,
}

/// The scores of a run, in VCF order, then annotation order within a variant.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantTable {
    pub outputs: Vec<String>,
    /// Whether `share_delta:<output>` columns are written.
    pub share: bool,
    pub rows: Vec<VariantRow>,
}

impl VariantTable {
    /// The header line's column names.
    pub fn columns(&self) -> Vec<String> {
        let mut names: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
        names.extend(self.outputs.iter().map(|o| format!("delta:{o}")));
        if self.share {
            names.extend(self.outputs.iter().map(|o| format!("share_delta:{o}")));
        }
        names
    }

    /// TSV with values to 6 decimals, as `predict` writes them.
    pub fn to_tsv(&self) -> String {
        let mut text = self.columns().join("\t");
        text.push('\n');
        for r in &self.rows {
            let pos = r.pos.to_string();
            let fields: [&str; 11] = [&r.variant_id, &r.vcf_id, &r.chrom, &pos, &r.reference, &r.alt, &r.transcript_id, &r.gene_id, &r.gene_name, r.consequence, &r.changed];
            text.push_str(&fields.join("\t"));
            for v in r.delta.iter().chain(&r.share_delta) {
                let _ = write!(text, "\t{v:.6}");
            }
            text.push('\n');
        }
        text
    }

    /// The same columns in Parquet (`pos` as INT64, Δs as FLOAT, unrounded), through the
    /// prediction table's writer, with `metadata` as key-value metadata (the provenance).
    #[cfg(feature = "parquet")]
    pub fn to_parquet_with(&self, metadata: &[(&str, String)]) -> Result<Vec<u8>, ::parquet::errors::ParquetError> {
        use crate::table::parquet::{Column, write_columns};
        let text = |name: &str, f: fn(&VariantRow) -> &str| Column::Text(name.into(), self.rows.iter().map(f).collect());
        let mut columns = vec![
            text("variant_id", |r| &r.variant_id),
            text("vcf_id", |r| &r.vcf_id),
            text("chrom", |r| &r.chrom),
            Column::Int("pos".into(), self.rows.iter().map(|r| r.pos as i64).collect()),
            text("ref", |r| &r.reference),
            text("alt", |r| &r.alt),
            text("transcript_id", |r| &r.transcript_id),
            text("gene_id", |r| &r.gene_id),
            text("gene_name", |r| &r.gene_name),
            text("consequence", |r| r.consequence),
            text("changed", |r| &r.changed),
        ];
        let names = self.columns();
        for (j, name) in names[COLUMNS.len()..].iter().enumerate() {
            let n = self.outputs.len();
            let values = self.rows.iter().map(|r| if j < n { r.delta[j] } else { r.share_delta[j - n] }).collect();
            columns.push(Column::Float(name.clone(), values));
        }
        write_columns("variant_scores", columns, metadata)
    }
}

/// Why a window does not suit a model.
#[derive(Debug, thiserror::Error)]
#[error("window {window} does not suit the model: {source}")]
pub struct WindowError {
    pub window: u64,
    pub source: isoformer_model::enformer::DnaLengthError,
}

/// The window and token limits a model takes: the window checked against its Enformer geometry
/// (as `prepare --model` checks it), its RNA and protein token limits.
pub fn limits(config: &IsoformerConfig, window: u64) -> Result<Limits, WindowError> {
    isoformer_model::enformer::check_dna_length(window as usize, &config.enformer()).map_err(|source| WindowError { window, source })?;
    Ok(Limits { window, rna_tokens: config.num_tokens_per_seq_nuctf_rna, protein_tokens: config.num_protein_tokens_per_seq })
}

/// Variants per chunk: a chunk's model inputs are held in memory with their one-hot DNA (16 bytes
/// a base), so about 1 GiB of windows at a time.
pub fn chunk_variants(window: u64) -> usize {
    ((1u64 << 26) / window.max(1)).clamp(4, 4096) as usize
}

/// The run summary's lines (the CLI prints them on stderr, the page under its table): counts,
/// skips, transcripts not on the genome, and why there are no `share_delta` columns.
pub fn summary(vcf: &Vcf, planner: &Planner, pairs: usize, runs: usize, share: bool) -> Vec<String> {
    let mut lines = vec![format!("{} VCF records, {} variants, {pairs} (variant, transcript) pairs scored ({runs} model inputs run)", vcf.records, vcf.variants.len())];
    let mut skipped = vcf.skipped;
    skipped.ref_mismatch = planner.skipped.ref_mismatch;
    skipped.tss_indel = planner.skipped.tss_indel;
    let text = skipped.summary();
    if !text.is_empty() {
        lines.push(format!("skipped: {text}"));
    }
    if planner.absent() > 0 {
        lines.push(format!("{} selected transcripts are on sequences the genome lacks: not scored", planner.absent()));
    }
    if !share {
        lines.push("no share_delta columns: the model's outputs are not log(TPM+1) expression in the 30 GTEx tissues".into());
    }
    lines
}

/// Whether `outputs` are expression in log(TPM+1) (the official 30 GTEx tissues), for which
/// `share_delta` columns are computed.
pub fn outputs_are_expression(outputs: &[String]) -> bool {
    outputs.iter().map(String::as_str).eq(TISSUES)
}

/// One chunk of variants turned into model inputs: run [`Chunk::records`] as a job, then give
/// the job's table to [`Scoring::accept`].
pub struct Chunk {
    /// First variant's index in the run.
    pub first: usize,
    /// Checked variants of the chunk: (index in the run, genome sequence); skipped ones absent.
    pairs: Vec<Pair>,
    /// New reference rows: transcript → record index.
    refs: Vec<(usize, usize)>,
    /// Per pair, its alternate record (`None`: the alt inputs equal the reference's).
    alt_record: Vec<Option<usize>>,
    /// Reference inputs of the pairs' transcripts (for the dump).
    ref_inputs: HashMap<usize, Prepared>,
    pub records: Records,
}

impl Chunk {
    /// Scored pairs in the chunk.
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// `--dump-inputs` rows of the chunk (two per pair: `ref`, then `alt`), without the header.
    pub fn dump_rows(&self, planner: &Planner, variants: &[Variant]) -> String {
        let mut text = String::new();
        for p in &self.pairs {
            let v = &variants[p.variant];
            let t = &planner.transcripts()[p.transcript];
            let vid = v.id();
            for (allele, inputs) in [("ref", &self.ref_inputs[&p.transcript]), ("alt", &p.alt)] {
                let id = format!("{vid}|{}|{allele}", t.transcript_id);
                let flags = inputs.flags.join(",");
                let fields: [&str; 9] = [&id, &vid, &t.transcript_id, allele, &t.gene_id, &inputs.dna, &inputs.rna, &inputs.protein, &flags];
                text.push_str(&fields.join("\t"));
                text.push('\n');
            }
        }
        text
    }
}

/// The `--dump-inputs` header line.
pub fn dump_header() -> String {
    let mut text = DUMP_COLUMNS.join("\t");
    text.push('\n');
    text
}

/// A scoring run: reference predictions kept per transcript, rows in order.
pub struct Scoring {
    outputs: Vec<String>,
    share: bool,
    /// Transcripts of each gene (on the genome), for the expression shares.
    genes: HashMap<String, Vec<usize>>,
    known: HashMap<usize, Vec<f32>>,
    rows: Vec<VariantRow>,
}

fn content_hash(p: &Prepared) -> u64 {
    let mut h = DefaultHasher::new();
    (&p.dna, &p.rna, &p.protein).hash(&mut h);
    h.finish()
}

impl Scoring {
    /// `outputs`: the model's output names (shares are computed when they are expression).
    pub fn new(outputs: Vec<String>, planner: &Planner) -> Self {
        let share = outputs_are_expression(&outputs);
        let mut genes: HashMap<String, Vec<usize>> = HashMap::new();
        if share {
            for (i, t) in planner.transcripts().iter().enumerate() {
                if planner.seq(i).is_some() {
                    genes.entry(t.gene_id.clone()).or_default().push(i);
                }
            }
        }
        Self { outputs, share, genes, known: HashMap::new(), rows: Vec::new() }
    }

    /// Whether `share_delta` columns are computed.
    pub fn share(&self) -> bool {
        self.share
    }

    /// Check variants `first..first + variants.len()` of `all` and build their pairs' inputs.
    pub fn chunk(&self, planner: &mut Planner, genome: &mut Genome, chrom_map: &ChromMap, all: &[Variant], first: usize, count: usize) -> Result<Chunk, VariantError> {
        let mut pairs = Vec::new();
        for (k, v) in all[first..first + count].iter().enumerate() {
            let Some(seq) = planner.check(genome, chrom_map, v)? else { continue };
            pairs.extend(planner.pairs(genome, first + k, &seq, v)?);
        }
        // Reference rows: the pairs' transcripts, and with shares every transcript of their genes.
        let mut needed: BTreeMap<usize, ()> = BTreeMap::new();
        for p in &pairs {
            needed.insert(p.transcript, ());
            if self.share {
                for &m in &self.genes[&planner.transcripts()[p.transcript].gene_id] {
                    needed.insert(m, ());
                }
            }
        }
        let mut records = Vec::new();
        let mut by_content: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut refs = Vec::new();
        let mut ref_inputs = HashMap::new();
        let mut push = |records: &mut Vec<Record>, id: String, gene_id: &str, at: Location, p: &Prepared| -> usize {
            let h = content_hash(p);
            if let Some(&k) = by_content.get(&h).and_then(|ks| ks.iter().find(|&&k| {
                let r: &Record = &records[k];
                r.dna == p.dna && r.rna == p.rna && r.protein == p.protein
            })) {
                return k;
            }
            records.push(Record { at, transcript_id: id, gene_id: gene_id.into(), dna: p.dna.clone(), rna: p.rna.clone(), protein: p.protein.clone() });
            by_content.entry(h).or_default().push(records.len() - 1);
            records.len() - 1
        };
        // Records grouped by transcript, its reference first: the job numbers DNA windows in
        // record order and runs them in that order, so an allele that changes only the RNA or
        // protein shares its reference's Enformer pass, and one that changes only the DNA runs
        // while its reference's RNA and protein embeddings are still kept.
        let mut alt_record = vec![None; pairs.len()];
        let mut pairs_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (k, p) in pairs.iter().enumerate() {
            pairs_of.entry(p.transcript).or_default().push(k);
        }
        for &i in needed.keys() {
            let r = planner.reference(genome, i)?;
            if !self.known.contains_key(&i) {
                let at = Location::new(planner.annotation(), r.transcript.exons[0].2);
                let k = push(&mut records, format!("ref|{}", r.transcript.transcript_id), &r.transcript.gene_id, at, &r.inputs);
                refs.push((i, k));
            }
            ref_inputs.insert(i, r.inputs);
            for &k in pairs_of.get(&i).map_or(&[][..], Vec::as_slice) {
                let p = &pairs[k];
                let changed = p.changed;
                if !(changed.dna || changed.rna || changed.protein) {
                    continue;
                }
                let v = &all[p.variant];
                let t = &planner.transcripts()[p.transcript];
                alt_record[k] = Some(push(&mut records, format!("{}|{}|alt", v.id(), t.transcript_id), &t.gene_id, v.at.clone(), &p.alt));
            }
        }
        Ok(Chunk { first, pairs, refs, alt_record, ref_inputs, records: Records { records, has_gene: true } })
    }

    /// The chunk's predictions (its job's table, rows in record order) into rows.
    pub fn accept(&mut self, planner: &Planner, all: &[Variant], chunk: Chunk, table: &PredictionTable) {
        for &(i, k) in &chunk.refs {
            self.known.insert(i, table.rows[k].values.clone());
        }
        let alt_values = |pi: usize| -> &[f32] {
            match chunk.alt_record[pi] {
                Some(k) => &table.rows[k].values,
                None => &self.known[&chunk.pairs[pi].transcript],
            }
        };
        // Per variant, the alternate values of its pairs (for the gene shares).
        let mut of_variant: HashMap<usize, HashMap<usize, usize>> = HashMap::new();
        for (pi, p) in chunk.pairs.iter().enumerate() {
            of_variant.entry(p.variant).or_default().insert(p.transcript, pi);
        }
        let mut rows = Vec::with_capacity(chunk.pairs.len());
        for (pi, p) in chunk.pairs.iter().enumerate() {
            let v = &all[p.variant];
            let t = &planner.transcripts()[p.transcript];
            let reference = &self.known[&p.transcript];
            let alt = alt_values(pi);
            let delta: Vec<f32> = alt.iter().zip(reference).map(|(a, r)| a - r).collect();
            let share_delta = if self.share {
                let mates = &self.genes[&t.gene_id];
                let pairs_here = &of_variant[&p.variant];
                let expression = |y: f32| (y.exp() - 1.0).max(0.0);
                (0..self.outputs.len())
                    .map(|o| {
                        let (mut ref_total, mut alt_total) = (0f32, 0f32);
                        for &m in mates {
                            ref_total += expression(self.known[&m][o]);
                            alt_total += expression(match pairs_here.get(&m) {
                                Some(&q) => alt_values(q)[o],
                                None => self.known[&m][o],
                            });
                        }
                        let share = |e: f32, total: f32| if total > 0.0 { e / total } else { 0.0 };
                        share(expression(alt[o]), alt_total) - share(expression(reference[o]), ref_total)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            rows.push(VariantRow {
                variant_id: v.id(),
                vcf_id: v.vcf_id.clone(),
                chrom: v.chrom.clone(),
                pos: v.pos,
                reference: v.reference.clone(),
                alt: v.alt.clone(),
                transcript_id: t.transcript_id.clone(),
                gene_id: t.gene_id.clone(),
                gene_name: t.gene_name.clone(),
                consequence: p.consequence.name(),
                changed: p.changed.column(),
                delta,
                share_delta,
            });
        }
        self.rows.extend(rows);
    }

    /// Every row so far.
    pub fn finish(self) -> VariantTable {
        VariantTable { outputs: self.outputs, share: self.share, rows: self.rows }
    }
}
