//! GTF and GFF3 targets share this: parse, check every transcript, build its inputs from a small
//! genome, and check that every error names a line of the input.

use std::path::Path;

use isoformer_bio::annotation::{Annotation, Format, gff3_attributes, gtf_attributes};
use isoformer_bio::genome::{ChromMap, Genome};
use isoformer_bio::transcript::{Limits, Transcript, prepare};

use crate::genome::GENOME;
use crate::lines;

pub fn run(data: &[u8], path: &str, format: Format) {
    // The attribute column's parser on every field, whatever column it came from.
    if let Ok(text) = std::str::from_utf8(data) {
        for field in text.split('\t') {
            match format {
                Format::Gtf => drop(gtf_attributes(field)),
                Format::Gff3 => drop(gff3_attributes(field)),
            }
        }
    }
    let path = Path::new(path);
    let lines = lines::count(data);
    let check = |message: String| lines::assert_names_a_line(&message, path.to_str().unwrap(), lines);
    let annotation = match Annotation::parse(path, data, Some(format)) {
        Ok(a) => a,
        Err(e) => return check(e.to_string()),
    };
    let mut genome = Genome::read_whole(Path::new("genome.fa"), GENOME).expect("the test genome");
    let map = ChromMap::default();
    for rec in &annotation.transcripts {
        for f in &rec.features {
            assert!(f.start < f.end && (1..=lines).contains(&f.line), "{f:?}");
        }
        let t = match Transcript::from_record(path, rec) {
            Ok(t) => t,
            Err(e) => {
                check(e.to_string());
                continue;
            }
        };
        let Some(seq) = map.resolve(&genome, &t.seq).map(str::to_string) else { continue };
        for window in [1, 2, 80, 81] {
            let limits = Limits { window, rna_tokens: 8, protein_tokens: 5 };
            match prepare(&mut genome, &seq, path, &t, limits) {
                Ok(p) => assert_eq!(p.dna.len() as u64, window),
                Err(e) => check(e.to_string()),
            }
        }
    }
}
