//! GFF3: parse (forced GFF3 dialect), check transcripts, build inputs; errors name a line of the
//! input; no input panics.
#![no_main]

#[path = "../common/annotation.rs"]
mod annotation;
#[path = "../common/lines.rs"]
mod lines;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for field in text.split('\t') {
            let _ = isoformer_bio::annotation::gff3_attributes(field);
        }
    }
    annotation::run(data, "fuzz.gff3", isoformer_bio::annotation::Format::Gff3);
});
