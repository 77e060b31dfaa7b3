//! Files on a native file system: `-` for standard input/output, transparent gzip on input,
//! `.gz` compression on output, and outputs written under a temporary name and renamed into
//! place, so that a failed run leaves nothing behind.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use crate::compression::{Compression, sniff};
use crate::location::shown;

/// Why a file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("no input: standard input is a terminal (give a file name, or pipe the data in)")]
    StdinIsTerminal,
    #[error("{}: cannot open", shown(path).display())]
    Open { path: PathBuf, source: io::Error },
    #[error("{}: cannot read", shown(path).display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: not a file name", path.display())]
    NotAFileName { path: PathBuf },
    #[error("{}: cannot create {}", path.display(), tmp.display())]
    Create { path: PathBuf, tmp: PathBuf, source: io::Error },
    #[error("writing {label}")]
    Write { label: String, source: io::Error },
    #[error("{}: cannot move into place", path.display())]
    Rename { path: PathBuf, source: io::Error },
}

/// Open a file (standard input for `-`) for reading, decompressing gzip (BGZF included) when
/// the first bytes say so.
pub fn open_input(path: &Path) -> Result<Box<dyn BufRead>, IoError> {
    let raw: Box<dyn Read> = if path == Path::new("-") {
        if io::stdin().is_terminal() {
            return Err(IoError::StdinIsTerminal);
        }
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|source| IoError::Open { path: path.into(), source })?)
    };
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    let magic = reader.fill_buf().map_err(|source| IoError::Read { path: path.into(), source })?;
    Ok(match sniff(magic) {
        Compression::None => Box::new(reader),
        Compression::Gzip | Compression::Bgzf => Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader))),
    })
}

/// Write `bytes` to `path` whole (see [`AtomicOutput`]), or to standard output for `-`.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    AtomicOutput::create(path)?.write_all_and_finish(bytes)
}

/// A streaming output: standard output for `-`, else a temporary file beside `path`
/// (gzip-compressed for a `.gz` name) renamed over it by [`AtomicOutput::finish`]. Dropped
/// unfinished, the temporary file is removed.
pub struct AtomicOutput {
    target: Option<(PathBuf, PathBuf)>,
    sink: Option<Sink>,
    /// The path, or "standard output", for messages.
    label: String,
}

enum Sink {
    Stdout(io::BufWriter<io::Stdout>),
    File(io::BufWriter<File>),
    Gz(flate2::write::GzEncoder<io::BufWriter<File>>),
}

impl AtomicOutput {
    /// Claim `path`: its temporary file is created now, so an unwritable path fails before any
    /// work is done.
    pub fn create(path: &Path) -> Result<Self, IoError> {
        if path == Path::new("-") {
            let sink = Sink::Stdout(io::BufWriter::new(io::stdout()));
            return Ok(Self { target: None, sink: Some(sink), label: "standard output".into() });
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().ok_or_else(|| IoError::NotAFileName { path: path.into() })?;
        let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
        let f = File::create(&tmp).map_err(|source| IoError::Create { path: path.into(), tmp: tmp.clone(), source })?;
        let f = io::BufWriter::with_capacity(1 << 16, f);
        let sink = if path.extension().is_some_and(|e| e == "gz") {
            Sink::Gz(flate2::write::GzEncoder::new(f, flate2::Compression::fast()))
        } else {
            Sink::File(f)
        };
        Ok(Self { target: Some((tmp, path.to_path_buf())), sink: Some(sink), label: path.display().to_string() })
    }

    /// Write a whole, finished result and move it into place (standard output receives nothing
    /// until the caller has every byte).
    pub fn write_all_and_finish(mut self, bytes: &[u8]) -> Result<(), IoError> {
        let written = self.writer().write_all(bytes);
        written.map_err(|source| IoError::Write { label: self.label.clone(), source })?;
        self.finish()
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        match self.sink.as_mut().expect("open until finish") {
            Sink::Stdout(w) => w,
            Sink::File(w) => w,
            Sink::Gz(w) => w,
        }
    }

    /// The path, or "standard output".
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Flush, close and move into place.
    pub fn finish(mut self) -> Result<(), IoError> {
        let done = match self.sink.take().expect("open until finish") {
            Sink::Stdout(mut w) => w.flush(),
            Sink::File(w) => w.into_inner().map_err(|e| e.into_error()).and_then(|f| f.sync_all()),
            Sink::Gz(w) => w.finish().and_then(|w| w.into_inner().map_err(|e| e.into_error())).and_then(|f| f.sync_all()),
        };
        done.map_err(|source| IoError::Write { label: self.label.clone(), source })?;
        if let Some((tmp, path)) = self.target.take() {
            if let Err(source) = std::fs::rename(&tmp, &path) {
                let _ = std::fs::remove_file(&tmp);
                return Err(IoError::Rename { path, source });
            }
        }
        Ok(())
    }
}

impl Drop for AtomicOutput {
    fn drop(&mut self) {
        if let Some((tmp, _)) = self.target.take() {
            self.sink.take();
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("isoformer-io-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn dropped_unfinished_leaves_nothing_and_finished_appears_whole() {
        let dir = scratch("atomic");
        let path = dir.join("out.tsv");
        let mut out = AtomicOutput::create(&path).unwrap();
        out.writer().write_all(b"half").unwrap();
        drop(out);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "temporary file left behind");
        write_output(&path, b"whole\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn gz_names_are_compressed_and_read_back_transparently() {
        let dir = scratch("gz");
        let path = dir.join("t.tsv.gz");
        write_output(&path, b"a\tb\n1\t2\n").unwrap();
        assert_eq!(sniff(&std::fs::read(&path).unwrap()), Compression::Gzip);
        let mut text = String::new();
        open_input(&path).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "a\tb\n1\t2\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn errors_name_the_path() {
        let e = open_input(Path::new("no/such.tsv")).err().unwrap().to_string();
        assert_eq!(e, "no/such.tsv: cannot open");
        let e = AtomicOutput::create(Path::new("no/such/dir/out.tsv")).err().unwrap().to_string();
        assert!(e.starts_with("no/such/dir/out.tsv: cannot create no/such/dir/.out.tsv.tmp-"), "{e}");
    }
}
