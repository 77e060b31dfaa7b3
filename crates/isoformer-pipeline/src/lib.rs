//! What the `isoformer` CLI and the page share, so that both give the same table for the same
//! input: files → [`input::Record`]s → [`job::Job`] (tokens, crop notices, batches with
//! shared-DNA reuse) → [`table::PredictionTable`] (TSV, Parquet).
//!
//! The crate does no file-system I/O of its own (readers take a `BufRead` and a name for
//! messages) and builds for `wasm32-unknown-unknown`; the model's outputs are read back by the
//! caller, synchronously on the CLI and asynchronously in the browser, between
//! [`job::Job::forward`] and [`job::Job::accept`]. Training and evaluation data
//! ([`data`]) are read here too, for the same reason.

pub mod columns;
pub mod data;
pub mod device_failure;
pub mod input;
pub mod job;
pub mod prepared;
pub mod provenance;
pub mod shard;
pub mod table;
pub mod variants;

#[cfg(not(target_arch = "wasm32"))]
pub mod model_dir;

/// Transcripts per forward pass unless the user says otherwise, on the CLI and in the page:
/// one keeps the peak memory of the official geometry at one Enformer window.
pub const DEFAULT_BATCH_SIZE: usize = 1;

/// An error and its causes on one line (`outer: inner: innermost`), for places that show one
/// message, such as the page; the CLI prints the causes on lines of their own.
pub fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let next = c.to_string();
        // Some errors repeat their cause in their own message: say it once.
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}
