//! FASTA: the sequence reader under each alphabet, and the genome's whole-file read, which must
//! agree with the reader under the DNA alphabet. Errors name a line of the input; records are
//! well formed; no input panics.
#![no_main]

#[path = "../common/lines.rs"]
mod lines;

use std::path::Path;

use isoformer_bio::fasta::{Alphabet, FastaError, Record, read_records};
use isoformer_bio::genome::{Genome, GenomeError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.fa");
    let lines = lines::count(data);
    let mut dna = None;
    for alphabet in [Alphabet::Dna, Alphabet::Rna, Alphabet::Protein] {
        match read_records(path, data, alphabet) {
            Ok(records) => check_records(&records, alphabet, lines),
            Err(e) => lines::assert_names_a_line(&e.to_string(), "fuzz.fa", lines),
        }
        if alphabet == Alphabet::Dna {
            dna = Some(read_records(path, data, alphabet));
        }
    }
    let dna = dna.expect("read under DNA");
    match (Genome::read_whole(path, data), dna) {
        (Ok(mut genome), Ok(records)) => {
            assert_eq!(genome.names().len(), records.len());
            for r in &records {
                let len = r.sequence.len() as u64;
                assert_eq!(genome.length(&r.name), Some(len));
                assert_eq!(genome.fetch(&r.name, 0, len).unwrap(), r.sequence.as_bytes());
                assert_eq!(genome.fetch(&r.name, len / 3, len / 2).unwrap(), &r.sequence.as_bytes()[len as usize / 3..len as usize / 2]);
            }
        }
        (Err(GenomeError::Fasta(g)), Err(f)) => assert_eq!(g.to_string(), f.to_string()),
        (Err(GenomeError::Duplicate { at, name, first }), Err(FastaError::Duplicate { at: at2, name: name2, first: first2 })) => {
            assert_eq!((at, name, first), (at2, name2, first2));
        }
        (g, f) => panic!("genome and FASTA reader disagree: {:?} vs {:?}", g.err(), f.err()),
    }
});

fn check_records(records: &[Record], alphabet: Alphabet, lines: u64) {
    let mut last = 0;
    for r in records {
        assert!(r.line > last && r.line <= lines, "record {} at line {} of {lines}", r.name, r.line);
        last = r.line;
        assert!(!r.name.is_empty() && !r.name.contains(char::is_whitespace), "{:?}", r.name);
        assert!(r.sequence.bytes().all(|b| alphabet.allows(b) && !b.is_ascii_lowercase()), "{:?}", r.sequence);
    }
}
