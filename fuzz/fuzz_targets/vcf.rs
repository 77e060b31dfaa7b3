//! VCF: read (noodles-vcf header, our record rules), then place every variant on a small genome
//! and annotation (both strands, coding and not) and build its pairs' alternate inputs at several
//! windows, as `score-variants` does. Errors name a line of the input; no input panics; every
//! alternate window has the window's length; RNA and protein stay within the token limits.
#![no_main]

#[path = "../common/genome.rs"]
mod genome;
#[path = "../common/lines.rs"]
mod lines;

use std::path::Path;

use isoformer_bio::annotation::{Annotation, Format};
use isoformer_bio::genome::{ChromMap, Genome};
use isoformer_bio::transcript::{Limits, Transcript};
use isoformer_bio::variants::{PlanOptions, Planner, RefMismatch, read_vcf};
use libfuzzer_sys::fuzz_target;

use genome::GENOME;

/// Coding and non-coding transcripts on both strands of chr1, and one on chr2.
const GTF: &[u8] = b"chr1\tt\texon\t10\t60\t.\t+\t.\tgene_id \"G1\"; transcript_id \"T1\";\n\
chr1\tt\texon\t100\t180\t.\t+\t.\tgene_id \"G1\"; transcript_id \"T1\";\n\
chr1\tt\tCDS\t28\t60\t.\t+\t0\tgene_id \"G1\"; transcript_id \"T1\";\n\
chr1\tt\tCDS\t100\t150\t.\t+\t0\tgene_id \"G1\"; transcript_id \"T1\";\n\
chr1\tt\texon\t120\t200\t.\t-\t.\tgene_id \"G2\"; transcript_id \"T2\";\n\
chr1\tt\texon\t230\t290\t.\t-\t.\tgene_id \"G2\"; transcript_id \"T2\";\n\
chr1\tt\tCDS\t240\t281\t.\t-\t0\tgene_id \"G2\"; transcript_id \"T2\";\n\
chr1\tt\tCDS\t150\t200\t.\t-\t0\tgene_id \"G2\"; transcript_id \"T2\";\n\
chr1\tt\texon\t5\t9\t.\t-\t.\tgene_id \"G3\"; transcript_id \"T3\";\n\
chr2\tt\texon\t3\t30\t.\t+\t.\tgene_id \"G4\"; transcript_id \"T4\";\n";

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.vcf");
    let lines = lines::count(data);
    let check = |message: String| lines::assert_names_a_line(&message, "fuzz.vcf", lines);
    let vcf = match read_vcf(path, data) {
        Ok(v) => v,
        Err(e) => return check(e.to_string()),
    };
    for v in &vcf.variants {
        assert!(v.pos >= 1 && !v.reference.is_empty() && !v.alt.is_empty() && (1..=lines).contains(&v.at.line), "{v:?}");
    }
    let annotation = Annotation::parse(Path::new("genes.gtf"), GTF, Some(Format::Gtf)).expect("the test annotation");
    let transcripts: Vec<Transcript> = annotation.transcripts.iter().map(|r| Transcript::from_record(&annotation.path, r).expect("checked")).collect();
    let map = ChromMap::default();
    for (window, rna_tokens, protein_tokens) in [(1, 2, 3), (2, 8, 5), (80, 8, 12), (81, 2048, 1024)] {
        for ref_mismatch in [RefMismatch::Error, RefMismatch::Skip] {
            let mut genome = Genome::read_whole(Path::new("genome.fa"), GENOME).expect("the test genome");
            let limits = Limits { window, rna_tokens, protein_tokens };
            let mut planner = Planner::new(&genome, &map, &annotation.path, transcripts.clone(), PlanOptions { limits, ref_mismatch });
            for (i, v) in vcf.variants.iter().enumerate() {
                let seq = match planner.check(&mut genome, &map, v) {
                    Ok(Some(seq)) => seq,
                    Ok(None) => continue,
                    Err(e) => {
                        check(e.to_string());
                        break;
                    }
                };
                match planner.pairs(&mut genome, i, &seq, v) {
                    Ok(pairs) => {
                        for p in pairs {
                            assert_eq!(p.alt.dna.len() as u64, window, "{v:?}");
                            assert!(p.alt.protein.len() <= protein_tokens.saturating_sub(2), "{v:?}");
                            assert!(isoformer_bio::transcript::crop_rna(p.alt.rna.as_bytes(), rna_tokens).len() == p.alt.rna.len(), "{v:?}");
                            let r = planner.reference(&mut genome, p.transcript).expect("reference");
                            assert_eq!(p.changed.dna, p.alt.dna != r.inputs.dna, "{}", r.transcript.transcript_id);
                        }
                    }
                    Err(e) => check(e.to_string()),
                }
            }
        }
    }
});
