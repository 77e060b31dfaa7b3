//! Files in and out, one implementation for every crate and command.
//!
//! - [`Location`]: `path:line`, the form every error about an input line takes.
//! - [`sniff`]: plain, gzip or BGZF, from the first bytes (never from the name: many `.fa.gz`
//!   files are plain gzip, and many gzip files are not called `.gz`).
//! - [`tsv`]: tab-separated tables with a header, read from any `BufRead` (the page passes text
//!   it already holds, the CLI a file).
//! - [`open_input`], [`AtomicOutput`], [`write_output`] (native only): `-` for standard
//!   input/output, transparent gzip, and outputs that appear whole or not at all.

mod compression;
mod location;
pub mod tsv;

#[cfg(not(target_arch = "wasm32"))]
mod file;

pub use compression::{Compression, sniff};
pub use location::{Location, shown};

#[cfg(not(target_arch = "wasm32"))]
pub use file::{AtomicOutput, IoError, open_input, write_output};
