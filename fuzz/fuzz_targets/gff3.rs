//! GFF3: parse (forced GFF3 dialect), check transcripts, build inputs; errors name a line of the
//! input; no input panics.
#![no_main]

#[path = "../common/annotation.rs"]
mod annotation;
#[path = "../common/genome.rs"]
mod genome;
#[path = "../common/lines.rs"]
mod lines;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| annotation::run(data, "fuzz.gff3", isoformer_bio::annotation::Format::Gff3));
