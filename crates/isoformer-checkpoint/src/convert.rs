//! Checkpoint → `model.safetensors`, one tensor at a time, atomically, with a manifest.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use isoformer_io::{OutputId, Outputs};
use isoformer_model::IsoformerConfig;
use isoformer_model::enformer::TRUNK_ALIASES;
use sha2::{Digest, Sha256};

use crate::checkpoint::{Checkpoint, Entry};
use crate::error::{CheckpointError, ErrorKind};
use crate::inspect::{ShapeSource, module_counts};

/// What a conversion did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Manifest {
    pub source: FileRecord,
    pub output: FileRecord,
    pub format: String,
    pub tensors: usize,
    /// `_trunk.*` copies dropped after checking they equal their canonical tensors.
    pub dropped_aliases: usize,
    /// Parameters (elements) per module, by the parts the model loader finds.
    pub parameters: BTreeMap<String, usize>,
    pub total_parameters: usize,
    pub converter: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FileRecord {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `(alias name, canonical name)` for every `_trunk.*` copy whose canonical tensor exists.
pub fn trunk_aliases(entries: &[Entry]) -> Vec<(String, String)> {
    let names: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let mut out = Vec::new();
    for e in entries {
        for (canonical, alias) in TRUNK_ALIASES {
            if let Some(i) = e.name.find(alias).filter(|&i| i == 0 || e.name[..i].ends_with('.')) {
                let c = format!("{}{canonical}{}", &e.name[..i], &e.name[i + alias.len()..]);
                if names.contains(c.as_str()) {
                    out.push((e.name.clone(), c));
                }
            }
        }
    }
    out
}

/// Convert `ckpt` into a safetensors file at `output`; `config` (if any) is checked against
/// the tensors first. Writes `output` and `manifest` (if given) via temporary files renamed at
/// the end: on any error nothing is left behind.
pub fn convert(
    ckpt: &Checkpoint,
    output: &Path,
    manifest: Option<&Path>,
    config: Option<(&Path, &IsoformerConfig)>,
    progress: impl FnMut(u64, u64),
) -> Result<Manifest, CheckpointError> {
    let aliases = trunk_aliases(&ckpt.entries);
    let dropped: HashSet<&str> = aliases.iter().map(|(a, _)| a.as_str()).collect();
    let kept: Vec<&Entry> = ckpt.entries.iter().filter(|e| !dropped.contains(e.name.as_str())).collect();

    // Check the geometry before writing anything.
    let shapes = ShapeSource::new(&ckpt.entries);
    let parameters = module_counts(&shapes, config.map(|c| c.1), &kept);
    if let Some((cfg_path, cfg)) = config {
        isoformer_model::Isoformer::check(cfg, &shapes, &burn::tensor::Device::flex()).map_err(|problems| {
            ErrorKind::ConfigMismatch { config: cfg_path.to_path_buf(), problems }.at(&ckpt.path)
        })?;
    }

    let json = header_json(&kept).map_err(|e| ErrorKind::Json(e).at(output))?;
    let out_dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(out_dir).map_err(|e| ErrorKind::Create(e).at(out_dir))?;
    // Both outputs are claimed together (neither may be the other, nor the checkpoint or the
    // config read) and moved into place together.
    let mut outputs = Outputs::new();
    outputs.input(&ckpt.path).map_err(|e| ErrorKind::Output(e).at(output))?;
    if let Some((cfg_path, _)) = config {
        outputs.input(cfg_path).map_err(|e| ErrorKind::Output(e).at(output))?;
    }
    let out = outputs.file(output).map_err(|e| ErrorKind::Output(e).at(output))?;
    let manifest_id = manifest.map(|m| outputs.file(m).map(|id| (id, m)).map_err(|e| ErrorKind::Output(e).at(m))).transpose()?;
    let (written, output_sha) = write_tensors(ckpt, &kept, &json, (outputs.writer(out), output), progress)?;
    check_aliases(ckpt, &aliases)?;

    let source_bytes = std::fs::metadata(&ckpt.path).map(|m| m.len()).unwrap_or(0);
    let manifest_value = Manifest {
        source: FileRecord { path: ckpt.path.display().to_string(), bytes: source_bytes, sha256: sha256_file(&ckpt.path)? },
        output: FileRecord { path: output.display().to_string(), bytes: written, sha256: output_sha },
        format: ckpt.format.to_string(),
        tensors: kept.len(),
        dropped_aliases: aliases.len(),
        total_parameters: parameters.values().sum(),
        parameters,
        converter: format!("isoformer {}", env!("CARGO_PKG_VERSION")),
    };
    // Both files are complete before either is moved into place.
    if let Some((id, m)) = manifest_id {
        write_manifest(&manifest_value, &mut outputs, id, m)?;
    }
    outputs.commit().map_err(|e| ErrorKind::Output(e).at(output))?;
    Ok(manifest_value)
}

/// The safetensors header: the kept tensors in name order, contiguous, padded so that the data
/// starts at a multiple of 8 bytes.
fn header_json(kept: &[&Entry]) -> Result<Vec<u8>, serde_json::Error> {
    let mut header = serde_json::Map::new();
    let mut meta = serde_json::Map::new();
    meta.insert("format".into(), "pt".into());
    meta.insert("converted_by".into(), format!("isoformer {}", env!("CARGO_PKG_VERSION")).into());
    header.insert("__metadata__".into(), serde_json::Value::Object(meta));
    let mut offset = 0usize;
    for e in kept {
        let n = e.byte_len();
        header.insert(
            e.name.clone(),
            serde_json::json!({ "dtype": e.dtype, "shape": e.shape, "data_offsets": [offset, offset + n] }),
        );
        offset += n;
    }
    let mut json = serde_json::to_vec(&serde_json::Value::Object(header))?;
    while (8 + json.len()) % 8 != 0 {
        json.push(b' ');
    }
    Ok(json)
}

/// Write the header and then each kept tensor to `w` (the output's temporary file); errors name
/// `output`, the file the user asked for. Returns the bytes written and their sha256.
fn write_tensors(
    ckpt: &Checkpoint,
    kept: &[&Entry],
    json: &[u8],
    (w, output): (&mut dyn Write, &Path),
    mut progress: impl FnMut(u64, u64),
) -> Result<(u64, String), CheckpointError> {
    let mut hasher = Sha256::new();
    let mut put = |bytes: &[u8]| {
        hasher.update(bytes);
        w.write_all(bytes).map_err(|e| ErrorKind::Write(e).at(output))
    };
    put(&(json.len() as u64).to_le_bytes())?;
    put(json)?;
    let total: u64 = kept.iter().map(|e| e.byte_len() as u64).sum();
    let mut done = 0u64;
    for e in kept {
        let bytes = ckpt.read(&e.name)?;
        if bytes.len() != e.byte_len() {
            let kind = ErrorKind::TensorSize { name: e.name.clone(), got: bytes.len(), dtype: e.dtype, shape: e.shape.clone() };
            return Err(kind.at(&ckpt.path));
        }
        put(&bytes)?;
        done += bytes.len() as u64;
        progress(done, total);
    }
    Ok((8 + json.len() as u64 + done, hex(&hasher.finalize())))
}

/// Aliases must equal what they alias: read and compare, one pair at a time.
fn check_aliases(ckpt: &Checkpoint, aliases: &[(String, String)]) -> Result<(), CheckpointError> {
    for (alias, canonical) in aliases {
        if ckpt.read(alias)? != ckpt.read(canonical)? {
            return Err(ErrorKind::AliasDiffers { alias: alias.clone(), canonical: canonical.clone() }.at(&ckpt.path));
        }
    }
    Ok(())
}

/// `manifest` written to its temporary file, to be moved into place with the output.
fn write_manifest(manifest: &Manifest, outputs: &mut Outputs, id: OutputId, dest: &Path) -> Result<(), CheckpointError> {
    let text = serde_json::to_string_pretty(manifest).map_err(|e| ErrorKind::Json(e).at(dest))? + "\n";
    outputs.write_all(id, text.as_bytes()).map_err(|e| ErrorKind::Output(e).at(dest))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, CheckpointError> {
    let mut f = File::open(path).map_err(|e| ErrorKind::Open(e).at(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| ErrorKind::Read(e).at(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}
