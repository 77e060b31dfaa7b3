//! Sequence FASTA (one record per transcript, DNA, RNA or protein), read whole with
//! line-numbered errors: the input side of `isoformer predict --dna/--rna/--protein`.
//!
//! A record is a `>name description` header line and any number of sequence lines (none for an
//! empty sequence). The name is the header's first word; the description keeps the rest. Letters
//! are upper-cased and checked against the alphabet; blank lines are skipped; `\r\n` is accepted.
//! (noodles-fasta reads the same layout but reports neither line nor position.) [`Reader`]
//! streams records one by one; [`crate::genome`] reads a gzip genome whole through it.

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
    #[error("{}: starts with a UTF-8 byte-order mark (BOM); save it without one", path.display())]
    ByteOrderMark { path: PathBuf },
    #[error("{path}: empty file (no FASTA records)")]
    Empty { path: PathBuf },
    #[error("{at}: expected a `>name` header before sequence lines")]
    NoHeader { at: Location },
    #[error("{at}: record with an empty name")]
    EmptyName { at: Location },
    #[error("{at}: duplicate record `{name}` (first at line {first})")]
    Duplicate { at: Location, name: String, first: u64 },
    #[error("{at}: {found:?} is not an allowed {alphabet} letter (record {record}, position {position})")]
    BadLetter { at: Location, alphabet: &'static str, record: String, position: u64, found: char },
}

/// A record's header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's first word.
    pub name: String,
    /// The rest of the header, trimmed.
    pub description: String,
    /// 1-based line of the header.
    pub line: u64,
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

/// Streams records one at a time into the caller's buffer, so that a genome's sequences are
/// held once, by whoever keeps them. Names are checked for duplicates across the whole file.
pub struct Reader<R> {
    inner: R,
    path: PathBuf,
    alphabet: Alphabet,
    /// Lines read so far.
    line: u64,
    buf: Vec<u8>,
    /// The next record's header, met at the end of the previous record's sequence.
    next: Option<Header>,
    /// Line of each name's header.
    first_line: HashMap<String, u64>,
}

impl<R: BufRead> Reader<R> {
    /// A reader of `inner`, named `path` in errors, whose letters must be in `alphabet`.
    pub fn new(path: impl Into<PathBuf>, inner: R, alphabet: Alphabet) -> Self {
        Self { inner, path: path.into(), alphabet, line: 0, buf: Vec::new(), next: None, first_line: HashMap::new() }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The next record: its header is returned and its letters (upper case) are appended to
    /// `sequence`. `None` after the last record; a stream with no record at all is
    /// [`FastaError::Empty`].
    pub fn read_record(&mut self, sequence: &mut Vec<u8>) -> Result<Option<Header>, FastaError> {
        let header = match self.next.take() {
            Some(header) => header,
            None => match self.first_header()? {
                Some(header) => header,
                None if self.first_line.is_empty() => return Err(FastaError::Empty { path: self.path.clone() }),
                None => return Ok(None),
            },
        };
        let start = sequence.len();
        while self.read_line(&header.name)? {
            if self.buf.first() == Some(&b'>') {
                self.next = Some(self.header()?);
                break;
            }
            self.push_letters(&header.name, sequence, start)?;
        }
        Ok(Some(header))
    }

    /// Skip blank lines up to the first header; `None` at the end of the stream.
    fn first_header(&mut self) -> Result<Option<Header>, FastaError> {
        while self.read_line("(before the first header)")? {
            if self.line == 1 && self.buf.starts_with(isoformer_io::BOM) {
                return Err(FastaError::ByteOrderMark { path: self.path.clone() });
            }
            if self.buf.first() == Some(&b'>') {
                return self.header().map(Some);
            }
            if !is_blank(&self.buf) {
                return Err(FastaError::NoHeader { at: self.at() });
            }
        }
        Ok(None)
    }

    /// Read the next line into `buf` without its line end; `false` at the end of the stream.
    /// `record` names the record being read, for a read failure.
    fn read_line(&mut self, record: &str) -> Result<bool, FastaError> {
        self.buf.clear();
        let read = self.inner.read_until(b'\n', &mut self.buf);
        let n = read.map_err(|source| FastaError::Read { at: Location::new(&self.path, self.line + 1), record: record.into(), source })?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(true)
    }

    /// Parse the header line in `buf` and check its name is new.
    fn header(&mut self) -> Result<Header, FastaError> {
        let text = String::from_utf8_lossy(&self.buf[1..]);
        let text = text.trim();
        let (name, description) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        if name.is_empty() {
            return Err(FastaError::EmptyName { at: self.at() });
        }
        if let Some(&first) = self.first_line.get(name) {
            return Err(FastaError::Duplicate { at: self.at(), name: name.into(), first });
        }
        self.first_line.insert(name.into(), self.line);
        Ok(Header { name: name.into(), description: description.trim().into(), line: self.line })
    }

    /// Check the sequence line in `buf` and append it upper-cased; `start` is where the
    /// record's letters begin in `sequence`.
    fn push_letters(&self, record: &str, sequence: &mut Vec<u8>, start: usize) -> Result<(), FastaError> {
        if is_blank(&self.buf) {
            return Ok(());
        }
        if let Some(col) = self.buf.iter().position(|b| !self.alphabet.allows(b.to_ascii_uppercase())) {
            // A multi-byte UTF-8 letter is shown whole.
            let found = String::from_utf8_lossy(&self.buf[col..]).chars().next().unwrap_or('?');
            return Err(FastaError::BadLetter {
                at: self.at(),
                alphabet: self.alphabet.name(),
                record: record.into(),
                position: (sequence.len() - start + col) as u64 + 1,
                found,
            });
        }
        sequence.extend(self.buf.iter().map(u8::to_ascii_uppercase));
        Ok(())
    }

    fn at(&self) -> Location {
        Location::new(&self.path, self.line)
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Every record of `reader` (named `path` in errors), in file order; duplicate names and letters
/// outside `alphabet` are errors, as is a file with no record.
pub fn read_records(path: &Path, reader: impl BufRead, alphabet: Alphabet) -> Result<Vec<Record>, FastaError> {
    let mut reader = Reader::new(path, reader, alphabet);
    let mut records = Vec::new();
    let mut sequence = Vec::new();
    while let Some(Header { name, description, line }) = reader.read_record(&mut sequence)? {
        // Every alphabet's letters are ASCII.
        let sequence = String::from_utf8(std::mem::take(&mut sequence)).expect("ASCII letters");
        records.push(Record { name, description, line, sequence });
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

    #[test]
    fn reader_streams_records_into_the_callers_buffer() {
        let mut reader = Reader::new("x.fa", &b"\n>A one\nac\n\ngt\n>B\n>C\nN\n"[..], Alphabet::Dna);
        let mut seq = Vec::new();
        let a = reader.read_record(&mut seq).unwrap().unwrap();
        assert_eq!((a.name.as_str(), a.description.as_str(), a.line, seq.as_slice()), ("A", "one", 2, &b"ACGT"[..]));
        seq.clear();
        assert_eq!(reader.read_record(&mut seq).unwrap().map(|h| (h.name, h.line)), Some(("B".into(), 6)));
        assert!(seq.is_empty());
        assert_eq!(reader.read_record(&mut seq).unwrap().map(|h| h.line), Some(7));
        assert_eq!(seq, b"N");
        assert!(reader.read_record(&mut seq).unwrap().is_none());
        assert!(reader.read_record(&mut seq).unwrap().is_none());
    }

    /// Gives `good` and then fails, as a truncated gzip stream does.
    struct Breaks<'a> {
        good: &'a [u8],
    }

    impl io::Read for Breaks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.good.is_empty() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"));
            }
            let n = buf.len().min(self.good.len());
            buf[..n].copy_from_slice(&self.good[..n]);
            self.good = &self.good[n..];
            Ok(n)
        }
    }

    #[test]
    fn read_failure_names_line_and_record() {
        let reader = io::BufReader::with_capacity(4, Breaks { good: b">A\nACGT\n>B\nAC" });
        let e = read_records(Path::new("x.fa"), reader, Alphabet::Dna).unwrap_err();
        assert!(matches!(&e, FastaError::Read { at, record, .. } if at.line == 4 && record == "B"), "{e}");
        assert!(e.to_string().starts_with("x.fa:4: read failed (truncated or corrupt file?) in record B: "), "{e}");
        let reader = io::BufReader::new(Breaks { good: b"" });
        let e = read_records(Path::new("x.fa"), reader, Alphabet::Dna).unwrap_err();
        assert!(matches!(&e, FastaError::Read { at, record, .. } if at.line == 1 && record == "(before the first header)"), "{e}");
    }
}
