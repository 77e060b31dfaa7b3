//! Prepared-input TSV (`isoformer_pipeline::input::read_tsv`): no input panics; an error names a
//! line of the input; accepted records come from distinct lines after the header, with unique,
//! non-empty ids.
#![no_main]

#[path = "../common/lines.rs"]
mod lines;

use std::collections::HashSet;

use isoformer_pipeline::input::{Source, read_tsv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = lines::count(data);
    match read_tsv(Source::new("fuzz.tsv", data)) {
        Ok(records) => {
            let mut ids = HashSet::new();
            let mut last = 1;
            for r in &records.records {
                assert!(r.at.line > last && r.at.line <= lines, "record at line {} of {lines}", r.at.line);
                last = r.at.line;
                assert!(!r.transcript_id.is_empty() && ids.insert(r.transcript_id.clone()), "{:?}", r.transcript_id);
            }
        }
        Err(e) => lines::assert_names_a_line(&e.to_string(), "fuzz.tsv", lines),
    }
});
