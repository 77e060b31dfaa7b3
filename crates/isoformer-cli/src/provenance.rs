//! The file-system half of provenance (the records themselves: `isoformer_pipeline::provenance`):
//! files identified by sha256 or by size and modification time, sidecars `OUT.json` written
//! beside TSV outputs and read back beside inputs.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use isoformer_pipeline::input::Records;
use isoformer_pipeline::provenance::{FileId, OutputId, Provenance, ShardRecord};
use isoformer_pipeline::shard::Shard;
use sha2::{Digest, Sha256};

/// `--fast-provenance`, shared by the commands that write provenance.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ProvenanceArgs {
    /// Identify input files (model weights, genome, annotation, input) by size and modification
    /// time instead of their sha256 (reading a 3 GB genome takes seconds per run). Shards merged
    /// together must all be made one way.
    #[arg(long)]
    pub fast_provenance: bool,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file on disk by content (or size and mtime when `fast`).
pub fn file_id(path: &Path, fast: bool) -> Result<FileId> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    if fast {
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs());
        return Ok(FileId { name, size: meta.len(), sha256: None, mtime });
    }
    let mut file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("{}: cannot read", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(FileId { name, size: meta.len(), sha256: Some(hex(&hasher.finalize())), mtime: None })
}

/// A model directory's weights and config.
pub fn add_model(p: &mut Provenance, dir: &Path, fast: bool) -> Result<()> {
    for name in ["model.safetensors", "config.json"] {
        p.files.insert(name.to_string(), file_id(&dir.join(name), fast)?);
    }
    Ok(())
}

/// The genome, annotation and chromosome map a command read (`prepare`, `score-variants`).
pub fn add_genome(p: &mut Provenance, genome: &Path, annotation: &Path, chrom_map: Option<&Path>, fast: bool) -> Result<()> {
    p.files.insert("genome".into(), file_id(genome, fast)?);
    p.files.insert("annotation".into(), file_id(annotation, fast)?);
    if let Some(map) = chrom_map {
        p.files.insert("chrom_map".into(), file_id(map, fast)?);
    }
    Ok(())
}

/// The model-run options that change values (`--compute`, `--device`), as parameters.
pub fn add_run(p: &mut Provenance, run: &crate::RunArgs) {
    use crate::{ComputeArg, DeviceArg};
    p.parameters.insert("compute".into(), if run.compute == ComputeArg::Int8 { "int8" } else { "f32" }.into());
    p.parameters.insert("device".into(), if run.device == DeviceArg::Gpu { "gpu" } else { "cpu" }.into());
}

/// `OUT.json` for `OUT`.
pub fn sidecar(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".json");
    PathBuf::from(name)
}

/// The sidecar beside a file input, if it has one (standard input never has).
pub fn read_sidecar(input: &Path) -> Result<Option<Provenance>> {
    if input.as_os_str() == "-" {
        return Ok(None);
    }
    let path = sidecar(input);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(Provenance::from_json(&path.display().to_string(), &text)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Whether `input`'s sidecar says it is a shard with no rows.
pub fn is_empty_shard(input: &Path) -> Result<bool> {
    Ok(read_sidecar(input)?.is_some_and(|p| p.shard.is_some() && p.output.is_some_and(|o| o.rows == 0)))
}

/// Write `p`, with the output's identity, as `OUT.json` (atomically); nothing for standard output.
pub fn write_sidecar(output: &Path, p: &Provenance, rows: usize, sha256: String) -> Result<()> {
    match sidecar_for(output) {
        Some(path) => Ok(isoformer_io::write_output(&path, sidecar_json(p, rows, sha256).as_bytes())?),
        None => Ok(()),
    }
}

/// Where `output`'s sidecar goes: none for standard output (`-`) or an output that exists and is
/// not a regular file (a device, a FIFO, a `/proc/self/fd` link to a pipe: written in place,
/// with nothing beside it).
pub fn sidecar_for(output: &Path) -> Option<PathBuf> {
    let special = output.as_os_str() == "-" || std::fs::metadata(output).is_ok_and(|m| !m.is_file());
    (!special).then(|| sidecar(output))
}

/// The sidecar's text: `p` with the output's row count and sha256 (for a command that claims
/// the sidecar as one of its outputs, committed with the rest).
pub fn sidecar_json(p: &Provenance, rows: usize, sha256: String) -> String {
    Provenance { output: Some(OutputId { rows, sha256 }), ..p.clone() }.to_json()
}

/// A writer that hashes what passes through it and counts its lines (for streamed outputs).
pub struct Hashing<'w> {
    pub inner: &'w mut dyn Write,
    hasher: Sha256,
    pub lines: usize,
}

impl<'w> Hashing<'w> {
    pub fn new(inner: &'w mut dyn Write) -> Self {
        Self { inner, hasher: Sha256::new(), lines: 0 }
    }

    pub fn sha256(self) -> String {
        hex(&self.hasher.finalize())
    }
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what passes through it and counts the bytes (an input read once from
/// standard input, identified by its content); wrap it in a `BufReader` where lines are read.
pub struct HashingRead<R> {
    inner: R,
    hasher: Sha256,
    pub bytes: u64,
}

impl<R: Read> HashingRead<R> {
    pub fn new(inner: R) -> Self {
        Self { inner, hasher: Sha256::new(), bytes: 0 }
    }

    pub fn sha256(self) -> String {
        hex(&self.hasher.finalize())
    }
}

impl<R: Read> Read for HashingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// `predict`'s provenance, and its records cut to `--shard`: the model, the input (or the
/// provenance that came with it in INPUT.json, checked against the input's content), the
/// parameters that change values, the shard.
pub fn predict(args: &crate::PredictArgs, mut records: Records, text: Option<&[u8]>) -> Result<(Records, Provenance)> {
    let shard: Option<Shard> = args.shard.as_deref().map(str::parse).transpose()?;
    let fast = args.provenance.fast_provenance;
    let mut p = Provenance::new("predict");
    add_model(&mut p, &args.model, fast)?;
    add_run(&mut p, &args.run);
    let input = args.input.as_deref().unwrap_or(Path::new("-"));
    let upstream = if text.is_some() { read_sidecar(input)? } else { None };
    match (upstream, text) {
        (Some(up), Some(text)) => {
            let name = sidecar(input).display().to_string();
            let described = up.output.as_ref().is_some_and(|o| o.rows == records.records.len() && o.sha256 == sha256_hex(text));
            ensure!(described, "{name} does not describe {} (another run's rows or sha256): remove it, or rerun the command that wrote both", input.display());
            if let Some(s) = &up.shard {
                ensure!(shard.is_none(), "--shard: {} is already shard {} of a `{}` run ({name})", input.display(), s.shard(), up.command);
                p.shard = Some(s.clone());
            }
            p.upstream = Some(Box::new(up.run()));
        }
        (_, Some(text)) => {
            let id = if fast && input.as_os_str() != "-" { file_id(input, true)? } else { FileId { name: shown_name(input), size: text.len() as u64, sha256: Some(sha256_hex(text)), mtime: None } };
            p.files.insert("input".into(), id);
        }
        _ => {
            for (role, path) in [("dna", &args.dna), ("rna", &args.rna), ("protein", &args.protein)] {
                if let Some(path) = path.as_deref().filter(|p| p.as_os_str() != "-") {
                    p.files.insert(role.into(), file_id(path, fast)?);
                }
            }
        }
    }
    if let Some(s) = shard {
        let total = records.records.len();
        let keys: Vec<&str> = records.records.iter().map(|r| r.dna.as_str()).collect();
        let rows = isoformer_pipeline::shard::rows(&keys, s);
        p.shard = Some(ShardRecord::new(s, &rows, total));
        let mut all: Vec<Option<_>> = std::mem::take(&mut records.records).into_iter().map(Some).collect();
        records.records = rows.iter().map(|&r| all[r].take().expect("each row once")).collect();
    }
    Ok((records, p))
}

fn shown_name(path: &Path) -> String {
    path.file_name().map_or_else(|| isoformer_io::shown(path).display().to_string(), |n| n.to_string_lossy().into_owned())
}
