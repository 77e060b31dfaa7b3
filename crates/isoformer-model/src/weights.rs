//! Weight sources and the loader that builds modules from PyTorch-named tensors.
//!
//! Modules are built straight from a [`TensorSource`] by name and expected shape: the loader
//! records every missing or mis-shaped tensor instead of stopping at the first, so one error lists
//! all of them. PyTorch `Linear` weights are `[out, in]`; burn's are `[in, out]` (transposed
//! here, once, at load).

use std::collections::BTreeSet;

use crate::quant;
use crate::safetensors_header::{HeaderError, SafetensorsHeader, parse_safetensors_header};

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};

/// Where parameter values come from.
pub trait TensorSource {
    /// Names of every tensor the source holds.
    fn names(&self) -> Vec<String>;
    /// The tensor's shape, if the source has it.
    fn shape(&self, name: &str) -> Option<Vec<usize>>;
    /// The tensor's values as f32, row-major. `shape` is the shape the loader expects; sources
    /// that generate values (tests) use it, file-backed sources check it was already matched.
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ValuesError>;
}

/// Why a source could not give a tensor's values (the loader records it against the name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValuesError {
    #[error("no tensor of that name")]
    Absent,
    #[error(transparent)]
    Dtype(#[from] DtypeError),
    /// The source holds names and shapes only (checking a checkpoint without reading it).
    #[error("values are not read when checking shapes")]
    ShapesOnly,
    /// A source that records requests was asked for the same name twice.
    #[error("requested twice")]
    Repeated,
    #[error(transparent)]
    Quantized(#[from] quant::DequantizeError),
    #[error("cannot read its bytes: {0}")]
    Read(String),
    #[error("element {index} is {value}: weights must be finite")]
    NonFinite { index: usize, value: f32 },
}

/// `values`, or where the first non-finite one is.
fn finite(values: Vec<f32>) -> Result<Vec<f32>, ValuesError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ValuesError::NonFinite { index, value: values[index] }),
        None => Ok(values),
    }
}

/// Tensor bytes of a type that is not a floating-point parameter type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("dtype {dtype:?} is not a floating-point parameter type")]
pub struct DtypeError {
    pub dtype: safetensors::Dtype,
}

/// Random access to the bytes of a weights file: held in memory, a file on disk, or a file the
/// browser's File API reads in slices. The loader reads one tensor at a time through it, so a
/// model never needs its file and its tensors in memory at once.
pub trait ReadAt {
    /// The file's length in bytes.
    fn size(&self) -> u64;
    /// `len` bytes from `offset` (within `size`); the error says why, in words.
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, String>;
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        let start = usize::try_from(offset).map_err(|_| format!("offset {offset} past the end"))?;
        self.get(start..start.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("bytes {start}..{} past the end ({} bytes)", start.saturating_add(len), self.len()))
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> u64 {
        self.as_slice().size()
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        self.as_slice().read_at(offset, len)
    }
}

/// `read_at` as a `std::io::Read` from offset 0 (the header parser reads through it).
struct Cursor<'r, R: ReadAt + ?Sized> {
    data: &'r R,
    pos: u64,
}

impl<R: ReadAt + ?Sized> std::io::Read for Cursor<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.data.size().saturating_sub(self.pos)) as usize;
        let bytes = self.data.read_at(self.pos, n).map_err(std::io::Error::other)?;
        buf[..n].copy_from_slice(&bytes);
        self.pos += n as u64;
        Ok(n)
    }
}

/// A `model.safetensors` read tensor by tensor through [`ReadAt`] (the caller supplies the
/// bytes or the reader: this crate does no I/O). The header is parsed and validated once
/// ([`crate::safetensors_header`]); int8 and int4 parameters are read back as f32 ([`quant`]).
pub struct SafetensorsSource<'a, R: ReadAt + ?Sized = [u8]> {
    data: &'a R,
    header: SafetensorsHeader,
    index: std::collections::HashMap<String, usize>,
    /// The own shapes of int4 parameters (`NAME.qshape`), checked when the file opens.
    int4_shapes: std::collections::HashMap<String, Vec<usize>>,
}

impl<'a, R: ReadAt + ?Sized> SafetensorsSource<'a, R> {
    /// Parse and check the header (and the shape records of int4 parameters).
    pub fn new(data: &'a R) -> Result<Self, HeaderError> {
        let header = parse_safetensors_header(&mut Cursor { data, pos: 0 }, data.size())?;
        let index = header.tensors.iter().enumerate().map(|(i, t)| (t.0.clone(), i)).collect();
        let mut source = Self { data, header, index, int4_shapes: Default::default() };
        let packed: Vec<(String, Vec<usize>)> =
            source.stored().filter(|t| t.1 == safetensors::Dtype::U8 && !quant::is_companion(t.0)).map(|t| (t.0.to_string(), t.2.to_vec())).collect();
        for (name, shape) in packed {
            let qshape = source.raw(&format!("{name}{}", quant::SHAPE_SUFFIX)).ok();
            let own = quant::int4_shape(&name, &shape, qshape).map_err(|e| HeaderError::Quantized { name: name.clone(), detail: e.to_string() })?;
            source.int4_shapes.insert(name, own);
        }
        Ok(source)
    }

    /// A tensor's dtype, shape and bytes as stored.
    pub fn raw(&self, name: &str) -> Result<(safetensors::Dtype, Vec<usize>, Vec<u8>), ValuesError> {
        let (_, dtype, shape, (begin, end)) = self.header.tensors.get(*self.index.get(name).ok_or(ValuesError::Absent)?).ok_or(ValuesError::Absent)?;
        let bytes = self.data.read_at(self.header.data_start + begin, (end - begin) as usize).map_err(ValuesError::Read)?;
        Ok((*dtype, shape.clone(), bytes))
    }

    /// Every tensor as stored: name, dtype, shape (file order).
    pub fn stored(&self) -> impl Iterator<Item = (&str, safetensors::Dtype, &[usize])> {
        self.header.tensors.iter().map(|t| (t.0.as_str(), t.1, t.2.as_slice()))
    }
}

impl<R: ReadAt + ?Sized> TensorSource for SafetensorsSource<'_, R> {
    /// Parameter names; the scale and shape tensors of quantized parameters (`NAME.qscale`,
    /// `NAME.qshape`) are part of their parameter, not names of their own.
    fn names(&self) -> Vec<String> {
        self.stored().map(|t| t.0).filter(|n| !quant::is_companion(n)).map(str::to_string).collect()
    }

    /// The parameter's shape (for an int4 parameter, the one its `NAME.qshape` records).
    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.int4_shapes.get(name).cloned().or_else(|| self.header.tensors.get(*self.index.get(name)?).map(|t| t.2.clone()))
    }

    /// f32 values; int8 and int4 parameters are dequantized with their scales ([`quant`]).
    fn values(&self, name: &str, _shape: &[usize]) -> Result<Vec<f32>, ValuesError> {
        let (dtype, shape, bytes) = self.raw(name)?;
        let values = match dtype {
            safetensors::Dtype::I8 | safetensors::Dtype::U8 => {
                let scale = self.raw(&format!("{name}{}", quant::SCALE_SUFFIX)).ok();
                quant::dequantize(name, dtype, &shape, &bytes, scale, self.int4_shapes.get(name).map(Vec::as_slice))?
            }
            _ => to_f32(dtype, &bytes)?,
        };
        finite(values)
    }
}

/// Decode little-endian tensor bytes to f32.
pub fn to_f32(dtype: safetensors::Dtype, bytes: &[u8]) -> Result<Vec<f32>, DtypeError> {
    use safetensors::Dtype;
    let chunks = |n: usize| bytes.chunks_exact(n);
    Ok(match dtype {
        Dtype::F32 => chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F64 => chunks(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        Dtype::F16 => chunks(2).map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect(),
        Dtype::BF16 => chunks(2).map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16)).collect(),
        other => return Err(DtypeError { dtype: other }),
    })
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // subnormal: normalise
            let mut e = 127 - 15 + 1;
            let mut f = f;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// Parameters generated from their names, reproducible from Python (tools/make_fixtures.py,
/// `seeded_values`): seed = FNV-1a 64 of the name; `u_i = (splitmix64(seed + i) >> 11)·2^-53`;
/// rank ≥ 2: `(2u−1)·sqrt(3/fan_in)`; names ending `running_var`: `0.5+u`; other names ending
/// `weight`: `1+0.2(2u−1)`; the rest `0.2(2u−1)`. Computed in f64, rounded to f32.
///
/// Used for models with random weights (benchmarks, parameter counts, official-width parity
/// blocks whose weights are too large to commit). `names()` is empty: it holds every name.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeededSource;

pub fn fnv1a64(name: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A deterministic pseudo-random sequence of `n` letters over `alphabet` (a 64-bit LCG): the
/// DNA, RNA and protein inputs of the seeded benchmarks, examples and long-input tests.
pub fn seeded_sequence(n: usize, alphabet: &[u8], seed: u64) -> String {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            alphabet[((x >> 33) % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

/// The values [`SeededSource`] gives parameter `name` of `shape`.
pub fn seeded_values(name: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let seed = fnv1a64(name);
    let fan_in = if shape.len() >= 2 { n / shape[0] } else { 1 };
    let scale = (3.0 / fan_in as f64).sqrt();
    (0..n)
        .map(|i| {
            let u = (splitmix64(seed.wrapping_add(i as u64)) >> 11) as f64 * 2f64.powi(-53);
            let s = 2.0 * u - 1.0;
            let v = if shape.len() >= 2 {
                s * scale
            } else if name.ends_with("running_var") {
                0.5 + u
            } else if name.ends_with("weight") {
                1.0 + 0.2 * s
            } else {
                0.2 * s
            };
            v as f32
        })
        .collect()
}

impl TensorSource for SeededSource {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
    fn shape(&self, _name: &str) -> Option<Vec<usize>> {
        None
    }
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ValuesError> {
        Ok(seeded_values(name, shape))
    }
}

/// One problem found while loading.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LoadProblem {
    Missing { name: String, expected: Vec<usize> },
    Shape { name: String, expected: Vec<usize>, found: Vec<usize> },
    Unexpected { name: String, shape: Vec<usize> },
    Bad { name: String, message: String },
}

impl std::fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadProblem::Missing { name, expected } => write!(f, "missing    {name} (expected shape {expected:?})"),
            LoadProblem::Shape { name, expected, found } => {
                write!(f, "shape      {name}: expected {expected:?}, found {found:?}")
            }
            LoadProblem::Unexpected { name, shape } => write!(f, "unexpected {name} {shape:?}"),
            LoadProblem::Bad { name, message } => write!(f, "unreadable {name}: {message}"),
        }
    }
}

/// Builds parameters by name, recording problems instead of stopping.
pub struct Loader<'s> {
    source: &'s dyn TensorSource,
    device: Device,
    /// Prefix rewrites `(canonical, alias)`: a tensor absent under its canonical name is read
    /// under the alias (enformer-pytorch's `_trunk.*` copies).
    aliases: Vec<(String, String)>,
    used: BTreeSet<String>,
    problems: Vec<LoadProblem>,
    /// A source that generates values (no names) accepts every request.
    generative: bool,
    /// Check names and shapes only: no values are read and modules get 1-element stand-ins.
    dry: bool,
}

impl<'s> Loader<'s> {
    pub fn new(source: &'s dyn TensorSource, device: &Device) -> Self {
        let generative = source.names().is_empty() && source.shape("").is_none();
        Self {
            source,
            device: device.clone(),
            aliases: Vec::new(),
            used: BTreeSet::new(),
            problems: Vec::new(),
            generative,
            dry: false,
        }
    }

    /// A loader that checks every name and shape against `source` without reading values; the
    /// modules it builds are stand-ins to be dropped (for `inspect` and `convert` checks).
    pub fn dry_run(source: &'s dyn TensorSource, device: &Device) -> Self {
        Self { dry: true, ..Self::new(source, device) }
    }

    pub fn is_dry(&self) -> bool {
        self.dry
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// When a name starting with `canonical` is absent, read it with `alias` as its prefix.
    pub fn add_alias(&mut self, canonical: String, alias: String) {
        self.aliases.push((canonical, alias));
    }

    /// The alias a canonical name would be read under, if a rule covers it.
    pub fn alias_of(&self, name: &str) -> Option<String> {
        self.aliases
            .iter()
            .find(|(c, _)| name.starts_with(c.as_str()))
            .map(|(c, a)| format!("{a}{}", &name[c.len()..]))
    }

    pub fn mark_used(&mut self, name: &str) {
        self.used.insert(name.to_string());
    }

    pub fn used(&self) -> &BTreeSet<String> {
        &self.used
    }

    pub fn problem(&mut self, p: LoadProblem) {
        self.problems.push(p);
    }

    pub fn into_problems(self) -> Vec<LoadProblem> {
        self.problems
    }

    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// Raw values of `name` with the expected shape, or zeros (and a recorded problem).
    pub fn values(&mut self, name: &str, shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        if self.generative {
            self.used.insert(name.to_string());
            return match self.source.values(name, shape) {
                Ok(v) => v,
                Err(e) => {
                    self.problems.push(LoadProblem::Bad { name: name.into(), message: e.to_string() });
                    vec![0.0; n]
                }
            };
        }
        let actual = if self.source.shape(name).is_some() {
            Some(name.to_string())
        } else {
            self.alias_of(name).filter(|a| self.source.shape(a).is_some())
        };
        let Some(actual) = actual else {
            self.problems.push(LoadProblem::Missing { name: name.into(), expected: shape.to_vec() });
            return vec![0.0; n];
        };
        self.used.insert(actual.clone());
        let found = self.source.shape(&actual).unwrap_or_default();
        // PyTorch stores scalars-with-singleton-dims (e.g. Conv2d 1x1 `[d, d, 1, 1]`) that we
        // read flattened: accept any shape with the same dims once singleton dims are dropped.
        let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
        if found != shape && squeeze(&found) != squeeze(shape) {
            self.problems.push(LoadProblem::Shape { name: actual, expected: shape.to_vec(), found });
            return vec![0.0; n];
        }
        if self.dry {
            return Vec::new();
        }
        match self.source.values(&actual, shape) {
            Ok(v) if v.len() == n => v,
            Ok(v) => {
                self.problems.push(LoadProblem::Bad {
                    name: actual,
                    message: format!("{} values for {n} elements", v.len()),
                });
                vec![0.0; n]
            }
            Err(e) => {
                self.problems.push(LoadProblem::Bad { name: actual, message: e.to_string() });
                vec![0.0; n]
            }
        }
    }

    pub fn tensor<const D: usize>(&mut self, name: &str, shape: [usize; D]) -> Tensor<D> {
        let v = self.values(name, &shape);
        if self.dry {
            return Tensor::zeros([1; D], &self.device);
        }
        Tensor::from_data(TensorData::new(v, shape), &self.device)
    }

    pub fn param<const D: usize>(&mut self, name: &str, shape: [usize; D]) -> Param<Tensor<D>> {
        Param::from_tensor(self.tensor(name, shape))
    }

    /// A PyTorch `nn.Linear` at `prefix` (`prefix.weight` `[out, in]`, `prefix.bias` `[out]`).
    pub fn linear(&mut self, prefix: &str, d_in: usize, d_out: usize, bias: bool) -> Linear {
        let w = self.values(&format!("{prefix}.weight"), &[d_out, d_in]);
        if self.dry {
            let bias = bias.then(|| self.param(&format!("{prefix}.bias"), [d_out]));
            return Linear { weight: Param::from_tensor(Tensor::zeros([1, 1], &self.device)), bias };
        }
        // [out, in] -> [in, out]
        let mut t = vec![0f32; w.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                t[i * d_out + o] = w[o * d_in + i];
            }
        }
        let weight = Param::from_tensor(Tensor::from_data(TensorData::new(t, [d_in, d_out]), &self.device));
        let bias = bias.then(|| self.param(&format!("{prefix}.bias"), [d_out]));
        Linear { weight, bias }
    }
}

/// Everything that went wrong loading a checkpoint, listed together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} problem(s) loading weights ({context}):\n  {}", problems.len(), problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n  "))]
pub struct LoadError {
    pub context: String,
    pub problems: Vec<LoadProblem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_decoding() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn seeded_values_are_reproducible_and_scaled() {
        let a = seeded_values("x.weight", &[4, 300]);
        assert_eq!(a, seeded_values("x.weight", &[4, 300]));
        assert_ne!(a, seeded_values("y.weight", &[4, 300]));
        let bound = (3.0f32 / 300.0).sqrt();
        assert!(a.iter().all(|v| v.abs() <= bound));
        let var = seeded_values("bn.running_var", &[100]);
        assert!(var.iter().all(|v| (0.5..1.5).contains(v)));
    }
}
