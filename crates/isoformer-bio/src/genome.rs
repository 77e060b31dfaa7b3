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

use isoformer_io::Compression;
use noodles_bgzf as bgzf;

use crate::Location;
use crate::fasta::{self, Alphabet, FastaError};

#[derive(Debug, thiserror::Error)]
pub enum GenomeError {
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{path}: read failed: {source}")]
    Read { path: PathBuf, source: io::Error },
    /// A whole-file read (plain gzip) failed in its FASTA.
    #[error(transparent)]
    Fasta(#[from] FastaError),
    /// A plain gzip genome whose stream ends or breaks part-way: `at` is the line being read.
    #[error("{at}: gzip data ends early or is corrupt (record {record}): {source}")]
    GzipCorrupt { at: Location, record: String, source: io::Error },
    /// A bgzip genome whose data ends (or breaks) before a record the index points into.
    #[error("{path}: bgzip data ends early or is corrupt reading record {record} (truncated file, or .fai/.gzi made for another file): {source}")]
    BgzfTruncated { path: PathBuf, record: String, source: io::Error },
    #[error("{path}: empty file (no FASTA records)")]
    Empty { path: PathBuf },
    #[error("{at}: duplicate sequence name `{name}` (first at line {first})")]
    Duplicate { at: Location, name: String, first: u64 },
    #[error("{path}: two records of sequence `{name}` (a region FASTA holds one region per sequence)")]
    RegionTwice { path: PathBuf, name: String },
    /// A letter outside [`Alphabet::Dna`] met by random access (a whole read says
    /// [`FastaError::BadLetter`], with the line).
    #[error("{path}: {found:?} is not an allowed DNA letter (record {record}, position {position})")]
    BadBase { path: PathBuf, record: String, position: u64, found: char },
    #[error("{path}: no index {fai}: uncompressed FASTA is read by random access; run `samtools faidx {path}`")]
    FaiMissing { path: PathBuf, fai: PathBuf },
    #[error("{at}: {found} fields, expected 5 (name, length, offset, linebases, linewidth)")]
    FaiFields { at: Location, found: usize },
    #[error("{at}: {what} {found:?} is not a number")]
    FaiNumber { at: Location, what: &'static str, found: String },
    #[error("{at}: linebases {line_bases} / linewidth {line_width} are inconsistent")]
    FaiLineLayout { at: Location, line_bases: u64, line_width: u64 },
    #[error("{path}: empty index")]
    FaiEmpty { path: PathBuf },
    #[error("{fai}: stale index for {path}: {reason}; rebuild it with `samtools faidx`")]
    FaiStale { fai: PathBuf, path: PathBuf, reason: StaleIndex },
    #[error("{at}: expected two tab-separated names: annotation, genome")]
    ChromMapLine { at: Location },
    #[error("{path}: .gzi index unreadable: {source}")]
    Gzi { path: PathBuf, source: io::Error },
    #[error("{path}: no sequence `{name}`")]
    UnknownSequence { path: PathBuf, name: String },
}

/// How an index was found not to fit its FASTA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaleIndex {
    #[error("the index puts the end of {record} at byte {end}, the file has {size} bytes")]
    Size { record: String, end: u64, size: u64 },
    #[error("record {record} is not laid out in lines of {line_bases} bases")]
    Layout { record: String, line_bases: u64 },
    #[error("record {record} ends past the end of the file")]
    PastEnd { record: String },
    #[error("the line before offset {offset} is not the header `>{record}`")]
    Header { record: String, offset: u64 },
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
            return Err(GenomeError::FaiFields { at: at(), found: f.len() });
        }
        let num = |k: usize, what: &'static str| -> Result<u64, GenomeError> {
            f[k].parse::<u64>().map_err(|_| GenomeError::FaiNumber { at: at(), what, found: f[k].into() })
        };
        let rec = FaiRecord { name: f[0].to_string(), length: num(1, "length")?, offset: num(2, "offset")?, line_bases: num(3, "linebases")?, line_width: num(4, "linewidth")? };
        if rec.line_bases == 0 || rec.line_width <= rec.line_bases {
            return Err(GenomeError::FaiLineLayout { at: at(), line_bases: rec.line_bases, line_width: rec.line_width });
        }
        if let Some(first) = seen.insert(rec.name.clone(), n) {
            return Err(GenomeError::Duplicate { at: at(), name: rec.name, first });
        }
        out.push(rec);
    }
    if out.is_empty() {
        return Err(GenomeError::FaiEmpty { path: path.into() });
    }
    Ok(out)
}

enum Source {
    Plain(BufReader<File>),
    Bgzf(Box<bgzf::io::IndexedReader<File>>),
    /// Whole sequences, upper-cased and checked, and for a region where it starts in its
    /// sequence (bases outside it read as N).
    Memory(Vec<Vec<u8>>, Vec<Option<u64>>),
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
        let compression = isoformer_io::sniff(&magic[..got]);
        let fai_path = with_suffix(path, ".fai");
        let gzi_path = with_suffix(path, ".gzi");
        if compression == Compression::None {
            if !fai_path.exists() {
                return Err(GenomeError::FaiMissing { path: path.into(), fai: fai_path });
            }
            let fai = read_fai(&fai_path)?;
            check_size(path, &fai_path, &fai, size)?;
            return Ok(Self::indexed(path, fai_path, fai, Source::Plain(BufReader::with_capacity(1 << 16, file))));
        }
        if compression == Compression::Bgzf && fai_path.exists() && gzi_path.exists() {
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
        let mut fasta = fasta::Reader::new(path, reader, Alphabet::Dna);
        let mut names: Vec<String> = Vec::new();
        let mut seqs: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut seq = Vec::new();
            match fasta.read_record(&mut seq) {
                Ok(Some(header)) => {
                    names.push(header.name);
                    seqs.push(seq);
                }
                Ok(None) => break,
                Err(e) => return Err(whole_read_error(e, gzip)),
            }
        }
        let lengths = seqs.iter().map(|s| s.len() as u64).collect();
        let by_name = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let starts = vec![None; seqs.len()];
        Ok(Self { path: path.into(), names, lengths, by_name, fai: Vec::new(), fai_path: PathBuf::new(), checked: Vec::new(), source: Source::Memory(seqs, starts) })
    }

    /// [`Genome::read_whole`], where a record named `NAME:START-END` (1-based, inclusive, as
    /// `samtools faidx GENOME NAME:START-END` names it) holds those bases of sequence `NAME`: the
    /// rest of `NAME` reads as N and it ends with the record (its length is START - 1 + the
    /// record's length). For the page, which takes a region of a genome rather than the genome.
    pub fn read_whole_regions(path: &Path, reader: impl BufRead) -> Result<Self, GenomeError> {
        let mut g = Self::read_whole(path, reader)?;
        let Source::Memory(seqs, starts) = &mut g.source else { unreachable!("read whole") };
        for (i, name) in g.names.iter_mut().enumerate() {
            let Some((base, range)) = name.rsplit_once(':') else { continue };
            let Some((a, b)) = range.replace(',', "").split_once('-').and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?))) else { continue };
            if a == 0 || b < a || base.is_empty() {
                continue;
            }
            starts[i] = Some(a - 1);
            g.lengths[i] = a - 1 + seqs[i].len() as u64;
            *name = base.to_string();
        }
        let mut by_name = HashMap::new();
        for (i, n) in g.names.iter().enumerate() {
            if by_name.insert(n.clone(), i).is_some() {
                return Err(GenomeError::RegionTwice { path: path.into(), name: n.clone() });
            }
        }
        g.by_name = by_name;
        Ok(g)
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
        !matches!(self.source, Source::Memory(..))
    }

    /// Whether `name` is a region of its sequence ([`Genome::read_whole_regions`]), whose
    /// length the file does not say.
    pub fn is_region(&self, name: &str) -> bool {
        let Source::Memory(_, starts) = &self.source else { return false };
        self.by_name.get(name).is_some_and(|&i| starts[i].is_some())
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
        if let Source::Memory(seqs, starts) = &self.source {
            let seq = &seqs[i];
            let Some(from) = starts[i] else { return Ok(seq[start as usize..end as usize].to_vec()) };
            return Ok((start..end).map(|p| if p < from { b'N' } else { seq[(p - from) as usize] }).collect());
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
                    return Err(self.stale(StaleIndex::Layout { record: rec.name, line_bases: rec.line_bases }));
                }
                continue;
            }
            if b == b'\n' || b == b'\r' || b == b'>' {
                return Err(self.stale(StaleIndex::Layout { record: rec.name, line_bases: rec.line_bases }));
            }
            if !is_nucleotide(up) {
                return Err(GenomeError::BadBase { path, record: rec.name, position: pos + 1, found: b as char });
            }
            out.push(up);
            pos += 1;
        }
        Ok(out)
    }

    fn stale(&self, reason: StaleIndex) -> GenomeError {
        GenomeError::FaiStale { fai: self.fai_path.clone(), path: self.path.clone(), reason }
    }

    fn stale_or_read(&self, e: io::Error, rec: &FaiRecord) -> GenomeError {
        if matches!(self.source, Source::Bgzf(_)) && matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData) {
            // Past the last block or inside a cut one: noodles-bgzf says UnexpectedEof or InvalidData.
            return GenomeError::BgzfTruncated { path: self.path.clone(), record: rec.name.clone(), source: e };
        }
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.stale(StaleIndex::PastEnd { record: rec.name.clone() })
        } else {
            GenomeError::Read { path: self.path.clone(), source: e }
        }
    }

    /// Read `buf.len()` bytes at byte `from` of an indexed file; `None` for a genome held in memory.
    fn read_at(&mut self, from: u64, buf: &mut [u8]) -> Option<io::Result<()>> {
        let r: &mut dyn ReadSeek = match &mut self.source {
            Source::Plain(r) => r,
            Source::Bgzf(r) => r.as_mut(),
            Source::Memory(..) => return None,
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
        if ok { Ok(()) } else { Err(self.stale(StaleIndex::Header { record: rec.name, offset: rec.offset })) }
    }
}

/// A genome's own words for two FASTA failures: a repeated name is a duplicate sequence name (as
/// in a `.fai`), and a decompressed stream that breaks is a truncated or corrupt gzip file.
fn whole_read_error(e: FastaError, gzip: bool) -> GenomeError {
    match e {
        FastaError::Duplicate { at, name, first } => GenomeError::Duplicate { at, name, first },
        FastaError::Read { at, record, source } if gzip && matches!(source.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput) => {
            GenomeError::GzipCorrupt { at, record, source }
        }
        e => GenomeError::Fasta(e),
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
            reason: StaleIndex::Size { record: last.name.clone(), end, size },
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
                return Err(GenomeError::ChromMapLine { at: Location::new(path, i as u64 + 1) });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn whole(text: &[u8]) -> Result<Genome, GenomeError> {
        Genome::read_whole(Path::new("g.fa"), text)
    }

    #[test]
    fn whole_read_errors_are_the_fasta_readers_with_a_genomes_words() {
        let g = whole(b">chr1 x\nacgtn\n>chr2\nRY\n").unwrap();
        assert_eq!(g.names(), ["chr1", "chr2"]);
        assert_eq!((g.length("chr1"), g.length("chr2")), (Some(5), Some(2)));
        let e = whole(b">chr1\nAC\n>chr1\nA\n").err().expect("an error");
        assert!(matches!(&e, GenomeError::Duplicate { first: 1, .. }), "{e}");
        assert_eq!(e.to_string(), "g.fa:3: duplicate sequence name `chr1` (first at line 1)");
        let e = whole(b">chr1\nACGT\nAXGT\n").err().expect("an error");
        assert!(matches!(&e, GenomeError::Fasta(FastaError::BadLetter { position: 6, found: 'X', .. })), "{e}");
        assert_eq!(e.to_string(), "g.fa:3: 'X' is not an allowed DNA letter (record chr1, position 6)");
        assert!(matches!(whole(b"ACGT\n>chr1\n"), Err(GenomeError::Fasta(FastaError::NoHeader { at })) if at.line == 1));
        assert!(matches!(whole(b">\nACGT\n"), Err(GenomeError::Fasta(FastaError::EmptyName { .. }))));
        assert!(matches!(whole(b"\n"), Err(GenomeError::Fasta(FastaError::Empty { .. }))));
    }

    fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("isoformer-bio-genome-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_region_fasta_stands_for_its_region_of_the_sequence() {
        let mut g = Genome::read_whole_regions(Path::new("r.fa"), &b">chr2:11-15\nacgtA\n>chrM\nGG\n"[..]).unwrap();
        assert_eq!(g.names(), ["chr2", "chrM"]);
        assert_eq!((g.length("chr2"), g.length("chrM")), (Some(15), Some(2)));
        assert_eq!(g.fetch("chr2", 8, 15).unwrap(), b"NNACGTA");
        assert_eq!(g.fetch("chr2", 10, 12).unwrap(), b"AC");
        let e = Genome::read_whole_regions(Path::new("r.fa"), &b">chr2:1-2\nAC\n>chr2:5-6\nGT\n"[..]).err().expect("two regions");
        assert_eq!(e.to_string(), "r.fa: two records of sequence `chr2` (a region FASTA holds one region per sequence)");
    }

    #[test]
    fn truncated_plain_gzip_names_line_and_record() {
        let mut text = b">chr1\n".to_vec();
        for i in 0..2000u32 {
            text.extend_from_slice(&b"ACGTTGCAAC"[..(i % 7 + 3) as usize]);
            text.push(b'\n');
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let path = scratch("cut.fa.gz", &gz[..gz.len() / 2]);
        let e = Genome::open(&path).err().expect("a cut gzip file");
        assert!(matches!(&e, GenomeError::GzipCorrupt { record, at, .. } if record == "chr1" && at.line > 1), "{e}");
        assert!(e.to_string().contains("gzip data ends early or is corrupt (record chr1)"), "{e}");
    }

    #[test]
    fn index_errors_each_have_their_variant() {
        let fai = |name: &str, text: &str| read_fai(&scratch(name, text.as_bytes()));
        assert!(matches!(fai("a.fai", "chr1\t300\t6\t10\n"), Err(GenomeError::FaiFields { found: 4, .. })));
        let e = fai("b.fai", "chr1\t3x0\t6\t10\t11\n").unwrap_err();
        assert!(matches!(&e, GenomeError::FaiNumber { what: "length", .. }), "{e}");
        assert!(e.to_string().ends_with("b.fai:1: length \"3x0\" is not a number"), "{e}");
        assert!(matches!(fai("c.fai", "chr1\t300\t6\t10\t10\n"), Err(GenomeError::FaiLineLayout { line_bases: 10, line_width: 10, .. })));
        assert!(matches!(fai("d.fai", "\n"), Err(GenomeError::FaiEmpty { .. })));
        assert!(matches!(fai("e.fai", "chr1\t3\t6\t10\t11\nchr1\t3\t16\t10\t11\n"), Err(GenomeError::Duplicate { first: 1, .. })));
        let map = scratch("map.tsv", b"# annotation genome\n1\tchr1\nchr2\n");
        assert!(matches!(ChromMap::read(&map), Err(GenomeError::ChromMapLine { at }) if at.line == 3));
    }

    #[test]
    fn stale_indexes_say_how() {
        let fa = scratch("s.fa", b">chr1\nACGTACGTAC\nACG\n");
        let open = |fai: &str| {
            std::fs::write(with_suffix(&fa, ".fai"), fai).unwrap();
            Genome::open(&fa)
        };
        assert!(matches!(open("chr1\t11\t6\t10\t11\n"), Err(GenomeError::FaiStale { reason: StaleIndex::Size { .. }, .. })));
        let mut g = open("chr1\t13\t6\t5\t6\n").unwrap();
        assert!(matches!(g.fetch("chr1", 0, 8), Err(GenomeError::FaiStale { reason: StaleIndex::Layout { line_bases: 5, .. }, .. })));
        let mut g = open("chr1\t13\t7\t10\t11\n").unwrap();
        let e = g.fetch("chr1", 0, 2).unwrap_err();
        assert!(matches!(&e, GenomeError::FaiStale { reason: StaleIndex::Header { offset: 7, .. }, .. }), "{e}");
        assert!(e.to_string().contains("stale index for") && e.to_string().ends_with("rebuild it with `samtools faidx`"), "{e}");
    }
}
