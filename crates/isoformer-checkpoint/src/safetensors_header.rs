//! The safetensors header, validated before any tensor is read. Depends only on `safetensors`,
//! `serde` and `serde_json`, so the fuzz target (fuzz/) can build it alone.

use std::io::Read;

use safetensors::Dtype;

/// Bytes per element (every dtype a checkpoint of ours holds is whole bytes).
pub fn dtype_bytes(d: Dtype) -> usize {
    d.bitsize().div_ceil(8)
}

/// A validated safetensors header: where the data starts and each tensor's place in it.
pub struct SafetensorsHeader {
    pub data_start: u64,
    pub tensors: Vec<(String, Dtype, Vec<usize>, (u64, u64))>,
}

/// Parse and validate a safetensors header: size, JSON, unique names, known dtypes, offsets
/// that match shapes, lie inside the file and neither overlap nor leave holes.
pub fn parse_safetensors_header(f: &mut impl Read, size: u64) -> Result<SafetensorsHeader, String> {
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|_| "too short for a safetensors header".to_string())?;
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 || 8 + n > size {
        return Err(format!("header declares {n} bytes but the file has {size}"));
    }
    let mut json = vec![0u8; n as usize];
    f.read_exact(&mut json).map_err(|e| format!("reading the header: {e}"))?;
    let entries = parse_ordered_object(&json)?;
    let data_len = size - 8 - n;
    let mut seen = std::collections::HashSet::new();
    let mut tensors = Vec::new();
    for (name, value) in entries {
        if !seen.insert(name.clone()) {
            return Err(format!("tensor `{name}` appears twice in the header"));
        }
        if name == "__metadata__" {
            continue;
        }
        let info: safetensors::tensor::TensorInfo =
            serde_json::from_value(value).map_err(|e| format!("tensor `{name}`: {e}"))?;
        let (b, e) = (info.data_offsets.0 as u64, info.data_offsets.1 as u64);
        let want = info.shape.iter().try_fold(dtype_bytes(info.dtype), |acc, &d| acc.checked_mul(d)).ok_or_else(|| format!("tensor `{name}`: shape {:?} overflows", info.shape))?;
        if e < b || e - b != want as u64 {
            return Err(format!("tensor `{name}`: offsets {b}..{e} do not hold {:?} {:?} ({want} bytes)", info.dtype, info.shape));
        }
        if e > data_len {
            return Err(format!("tensor `{name}`: ends at byte {e} of the data, but the file holds {data_len} bytes of data (truncated?)"));
        }
        tensors.push((name, info.dtype, info.shape, (b, e)));
    }
    let mut spans: Vec<(u64, u64, &str)> = tensors.iter().map(|t| (t.3.0, t.3.1, t.0.as_str())).collect();
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!("tensors `{}` and `{}` overlap", w[0].2, w[1].2));
        }
    }
    Ok(SafetensorsHeader { data_start: 8 + n, tensors })
}

/// A JSON object's entries in file order, duplicates kept (serde_json's maps would drop them).
fn parse_ordered_object(json: &[u8]) -> Result<Vec<(String, serde_json::Value)>, String> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, serde_json::Value)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    de.deserialize_map(V).map_err(|e| format!("header is not valid JSON: {e}"))
}
