//! The crate's one error: which file (or Hub repository) and what is wrong with it.

use std::io;
use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiError;
use isoformer_model::weights::LoadError;
use safetensors::Dtype;

use crate::checkpoint::MAX_PICKLE;
use crate::globals::ScanError;
use crate::safetensors_header::HeaderError;

/// `Display` is one line, `path: problem`; the underlying I/O, ZIP or Hub error follows as
/// `source()`.
#[derive(Debug)]
pub struct CheckpointError {
    pub path: PathBuf,
    pub kind: ErrorKind,
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.kind)
    }
}

impl std::error::Error for CheckpointError {
    // The kind's cause, not the kind: the kind's message is already part of ours.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.kind.source()
    }
}

/// What is wrong, one variant per failure.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot open")]
    Open(#[source] io::Error),
    #[error("cannot read")]
    Read(#[source] io::Error),
    #[error("empty file")]
    Empty,
    #[error("not a PyTorch checkpoint (ZIP or legacy) nor safetensors: starts with {0:02x?}")]
    UnknownFormat(Vec<u8>),
    #[error("a bare pickle, not a PyTorch checkpoint (no tensor storages)")]
    BarePickle,
    #[error("not a readable ZIP archive")]
    Zip(#[source] zip::result::ZipError),
    #[error("ZIP archive without data.pkl: not a PyTorch checkpoint")]
    NoPickle,
    #[error("ZIP archive with several data.pkl entries: {0:?}")]
    SeveralPickles(Vec<String>),
    #[error("{name}: cannot open in the ZIP archive")]
    ZipEntry {
        name: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{name} declares {declared} bytes, more than the {} MiB a checkpoint needs", MAX_PICKLE >> 20)]
    PickleTooLarge { name: String, declared: u64 },
    #[error("{name}: cannot read")]
    ReadPickle {
        name: String,
        #[source]
        source: io::Error,
    },
    /// `part` names the pickle: `data.pkl`, or which one of a legacy stream.
    #[error("{part}: {scan}")]
    Pickle { part: String, scan: ScanError },
    #[error("not a readable PyTorch checkpoint")]
    Torch(#[source] pytorch_reader::PytorchError),
    #[error("holds no tensors")]
    NoTensors,
    #[error(transparent)]
    Header(HeaderError),
    #[error("no tensor `{0}`")]
    NoTensor(String),
    #[error("`{name}`: cannot read")]
    ReadTensor {
        name: String,
        #[source]
        source: io::Error,
    },
    /// The model's list of problems is kept whole in `problems`, and shown on one line.
    #[error("does not match {}: {}", .config.display(), one_line(&.problems.to_string()))]
    ConfigMismatch { config: PathBuf, problems: LoadError },
    #[error("`{name}`: {got} bytes for {dtype:?} {shape:?}")]
    TensorSize { name: String, got: usize, dtype: Dtype, shape: Vec<usize> },
    #[error("`{alias}` differs from `{canonical}`: not a duplicate, refusing to drop it")]
    AliasDiffers { alias: String, canonical: String },
    #[error("cannot encode as JSON")]
    Json(#[source] serde_json::Error),
    #[error("cannot create")]
    Create(#[source] io::Error),
    #[error("write failed")]
    Write(#[source] io::Error),
    #[error("cannot move into place")]
    Rename(#[source] io::Error),
    #[error("cannot write the output")]
    Output(#[source] isoformer_io::IoError),
    #[error("cannot set up the Hub client")]
    HubClient(#[source] ApiError),
    #[error("cannot list the repository at revision {revision}")]
    List {
        revision: String,
        #[source]
        source: ApiError,
    },
    #[error("the Hub's repository listing is not what was expected")]
    Listing(#[source] io::Error),
    #[error("the repository has neither model.safetensors nor pytorch_model.bin")]
    NoWeights,
    #[error("the repository lacks {}", .0.join(", "))]
    MissingFiles(Vec<String>),
    #[error("{name}: download failed (run again to resume)")]
    Download {
        name: String,
        #[source]
        source: ApiError,
    },
    #[error("{name}: {len} bytes, but the Hub lists {listed}; delete it from the cache and download again")]
    SizeMismatch { name: String, len: u64, listed: u64 },
    #[error("{name}: sha256 {got}, but the Hub lists {listed}; delete it from the cache and download again")]
    ShaMismatch { name: String, got: String, listed: String },
}

impl ErrorKind {
    /// This problem, with the file it is about.
    pub fn at(self, path: &Path) -> CheckpointError {
        CheckpointError { path: path.to_path_buf(), kind: self }
    }
}

/// A multi-line report on one line: its first line and first two items, then how many more
/// (`isoformer inspect FILE --config CONFIG` lists them all).
fn one_line(s: &str) -> String {
    const SHOWN: usize = 3;
    let lines: Vec<&str> = s.lines().map(str::trim).collect();
    let mut text = lines.iter().take(SHOWN).copied().collect::<Vec<_>>().join("; ");
    if lines.len() > SHOWN {
        text += &format!("; and {} more (`isoformer inspect` lists them all)", lines.len() - SHOWN);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn the_message_is_one_line_and_the_cause_follows() {
        let e = ErrorKind::Open(io::Error::other("disk on fire")).at(Path::new("m.bin"));
        assert_eq!(e.to_string(), "m.bin: cannot open");
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("disk on fire"));
        let json = serde_json::from_slice::<serde_json::Value>(b"{").unwrap_err();
        let e = ErrorKind::Header(HeaderError::Json(json)).at(Path::new("m.safetensors"));
        assert_eq!(e.to_string(), "m.safetensors: header is not valid JSON");
        assert!(e.source().is_some_and(|s| s.is::<serde_json::Error>()), "the JSON error is chained, not the header error");
    }
}
