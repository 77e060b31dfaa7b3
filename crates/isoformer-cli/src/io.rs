//! Files in and out: `-` for stdin/stdout, transparent gzip, atomic writes, TSV with locations.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Open a file (or stdin for `-`) for reading, decompressing gzip when the first bytes say so.
pub fn open_input(path: &Path) -> Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path == Path::new("-") {
        if io::stdin().is_terminal() {
            bail!("no input: standard input is a terminal; pass --input FILE (or pipe a TSV in)");
        }
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).with_context(|| format!("{}: cannot open", path.display()))?)
    };
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    let magic = reader.fill_buf().with_context(|| format!("{}: cannot read", path.display()))?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader))))
    } else {
        Ok(Box::new(reader))
    }
}

/// Where an input row came from: `path:line`.
pub fn at(path: &Path, line: usize) -> String {
    if path == Path::new("-") { format!("<stdin>:{line}") } else { format!("{}:{line}", path.display()) }
}

/// The rows of a TSV with a header, as `(line number, fields by wanted column)`.
pub struct Tsv {
    pub path: PathBuf,
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Read a TSV and pick `columns` (required) then `optional` columns by header name; a missing
/// optional column reads as empty fields. Also returns which optional columns were present.
pub fn read_tsv_optional(path: &Path, columns: &[&str], optional: &[&str]) -> Result<(Tsv, Vec<bool>)> {
    let reader = open_input(path)?;
    let mut lines = reader.lines().enumerate();
    let header = loop {
        match lines.next() {
            None => bail!("{}: empty file (expected a header with {})", at(path, 1), columns.join(", ")),
            Some((i, l)) => {
                let l = l.with_context(|| format!("{}: read failed", at(path, i + 1)))?;
                if !l.trim().is_empty() && !l.starts_with('#') {
                    break (i + 1, l);
                }
            }
        }
    };
    let names: Vec<&str> = header.1.trim_end_matches('\r').split('\t').collect();
    let mut index = Vec::new();
    for c in columns {
        match names.iter().position(|n| n.trim() == *c) {
            Some(i) => index.push(i),
            None => bail!(
                "{}: header has no `{c}` column (found: {}); expected tab-separated columns {}",
                at(path, header.0),
                names.join(", "),
                columns.join(", ")
            ),
        }
    }
    let present: Vec<Option<usize>> = optional.iter().map(|c| names.iter().position(|n| n.trim() == *c)).collect();
    let mut rows = Vec::new();
    for (i, line) in lines {
        let line = line.with_context(|| format!("{}: read failed", at(path, i + 1)))?;
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != names.len() {
            bail!("{}: {} fields, but the header has {}", at(path, i + 1), fields.len(), names.len());
        }
        let mut row: Vec<String> = index.iter().map(|&j| fields[j].trim().to_string()).collect();
        row.extend(present.iter().map(|j| j.map_or(String::new(), |j| fields[j].trim().to_string())));
        rows.push((i + 1, row));
    }
    Ok((Tsv { path: path.to_path_buf(), rows }, present.iter().map(Option::is_some).collect()))
}

/// Write `bytes` to `path` atomically (temporary file in the same directory, then rename), or to
/// stdout for `-`. Nothing is left behind on failure.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    if path == Path::new("-") {
        let mut out = io::stdout().lock();
        out.write_all(bytes).context("writing standard output")?;
        return out.flush().context("writing standard output");
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
        if path.extension().is_some_and(|e| e == "gz") {
            let mut gz = flate2::write::GzEncoder::new(&mut f, flate2::Compression::default());
            gz.write_all(bytes)?;
            gz.finish()?;
        } else {
            f.write_all(bytes)?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot move into place", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// A streaming output: standard output for `-`, else a temporary file in the target directory
/// (gzip-compressed for a `.gz` name) renamed over `path` by [`AtomicOutput::finish`]; dropped
/// unfinished, the temporary file is removed, so a failed run leaves nothing behind.
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
    pub fn create(path: &Path) -> Result<Self> {
        if path == Path::new("-") {
            return Ok(Self { target: None, sink: Some(Sink::Stdout(io::BufWriter::new(io::stdout()))), label: "standard output".into() });
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().with_context(|| format!("{}: not a file name", path.display()))?;
        let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
        let f = File::create(&tmp).with_context(|| format!("{}: cannot create {}", path.display(), tmp.display()))?;
        let f = io::BufWriter::with_capacity(1 << 16, f);
        let sink = if path.extension().is_some_and(|e| e == "gz") {
            Sink::Gz(flate2::write::GzEncoder::new(f, flate2::Compression::fast()))
        } else {
            Sink::File(f)
        };
        Ok(Self { target: Some((tmp, path.to_path_buf())), sink: Some(sink), label: path.display().to_string() })
    }

    /// Write a whole, finished result and move it into place: how `predict` writes, so that
    /// standard output receives nothing until every row is computed.
    pub fn write_all_and_finish(mut self, bytes: &[u8]) -> Result<()> {
        let label = self.label.clone();
        self.writer().write_all(bytes).with_context(|| format!("writing {label}"))?;
        self.finish()
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        match self.sink.as_mut().expect("open until finish") {
            Sink::Stdout(w) => w,
            Sink::File(w) => w,
            Sink::Gz(w) => w,
        }
    }

    /// Flush, close and move into place.
    pub fn finish(mut self) -> Result<()> {
        let done = match self.sink.take().expect("open until finish") {
            Sink::Stdout(mut w) => w.flush(),
            Sink::File(w) => w.into_inner().map_err(|e| e.into_error()).and_then(|f| f.sync_all()),
            Sink::Gz(w) => w.finish().and_then(|w| w.into_inner().map_err(|e| e.into_error())).and_then(|f| f.sync_all()),
        };
        done.with_context(|| format!("writing {}", self.label))?;
        if let Some((tmp, path)) = self.target.take() {
            let moved = std::fs::rename(&tmp, &path).with_context(|| format!("{}: cannot move into place", path.display()));
            if moved.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            moved?;
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
