//! From a genome and its annotation to IsoFormer's three inputs per transcript.
//!
//! - [`genome`]: FASTA by random access (`.fai`; bgzip with `.gzi`), or read whole (plain gzip).
//! - [`fasta`]: FASTA records streamed with their letters checked: transcripts' DNA, RNA or
//!   protein, and the genome when it is read whole.
//! - [`annotation`]: GTF and GFF3 into transcripts (exons and CDS with their line numbers).
//! - [`transcript`]: the TSS-centred DNA window, the spliced RNA, the protein, the crops.
//! - [`variants`]: VCF records (noodles-vcf) onto transcripts: alternate inputs and consequences.
//!
//! Coordinates: annotation records are 1-based inclusive, as written in GTF/GFF3; everything
//! this crate computes with is 0-based half-open (`start..end`), converted once on parsing.
//! Errors always name the file and the line (or the FASTA record and position).

pub mod annotation;
pub mod fasta;
pub mod genome;
pub mod transcript;
pub mod variants;

pub use isoformer_io::Location;

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
