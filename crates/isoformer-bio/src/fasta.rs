//! Sequence FASTA (one record per transcript, DNA, RNA or protein), read whole with
//! line-numbered errors: the input side of `isoformer predict --dna/--rna/--protein`.
//!
//! A record is a `>name description` header line and any number of sequence lines (none for an
//! empty sequence). The name is the header's first word; the description keeps the rest. Letters
//! are upper-cased and checked against the alphabet; blank lines are skipped; `\r\n` is accepted.
//! (noodles-fasta reads the same layout but reports neither line nor position; genome FASTAs go
//! through [`crate::genome`], which reads by random access.)

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use crate::Location;
use crate::genome::is_nucleotide;

/// What a record's letters may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// IUPAC nucleotide letters (`ACGTN` and the ambiguity codes), as the genome reader accepts.
    Dna,
    /// [`Alphabet::Dna`] plus `U`.
    Rna,
    /// The residue letters of ESM-2's vocabulary: the 20 amino acids and `X B U Z O` (no `*`:
    /// stop codons are not part of the protein).
    Protein,
}

impl Alphabet {
    /// Whether an upper-case letter belongs.
    pub fn allows(self, b: u8) -> bool {
        match self {
            Alphabet::Dna => is_nucleotide(b),
            Alphabet::Rna => b == b'U' || is_nucleotide(b),
            Alphabet::Protein => b.is_ascii_uppercase() && b != b'J',
        }
    }

    fn name(self) -> &'static str {
        match self {
            Alphabet::Dna => "DNA",
            Alphabet::Rna => "RNA",
            Alphabet::Protein => "protein",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FastaError {
    #[error("{at}: read failed (truncated or corrupt file?) in record {record}: {source}")]
    Read { at: Location, record: String, source: io::Error },
    #[error("{path}: empty file (no FASTA records)")]
    Empty { path: PathBuf },
    #[error("{at}: expected a `>name` header before sequence lines")]
    NoHeader { at: Location },
    #[error("{at}: record with an empty name")]
    EmptyName { at: Location },
    #[error("{at}: duplicate record `{name}` (first at line {first})")]
    Duplicate { at: Location, name: String, first: u64 },
    #[error("{at}: {found:?} is not an allowed {alphabet} letter (record {record}, position {position})")]
    BadLetter { at: Location, alphabet: &'static str, record: String, position: usize, found: char },
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The header's first word.
    pub name: String,
    /// The rest of the header, trimmed.
    pub description: String,
    /// 1-based line of the header.
    pub line: u64,
    /// Upper-case letters, line breaks removed.
    pub sequence: String,
}

impl Record {
    /// A `gene:ID` or `gene=ID` word of the description (Ensembl cDNA/peptide headers write
    /// `gene:ENSG...`), if any.
    pub fn gene(&self) -> Option<&str> {
        self.description.split_whitespace().find_map(|w| w.strip_prefix("gene:").or_else(|| w.strip_prefix("gene=")).filter(|g| !g.is_empty()))
    }
}

/// Every record of `reader` (named `path` in errors), in file order; duplicate names and letters
/// outside `alphabet` are errors, as is a file with no record.
pub fn read_records(path: &Path, reader: impl BufRead, alphabet: Alphabet) -> Result<Vec<Record>, FastaError> {
    let mut records: Vec<Record> = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut n = 0u64;
    for line in reader.split(b'\n') {
        n += 1;
        let mut line = line.map_err(|source| FastaError::Read {
            at: Location::new(path, n),
            record: records.last().map_or_else(|| "(before the first header)".into(), |r| r.name.clone()),
            source,
        })?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if let Some(header) = line.strip_prefix(b">") {
            let header = String::from_utf8_lossy(header);
            let header = header.trim();
            let (name, description) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
            if name.is_empty() {
                return Err(FastaError::EmptyName { at: Location::new(path, n) });
            }
            if let Some(&first) = first_line.get(name) {
                return Err(FastaError::Duplicate { at: Location::new(path, n), name: name.into(), first });
            }
            first_line.insert(name.into(), n);
            records.push(Record { name: name.into(), description: description.trim().into(), line: n, sequence: String::new() });
            continue;
        }
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let Some(record) = records.last_mut() else {
            return Err(FastaError::NoHeader { at: Location::new(path, n) });
        };
        let before = record.sequence.len();
        for (col, &b) in line.iter().enumerate() {
            let up = b.to_ascii_uppercase();
            if !alphabet.allows(up) {
                // A multi-byte UTF-8 letter is shown whole.
                let found = String::from_utf8_lossy(&line[col..]).chars().next().unwrap_or('?');
                return Err(FastaError::BadLetter {
                    at: Location::new(path, n),
                    alphabet: alphabet.name(),
                    record: record.name.clone(),
                    position: before + col + 1,
                    found,
                });
            }
            record.sequence.push(up as char);
        }
    }
    if records.is_empty() {
        return Err(FastaError::Empty { path: path.into() });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, alphabet: Alphabet) -> Result<Vec<Record>, FastaError> {
        read_records(Path::new("x.fa"), text.as_bytes(), alphabet)
    }

    #[test]
    fn records_names_descriptions_lines_and_genes() {
        let r = read(">T1.2 cdna chromosome:GRCh38:1 gene:ENSG01.5 x\r\nacgt\n\nNNRY\n>T2\n>T3 gene=G3\nACGU\n", Alphabet::Rna).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].name.as_str(), r[0].line, r[0].sequence.as_str(), r[0].gene()), ("T1.2", 1, "ACGTNNRY", Some("ENSG01.5")));
        assert_eq!(r[0].description, "cdna chromosome:GRCh38:1 gene:ENSG01.5 x");
        assert_eq!((r[1].name.as_str(), r[1].line, r[1].sequence.as_str(), r[1].gene()), ("T2", 5, "", None));
        assert_eq!((r[2].line, r[2].gene()), (6, Some("G3")));
    }

    #[test]
    fn each_bad_input_gives_its_variant_and_place() {
        let e = read(">T1\nACGT\nACXT\n", Alphabet::Dna).unwrap_err();
        assert!(matches!(&e, FastaError::BadLetter { position: 7, found: 'X', alphabet: "DNA", .. }), "{e}");
        assert_eq!(e.to_string(), "x.fa:3: 'X' is not an allowed DNA letter (record T1, position 7)");
        assert!(matches!(read(">T1\nACGU\n", Alphabet::Dna), Err(FastaError::BadLetter { found: 'U', .. })));
        assert!(matches!(read(">P\nMK*\n", Alphabet::Protein), Err(FastaError::BadLetter { found: '*', position: 3, .. })));
        assert!(matches!(read(">P\nMKJ\n", Alphabet::Protein), Err(FastaError::BadLetter { found: 'J', .. })));
        assert!(read(">P\nmkxbuzo\n", Alphabet::Protein).is_ok());
        let e = read(">A\nAC\n>B\nA\n>A\nG\n", Alphabet::Dna).unwrap_err();
        assert_eq!(e.to_string(), "x.fa:5: duplicate record `A` (first at line 1)");
        assert!(matches!(read("ACGT\n>A\n", Alphabet::Dna), Err(FastaError::NoHeader { at }) if at.line == 1));
        assert!(matches!(read(">A\nA\n>\n", Alphabet::Dna), Err(FastaError::EmptyName { at }) if at.line == 3));
        assert!(matches!(read("\n\n", Alphabet::Dna), Err(FastaError::Empty { .. })));
    }
}
