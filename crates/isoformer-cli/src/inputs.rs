//! `predict`'s inputs: `prepare`'s TSV, or three FASTA files (DNA window, RNA, protein) paired
//! by transcript id. Either way, rows that say where they came from (`file:line`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use isoformer_bio::fasta::{Alphabet, Record, read_records};

use crate::io::{at, open_input, read_tsv_optional};

/// One transcript to predict.
pub struct Row {
    /// `file:line` of the row (TSV) or of the DNA record's header (FASTA).
    pub at: String,
    pub id: String,
    /// Empty when unknown.
    pub gene: String,
    pub dna: String,
    pub rna: String,
    pub protein: String,
}

pub struct Inputs {
    pub rows: Vec<Row>,
    /// Whether the output gets a `gene_id` column (a TSV with that column, or FASTA input).
    pub has_gene: bool,
}

/// `transcript_id, dna, rna, protein` (and `gene_id` if present) by header name.
pub fn from_tsv(path: &Path) -> Result<Inputs> {
    let (tsv, present) = read_tsv_optional(path, &["transcript_id", "dna", "rna", "protein"], &["gene_id"])?;
    let mut seen = BTreeMap::new();
    let mut rows = Vec::with_capacity(tsv.rows.len());
    for (line, mut f) in tsv.rows {
        let here = at(&tsv.path, line);
        if f[0].is_empty() {
            bail!("{here}: empty transcript_id");
        }
        if let Some(first) = seen.insert(f[0].clone(), line) {
            bail!("{here}: transcript_id {} already on line {first}", f[0]);
        }
        let [id, dna, rna, protein, gene] = std::array::from_fn(|k| std::mem::take(&mut f[k]));
        rows.push(Row { at: here, id, gene, dna, rna, protein });
    }
    if rows.is_empty() {
        bail!("{}: no transcripts after the header", at(&tsv.path, 1));
    }
    Ok(Inputs { rows, has_gene: present[0] })
}

/// The name a path goes by in messages.
fn shown(path: &Path) -> &Path {
    if path == Path::new("-") { Path::new("<stdin>") } else { path }
}

fn read_fasta(path: &Path, alphabet: Alphabet) -> Result<Vec<Record>> {
    Ok(read_records(shown(path), open_input(path)?, alphabet)?)
}

/// Three FASTA files paired by record name (the header's first word, the transcript id), in the
/// DNA file's order. Every id must be in all three files, once; a non-coding transcript has an
/// empty protein record. The gene id comes from a `gene:ID` / `gene=ID` word of the DNA header.
/// Every DNA record has the first one's length (one window per run, as `prepare --window` cuts).
pub fn from_fasta(dna: &Path, rna: &Path, protein: &Path) -> Result<Inputs> {
    let stdin = [dna, rna, protein].iter().filter(|p| **p == Path::new("-")).count();
    if stdin > 1 {
        bail!("at most one of --dna, --rna, --protein can be `-` (standard input)");
    }
    let dna_records = read_fasta(dna, Alphabet::Dna)?;
    let mut rna_records = read_fasta(rna, Alphabet::Rna)?;
    let mut protein_records = read_fasta(protein, Alphabet::Protein)?;
    let index = |records: &[Record]| -> HashMap<String, usize> { records.iter().enumerate().map(|(i, r)| (r.name.clone(), i)).collect() };
    let (dna_index, rna_index, protein_index) = (index(&dna_records), index(&rna_records), index(&protein_records));
    // An id the DNA file lacks, reported at its place in the other file.
    for (path, records) in [(rna, &rna_records), (protein, &protein_records)] {
        if let Some(r) = records.iter().find(|r| !dna_index.contains_key(&r.name)) {
            bail!("{}: record `{}` has no DNA record in {}", at(shown(path), r.line as usize), r.name, shown(dna).display());
        }
    }
    let (first_name, first_line, window) = (dna_records[0].name.clone(), dna_records[0].line, dna_records[0].sequence.len());
    let mut rows = Vec::with_capacity(dna_records.len());
    for d in dna_records {
        let here = at(shown(dna), d.line as usize);
        if d.sequence.is_empty() {
            bail!("{here}: {}: empty DNA record", d.name);
        }
        if d.sequence.len() != window {
            bail!(
                "{here}: {}: DNA length {} differs from the window of {} bp of the first record {} (line {}): one run takes one window length",
                d.name,
                d.sequence.len(),
                window,
                first_name,
                first_line
            );
        }
        let missing = |path: &Path, hint: &str| anyhow!("{}: no record `{}` (its DNA is at {here}){hint}", shown(path).display(), d.name);
        let r = *rna_index.get(&d.name).ok_or_else(|| missing(rna, ""))?;
        let p = *protein_index
            .get(&d.name)
            .ok_or_else(|| missing(protein, &format!("; a non-coding transcript takes an empty record (a `>{}` line and no sequence)", d.name)))?;
        // Names are unique in each file, so each RNA and protein record is taken once.
        rows.push(Row {
            at: here,
            gene: d.gene().unwrap_or("").to_string(),
            id: d.name,
            dna: d.sequence,
            rna: std::mem::take(&mut rna_records[r].sequence),
            protein: std::mem::take(&mut protein_records[p].sequence),
        });
    }
    Ok(Inputs { rows, has_gene: true })
}
