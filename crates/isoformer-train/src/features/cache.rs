//! The on-disk embedding cache for frozen encoders.
//!
//! One file per (what, encoder weights, input): the name is the SHA-256 of a kind tag, the hash
//! of the frozen parameters that produce it ([`params_hash`]) and the exact model input (one-hot
//! DNA as f32 bytes, token ids as u32), so a cache is shared between runs and epochs and can
//! never serve embeddings of other weights or another sequence. File: `ISOEMB2\0`, rank (u32),
//! dims (u64 each), then f32 values, all little-endian, then the SHA-256 of everything before it;
//! written to a temporary name and renamed. An entry whose checksum does not match (flipped bits,
//! a truncated copy, the checksum-less `ISOEMB1` format) is recomputed with a warning.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"ISOEMB2\0";
/// No embedding has more dimensions than this; a larger rank is damage.
const MAX_RANK: usize = 8;

/// SHA-256 of every float parameter of `module` (visiting order, shapes and f32 bytes).
pub fn params_hash<M: Module>(module: &M, hasher: &mut Sha256) {
    struct V<'a>(&'a mut Sha256);
    impl ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            for d in value.dims() {
                self.0.update((d as u64).to_le_bytes());
            }
            self.0.update(value.into_data().convert::<f32>().as_bytes());
        }
    }
    module.visit(&mut V(hasher));
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A directory of cached embeddings; `None` computes every time.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: Option<PathBuf>,
    pub hits: u64,
    pub misses: u64,
}

impl Cache {
    pub fn new(dir: Option<PathBuf>) -> std::io::Result<Self> {
        if let Some(d) = &dir {
            std::fs::create_dir_all(d)?;
        }
        Ok(Self { dir, hits: 0, misses: 0 })
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The cached `(shape, values)` for `key`, or `compute()`'s, stored for next time.
    pub fn get_or(
        &mut self,
        key: &[u8; 32],
        compute: impl FnOnce() -> (Vec<usize>, Vec<f32>),
    ) -> std::io::Result<(Vec<usize>, Vec<f32>)> {
        let Some(dir) = &self.dir else {
            self.misses += 1;
            return Ok(compute());
        };
        let name = hex(key);
        let path = dir.join(&name[..2]).join(&name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                if let Some(v) = decode(&bytes) {
                    self.hits += 1;
                    return Ok(v);
                }
                log::warn!("{}: damaged cache entry, recomputing", path.display());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
        self.misses += 1;
        let (shape, values) = compute();
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        let mut buf = Vec::with_capacity(16 + 8 * shape.len() + 4 * values.len());
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for d in &shape {
            buf.extend_from_slice(&(*d as u64).to_le_bytes());
        }
        for v in &values {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        let checksum: [u8; 32] = Sha256::digest(&buf).into();
        buf.extend_from_slice(&checksum);
        isoformer_io::write_output(&path, &buf).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok((shape, values))
    }
}

fn decode(bytes: &[u8]) -> Option<(Vec<usize>, Vec<f32>)> {
    let (body, checksum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if Sha256::digest(body).as_slice() != checksum {
        return None;
    }
    let rest = body.strip_prefix(MAGIC.as_slice())?;
    let rank = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    if rank > MAX_RANK {
        return None;
    }
    let mut shape = Vec::with_capacity(rank);
    let mut at = 4;
    for _ in 0..rank {
        shape.push(u64::from_le_bytes(rest.get(at..at + 8)?.try_into().ok()?) as usize);
        at += 8;
    }
    let data = rest.get(at..)?;
    let n = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    if Some(data.len()) != n.checked_mul(4) {
        return None;
    }
    Some((shape, data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()))
}

/// The key of one cached item.
pub fn key(kind: &str, params: &[u8; 32], input: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((kind.len() as u64).to_le_bytes());
    h.update(kind.as_bytes());
    h.update(params);
    h.update(input);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_then_serves_and_survives_damage() {
        let dir = std::env::temp_dir().join(format!("isoformer-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut c = Cache::new(Some(dir.clone())).unwrap();
        let k = key("dna", &[1; 32], b"ACGT");
        let v = c.get_or(&k, || (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5])).unwrap();
        let w = c.get_or(&k, || panic!("must come from disk")).unwrap();
        assert_eq!(v, w);
        assert_eq!((c.hits, c.misses), (1, 1));
        // another input, other weights: other keys
        assert_ne!(k, key("dna", &[1; 32], b"ACGA"));
        assert_ne!(k, key("dna", &[2; 32], b"ACGT"));
        assert_ne!(k, key("rna", &[1; 32], b"ACGT"));
        // a truncated file is recomputed
        let name = hex(&k);
        let path = dir.join(&name[..2]).join(&name);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let again = c.get_or(&k, || (vec![1], vec![9.0])).unwrap();
        assert_eq!(again, (vec![1], vec![9.0]));
        // one flipped bit in a value (still a finite number): recomputed, not served
        let mut bytes = std::fs::read(&path).unwrap();
        let value_at = 8 + 4 + 8;
        bytes[value_at] ^= 0x01;
        assert!(f32::from_le_bytes(bytes[value_at..value_at + 4].try_into().unwrap()).is_finite());
        std::fs::write(&path, &bytes).unwrap();
        let recomputed = c.get_or(&k, || (vec![1], vec![7.0])).unwrap();
        assert_eq!(recomputed, (vec![1], vec![7.0]));
        // a rank of 4 billion is damage, not an allocation
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(c.get_or(&k, || (vec![1], vec![8.0])).unwrap(), (vec![1], vec![8.0]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
