//! The safetensors header, validated before any tensor is read. Depends only on `safetensors`,
//! `serde` and `serde_json`, so the fuzz target (fuzz/) can build it alone.

use std::io::Read;

use safetensors::Dtype;

/// Bytes per element (every dtype a checkpoint of ours holds is whole bytes).
pub fn dtype_bytes(d: Dtype) -> usize {
    d.bitsize().div_ceil(8)
}

/// A tensor as the header places it: name, dtype, shape and its byte range in the data.
pub type HeaderTensor = (String, Dtype, Vec<usize>, (u64, u64));

/// A validated safetensors header: where the data starts and each tensor's place in it.
pub struct SafetensorsHeader {
    pub data_start: u64,
    pub tensors: Vec<HeaderTensor>,
}

/// What is wrong with a safetensors header.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("too short for a safetensors header")]
    TooShort(#[source] std::io::Error),
    #[error("header declares {declared} bytes but the file has {size}")]
    TooLong { declared: u64, size: u64 },
    #[error("cannot read the header")]
    Read(#[source] std::io::Error),
    #[error("header is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("tensor `{0}` appears twice in the header")]
    Duplicate(String),
    #[error("tensor `{name}`: invalid entry")]
    Entry {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("tensor `{name}`: shape {shape:?} overflows")]
    ShapeOverflow { name: String, shape: Vec<usize> },
    #[error("tensor `{name}`: offsets {begin}..{end} do not hold {dtype:?} {shape:?} ({bytes} bytes)")]
    Offsets { name: String, begin: u64, end: u64, dtype: Dtype, shape: Vec<usize>, bytes: usize },
    #[error("tensor `{name}`: ends at byte {end} of the data, but the file holds {data_len} bytes of data (truncated?)")]
    PastEnd { name: String, end: u64, data_len: u64 },
    #[error("tensors `{0}` and `{1}` overlap")]
    Overlap(String, String),
    /// Checked by the model's loader after the header: a quantized parameter's companion.
    #[error("tensor `{name}`: {detail}")]
    Quantized { name: String, detail: String },
}

/// Largest header accepted, so that a corrupt length cannot make us allocate gigabytes.
const MAX_HEADER: u64 = 100 << 20;

/// Parse and validate a safetensors header: size, JSON, unique names, known dtypes, offsets
/// that match shapes, lie inside the file and do not overlap.
pub fn parse_safetensors_header(f: &mut impl Read, size: u64) -> Result<SafetensorsHeader, HeaderError> {
    let json = read_header_json(f, size)?;
    let data_len = size - 8 - json.len() as u64;
    let mut seen = std::collections::HashSet::new();
    let mut tensors = Vec::new();
    for (name, value) in parse_ordered_object(&json)? {
        if !seen.insert(name.clone()) {
            return Err(HeaderError::Duplicate(name));
        }
        if name != "__metadata__" {
            tensors.push(tensor_entry(name, value, data_len)?);
        }
    }
    check_overlaps(&tensors)?;
    Ok(SafetensorsHeader { data_start: 8 + json.len() as u64, tensors })
}

/// The JSON after the 8-byte little-endian length, which must fit in the file.
fn read_header_json(f: &mut impl Read, size: u64) -> Result<Vec<u8>, HeaderError> {
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(HeaderError::TooShort)?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER || 8 + n > size {
        return Err(HeaderError::TooLong { declared: n, size });
    }
    let mut json = vec![0u8; n as usize];
    f.read_exact(&mut json).map_err(HeaderError::Read)?;
    Ok(json)
}

/// One tensor's entry, its offsets checked against its shape and the data's length.
fn tensor_entry(name: String, value: serde_json::Value, data_len: u64) -> Result<HeaderTensor, HeaderError> {
    let info: safetensors::tensor::TensorInfo = match serde_json::from_value(value) {
        Ok(info) => info,
        Err(source) => return Err(HeaderError::Entry { name, source }),
    };
    let (begin, end) = (info.data_offsets.0 as u64, info.data_offsets.1 as u64);
    let Some(bytes) = info.shape.iter().try_fold(dtype_bytes(info.dtype), |acc, &d| acc.checked_mul(d)) else {
        return Err(HeaderError::ShapeOverflow { name, shape: info.shape });
    };
    if end < begin || end - begin != bytes as u64 {
        return Err(HeaderError::Offsets { name, begin, end, dtype: info.dtype, shape: info.shape, bytes });
    }
    if end > data_len {
        return Err(HeaderError::PastEnd { name, end, data_len });
    }
    Ok((name, info.dtype, info.shape, (begin, end)))
}

fn check_overlaps(tensors: &[HeaderTensor]) -> Result<(), HeaderError> {
    let mut spans: Vec<(u64, u64, &str)> = tensors.iter().map(|t| (t.3.0, t.3.1, t.0.as_str())).collect();
    spans.sort();
    match spans.windows(2).find(|w| w[1].0 < w[0].1) {
        Some(w) => Err(HeaderError::Overlap(w[0].2.to_string(), w[1].2.to_string())),
        None => Ok(()),
    }
}

/// A JSON object's entries in file order, duplicates kept (serde_json's maps would drop them).
fn parse_ordered_object(json: &[u8]) -> Result<Vec<(String, serde_json::Value)>, HeaderError> {
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
    de.deserialize_map(V).map_err(HeaderError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: &str, data: usize) -> Result<SafetensorsHeader, HeaderError> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.resize(bytes.len() + data, 0);
        parse_safetensors_header(&mut bytes.as_slice(), bytes.len() as u64)
    }

    fn f32_tensor(name: &str, begin: usize, end: usize) -> String {
        format!(r#""{name}":{{"dtype":"F32","shape":[1],"data_offsets":[{begin},{end}]}}"#)
    }

    #[test]
    fn each_bad_header_gives_its_variant() {
        assert!(matches!(parse_safetensors_header(&mut &b"\x01\x00"[..], 2), Err(HeaderError::TooShort(_))));
        assert!(matches!(parse_safetensors_header(&mut &[0xff; 16][..], 16), Err(HeaderError::TooLong { .. })));
        assert!(matches!(parse("{", 0), Err(HeaderError::Json(_))));
        let twice = format!("{{{},{}}}", f32_tensor("a", 0, 4), f32_tensor("a", 4, 8));
        assert!(matches!(parse(&twice, 8), Err(HeaderError::Duplicate(n)) if n == "a"));
        let bad_dtype = r#"{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#;
        assert!(matches!(parse(bad_dtype, 4), Err(HeaderError::Entry { name, .. }) if name == "a"));
        let huge = r#"{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}"#;
        assert!(matches!(parse(huge, 4), Err(HeaderError::ShapeOverflow { .. })));
        assert!(matches!(parse(&format!("{{{}}}", f32_tensor("a", 0, 8)), 8), Err(HeaderError::Offsets { bytes: 4, .. })));
        assert!(matches!(parse(&format!("{{{}}}", f32_tensor("a", 0, 4)), 2), Err(HeaderError::PastEnd { data_len: 2, .. })));
        let overlapping = format!("{{{},{}}}", f32_tensor("b", 2, 6), f32_tensor("a", 0, 4));
        assert!(matches!(parse(&overlapping, 8), Err(HeaderError::Overlap(a, b)) if a == "a" && b == "b"));
    }

    #[test]
    fn a_good_header_places_every_tensor() {
        let header = format!(r#"{{"__metadata__":{{"format":"pt"}},{},{}}}"#, f32_tensor("a", 0, 4), f32_tensor("b", 4, 8));
        let h = parse(&header, 8).unwrap();
        assert_eq!(h.data_start, 8 + header.len() as u64);
        let places: Vec<(&str, (u64, u64))> = h.tensors.iter().map(|t| (t.0.as_str(), t.3)).collect();
        assert_eq!(places, [("a", (0, 4)), ("b", (4, 8))]);
    }
}
