//! Opening a checkpoint without running anything: PyTorch ZIP (torch ≥ 1.6), PyTorch legacy
//! stream (torch < 1.6) and safetensors, with tensors read one at a time.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use pytorch_reader::PytorchReader;
use safetensors::Dtype;

use crate::error::{CheckpointError, ErrorKind};
use crate::globals::{self, ScanError};
use crate::safetensors_header::{dtype_bytes, parse_safetensors_header};

/// Largest pickle we scan before opening (the official checkpoint's `data.pkl` is ~1 MB).
pub(crate) const MAX_PICKLE: u64 = 100 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `torch.save` since PyTorch 1.6: a ZIP with `data.pkl` and `data/<storage>` entries.
    TorchZip,
    /// `torch.save(..., _use_new_zipfile_serialization=False)`: a stream of pickles.
    TorchLegacy,
    Safetensors,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::TorchZip => "PyTorch ZIP checkpoint (torch >= 1.6)",
            Format::TorchLegacy => "PyTorch legacy checkpoint (torch < 1.6)",
            Format::Safetensors => "safetensors",
        })
    }
}

/// One tensor's name, type and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
}

impl Entry {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn byte_len(&self) -> usize {
        self.numel() * dtype_bytes(self.dtype)
    }
}

enum Backend {
    Torch(PytorchReader),
    Safetensors { data_start: u64, offsets: HashMap<String, (u64, u64)> },
}

/// An opened checkpoint: entries sorted by name, values read on demand.
pub struct Checkpoint {
    pub path: PathBuf,
    pub format: Format,
    pub entries: Vec<Entry>,
    /// Python globals the pickle references (all on the allow-list); empty for safetensors.
    pub globals: Vec<(String, String)>,
    backend: Backend,
}

/// The pickle magic number of the legacy format, as pickled by torch (LONG1, 10 bytes).
const LEGACY_MAGIC: [u8; 14] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

impl Checkpoint {
    pub fn open(path: &Path) -> Result<Self, CheckpointError> {
        let mut f = File::open(path).map_err(|e| ErrorKind::Open(e).at(path))?;
        let size = f.metadata().map_err(|e| ErrorKind::Read(e).at(path))?.len();
        let mut head = [0u8; 16];
        let n = read_up_to(&mut f, &mut head).map_err(|e| ErrorKind::Read(e).at(path))?;
        let head = &head[..n];
        if n == 0 {
            return Err(ErrorKind::Empty.at(path));
        }
        if head.starts_with(b"PK\x03\x04") {
            let globals = scan_zip(path)?;
            Self::torch(path, Format::TorchZip, globals)
        } else if head.starts_with(&LEGACY_MAGIC) {
            let globals = scan_legacy(path, &mut f, size)?;
            Self::torch(path, Format::TorchLegacy, globals)
        } else if n >= 9 && head[8] == b'{' {
            Self::safetensors(path, &mut f, size)
        } else if head.first() == Some(&0x80) {
            Err(refuse_bare_pickle(path, &mut f))
        } else {
            Err(ErrorKind::UnknownFormat(head[..n.min(8)].to_vec()).at(path))
        }
    }

    fn torch(path: &Path, format: Format, globals: Vec<(String, String)>) -> Result<Self, CheckpointError> {
        let reader = PytorchReader::new(path).map_err(|e| ErrorKind::Torch(e).at(path))?;
        let mut entries: Vec<Entry> = reader
            .tensors()
            .iter()
            .map(|(name, t)| Entry { name: name.clone(), dtype: safetensors_dtype(t.dtype()), shape: t.shape().to_vec() })
            .collect();
        if entries.is_empty() {
            return Err(ErrorKind::NoTensors.at(path));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { path: path.to_path_buf(), format, entries, globals, backend: Backend::Torch(reader) })
    }

    fn safetensors(path: &Path, f: &mut File, size: u64) -> Result<Self, CheckpointError> {
        f.seek(SeekFrom::Start(0)).map_err(|e| ErrorKind::Read(e).at(path))?;
        let header = parse_safetensors_header(f, size).map_err(|e| ErrorKind::Header(e).at(path))?;
        let mut entries = Vec::new();
        let mut offsets = HashMap::new();
        for (name, dtype, shape, (b, e)) in header.tensors {
            entries.push(Entry { name: name.clone(), dtype, shape });
            offsets.insert(name, (b, e));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            path: path.to_path_buf(),
            format: Format::Safetensors,
            entries,
            globals: Vec::new(),
            backend: Backend::Safetensors { data_start: header.data_start, offsets },
        })
    }

    /// The raw little-endian bytes of one tensor, row-major.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, CheckpointError> {
        let missing = || ErrorKind::NoTensor(name.to_string()).at(&self.path);
        let failed = |source| ErrorKind::ReadTensor { name: name.to_string(), source }.at(&self.path);
        match &self.backend {
            Backend::Torch(r) => r.get(name).ok_or_else(missing)?.read().map_err(failed),
            Backend::Safetensors { data_start, offsets } => {
                let (b, e) = *offsets.get(name).ok_or_else(missing)?;
                let mut f = File::open(&self.path).map_err(|e| ErrorKind::Open(e).at(&self.path))?;
                f.seek(SeekFrom::Start(data_start + b)).map_err(failed)?;
                let mut buf = vec![0u8; (e - b) as usize];
                f.read_exact(&mut buf).map_err(failed)?;
                Ok(buf)
            }
        }
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.binary_search_by(|e| e.name.as_str().cmp(name)).ok().map(|i| &self.entries[i])
    }
}

fn safetensors_dtype(d: pytorch_reader::DType) -> Dtype {
    use pytorch_reader::DType;
    match d {
        DType::F64 => Dtype::F64,
        DType::F32 => Dtype::F32,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::I64 => Dtype::I64,
        DType::I32 => Dtype::I32,
        DType::I16 => Dtype::I16,
        DType::I8 => Dtype::I8,
        DType::U64 => Dtype::U64,
        DType::U32 => Dtype::U32,
        DType::U16 => Dtype::U16,
        DType::U8 => Dtype::U8,
        DType::Bool => Dtype::BOOL,
    }
}

/// A pickle that is not a checkpoint: still scanned first, so that a hostile one is reported
/// as such rather than as merely not a checkpoint.
fn refuse_bare_pickle(path: &Path, f: &mut File) -> CheckpointError {
    let mut bytes = Vec::new();
    if let Err(e) = f.seek(SeekFrom::Start(0)).and_then(|_| f.by_ref().take(MAX_PICKLE).read_to_end(&mut bytes)) {
        return ErrorKind::Read(e).at(path);
    }
    match globals::scan(&bytes) {
        Err(e) => scan_error(path, "pickle", e),
        Ok(_) => ErrorKind::BarePickle.at(path),
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn scan_error(path: &Path, part: &str, scan: ScanError) -> CheckpointError {
    ErrorKind::Pickle { part: part.to_string(), scan }.at(path)
}

/// Find `data.pkl` in the ZIP and check its globals.
fn scan_zip(path: &Path) -> Result<Vec<(String, String)>, CheckpointError> {
    let f = File::open(path).map_err(|e| ErrorKind::Open(e).at(path))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| ErrorKind::Zip(e).at(path))?;
    let pkl: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
        .collect();
    let name = match pkl.as_slice() {
        [one] => one.clone(),
        [] => return Err(ErrorKind::NoPickle.at(path)),
        _ => return Err(ErrorKind::SeveralPickles(pkl).at(path)),
    };
    let mut entry = zip.by_name(&name).map_err(|source| ErrorKind::ZipEntry { name: name.clone(), source }.at(path))?;
    if entry.size() > MAX_PICKLE {
        return Err(ErrorKind::PickleTooLarge { declared: entry.size(), name }.at(path));
    }
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    if let Err(source) = entry.by_ref().take(MAX_PICKLE).read_to_end(&mut bytes) {
        return Err(ErrorKind::ReadPickle { name, source }.at(path));
    }
    let (globals, _) = globals::scan(&bytes).map_err(|e| scan_error(path, &name, e))?;
    Ok(globals)
}

/// The legacy stream is five pickles (magic, protocol, system info, the object, storage keys)
/// followed by raw storages: check every pickle's globals.
fn scan_legacy(path: &Path, f: &mut File, size: u64) -> Result<Vec<(String, String)>, CheckpointError> {
    let mut bytes = Vec::new();
    f.seek(SeekFrom::Start(0)).map_err(|e| ErrorKind::Read(e).at(path))?;
    f.take(MAX_PICKLE.min(size)).read_to_end(&mut bytes).map_err(|e| ErrorKind::Read(e).at(path))?;
    let mut at = 0;
    let mut all = Vec::new();
    for part in ["magic number", "protocol version", "system info", "saved object", "storage keys"] {
        let (globals, used) = globals::scan(&bytes[at..]).map_err(|e| scan_error(path, &format!("{part} pickle"), e))?;
        at += used;
        all.extend(globals);
    }
    Ok(all)
}
