//! From a genome and its annotation to IsoFormer's three inputs per transcript.
//!
//! - [`genome`]: FASTA by random access (`.fai`; bgzip with `.gzi`), or read whole (plain gzip).
//! - [`fasta`]: sequence FASTA (transcripts' DNA, RNA or protein), read whole, letters checked.
//! - [`annotation`]: GTF and GFF3 into transcripts (exons and CDS with their line numbers).
//! - [`transcript`]: the TSS-centred DNA window, the spliced RNA, the protein, the crops.
//!
//! Coordinates: annotation records are 1-based inclusive, as written in GTF/GFF3; everything
//! this crate computes with is 0-based half-open (`start..end`), converted once on parsing.
//! Errors always name the file and the line (or the FASTA record and position).

pub mod annotation;
pub mod fasta;
pub mod genome;
pub mod transcript;

use std::fmt;
use std::path::PathBuf;

/// `genes.gtf:1204`, the form editors jump to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: u64,
}

impl Location {
    pub fn new(path: impl Into<PathBuf>, line: u64) -> Self {
        Self { path: path.into(), line }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// Strand of a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strand {
    Forward,
    Reverse,
}

impl Strand {
    pub fn symbol(self) -> char {
        match self {
            Strand::Forward => '+',
            Strand::Reverse => '-',
        }
    }
}

/// Reverse complement of upper-case IUPAC DNA (N and unknown letters stay N-like).
pub fn reverse_complement(seq: &[u8]) -> Vec<u8> {
    seq.iter().rev().map(|&b| complement(b)).collect()
}

fn complement(b: u8) -> u8 {
    match b {
        b'A' => b'T',
        b'C' => b'G',
        b'G' => b'C',
        b'T' => b'A',
        b'R' => b'Y',
        b'Y' => b'R',
        b'K' => b'M',
        b'M' => b'K',
        b'B' => b'V',
        b'V' => b'B',
        b'D' => b'H',
        b'H' => b'D',
        // S, W, N are their own complements.
        other => other,
    }
}
