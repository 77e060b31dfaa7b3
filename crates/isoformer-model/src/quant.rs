//! Int8 weights on disk: symmetric per-output-channel scales, dequantized to f32 when a model
//! loads (so every backend, the browser included, computes exactly the fp32 model whose weights
//! are the int8 values times their scales).
//!
//! In `model.safetensors` a quantized parameter keeps its official name, as an `I8` tensor of its
//! own shape (PyTorch layout: rows are output channels), beside `NAME.qscale`, one `F32` per row.
//! [`crate::weights::SafetensorsSource`] reads the pair back as f32 and hides the scales from the
//! name list. Which parameters stay f32 is [`keeps_f32`].

/// Suffix of a quantized parameter's scale tensor.
pub const SCALE_SUFFIX: &str = ".qscale";

/// What `config.json` records (`isoformer_quantization`) for int8 per-channel weights.
pub const INT8_PER_CHANNEL: &str = "int8-per-channel";

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

/// Why an int8 tensor could not be read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DequantizeError {
    #[error("int8 tensor without its scale tensor `{name}{SCALE_SUFFIX}`")]
    NoScale { name: String },
    #[error("scale tensor `{name}{SCALE_SUFFIX}` has shape {got:?}, expected [{rows}] (one f32 per row of {name})")]
    ScaleShape { name: String, got: Vec<usize>, rows: usize },
    #[error("scale tensor `{name}{SCALE_SUFFIX}` is {dtype:?}, expected F32")]
    ScaleDtype { name: String, dtype: safetensors::Dtype },
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
}

/// A `model.safetensors` with every f32 parameter that [`keeps_f32`] lets go stored as int8 with
/// its per-row scales; everything else copied as it is (dtype, shape, values).
pub fn quantize_safetensors(bytes: &[u8]) -> Result<(Vec<u8>, Summary), safetensors::SafeTensorError> {
    use safetensors::{Dtype, SafeTensors, tensor::TensorView};
    let st = SafeTensors::deserialize(bytes)?;
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut summary = Summary { bytes_before: bytes.len(), ..Summary::default() };
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for name in names {
        let t = st.tensor(&name)?;
        let shape = t.shape().to_vec();
        let n: usize = shape.iter().product();
        if t.dtype() != Dtype::F32 || name.ends_with(SCALE_SUFFIX) || keeps_f32(&name, &shape) {
            summary.kept += 1;
            summary.kept_values += n;
            owned.push((name, t.dtype(), shape, t.data().to_vec()));
            continue;
        }
        let values: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let (q, scales) = quantize_int8(&values, shape[0]);
        summary.quantized += 1;
        summary.quantized_values += n;
        owned.push((format!("{name}{SCALE_SUFFIX}"), Dtype::F32, vec![shape[0]], scales.iter().flat_map(|s| s.to_le_bytes()).collect()));
        owned.push((name, Dtype::I8, shape, q.iter().map(|&v| v as u8).collect()));
    }
    let views = owned
        .iter()
        .map(|(n, d, s, b)| TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()?;
    let out = safetensors::serialize(views, None)?;
    summary.bytes_after = out.len();
    Ok((out, summary))
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
