//! Genome FASTA access.
//!
//! Three ways in, picked from the file's first bytes (not its name: many `.fa.gz` are plain gzip):
//! - uncompressed FASTA + `GENOME.fai`: random access, only the bases asked for are read;
//! - bgzip FASTA + `GENOME.fai` + `GENOME.gzi`: random access through noodles-bgzf;
//! - anything else gzip (plain gzip, or bgzip without its indexes): read whole into memory.
//!
//! An uncompressed FASTA without `.fai` is refused (`samtools faidx GENOME.fa` makes one).
//! Bases are upper-cased (soft-masking dropped); IUPAC letters are kept; anything else is an error
//! naming the record and position. An index that does not fit the FASTA (stale `.fai`) is detected
//! by the file size, the header line before each record's offset, and the line layout of every
//! span read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use noodles_bgzf as bgzf;

use crate::Location;

#[derive(Debug, thiserror::Error)]
pub enum GenomeError {
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{path}: read failed: {source}")]
    Read { path: PathBuf, source: io::Error },
    /// A failure part-way through a whole-file read: `at` is the line being read.
    #[error("{at}: {what} (record {record}): {source}")]
    ReadAt { at: Location, what: &'static str, record: String, source: io::Error },
    /// A bgzip genome whose data ends (or breaks) before a record the index points into.
    #[error("{path}: bgzip data ends early or is corrupt reading record {record} (truncated file, or .fai/.gzi made for another file): {source}")]
    BgzfTruncated { path: PathBuf, record: String, source: io::Error },
    #[error("{path}: empty file (no FASTA records)")]
    Empty { path: PathBuf },
    #[error("{at}: expected a `>name` header before sequence lines")]
    NoHeader { at: Location },
    #[error("{at}: record with an empty name")]
    EmptyName { at: Location },
    #[error("{at}: duplicate sequence name `{name}` (first at line {first})")]
    Duplicate { at: Location, name: String, first: u64 },
    #[error("{at}: {found:?} is not a nucleotide letter (record {record}, position {position})")]
    BadBase { at: Location, record: String, position: u64, found: char },
    #[error("{path}: {found:?} is not a nucleotide letter (record {record}, position {position})")]
    BadBaseIndexed { path: PathBuf, record: String, position: u64, found: char },
    #[error("{path}: no index {fai}: uncompressed FASTA is read by random access; run `samtools faidx {path}`")]
    FaiMissing { path: PathBuf, fai: PathBuf },
    #[error("{at}: {message}")]
    FaiBad { at: Location, message: String },
    #[error("{fai}: stale index for {path}: {message}; rebuild it with `samtools faidx`")]
    FaiStale { fai: PathBuf, path: PathBuf, message: String },
    #[error("{path}: .gzi index unreadable: {source}")]
    Gzi { path: PathBuf, source: io::Error },
    #[error("{path}: no sequence `{name}`")]
    UnknownSequence { path: PathBuf, name: String },
}

/// One `.fai` line: name, length, byte offset of the first base, bases per line, bytes per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaiRecord {
    pub name: String,
    pub length: u64,
    pub offset: u64,
    pub line_bases: u64,
    pub line_width: u64,
}

impl FaiRecord {
    /// Byte offset of the 0-based base `pos`.
    fn byte_of(&self, pos: u64) -> u64 {
        self.offset + (pos / self.line_bases) * self.line_width + pos % self.line_bases
    }
}

/// Read a `.fai` (samtools faidx) with line-numbered errors.
pub fn read_fai(path: &Path) -> Result<Vec<FaiRecord>, GenomeError> {
    let file = File::open(path).map_err(|source| GenomeError::Open { path: path.into(), source })?;
    let mut out: Vec<FaiRecord> = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i as u64 + 1;
        let at = || Location::new(path, n);
        let line = line.map_err(|source| GenomeError::Read { path: path.into(), source })?;
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 5 {
            return Err(GenomeError::FaiBad { at: at(), message: format!("{} fields, expected 5 (name, length, offset, linebases, linewidth)", f.len()) });
        }
        let num = |k: usize, what: &str| -> Result<u64, GenomeError> {
            f[k].parse::<u64>().map_err(|_| GenomeError::FaiBad { at: at(), message: format!("{what} {:?} is not a number", f[k]) })
        };
        let rec = FaiRecord { name: f[0].to_string(), length: num(1, "length")?, offset: num(2, "offset")?, line_bases: num(3, "linebases")?, line_width: num(4, "linewidth")? };
        if rec.line_bases == 0 || rec.line_width <= rec.line_bases {
            return Err(GenomeError::FaiBad { at: at(), message: format!("linebases {} / linewidth {} are inconsistent", rec.line_bases, rec.line_width) });
        }
        if let Some(first) = seen.insert(rec.name.clone(), n) {
            return Err(GenomeError::Duplicate { at: at(), name: rec.name, first });
        }
        out.push(rec);
    }
    if out.is_empty() {
        return Err(GenomeError::FaiBad { at: Location::new(path, 1), message: "empty index".into() });
    }
    Ok(out)
}

enum Source {
    Plain(BufReader<File>),
    Bgzf(Box<bgzf::io::IndexedReader<File>>),
    /// Whole sequences, upper-cased and checked.
    Memory(Vec<Vec<u8>>),
}

/// A genome FASTA opened for fetching subsequences.
pub struct Genome {
    path: PathBuf,
    names: Vec<String>,
    lengths: Vec<u64>,
    by_name: HashMap<String, usize>,
    fai: Vec<FaiRecord>,
    fai_path: PathBuf,
    checked: Vec<bool>,
    source: Source,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl Genome {
    /// Open a FASTA, choosing random access when the indexes allow it (see the module docs).
    pub fn open(path: &Path) -> Result<Self, GenomeError> {
        let mut file = File::open(path).map_err(|source| GenomeError::Open { path: path.into(), source })?;
        let size = file.metadata().map_err(|source| GenomeError::Read { path: path.into(), source })?.len();
        if size == 0 {
            return Err(GenomeError::Empty { path: path.into() });
        }
        let mut magic = [0u8; 18];
        let got = read_up_to(&mut file, &mut magic).map_err(|source| GenomeError::Read { path: path.into(), source })?;
        file.seek(SeekFrom::Start(0)).map_err(|source| GenomeError::Read { path: path.into(), source })?;
        let gzip = got >= 2 && magic[..2] == [0x1f, 0x8b];
        // BGZF: gzip with FEXTRA and a `BC` subfield first (SAM/BAM spec §4.1).
        let bgzip = gzip && got >= 14 && magic[3] & 4 != 0 && &magic[12..14] == b"BC";
        let fai_path = with_suffix(path, ".fai");
        let gzi_path = with_suffix(path, ".gzi");
        if !gzip {
            if !fai_path.exists() {
                return Err(GenomeError::FaiMissing { path: path.into(), fai: fai_path });
            }
            let fai = read_fai(&fai_path)?;
            check_size(path, &fai_path, &fai, size)?;
            return Ok(Self::indexed(path, fai_path, fai, Source::Plain(BufReader::with_capacity(1 << 16, file))));
        }
        if bgzip && fai_path.exists() && gzi_path.exists() {
            let fai = read_fai(&fai_path)?;
            let index = bgzf::gzi::fs::read(&gzi_path).map_err(|source| GenomeError::Gzi { path: gzi_path.clone(), source })?;
            let reader = bgzf::io::IndexedReader::new(file, index);
            return Ok(Self::indexed(path, fai_path, fai, Source::Bgzf(Box::new(reader))));
        }
        log::info!("{}: gzip without .fai/.gzi: reading the whole genome into memory", path.display());
        let reader = BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(BufReader::new(file)));
        Self::read_whole_from(path, reader, true)
    }

    fn indexed(path: &Path, fai_path: PathBuf, fai: Vec<FaiRecord>, source: Source) -> Self {
        let names: Vec<String> = fai.iter().map(|r| r.name.clone()).collect();
        let lengths = fai.iter().map(|r| r.length).collect();
        let by_name = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let checked = vec![false; fai.len()];
        Self { path: path.into(), names, lengths, by_name, fai, fai_path, checked, source }
    }

    /// Parse a whole FASTA stream (checked letter by letter, line-numbered errors).
    pub fn read_whole(path: &Path, reader: impl BufRead) -> Result<Self, GenomeError> {
        Self::read_whole_from(path, reader, false)
    }

    /// [`Genome::read_whole`]; `gzip` says the stream is decompressed, so that a read failure
    /// (a truncated or corrupt stream) is named as such, with the line and record it stopped in.
    fn read_whole_from(path: &Path, reader: impl BufRead, gzip: bool) -> Result<Self, GenomeError> {
        let mut names: Vec<String> = Vec::new();
        let mut seqs: Vec<Vec<u8>> = Vec::new();
        let mut first_line: HashMap<String, u64> = HashMap::new();
        let mut n = 0u64;
        for line in reader.split(b'\n') {
            n += 1;
            let mut line = line.map_err(|source| {
                let corrupt = matches!(source.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput);
                let what = if gzip && corrupt { "gzip data ends early or is corrupt" } else { "read failed" };
                let record = names.last().cloned().unwrap_or_else(|| "(before the first header)".into());
                GenomeError::ReadAt { at: Location::new(path, n), what, record, source }
            })?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(header) = line.strip_prefix(b">") {
                let header = String::from_utf8_lossy(header);
                let name = header.split_whitespace().next().unwrap_or("").to_string();
                if name.is_empty() {
                    return Err(GenomeError::EmptyName { at: Location::new(path, n) });
                }
                if let Some(&first) = first_line.get(&name) {
                    return Err(GenomeError::Duplicate { at: Location::new(path, n), name, first });
                }
                first_line.insert(name.clone(), n);
                names.push(name);
                seqs.push(Vec::new());
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let Some(seq) = seqs.last_mut() else {
                return Err(GenomeError::NoHeader { at: Location::new(path, n) });
            };
            for (col, &b) in line.iter().enumerate() {
                let up = b.to_ascii_uppercase();
                if !is_nucleotide(up) {
                    return Err(GenomeError::BadBase {
                        at: Location::new(path, n),
                        record: names.last().cloned().unwrap_or_default(),
                        position: (seq.len() + col) as u64 + 1,
                        found: b as char,
                    });
                }
            }
            seq.extend(line.iter().map(|b| b.to_ascii_uppercase()));
        }
        if names.is_empty() {
            return Err(GenomeError::Empty { path: path.into() });
        }
        let lengths = seqs.iter().map(|s| s.len() as u64).collect();
        let by_name = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        Ok(Self { path: path.into(), names, lengths, by_name, fai: Vec::new(), fai_path: PathBuf::new(), checked: Vec::new(), source: Source::Memory(seqs) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sequence names in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether bases are read by random access (an index was usable).
    pub fn is_indexed(&self) -> bool {
        !matches!(self.source, Source::Memory(_))
    }

    pub fn length(&self, name: &str) -> Option<u64> {
        self.by_name.get(name).map(|&i| self.lengths[i])
    }

    /// Bases `start..end` (0-based, half-open, inside the sequence), upper-case.
    pub fn fetch(&mut self, name: &str, start: u64, end: u64) -> Result<Vec<u8>, GenomeError> {
        let &i = self.by_name.get(name).ok_or_else(|| GenomeError::UnknownSequence { path: self.path.clone(), name: name.into() })?;
        assert!(start <= end && end <= self.lengths[i], "fetch {name}:{start}-{end} outside 0..{}", self.lengths[i]);
        if start == end {
            return Ok(Vec::new());
        }
        if let Source::Memory(seqs) = &self.source {
            return Ok(seqs[i][start as usize..end as usize].to_vec());
        }
        if !self.checked[i] {
            self.check_header(i)?;
            self.checked[i] = true;
        }
        let rec = self.fai[i].clone();
        let from = rec.byte_of(start);
        let to = rec.byte_of(end - 1) + 1;
        let mut raw = vec![0u8; (to - from) as usize];
        let path = self.path.clone();
        self.read_at(from, &mut raw)
            .expect("indexed sources only")
            .map_err(|e| self.stale_or_read(e, &rec))?;
        let mut out = Vec::with_capacity((end - start) as usize);
        let mut pos = start;
        for (k, &b) in raw.iter().enumerate() {
            let offset_in_line = (from + k as u64 - rec.offset) % rec.line_width;
            let up = b.to_ascii_uppercase();
            if offset_in_line >= rec.line_bases {
                if b != b'\n' && b != b'\r' {
                    return Err(self.stale(format!("record {} is not laid out in lines of {} bases", rec.name, rec.line_bases)));
                }
                continue;
            }
            if b == b'\n' || b == b'\r' || b == b'>' {
                return Err(self.stale(format!("record {} is not laid out in lines of {} bases", rec.name, rec.line_bases)));
            }
            if !is_nucleotide(up) {
                return Err(GenomeError::BadBaseIndexed { path, record: rec.name, position: pos + 1, found: b as char });
            }
            out.push(up);
            pos += 1;
        }
        Ok(out)
    }

    fn stale(&self, message: String) -> GenomeError {
        GenomeError::FaiStale { fai: self.fai_path.clone(), path: self.path.clone(), message }
    }

    fn stale_or_read(&self, e: io::Error, rec: &FaiRecord) -> GenomeError {
        if matches!(self.source, Source::Bgzf(_)) && matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData) {
            // Past the last block or inside a cut one: noodles-bgzf says UnexpectedEof or InvalidData.
            return GenomeError::BgzfTruncated { path: self.path.clone(), record: rec.name.clone(), source: e };
        }
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.stale(format!("record {} ends past the end of the file", rec.name))
        } else {
            GenomeError::Read { path: self.path.clone(), source: e }
        }
    }

    /// Read `buf.len()` bytes at byte `from` of an indexed file; `None` for a genome held in memory.
    fn read_at(&mut self, from: u64, buf: &mut [u8]) -> Option<io::Result<()>> {
        let r: &mut dyn ReadSeek = match &mut self.source {
            Source::Plain(r) => r,
            Source::Bgzf(r) => r.as_mut(),
            Source::Memory(_) => return None,
        };
        Some(r.seek(SeekFrom::Start(from)).and_then(|_| r.read_exact(buf)))
    }

    /// The line before a record's first base must be its `>name` header.
    fn check_header(&mut self, i: usize) -> Result<(), GenomeError> {
        let rec = self.fai[i].clone();
        let back = rec.offset.min(rec.name.len() as u64 + 4096);
        let mut raw = vec![0u8; back as usize];
        let from = rec.offset - back;
        let Some(read) = self.read_at(from, &mut raw) else { return Ok(()) };
        read.map_err(|e| self.stale_or_read(e, &rec))?;
        let ok = raw.last() == Some(&b'\n') && {
            let body = &raw[..raw.len() - 1];
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let line = &body[start..];
            (start > 0 || from == 0)
                && line.first() == Some(&b'>')
                && line[1..].starts_with(rec.name.as_bytes())
                && line.get(1 + rec.name.len()).is_none_or(|b| b.is_ascii_whitespace())
        };
        if ok { Ok(()) } else { Err(self.stale(format!("the line before offset {} is not the header `>{}`", rec.offset, rec.name))) }
    }
}

trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The uncompressed file must end where the index says its last record ends (allowing a final
/// line terminator or its absence).
fn check_size(path: &Path, fai_path: &Path, fai: &[FaiRecord], size: u64) -> Result<(), GenomeError> {
    let last = fai.iter().max_by_key(|r| r.offset).expect("non-empty index");
    let end = if last.length == 0 { last.offset } else { last.byte_of(last.length - 1) + 1 };
    let slack = last.line_width - last.line_bases;
    if size < end || size > end + slack {
        return Err(GenomeError::FaiStale {
            fai: fai_path.into(),
            path: path.into(),
            message: format!("the index puts the end of {} at byte {end}, the file has {size} bytes", last.name),
        });
    }
    Ok(())
}

/// IUPAC nucleotide letters (upper case).
pub fn is_nucleotide(b: u8) -> bool {
    matches!(b, b'A' | b'C' | b'G' | b'T' | b'N' | b'R' | b'Y' | b'K' | b'M' | b'S' | b'W' | b'B' | b'D' | b'H' | b'V')
}

/// How annotation sequence names map onto genome sequence names.
///
/// Tried in order: the `--chrom-map` entry, the name itself, `chr` added or removed, and the
/// mitochondrion (`chrM` / `MT` / `M`).
#[derive(Debug, Default, Clone)]
pub struct ChromMap {
    pub explicit: HashMap<String, String>,
}

impl ChromMap {
    /// Read a two-column TSV: annotation name, genome name (`#` comments allowed).
    pub fn read(path: &Path) -> Result<Self, GenomeError> {
        let file = File::open(path).map_err(|source| GenomeError::Open { path: path.into(), source })?;
        let mut explicit = HashMap::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|source| GenomeError::Read { path: path.into(), source })?;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split('\t').map(str::trim).collect();
            if f.len() != 2 || f[0].is_empty() || f[1].is_empty() {
                return Err(GenomeError::FaiBad { at: Location::new(path, i as u64 + 1), message: "expected two tab-separated names: annotation, genome".into() });
            }
            explicit.insert(f[0].to_string(), f[1].to_string());
        }
        Ok(Self { explicit })
    }

    /// The genome's name for an annotation sequence name, if any.
    pub fn resolve<'g>(&self, genome: &'g Genome, name: &str) -> Option<&'g str> {
        let find = |n: &str| genome.by_name.get_key_value(n).map(|(k, _)| k.as_str());
        if let Some(m) = self.explicit.get(name) {
            return find(m);
        }
        if let Some(k) = find(name) {
            return Some(k);
        }
        let bare = name.strip_prefix("chr").unwrap_or(name);
        let mut candidates = vec![bare.to_string(), format!("chr{bare}")];
        if matches!(bare, "M" | "MT") {
            candidates.extend(["chrM".to_string(), "MT".to_string(), "M".to_string(), "chrMT".to_string()]);
        }
        candidates.iter().find_map(|c| find(c))
    }
}
