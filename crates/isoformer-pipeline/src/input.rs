//! The prepared-input record, read from `prepare`'s TSV or from three FASTA files (DNA window,
//! RNA, protein) paired by transcript id. Both readers check the same things: a non-empty,
//! unique transcript id, and letters of the right alphabet (IUPAC nucleotides for DNA, the same
//! plus `U` for RNA, ESM-2's residue letters for protein; lower case is read as upper case).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::PathBuf;

use isoformer_bio::fasta::{Alphabet, FastaError, Record as FastaRecord, read_records};
use isoformer_io::tsv::{self, Table, TsvError};
use isoformer_io::{Location, shown};
use isoformer_model::Example;

use crate::columns::{GENE_ID, INPUT};

/// One transcript to predict, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The TSV row, or the DNA record's header line.
    pub at: Location,
    pub transcript_id: String,
    /// Empty when unknown.
    pub gene_id: String,
    pub dna: String,
    pub rna: String,
    /// Empty for a non-coding transcript.
    pub protein: String,
}

impl Record {
    /// The model's view of the record (ids and sequences only).
    pub fn example(&self) -> Example {
        Example { id: self.transcript_id.clone(), dna: self.dna.clone(), rna: self.rna.clone(), protein: self.protein.clone() }
    }
}

/// The records of one input, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    pub records: Vec<Record>,
    /// Whether outputs get a `gene_id` column: the TSV has one (as `prepare` writes), or the
    /// input is FASTA (ids from `gene:ID` words, empty without).
    pub has_gene: bool,
}

/// Why an input was refused. Display starts with `file:line` where there is one.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Tsv(#[from] TsvError),
    #[error(transparent)]
    Fasta(#[from] FastaError),
    #[error("{at}: empty transcript_id")]
    EmptyId { at: Location },
    #[error("{at}: {column} has a control character (U+{code:04X}) at position {position}")]
    ControlCharacter { at: Location, column: &'static str, code: u32, position: usize },
    #[error("{at}: transcript_id {id} already on line {first}")]
    DuplicateId { at: Location, id: String, first: u64 },
    #[error("{}: no transcripts after the header", shown(path).display())]
    NoRows { path: PathBuf },
    #[error("{at}: {id}: {found:?} is not an allowed {alphabet} letter ({column} position {position})")]
    BadLetter { at: Location, id: String, column: &'static str, alphabet: &'static str, position: usize, found: char },
    #[error("{at}: record `{name}` has no DNA record in {}", shown(dna).display())]
    NoDnaRecord { at: Location, name: String, dna: PathBuf },
    #[error("{at}: {id}: empty DNA record")]
    EmptyDna { at: Location, id: String },
    #[error("{at}: {id}: DNA length {len} differs from the window of {window} bp of the first record {first} (line {first_line}): one run takes one window length")]
    WindowMismatch { at: Location, id: String, len: usize, window: usize, first: String, first_line: u64 },
    #[error("{}: no record `{id}` (its DNA is at {dna_at}){}", shown(path).display(), if *.protein { format!("; a non-coding transcript takes an empty record (a `>{id}` line and no sequence)") } else { String::new() })]
    Unpaired { path: PathBuf, id: String, dna_at: Location, protein: bool },
}

/// A named input stream: what the CLI opens from a path and the page builds from a `File`.
pub struct Source<R> {
    /// The file's name in messages (`-` shows as `<stdin>`).
    pub path: PathBuf,
    pub reader: R,
}

impl<R> Source<R> {
    pub fn new(path: impl Into<PathBuf>, reader: R) -> Self {
        Self { path: path.into(), reader }
    }
}

/// `prepare`'s TSV (or any TSV with `transcript_id`, `dna`, `rna`, `protein` and optionally
/// `gene_id` columns, in any order).
pub fn read_tsv(input: Source<impl BufRead>) -> Result<Records, InputError> {
    records_from_table(&tsv::read(&input.path, input.reader, &INPUT)?)
}

/// The records of a table already read (training data carries target columns beside them).
pub fn records_from_table(table: &Table) -> Result<Records, InputError> {
    let index = table.require(&INPUT)?;
    let gene = table.column(GENE_ID);
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut records = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        let field = |k: usize| row.fields[index[k]].clone();
        let record = Record {
            transcript_id: field(0),
            gene_id: gene.map_or(String::new(), |g| row.fields[g].clone()),
            dna: field(1),
            rna: field(2),
            protein: field(3),
            at: table.at(row),
        };
        check_id(&record, &mut seen)?;
        check_letters(&record)?;
        records.push(record);
    }
    if records.is_empty() {
        return Err(InputError::NoRows { path: table.path.clone() });
    }
    Ok(Records { records, has_gene: gene.is_some() })
}

fn check_id(r: &Record, seen: &mut BTreeMap<String, u64>) -> Result<(), InputError> {
    if r.transcript_id.is_empty() {
        return Err(InputError::EmptyId { at: r.at.clone() });
    }
    for (column, id) in [("transcript_id", &r.transcript_id), ("gene_id", &r.gene_id)] {
        if let Some((k, c)) = id.chars().enumerate().find(|(_, c)| c.is_control()) {
            return Err(InputError::ControlCharacter { at: r.at.clone(), column, code: c as u32, position: k + 1 });
        }
    }
    if let Some(first) = seen.insert(r.transcript_id.clone(), r.at.line) {
        return Err(InputError::DuplicateId { at: r.at.clone(), id: r.transcript_id.clone(), first });
    }
    Ok(())
}

/// The FASTA reader's letter rule, applied to a TSV row, so that both inputs accept the same.
/// A protein may also hold ESM-2 special tokens written out (`<mask>`), as its tokenizer reads them.
fn check_letters(r: &Record) -> Result<(), InputError> {
    for (column, seq, alphabet, name) in
        [("dna", &r.dna, Alphabet::Dna, "DNA"), ("rna", &r.rna, Alphabet::Rna, "RNA"), ("protein", &r.protein, Alphabet::Protein, "protein")]
    {
        if let Some((position, found)) = first_bad_letter(seq, alphabet) {
            let (at, id) = (r.at.clone(), r.transcript_id.clone());
            return Err(InputError::BadLetter { at, id, column, alphabet: name, position, found });
        }
    }
    Ok(())
}

/// The 1-based position and the letter of the first character outside `alphabet`.
fn first_bad_letter(seq: &str, alphabet: Alphabet) -> Option<(usize, char)> {
    let chars: Vec<char> = seq.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if alphabet == Alphabet::Protein && c == '<' {
            let close = chars[i + 1..].iter().position(|&c| c == '>').map(|k| i + 1 + k);
            if let Some(close) = close.filter(|&e| e > i + 1 && chars[i + 1..e].iter().all(char::is_ascii_lowercase)) {
                i = close + 1;
                continue;
            }
        }
        if !c.is_ascii() || !alphabet.allows(c.to_ascii_uppercase() as u8) {
            return Some((i + 1, c));
        }
        i += 1;
    }
    None
}

/// Three FASTA files paired by record name (the header's first word, the transcript id), in the
/// DNA file's order. Every id must be in all three files, once; a non-coding transcript has an
/// empty protein record. The gene id comes from a `gene:ID` / `gene=ID` word of the DNA header.
/// Every DNA record has the first one's length (one window per run, as `prepare --window` cuts).
pub fn read_fasta_triplet(dna: Source<impl BufRead>, rna: Source<impl BufRead>, protein: Source<impl BufRead>) -> Result<Records, InputError> {
    let (dna_path, rna_path, protein_path) = (dna.path.clone(), rna.path.clone(), protein.path.clone());
    let dna_records = read_records(shown(&dna.path), dna.reader, Alphabet::Dna)?;
    let mut rna_records = read_records(shown(&rna.path), rna.reader, Alphabet::Rna)?;
    let mut protein_records = read_records(shown(&protein.path), protein.reader, Alphabet::Protein)?;
    let index = |records: &[FastaRecord]| -> HashMap<String, usize> { records.iter().enumerate().map(|(i, r)| (r.name.clone(), i)).collect() };
    let (dna_index, rna_index, protein_index) = (index(&dna_records), index(&rna_records), index(&protein_records));
    // An id the DNA file lacks, reported at its place in the other file.
    for (path, records) in [(&rna_path, &rna_records), (&protein_path, &protein_records)] {
        if let Some(r) = records.iter().find(|r| !dna_index.contains_key(&r.name)) {
            return Err(InputError::NoDnaRecord { at: Location::new(path, r.line), name: r.name.clone(), dna: dna_path });
        }
    }
    let window = dna_records.first().map(|r| (r.name.clone(), r.line, r.sequence.len()));
    let mut records = Vec::with_capacity(dna_records.len());
    for d in dna_records {
        let at = Location::new(&dna_path, d.line);
        check_window(&d, &at, window.as_ref())?;
        let unpaired = |path: &PathBuf, protein: bool| InputError::Unpaired { path: path.clone(), id: d.name.clone(), dna_at: at.clone(), protein };
        let r = *rna_index.get(&d.name).ok_or_else(|| unpaired(&rna_path, false))?;
        let p = *protein_index.get(&d.name).ok_or_else(|| unpaired(&protein_path, true))?;
        // Names are unique in each file, so each RNA and protein record is taken once.
        records.push(Record {
            gene_id: d.gene().unwrap_or("").to_string(),
            transcript_id: d.name,
            dna: d.sequence,
            rna: std::mem::take(&mut rna_records[r].sequence),
            protein: std::mem::take(&mut protein_records[p].sequence),
            at,
        });
    }
    Ok(Records { records, has_gene: true })
}

fn check_window(d: &FastaRecord, at: &Location, first: Option<&(String, u64, usize)>) -> Result<(), InputError> {
    if d.sequence.is_empty() {
        return Err(InputError::EmptyDna { at: at.clone(), id: d.name.clone() });
    }
    match first {
        Some((first, first_line, window)) if d.sequence.len() != *window => Err(InputError::WindowMismatch {
            at: at.clone(),
            id: d.name.clone(),
            len: d.sequence.len(),
            window: *window,
            first: first.clone(),
            first_line: *first_line,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tsv(text: &str) -> Result<Records, InputError> {
        read_tsv(Source::new("in.tsv", text.as_bytes()))
    }

    #[test]
    fn reads_the_bundled_example_with_lines() {
        let r = tsv(include_str!("../../../models/tiny/example.tsv")).unwrap();
        let ids: Vec<&str> = r.records.iter().map(|r| r.transcript_id.as_str()).collect();
        assert_eq!(ids, ["tiny_tx1", "tiny_tx2", "tiny_tx3"]);
        assert_eq!(r.records[1].at.to_string(), "in.tsv:3");
        assert_eq!(r.records[1].protein, "");
        assert!(!r.has_gene);
    }

    #[test]
    fn columns_in_any_order_with_gene_id() {
        let r = tsv("protein\tgene_id\tdna\ttranscript_id\trna\nMK\tg1\tACGT\tt1\tAC\n").unwrap();
        assert!(r.has_gene);
        let want = Record { at: Location::new("in.tsv", 2), transcript_id: "t1".into(), gene_id: "g1".into(), dna: "ACGT".into(), rna: "AC".into(), protein: "MK".into() };
        assert_eq!(r.records, [want]);
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let e = |t: &str| tsv(t).unwrap_err().to_string();
        let h = "transcript_id\tdna\trna\tprotein\n";
        assert_eq!(e(&format!("{h}\tACGT\tAC\t\n")), "in.tsv:2: empty transcript_id");
        assert_eq!(e(&format!("{h}t\tA\tA\t\nt\tA\tA\t\n")), "in.tsv:3: transcript_id t already on line 2");
        assert_eq!(e(&format!("{h}# nothing\n")), "in.tsv: no transcripts after the header");
        assert!(e(">seq1\nACGT\n").starts_with("in.tsv:1: header has no `transcript_id` column"));
    }

    #[test]
    fn tsv_letters_follow_the_fasta_rules() {
        let e = |dna: &str, rna: &str, protein: &str| tsv(&format!("transcript_id\tdna\trna\tprotein\nt\t{dna}\t{rna}\t{protein}\n")).err().map(|e| e.to_string());
        assert_eq!(e("acgtn", "ACGU", "MKX"), None);
        assert_eq!(e("ACGT", "AC", "MK<mask>L"), None);
        assert_eq!(e("ACGT", "AC", "MK<L"), Some("in.tsv:2: t: '<' is not an allowed protein letter (protein position 3)".into()));
        assert_eq!(e("ACGT", "AC", "MK-"), Some("in.tsv:2: t: '-' is not an allowed protein letter (protein position 3)".into()));
        assert_eq!(e("ACGT", "AC", "MJ"), Some("in.tsv:2: t: 'J' is not an allowed protein letter (protein position 2)".into()));
        assert_eq!(e("AC.T", "AC", ""), Some("in.tsv:2: t: '.' is not an allowed DNA letter (dna position 3)".into()));
        assert_eq!(e("ACGT", "ACé", ""), Some("in.tsv:2: t: 'é' is not an allowed RNA letter (rna position 3)".into()));
    }

    #[test]
    fn fasta_triplet_pairs_by_name_in_dna_order() {
        let dna = Source::new("dna.fa", ">b gene:G2\nACGT\n>a\nTTTT\n".as_bytes());
        let rna = Source::new("rna.fa", ">a\nUU\n>b\nAC\n".as_bytes());
        let protein = Source::new("protein.fa", ">a\n>b\nMK\n".as_bytes());
        let r = read_fasta_triplet(dna, rna, protein).unwrap();
        let got: Vec<(&str, &str, &str, &str)> = r.records.iter().map(|r| (r.transcript_id.as_str(), r.gene_id.as_str(), r.rna.as_str(), r.protein.as_str())).collect();
        assert_eq!(got, [("b", "G2", "AC", "MK"), ("a", "", "UU", "")]);
        assert_eq!(r.records[1].at.to_string(), "dna.fa:3");
    }

    #[test]
    fn fasta_triplet_refusals() {
        let run = |d: &str, r: &str, p: &str| {
            read_fasta_triplet(Source::new("dna.fa", d.as_bytes()), Source::new("rna.fa", r.as_bytes()), Source::new("p.fa", p.as_bytes())).unwrap_err().to_string()
        };
        assert_eq!(run(">a\nACGT\n", ">a\nAC\n>c\nA\n", ">a\n"), "rna.fa:3: record `c` has no DNA record in dna.fa");
        assert_eq!(run(">a\nACGT\n", ">a\nAC\n", ">b\n"), "p.fa:1: record `b` has no DNA record in dna.fa");
        assert_eq!(
            run(">a\nACGT\n>b\nAC\n", ">a\nAC\n>b\nA\n", ">a\n>b\n"),
            "dna.fa:3: b: DNA length 2 differs from the window of 4 bp of the first record a (line 1): one run takes one window length"
        );
        assert_eq!(
            run(">a\nACGT\n>b\nACGT\n", ">a\nAC\n>b\nA\n", ">a\n"),
            "p.fa: no record `b` (its DNA is at dna.fa:3); a non-coding transcript takes an empty record (a `>b` line and no sequence)"
        );
    }
}
