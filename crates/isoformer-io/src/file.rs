//! Files on a native file system: `-` for standard input/output, transparent gzip on input,
//! `.gz` compression on output, and the output contract every command follows:
//!
//! - a regular file (or a name that does not exist yet) is written under a temporary name in the
//!   same directory (`.NAME.tmp-PID`; through a symbolic link, beside the file it points to) and
//!   renamed over it only when the run succeeded;
//! - anything else (`-`, a character device such as `/dev/null`, a FIFO, a `/proc/self/fd/N`
//!   link to a pipe) is written directly, streaming, and never replaced;
//! - the outputs of one run are claimed together in an [`Outputs`] before any work: two that
//!   resolve to the same file, or an output that is one of the run's inputs, are refused; they are
//!   all moved into place by [`Outputs::commit`], and a failure (or a signal, see
//!   [`crate::signals`]) removes every temporary file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use crate::BOM;
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
    #[error("{}: is a directory (give a file name)", path.display())]
    IsADirectory { path: PathBuf },
    #[error("{}: is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{}: cannot open for writing", path.display())]
    OpenSpecial { path: PathBuf, source: io::Error },
    #[error("{}: given twice as an output{}", path.display(), also(path, first))]
    SameOutput { path: PathBuf, first: PathBuf },
    #[error("{}: is an input of this run and cannot also be its output{}; write elsewhere", path.display(), also(path, input))]
    OutputIsInput { path: PathBuf, input: PathBuf },
    #[error("{}: output directory holds {}, an input of this run; write elsewhere", path.display(), input.display())]
    InputInsideOutput { path: PathBuf, input: PathBuf },
    #[error("{}: already in use by another isoformer run (it holds the directory's lock); wait for it or choose another directory", path.display())]
    Locked { path: PathBuf },
    #[error("{}: cannot lock", path.display())]
    Lock { path: PathBuf, source: io::Error },
    #[error("{}: starts with a UTF-8 byte-order mark (BOM); save it without one (e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`)", shown(path).display())]
    ByteOrderMark { path: PathBuf },
}

/// ` (the same file as OTHER)` when the two names differ.
fn also(path: &Path, other: &Path) -> String {
    if path == other { String::new() } else { format!(" (the same file as {})", other.display()) }
}

/// Open a text file (standard input for `-`) for reading, decompressing gzip (BGZF included)
/// when the first bytes say so; a text that starts with a UTF-8 byte-order mark is refused.
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
    let mut text: Box<dyn BufRead> = match sniff(magic) {
        Compression::None => Box::new(reader),
        Compression::Gzip | Compression::Bgzf => Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader))),
    };
    let start = text.fill_buf().map_err(|source| IoError::Read { path: path.into(), source })?;
    if start.starts_with(BOM) {
        return Err(IoError::ByteOrderMark { path: path.into() });
    }
    Ok(text)
}


/// Write `bytes` to `path` whole (see [`AtomicOutput`]), or to standard output for `-`.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    AtomicOutput::create(path)?.write_all_and_finish(bytes)
}

/// One output: standard output for `-`; a device, FIFO or other non-regular file written
/// directly; else a temporary file beside `path` (beside the file a symbolic link points to)
/// renamed over it by [`AtomicOutput::finish`]. `.gz` names are gzip-compressed. Dropped
/// unfinished, the temporary file is removed (and a signal removes it too: see
/// [`crate::signals`]). Write errors name the path.
pub struct AtomicOutput {
    /// (temporary file, final path) of a regular file.
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

/// What an output path names now.
enum Kind {
    Stdout,
    /// Not a regular file: written in place (a device, a FIFO, a socket).
    Special,
    /// A regular file, or nothing yet: this is where it goes (symbolic links followed).
    Regular(PathBuf),
}

fn kind(path: &Path) -> Result<Kind, IoError> {
    if path == Path::new("-") {
        return Ok(Kind::Stdout);
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(IoError::IsADirectory { path: path.into() }),
        Ok(m) if !m.is_file() => Ok(Kind::Special),
        // A regular file, possibly through links: replace the file, not the link.
        Ok(_) => Ok(Kind::Regular(std::fs::canonicalize(path).unwrap_or_else(|_| path.into()))),
        Err(_) => Ok(Kind::Regular(path.into())),
    }
}

impl AtomicOutput {
    /// Claim `path`: its temporary file is created (a special file opened) now, so an
    /// unwritable path fails before any work is done.
    pub fn create(path: &Path) -> Result<Self, IoError> {
        let label = path.display().to_string();
        let gz = path.extension().is_some_and(|e| e == "gz");
        let wrap = |f: File| {
            let f = io::BufWriter::with_capacity(1 << 16, f);
            if gz { Sink::Gz(flate2::write::GzEncoder::new(f, flate2::Compression::fast())) } else { Sink::File(f) }
        };
        let dest = match kind(path)? {
            Kind::Stdout => {
                let sink = Sink::Stdout(io::BufWriter::new(io::stdout()));
                return Ok(Self { target: None, sink: Some(sink), label: "standard output".into() });
            }
            Kind::Special => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|source| IoError::OpenSpecial { path: path.into(), source })?;
                return Ok(Self { target: None, sink: Some(wrap(f)), label });
            }
            Kind::Regular(dest) => dest,
        };
        let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = dest.file_name().ok_or_else(|| IoError::NotAFileName { path: path.into() })?;
        let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
        // Registered before it exists, so that a signal between the two cannot leave it.
        crate::signals::register(&tmp);
        let f = match File::create(&tmp) {
            Ok(f) => f,
            Err(source) => {
                crate::signals::unregister(&tmp);
                return Err(IoError::Create { path: path.into(), tmp, source });
            }
        };
        // A replaced file keeps its permissions.
        if let Ok(m) = std::fs::metadata(&dest) {
            let _ = f.set_permissions(m.permissions());
        }
        Ok(Self { target: Some((tmp, dest)), sink: Some(wrap(f)), label })
    }

    /// Write a whole, finished result and move it into place (standard output receives nothing
    /// until the caller has every byte).
    pub fn write_all_and_finish(mut self, bytes: &[u8]) -> Result<(), IoError> {
        self.write_all(bytes).map_err(|source| IoError::Write { label: self.label.clone(), source })?;
        self.finish()
    }

    /// The stream to write to (errors carry the path in their message).
    pub fn writer(&mut self) -> &mut dyn Write {
        self
    }

    fn sink(&mut self) -> &mut dyn Write {
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
        self.close()?;
        self.commit()
    }

    /// Flush and close: every byte is on disk under the temporary name (or delivered).
    fn close(&mut self) -> Result<(), IoError> {
        let done = match self.sink.take() {
            None => Ok(()),
            Some(Sink::Stdout(mut w)) => w.flush(),
            Some(Sink::File(w)) => w.into_inner().map_err(|e| e.into_error()).and_then(|f| sync(&f)),
            Some(Sink::Gz(w)) => w.finish().and_then(|w| w.into_inner().map_err(|e| e.into_error())).and_then(|f| sync(&f)),
        };
        done.map_err(|source| IoError::Write { label: self.label.clone(), source })
    }

    /// Move a closed temporary file into place. Returns the final path of a regular file.
    fn commit(&mut self) -> Result<(), IoError> {
        if let Some((tmp, path)) = self.target.take() {
            let renamed = std::fs::rename(&tmp, &path);
            crate::signals::unregister(&tmp);
            if let Err(source) = renamed {
                let _ = std::fs::remove_file(&tmp);
                return Err(IoError::Rename { path, source });
            }
        }
        Ok(())
    }
}

/// `fsync` a regular file; devices and pipes may not support it, and need not.
fn sync(f: &File) -> io::Result<()> {
    match f.metadata() {
        Ok(m) if m.is_file() => f.sync_all(),
        _ => Ok(()),
    }
}

impl Write for AtomicOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let label = self.label.clone();
        self.sink().write(buf).map_err(|e| labelled(&label, e))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let label = self.label.clone();
        self.sink().write_all(buf).map_err(|e| labelled(&label, e))
    }
    fn flush(&mut self) -> io::Result<()> {
        let label = self.label.clone();
        self.sink().flush().map_err(|e| labelled(&label, e))
    }
}

/// An I/O error whose message starts with the path (its kind kept, so that a broken pipe is
/// still recognised as one).
fn labelled(label: &str, e: io::Error) -> io::Error {
    if e.to_string().starts_with(label) { e } else { io::Error::new(e.kind(), format!("{label}: {e}")) }
}

impl Drop for AtomicOutput {
    fn drop(&mut self) {
        if let Some((tmp, _)) = self.target.take() {
            self.sink.take();
            let _ = std::fs::remove_file(&tmp);
            crate::signals::unregister(&tmp);
        }
    }
}

/// What a path is, for telling whether two paths are the same file.
#[derive(Debug, Clone)]
struct Identity {
    /// The path as given, for messages.
    given: PathBuf,
    /// Absolute, with symbolic links resolved as far as the path exists.
    resolved: PathBuf,
    /// (device, inode) when it exists.
    inode: Option<(u64, u64)>,
    /// A character device (`/dev/null`): several outputs may share one.
    shareable: bool,
}

fn identity(path: &Path) -> Identity {
    let meta = if path == Path::new("-") { stdout_metadata() } else { std::fs::metadata(path).ok() };
    #[cfg(unix)]
    let (inode, shareable) = {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        (meta.as_ref().map(|m| (m.dev(), m.ino())), meta.as_ref().is_some_and(|m| m.file_type().is_char_device()))
    };
    #[cfg(not(unix))]
    let (inode, shareable) = (None::<(u64, u64)>, meta.is_some_and(|m| !m.is_file() && !m.is_dir()));
    Identity { given: path.into(), resolved: resolved(path), inode, shareable }
}

#[cfg(unix)]
fn stdout_metadata() -> Option<std::fs::Metadata> {
    use std::os::fd::AsFd;
    let fd = io::stdout().as_fd().try_clone_to_owned().ok()?;
    File::from(fd).metadata().ok()
}

#[cfg(not(unix))]
fn stdout_metadata() -> Option<std::fs::Metadata> {
    None
}

/// `path` made absolute with its longest existing prefix canonicalised (`-` stays `-`).
fn resolved(path: &Path) -> PathBuf {
    if path == Path::new("-") {
        return path.into();
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.into());
    let mut rest = Vec::new();
    let mut head = absolute.as_path();
    loop {
        if let Ok(c) = std::fs::canonicalize(head) {
            return rest.iter().rev().fold(c, |p, r| p.join(r));
        }
        match (head.parent(), head.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                head = parent;
            }
            _ => return absolute,
        }
    }
}

impl Identity {
    fn same_file(&self, other: &Identity) -> bool {
        match (self.inode, other.inode) {
            (Some(a), Some(b)) => a == b,
            _ => self.resolved == other.resolved && self.resolved != Path::new("-"),
        }
    }

    /// `self` is `other` or lies inside it.
    fn within(&self, other: &Identity) -> bool {
        self.same_file(other) || (self.resolved.starts_with(&other.resolved) && other.resolved != Path::new("-"))
    }
}

/// The outputs of one run, claimed before the work and committed together after it.
///
/// ```no_run
/// # use isoformer_io::Outputs;
/// # use std::path::Path;
/// # fn main() -> Result<(), isoformer_io::IoError> {
/// let mut outputs = Outputs::new();
/// outputs.input(Path::new("in.tsv"))?; // an output may not overwrite it
/// let table = outputs.file(Path::new("out.tsv"))?; // refused if it is in.tsv, or claimed twice
/// let plot = outputs.file(Path::new("plot.svg"))?;
/// // ... the work; an early return drops `outputs` and removes both temporary files ...
/// outputs.write_all(table, b"id\tvalue\n")?;
/// outputs.write_all(plot, b"<svg/>")?;
/// outputs.commit()?; // both flushed first, then both renamed into place
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct Outputs {
    inputs: Vec<Identity>,
    /// Output files and directories claimed so far (directories: `None`).
    claimed: Vec<(Identity, Option<AtomicOutput>)>,
    /// Directories this run created for its outputs: removed again if empty and not committed.
    created_dirs: Vec<PathBuf>,
    committed: bool,
}

/// One claimed output file of an [`Outputs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputId(usize);

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declare a file or directory this run reads: no output may be it (or, for an output
    /// directory, contain it). `-` (standard input) is ignored.
    pub fn input(&mut self, path: &Path) -> Result<(), IoError> {
        if path == Path::new("-") {
            return Ok(());
        }
        let id = identity(path);
        for (out, _) in &self.claimed {
            Self::refuse_input(out, &id)?;
        }
        self.inputs.push(id);
        Ok(())
    }

    /// [`Outputs::input`] for a directory and the files in it the run reads.
    pub fn input_dir(&mut self, dir: &Path, files: &[&str]) -> Result<(), IoError> {
        self.input(dir)?;
        files.iter().try_for_each(|f| self.input(&dir.join(f)))
    }

    fn refuse_input(out: &Identity, input: &Identity) -> Result<(), IoError> {
        if out.same_file(input) && !out.shareable {
            return Err(IoError::OutputIsInput { path: out.given.clone(), input: input.given.clone() });
        }
        Ok(())
    }

    fn check_new(&self, id: &Identity, directory: bool) -> Result<(), IoError> {
        for input in &self.inputs {
            Self::refuse_input(id, input)?;
            if directory && input.within(id) {
                return Err(IoError::InputInsideOutput { path: id.given.clone(), input: input.given.clone() });
            }
        }
        for (other, _) in &self.claimed {
            let clash = if directory { other.within(id) || id.within(other) } else { id.same_file(other) };
            if clash && !(id.shareable && other.shareable) {
                return Err(IoError::SameOutput { path: id.given.clone(), first: other.given.clone() });
            }
        }
        Ok(())
    }

    /// Claim an output file (see [`AtomicOutput::create`]); the checks against the other
    /// outputs and the inputs come first.
    pub fn file(&mut self, path: &Path) -> Result<OutputId, IoError> {
        let id = identity(path);
        self.check_new(&id, false)?;
        let out = AtomicOutput::create(path)?;
        self.claimed.push((id, Some(out)));
        Ok(OutputId(self.claimed.len() - 1))
    }

    /// Claim an output directory that the caller writes itself (a model directory): it may not
    /// be, contain or lie inside another output or an input. Nothing is created.
    pub fn dir(&mut self, path: &Path) -> Result<(), IoError> {
        let id = identity(path);
        if path.exists() && !path.is_dir() {
            return Err(IoError::NotADirectory { path: path.into() });
        }
        self.check_new(&id, true)?;
        self.claimed.push((id, None));
        Ok(())
    }

    /// Create `dir` (and its missing parents) to hold output files; what this run created is
    /// removed again, if still empty, when the run fails.
    pub fn create_dir(&mut self, dir: &Path) -> Result<(), IoError> {
        let mut missing = Vec::new();
        let mut d = dir;
        while !d.as_os_str().is_empty() && !d.exists() {
            missing.push(d.to_path_buf());
            d = d.parent().unwrap_or(Path::new(""));
        }
        if !dir.as_os_str().is_empty() && !dir.is_dir() && missing.is_empty() {
            return Err(IoError::NotADirectory { path: dir.into() });
        }
        for m in missing.into_iter().rev() {
            std::fs::create_dir(&m).map_err(|source| IoError::Create { path: dir.into(), tmp: m.clone(), source })?;
            self.created_dirs.push(m);
        }
        Ok(())
    }

    fn out(&mut self, id: OutputId) -> &mut AtomicOutput {
        self.claimed[id.0].1.as_mut().expect("an output file")
    }

    /// The stream of an output, for streaming writers (errors name the path).
    pub fn writer(&mut self, id: OutputId) -> &mut dyn Write {
        self.out(id)
    }

    /// The path of an output, or "standard output".
    pub fn label(&self, id: OutputId) -> &str {
        self.claimed[id.0].1.as_ref().expect("an output file").label()
    }

    /// Write bytes to an output.
    pub fn write_all(&mut self, id: OutputId, bytes: &[u8]) -> Result<(), IoError> {
        let out = self.out(id);
        out.write_all(bytes).map_err(|source| IoError::Write { label: out.label.clone(), source })
    }

    /// Flush every output, then move every temporary file into place. A failure in the first
    /// phase leaves nothing; a failed rename removes the files already moved.
    pub fn commit(mut self) -> Result<(), IoError> {
        for (_, out) in self.claimed.iter_mut() {
            if let Some(out) = out {
                out.close()?;
            }
        }
        let mut moved: Vec<PathBuf> = Vec::new();
        for (_, out) in self.claimed.iter_mut() {
            let Some(out) = out else { continue };
            let dest = out.target.as_ref().map(|(_, d)| d.clone());
            if let Err(e) = out.commit() {
                for m in &moved {
                    let _ = std::fs::remove_file(m);
                }
                return Err(e);
            }
            moved.extend(dest);
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        // The temporary files go first (AtomicOutput's drop), then the directories made for them.
        self.claimed.clear();
        if !self.committed {
            for d in self.created_dirs.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
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
    fn outputs_refuse_one_file_twice_and_an_input_and_commit_together() {
        let dir = scratch("outputs");
        let input = dir.join("in.tsv");
        std::fs::write(&input, "x\n").unwrap();
        let mut outs = Outputs::new();
        outs.input(&input).unwrap();
        let e = outs.file(&dir.join("./in.tsv")).err().unwrap().to_string();
        assert_eq!(e, format!("{}/./in.tsv: is an input of this run and cannot also be its output; write elsewhere", dir.display()));
        let a = outs.file(&dir.join("a.tsv")).unwrap();
        let e = outs.file(&dir.join(".").join("a.tsv")).err().unwrap().to_string();
        assert!(e.contains("given twice as an output"), "{e}");
        // A character device (/dev/null) may be given as often as wanted.
        if let Some(null) = null_device(&dir) {
            outs.file(&null).unwrap();
            outs.file(&null).unwrap();
        }
        let e = outs.dir(&dir).err().unwrap().to_string();
        assert!(e.ends_with(&format!("output directory holds {}, an input of this run; write elsewhere", input.display())), "{e}");
        outs.write_all(a, b"a\n").unwrap();
        drop(outs);
        let mut left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n != "null").collect();
        left.sort();
        assert_eq!(left, ["in.tsv"], "a failed run leaves only its input");
        let mut outs = Outputs::new();
        let a = outs.file(&dir.join("a.tsv")).unwrap();
        let b = outs.file(&dir.join("b.tsv")).unwrap();
        outs.write_all(a, b"a\n").unwrap();
        outs.write_all(b, b"b\n").unwrap();
        assert!(!dir.join("a.tsv").exists());
        outs.commit().unwrap();
        assert_eq!(std::fs::read(dir.join("b.tsv")).unwrap(), b"b\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A null device: one made with mknod in `dir` (root), else /dev/null when it is one (other
    /// programs run as root on a shared machine have been seen replacing it with a file).
    #[cfg(unix)]
    fn null_device(dir: &Path) -> Option<PathBuf> {
        use std::os::unix::fs::FileTypeExt;
        let node = dir.join("null");
        let made = std::process::Command::new("mknod").arg(&node).args(["c", "1", "3"]).status().is_ok_and(|s| s.success());
        let path = if made { node } else { PathBuf::from("/dev/null") };
        let ok = std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_char_device());
        if !ok {
            println!("SKIPPED: no null device (mknod refused and /dev/null is not a character device)");
        }
        ok.then_some(path)
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_and_special_files_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = scratch("special");
        let real = dir.join("real.tsv");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, dir.join("link.tsv")).unwrap();
        write_output(&dir.join("link.tsv"), b"new").unwrap();
        assert!(std::fs::symlink_metadata(dir.join("link.tsv")).unwrap().file_type().is_symlink(), "the link was replaced");
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        if let Some(null) = null_device(&dir) {
            write_output(&null, b"nothing").unwrap();
            assert!(std::fs::metadata(&null).unwrap().file_type().is_char_device(), "the device was replaced");
        }
        let e = write_output(&dir, b"x").unwrap_err().to_string();
        assert!(e.ends_with("is a directory (give a file name)"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_byte_order_mark_is_named() {
        let dir = scratch("bom");
        let path = dir.join("bom.tsv");
        std::fs::write(&path, b"\xEF\xBB\xBFid\n").unwrap();
        let e = open_input(&path).err().unwrap().to_string();
        assert!(e.starts_with(&format!("{}: starts with a UTF-8 byte-order mark (BOM)", path.display())), "{e}");
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
