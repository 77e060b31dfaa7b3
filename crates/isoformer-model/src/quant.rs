//! Quantized weights on disk, dequantized to f32 when a model loads (so every backend, the
//! browser included, computes exactly the fp32 model whose weights are the stored integers times
//! their scales). Two schemes, both symmetric (zero stays exactly zero):
//!
//! * **int8 per channel** ([`Scheme::Int8`]): a parameter keeps its official name, as an `I8`
//!   tensor of its own shape (PyTorch layout: rows are output channels), beside `NAME.qscale`,
//!   one `F32` per row (`max |w| / 127`).
//! * **int4 per block** ([`Scheme::Int4`]): each row is cut into blocks of `block` values, each
//!   block with its own scale (values −7..=7; the scale in `[0.7, 1] · max |w| / 7` that leaves
//!   the least squared error). `NAME` is a `U8` tensor
//!   `[rows, row_len / 2]`, two values a byte (`q + 8`, the even index in the low nibble),
//!   `NAME.qscale` is `F32 [rows, row_len / block]` and `NAME.qshape` (`I64`, one entry per
//!   dimension) records the parameter's own shape. A row whose length is not a multiple of the
//!   block is stored int8 per channel instead.
//!
//! [`crate::weights::SafetensorsSource`] reads them back as f32 and hides the companion tensors
//! from the name list. Which parameters stay f32 is [`keeps_f32`].

use safetensors::Dtype;

/// Suffix of a quantized parameter's scale tensor.
pub const SCALE_SUFFIX: &str = ".qscale";
/// Suffix of an int4 parameter's shape tensor.
pub const SHAPE_SUFFIX: &str = ".qshape";

/// What `config.json` records (`isoformer_quantization`) for int8 per-channel weights.
pub const INT8_PER_CHANNEL: &str = "int8-per-channel";

/// Whether `name` is a companion tensor (scale or shape) of a quantized parameter.
pub fn is_companion(name: &str) -> bool {
    name.ends_with(SCALE_SUFFIX) || name.ends_with(SHAPE_SUFFIX)
}

/// A quantization scheme, as `config.json`'s `isoformer_quantization` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `int8-per-channel`.
    Int8,
    /// `int4-per-block-N`: blocks of N values (even, at least 2) along each row.
    Int4 { block: usize },
}

impl Scheme {
    /// The `isoformer_quantization` value.
    pub fn name(&self) -> String {
        match self {
            Scheme::Int8 => INT8_PER_CHANNEL.to_string(),
            Scheme::Int4 { block } => format!("int4-per-block-{block}"),
        }
    }

    /// Read an `isoformer_quantization` value.
    pub fn parse(s: &str) -> Option<Scheme> {
        if s == INT8_PER_CHANNEL {
            return Some(Scheme::Int8);
        }
        let block: usize = s.strip_prefix("int4-per-block-")?.parse().ok()?;
        (block >= 2 && block % 2 == 0).then_some(Scheme::Int4 { block })
    }
}

/// Parameters smaller than this stay f32: their bytes do not matter, their precision might.
pub const MIN_QUANTIZED: usize = 4096;

/// Whether parameter `name` of `shape` stays f32:
/// * vectors (biases, norms, BatchNorm statistics) and Enformer's relative-position biases
///   (`(1, h, 1, k)`: one row);
/// * the token embeddings (a row per token: a rare token's row would get its own scale anyway,
///   and lookups gain nothing from int8);
/// * the head (`head_layer_*`: the last two small matrices before the outputs);
/// * `to_rel_k` (it projects the relative-position features, whose f32 rounding is part of the
///   reference: docs/REFERENCE.md) and the stem's first convolution (4 input channels);
/// * anything under [`MIN_QUANTIZED`] values.
pub fn keeps_f32(name: &str, shape: &[usize]) -> bool {
    let n: usize = shape.iter().product();
    shape.len() < 2
        || shape[0] < 2
        || n < MIN_QUANTIZED
        || ["word_embeddings", "head_layer_", "to_rel_k", "rel_content_bias", "rel_pos_bias", "stem.0."]
            .iter()
            .any(|k| name.contains(k))
}

/// Symmetric int8 per row (`shape[0]` rows): `scale = max |w| / 127` (1 for an all-zero row),
/// `q = round(w / scale)` in −127..=127.
pub fn quantize_int8(values: &[f32], rows: usize) -> (Vec<i8>, Vec<f32>) {
    let per = values.len() / rows.max(1);
    let mut q = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(rows);
    for row in values.chunks(per.max(1)) {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        q.extend(row.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8));
        scales.push(scale);
    }
    (q, scales)
}

/// Symmetric int4 per block of `block` values along each of `rows` rows (row length a multiple
/// of `block`, `block` even): the scale of least squared error near `max |w| / 7` (1 for an
/// all-zero block), `q` in −7..=7,
/// packed two a byte as `q + 8`, the even index in the low nibble.
pub fn quantize_int4(values: &[f32], rows: usize, block: usize) -> (Vec<u8>, Vec<f32>) {
    debug_assert!(block >= 2 && block % 2 == 0 && values.len() % (rows.max(1) * block) == 0);
    let mut packed = Vec::with_capacity(values.len() / 2);
    let mut scales = Vec::with_capacity(values.len() / block);
    for chunk in values.chunks(block) {
        let max = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { best_scale(chunk, max / 7.0, 7.0) } else { 1.0 };
        let nibble = |v: f32| ((v / scale).round().clamp(-7.0, 7.0) as i8 + 8) as u8;
        packed.extend(chunk.chunks(2).map(|p| nibble(p[0]) | (nibble(p[1]) << 4)));
        scales.push(scale);
    }
    (packed, scales)
}

/// The scale in `[0.7, 1] · full` (`full` maps the largest magnitude to `top`) whose rounding
/// leaves the least squared error on `values`: clipping the largest value a little buys a finer
/// step for all the others (20 candidates).
fn best_scale(values: &[f32], full: f32, top: f32) -> f32 {
    let error = |scale: f32| -> f32 {
        values.iter().map(|&v| (v - (v / scale).round().clamp(-top, top) * scale).powi(2)).sum()
    };
    (0..=20).map(|k| full * (1.0 - 0.015 * k as f32)).map(|s| (error(s), s)).fold((f32::INFINITY, full), |best, c| if c.0 < best.0 { c } else { best }).1
}

/// The values of [`quantize_int4`]'s output: `scales.len()` blocks of `2 · packed.len() /
/// scales.len()` values.
pub fn dequantize_int4(packed: &[u8], scales: &[f32]) -> Vec<f32> {
    let per = packed.len() / scales.len().max(1);
    packed
        .chunks(per.max(1))
        .zip(scales)
        .flat_map(|(bytes, &s)| bytes.iter().flat_map(move |&b| [((b & 15) as i8 - 8) as f32 * s, ((b >> 4) as i8 - 8) as f32 * s]))
        .collect()
}

/// Why a quantized tensor could not be read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DequantizeError {
    #[error("quantized tensor without its scale tensor `{name}{SCALE_SUFFIX}`")]
    NoScale { name: String },
    #[error("scale tensor `{name}{SCALE_SUFFIX}` has shape {got:?}, expected {expected}")]
    ScaleShape { name: String, got: Vec<usize>, expected: String },
    #[error("scale tensor `{name}{SCALE_SUFFIX}` is {dtype:?}, expected F32")]
    ScaleDtype { name: String, dtype: Dtype },
    #[error("U8 tensor without its shape tensor `{name}{SHAPE_SUFFIX}` (an int4 parameter needs one; other U8 tensors are not parameters)")]
    NoShape { name: String },
    #[error("shape tensor `{name}{SHAPE_SUFFIX}`: {why}")]
    BadShape { name: String, why: String },
}

/// The shape an int4 parameter's `NAME.qshape` tensor records (`I64`, one dimension each).
pub fn read_shape(name: &str, dtype: Dtype, shape: &[usize], bytes: &[u8]) -> Result<Vec<usize>, DequantizeError> {
    let bad = |why: String| DequantizeError::BadShape { name: name.to_string(), why };
    if dtype != Dtype::I64 || shape.len() != 1 {
        return Err(bad(format!("{dtype:?} {shape:?}, expected I64 [rank]")));
    }
    bytes
        .chunks_exact(8)
        .map(|c| {
            let d = i64::from_le_bytes(c.try_into().expect("8 bytes"));
            usize::try_from(d).ok().filter(|&d| d > 0).ok_or_else(|| bad(format!("dimension {d}")))
        })
        .collect()
}

/// A stored companion tensor: dtype, shape, bytes.
pub type Stored = (Dtype, Vec<usize>, Vec<u8>);

/// The shape of int4 parameter `name` (stored packed as `packed`), from its `NAME.qshape`.
pub fn int4_shape(name: &str, packed: &[usize], qshape: Option<Stored>) -> Result<Vec<usize>, DequantizeError> {
    let (d, s, b) = qshape.ok_or_else(|| DequantizeError::NoShape { name: name.to_string() })?;
    let own = read_shape(name, d, &s, &b)?;
    let row_len: usize = own.iter().skip(1).product();
    let expected = [own.first().copied().unwrap_or(0), row_len.div_ceil(2)];
    if own.is_empty() || packed != expected {
        return Err(DequantizeError::BadShape { name: name.to_string(), why: format!("records {own:?}, but the packed tensor is {packed:?} (expected {expected:?})") });
    }
    Ok(own)
}

/// The f32 values of quantized parameter `name` from its stored bytes and its scales
/// (`NAME.qscale`): `I8` is int8 per channel (`shape` its own), `U8` int4 per block (`own`: the
/// shape [`int4_shape`] read).
pub fn dequantize(name: &str, dtype: Dtype, shape: &[usize], bytes: &[u8], scale: Option<Stored>, own: Option<&[usize]>) -> Result<Vec<f32>, DequantizeError> {
    let (scale_dtype, scale_shape, scale_bytes) = scale.ok_or_else(|| DequantizeError::NoScale { name: name.to_string() })?;
    if scale_dtype != Dtype::F32 {
        return Err(DequantizeError::ScaleDtype { name: name.to_string(), dtype: scale_dtype });
    }
    let scales: Vec<f32> = scale_bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
    let wrong_scales = |expected: String| DequantizeError::ScaleShape { name: name.to_string(), got: scale_shape.clone(), expected };
    let rows = shape.first().copied().unwrap_or(1);
    if dtype == Dtype::I8 {
        if scale_shape != [rows] {
            return Err(wrong_scales(format!("[{rows}] (one f32 per row of {name})")));
        }
        let q: Vec<i8> = bytes.iter().map(|&b| b as i8).collect();
        return Ok(dequantize_int8(&q, &scales));
    }
    let own = own.ok_or_else(|| DequantizeError::NoShape { name: name.to_string() })?;
    let row_len: usize = own.iter().skip(1).product();
    let blocks_fit = |b: usize| b > 0 && row_len % b == 0 && (row_len / b) % 2 == 0;
    if !(scale_shape.len() == 2 && scale_shape[0] == own[0] && blocks_fit(scale_shape[1])) {
        return Err(wrong_scales(format!("[{}, blocks] (blocks of an even number of values, dividing the {row_len} of a row)", own[0])));
    }
    Ok(dequantize_int4(bytes, &scales))
}

/// `q[r, ..] · scales[r]` for `scales.len()` rows.
pub fn dequantize_int8(q: &[i8], scales: &[f32]) -> Vec<f32> {
    let per = q.len() / scales.len().max(1);
    q.chunks(per.max(1)).zip(scales).flat_map(|(row, &s)| row.iter().map(move |&v| v as f32 * s)).collect()
}

/// What [`quantize_safetensors`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub quantized: usize,
    pub kept: usize,
    pub quantized_values: usize,
    pub kept_values: usize,
    pub bytes_before: usize,
    pub bytes_after: usize,
    /// Int4 only: parameters whose rows do not split into whole blocks, stored int8.
    pub int8_fallback: usize,
}

/// A `model.safetensors` with every f32 parameter that [`keeps_f32`] lets go stored under
/// `scheme` with its scales; everything else copied as it is (dtype, shape, values). Under int4,
/// a parameter whose rows do not split into whole blocks is stored int8 (counted in
/// [`Summary::int8_fallback`]).
pub fn quantize_safetensors(bytes: &[u8], scheme: Scheme) -> Result<(Vec<u8>, Summary), QuantizeError> {
    use crate::weights::{SafetensorsSource, to_f32};
    use safetensors::tensor::TensorView;
    let source = SafetensorsSource::new(bytes)?;
    let mut stored: Vec<(String, Dtype, Vec<usize>)> = source.stored().map(|(n, d, s)| (n.to_string(), d, s.to_vec())).collect();
    stored.sort_by(|a, b| a.0.cmp(&b.0));
    let mut summary = Summary { bytes_before: bytes.len(), ..Summary::default() };
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, dtype, shape) in stored {
        let (_, _, data) = source.raw(&name).map_err(|e| QuantizeError::Read { name: name.clone(), detail: e.to_string() })?;
        let n: usize = shape.iter().product();
        if dtype != Dtype::F32 || is_companion(&name) || keeps_f32(&name, &shape) {
            summary.kept += 1;
            summary.kept_values += n;
            owned.push((name, dtype, shape, data));
            continue;
        }
        let values = to_f32(Dtype::F32, &data).expect("F32 decodes");
        let rows = shape[0];
        let row_len = n / rows;
        summary.quantized += 1;
        summary.quantized_values += n;
        let f32_bytes = |v: &[f32]| v.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>();
        match scheme {
            Scheme::Int4 { block } if row_len % block == 0 => {
                let (packed, scales) = quantize_int4(&values, rows, block);
                let own: Vec<u8> = shape.iter().flat_map(|&d| (d as i64).to_le_bytes()).collect();
                owned.push((format!("{name}{SCALE_SUFFIX}"), Dtype::F32, vec![rows, row_len / block], f32_bytes(&scales)));
                owned.push((format!("{name}{SHAPE_SUFFIX}"), Dtype::I64, vec![shape.len()], own));
                owned.push((name, Dtype::U8, vec![rows, row_len / 2], packed));
            }
            _ => {
                if matches!(scheme, Scheme::Int4 { .. }) {
                    summary.int8_fallback += 1;
                }
                let (q, scales) = quantize_int8(&values, rows);
                owned.push((format!("{name}{SCALE_SUFFIX}"), Dtype::F32, vec![rows], f32_bytes(&scales)));
                owned.push((name, Dtype::I8, shape, q.iter().map(|&v| v as u8).collect()));
            }
        }
    }
    let views = owned
        .iter()
        .map(|(n, d, s, b)| TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(QuantizeError::Write)?;
    let out = safetensors::serialize(views, None).map_err(QuantizeError::Write)?;
    summary.bytes_after = out.len();
    Ok((out, summary))
}

/// Why a weights file could not be quantized.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    #[error(transparent)]
    Header(#[from] crate::safetensors_header::HeaderError),
    #[error("tensor `{name}`: {detail}")]
    Read { name: String, detail: String },
    #[error("writing the quantized file: {0}")]
    Write(#[source] safetensors::SafeTensorError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_round_trips_within_half_a_step() {
        let w: Vec<f32> = (0..24).map(|i| ((i * 37 % 19) as f32 - 9.0) / 7.0).collect();
        let (q, s) = quantize_int8(&w, 3);
        assert_eq!(s.len(), 3);
        let back = dequantize_int8(&q, &s);
        for (r, (a, b)) in w.chunks(8).zip(back.chunks(8)).enumerate() {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= s[r] / 2.0 + 1e-7, "row {r}: {x} → {y}");
            }
        }
        // Each row's largest magnitude is exact (±127 steps).
        assert!(q.iter().any(|&v| v == 127 || v == -127));
    }

    #[test]
    fn an_all_zero_row_stays_zero() {
        let (q, s) = quantize_int8(&[0.0; 4], 1);
        assert_eq!((q, s), (vec![0; 4], vec![1.0]));
    }

    #[test]
    fn int4_round_trips_within_a_step_of_its_block_and_beats_plain_rounding() {
        let w: Vec<f32> = (0..64).map(|i| ((i * 37 % 23) as f32 - 11.0) / 5.0 * if i < 32 { 1.0 } else { 0.01 }).collect();
        let (packed, scales) = quantize_int4(&w, 2, 16);
        assert_eq!((packed.len(), scales.len()), (32, 4));
        let back = dequantize_int4(&packed, &scales);
        for (i, (x, y)) in w.iter().zip(&back).enumerate() {
            // Within half a step, or clipped at the end of the range (the scale search may clip).
            let s = scales[i / 16];
            assert!((x - y).abs() <= s / 2.0 + 1e-7 || (y.abs() - 7.0 * s).abs() < 1e-6, "value {i}: {x} → {y}");
        }
        // The searched scales leave less squared error than max |w| / 7.
        let plain: f32 = w
            .chunks(16)
            .flat_map(|c| {
                let s = c.iter().fold(0f32, |m, v| m.max(v.abs())) / 7.0;
                c.iter().map(move |v| (v - (v / s).round() * s).powi(2))
            })
            .sum();
        let searched: f32 = w.iter().zip(&back).map(|(x, y)| (x - y).powi(2)).sum();
        assert!(searched <= plain, "{searched} > {plain}");
        // Small blocks get small scales: the second row's blocks keep their precision.
        assert!(scales[2] < scales[0] / 50.0);
        // Nibbles are q + 8 with q in −7..=7: 0 is never written.
        assert!(packed.iter().all(|b| b & 15 != 0 && b >> 4 != 0));
    }

    #[test]
    fn schemes_are_named_as_config_json_records_them() {
        for s in [Scheme::Int8, Scheme::Int4 { block: 32 }, Scheme::Int4 { block: 128 }] {
            assert_eq!(Scheme::parse(&s.name()), Some(s));
        }
        for bad in ["int4-per-block-3", "int4-per-block-0", "int4", "int8", "int4-per-block-x"] {
            assert_eq!(Scheme::parse(bad), None, "{bad}");
        }
    }

    fn file(tensors: &[(&str, Vec<usize>)]) -> Vec<u8> {
        let data: Vec<Vec<u8>> = tensors
            .iter()
            .map(|(name, shape)| crate::weights::seeded_values(name, shape).iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let views: Vec<_> = tensors
            .iter()
            .zip(&data)
            .map(|((n, s), d)| (n.to_string(), safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), d).unwrap()))
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    /// int4 keeps names and shapes as the loader sees them, falls back to int8 for rows that do
    /// not split into blocks, and reads back within a step of each block's largest scale.
    #[test]
    fn an_int4_file_reads_back_under_its_own_names_and_shapes() {
        use crate::weights::{SafetensorsSource, TensorSource};
        let bytes = file(&[("a.weight", vec![64, 32, 5]), ("b.weight", vec![96, 100]), ("c.bias", vec![64])]);
        let (q, summary) = quantize_safetensors(&bytes, Scheme::Int4 { block: 32 }).unwrap();
        assert_eq!((summary.quantized, summary.int8_fallback, summary.kept), (2, 1, 1));
        let (src, orig) = (SafetensorsSource::new(q.as_slice()).unwrap(), SafetensorsSource::new(bytes.as_slice()).unwrap());
        let mut names = src.names();
        names.sort();
        assert_eq!(names, ["a.weight", "b.weight", "c.bias"]);
        assert_eq!(src.shape("a.weight"), Some(vec![64, 32, 5]));
        assert_eq!(src.stored().find(|t| t.0 == "a.weight").map(|t| (t.1, t.2.to_vec())), Some((Dtype::U8, vec![64, 80])));
        assert_eq!(src.stored().find(|t| t.0 == "b.weight").map(|t| t.1), Some(Dtype::I8));
        for (name, shape) in [("a.weight", vec![64, 32, 5]), ("b.weight", vec![96, 100])] {
            let (a, b) = (src.values(name, &shape).unwrap(), orig.values(name, &shape).unwrap());
            let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            let range = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(worst <= range / 7.0 + 1e-6, "{name}: {worst} of {range}");
        }
    }

    /// A tampered companion tensor is named, with what was expected.
    #[test]
    fn tampered_int4_companions_are_named() {
        use crate::weights::{SafetensorsSource, TensorSource};
        let bytes = file(&[("a.weight", vec![64, 64])]);
        let (q, _) = quantize_safetensors(&bytes, Scheme::Int4 { block: 32 }).unwrap();
        let src = SafetensorsSource::new(q.as_slice()).unwrap();
        let mut parts: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
            src.stored().map(|(n, d, s)| (n.to_string(), d, s.to_vec(), src.raw(n).unwrap().2)).collect();
        let rewrite = |parts: &[(String, Dtype, Vec<usize>, Vec<u8>)]| {
            let views: Vec<_> = parts.iter().map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap())).collect();
            safetensors::serialize(views, None).unwrap()
        };
        let shape_at = parts.iter().position(|p| p.0.ends_with(SHAPE_SUFFIX)).unwrap();
        parts[shape_at].3 = [64i64, 32].iter().flat_map(|d| d.to_le_bytes()).collect();
        let bad = rewrite(&parts);
        let err = SafetensorsSource::new(bad.as_slice()).err().expect("a wrong shape record").to_string();
        assert!(err.contains("a.weight.qshape") && err.contains("[64, 32]") && err.contains("[64, 16]"), "{err}");
        parts[shape_at].3 = [64i64, 64].iter().flat_map(|d| d.to_le_bytes()).collect();
        let scale_at = parts.iter().position(|p| p.0.ends_with(SCALE_SUFFIX)).unwrap();
        parts[scale_at].2 = vec![64, 3];
        parts[scale_at].3 = vec![0; 64 * 3 * 4];
        let bad = rewrite(&parts);
        let err = SafetensorsSource::new(bad.as_slice()).unwrap().values("a.weight", &[64, 64]).unwrap_err().to_string();
        assert!(err.contains("a.weight.qscale") && err.contains("[64, 3]"), "{err}");
        parts.remove(shape_at);
        let bad = rewrite(&parts);
        let err = SafetensorsSource::new(bad.as_slice()).err().expect("no shape record").to_string();
        assert!(err.contains("a.weight.qshape"), "{err}");
    }

    #[test]
    fn small_and_sensitive_parameters_stay_f32() {
        assert!(keeps_f32("enformer.transformer.0.0.fn.0.weight", &[1536]));
        assert!(keeps_f32("nt_model.esm.embeddings.word_embeddings.weight", &[4107, 768]));
        assert!(keeps_f32("head_layer_1.weight", &[512, 3072]));
        assert!(keeps_f32("enformer.transformer.0.0.fn.1.rel_pos_bias", &[1, 8, 1, 64]));
        assert!(keeps_f32("enformer.stem.0.weight", &[768, 4, 15]));
        assert!(!keeps_f32("cross_attention_layer_rna.query.weight", &[3072, 3072]));
        assert!(!keeps_f32("enformer.conv_tower.2.0.2.weight", &[96, 64, 5]));
    }
}
