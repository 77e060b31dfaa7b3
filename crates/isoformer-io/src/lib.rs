//! Files in and out, one implementation for every crate and command.
//!
//! - [`Location`]: `path:line`, the form every error about an input line takes.
//! - [`sniff`]: plain, gzip or BGZF, from the first bytes (never from the name: many `.fa.gz`
//!   files are plain gzip, and many gzip files are not called `.gz`).
//! - [`tsv`]: tab-separated tables with a header, read from any `BufRead` (the page passes text
//!   it already holds, the CLI a file).
//! - [`open_input`], [`AtomicOutput`], [`write_output`], [`Outputs`] (native only): `-` for
//!   standard input/output, transparent gzip, a byte-order mark refused by name, and the output
//!   contract (README, "Outputs"): regular files appear whole or not at all, devices and FIFOs
//!   are written in place, a run's outputs are claimed together (no two on one file, none on an
//!   input) and committed together.
//! - [`signals`] (native only): SIGINT/SIGTERM/SIGHUP remove every temporary output;
//!   [`DirLock`] keeps a second writer out of an output directory.
//! - [`memory`] (native only): the allocator keeps freed memory for the next forward pass.

mod compression;
mod location;
pub mod tsv;

#[cfg(not(target_arch = "wasm32"))]
mod file;
#[cfg(not(target_arch = "wasm32"))]
pub mod memory;
#[cfg(not(target_arch = "wasm32"))]
pub mod signals;

pub use compression::{Compression, sniff};

/// The UTF-8 byte-order mark, which some editors put at the start of text files: every text
/// input (TSV, FASTA, GTF/GFF3, config.json) refuses it by name rather than reading it as part of
/// the first field.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";
pub use location::{Location, cut, shown};

#[cfg(not(target_arch = "wasm32"))]
pub use file::{AtomicOutput, IoError, OutputId, Outputs, open_input, write_output};
#[cfg(not(target_arch = "wasm32"))]
pub use signals::{DirLock, remove_temporaries_on_signals};
