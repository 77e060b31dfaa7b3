//! What made an output: the isoformer version, the command, its files (model weights, genome,
//! annotation, input) by sha256 (or size and modification time, for speed), its parameters,
//! the shard it is, and the command upstream of its input (`predict` on a `prepare` shard
//! carries `prepare`'s record). Written as JSON: a sidecar `OUT.json` beside a TSV (which keeps
//! its plain header), key-value metadata in a Parquet file (key [`PARQUET_KEY`]).
//!
//! `isoformer merge` compares shards by [`Provenance::run`] (everything but the shard and the
//! output's own identity) and refuses a mix, naming the first field that differs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::shard::{Shard, ShardRows, from_runs, to_runs};

/// The Parquet key-value metadata key holding the provenance JSON.
pub const PARQUET_KEY: &str = "isoformer.provenance";

/// A file by content (`sha256`) or, with `--fast-provenance`, by size and modification time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// The file's name, without its folder (runs on other machines see other folders).
    pub name: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Seconds since the Unix epoch (only without `sha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<u64>,
}

/// Which shard an output is, and which rows of the unsharded run it holds (as runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub index: usize,
    pub count: usize,
    /// Rows of the unsharded run.
    pub total: usize,
    /// `[start, end)` runs of the unsharded run's rows (0-based), in output order.
    pub rows: Vec<[usize; 2]>,
}

impl ShardRecord {
    pub fn new(shard: Shard, rows: &[usize], total: usize) -> Self {
        Self { index: shard.index, count: shard.count, total, rows: to_runs(rows) }
    }

    pub fn shard(&self) -> Shard {
        Shard { index: self.index, count: self.count }
    }

    pub fn rows(&self) -> ShardRows {
        ShardRows { shard: self.shard(), rows: from_runs(&self.rows), total: self.total }
    }
}

/// The output's own identity (sidecars only): its data rows and the sha256 of its content
/// (decompressed), so that a sidecar left from another run is caught.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputId {
    pub rows: usize,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// `isoformer X.Y.Z`.
    pub isoformer: String,
    pub command: String,
    /// Role (`model.safetensors`, `config.json`, `genome`, `annotation`, `input`, ...) → file.
    #[serde(default)]
    pub files: BTreeMap<String, FileId>,
    /// Every option that can change the output's values or rows, as text.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// The provenance of the input, when it came with one (without its shard and output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Box<Provenance>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputId>,
}

/// A provenance record that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{name}: not an isoformer provenance record")]
pub struct ProvenanceError {
    pub name: String,
    #[source]
    pub source: serde_json::Error,
}

impl Provenance {
    pub fn new(command: &str) -> Self {
        Self {
            isoformer: format!("isoformer {}", env!("CARGO_PKG_VERSION")),
            command: command.to_string(),
            files: BTreeMap::new(),
            parameters: BTreeMap::new(),
            upstream: None,
            shard: None,
            output: None,
        }
    }

    /// What every shard of one run shares: this record without its shard and output identity.
    pub fn run(&self) -> Provenance {
        Provenance { shard: None, output: None, ..self.clone() }
    }

    /// Pretty JSON with a final newline (the sidecar's bytes).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("provenance serializes");
        text.push('\n');
        text
    }

    /// One line (Parquet metadata).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("provenance serializes")
    }

    /// `name` names the record in errors.
    pub fn from_json(name: &str, text: &str) -> Result<Self, ProvenanceError> {
        serde_json::from_str(text).map_err(|source| ProvenanceError { name: name.to_string(), source })
    }

    /// The first field (a dotted path) where the runs of `self` and `other` differ, with both
    /// values, or `None` when they are one run.
    pub fn first_difference(&self, other: &Provenance) -> Option<(String, String, String)> {
        let a = serde_json::to_value(self.run()).expect("provenance serializes");
        let b = serde_json::to_value(other.run()).expect("provenance serializes");
        difference("", &a, &b)
    }
}

fn difference(at: &str, a: &serde_json::Value, b: &serde_json::Value) -> Option<(String, String, String)> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => difference(&path, p, q),
                    (p, q) => Some((path, show(p), show(q))),
                }
            })
        }
        _ if a == b => None,
        _ => Some((at.to_string(), a.to_string(), b.to_string())),
    }
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map_or("(absent)".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Provenance {
        let mut p = Provenance::new("predict");
        p.files.insert("model.safetensors".into(), FileId { name: "model.safetensors".into(), size: 10, sha256: Some("ab".into()), mtime: None });
        p.parameters.insert("compute".into(), "f32".into());
        p.shard = Some(ShardRecord::new(Shard { index: 2, count: 3 }, &[3, 4, 5, 8], 9));
        p
    }

    #[test]
    fn round_trips_through_json_with_rows_as_runs() {
        let p = record();
        let text = p.to_json();
        assert!(text.contains("\"rows\": [\n      [\n        3,\n        6\n      ],"), "{text}");
        assert_eq!(Provenance::from_json("x.json", &text).unwrap(), p);
        assert_eq!(Provenance::from_json("x.json", &p.to_json_line()).unwrap(), p);
        assert_eq!(p.shard.as_ref().unwrap().rows().rows, [3, 4, 5, 8]);
        assert!(Provenance::from_json("x.json", "{}").unwrap_err().to_string().starts_with("x.json: not an isoformer provenance record"));
    }

    #[test]
    fn shards_of_one_run_agree_and_the_first_difference_is_named() {
        let a = record();
        let mut b = record();
        b.shard = Some(ShardRecord::new(Shard { index: 1, count: 3 }, &[0, 1, 2], 9));
        b.output = Some(OutputId { rows: 3, sha256: "cd".into() });
        assert_eq!(a.first_difference(&b), None);
        b.files.get_mut("model.safetensors").unwrap().sha256 = Some("ef".into());
        assert_eq!(a.first_difference(&b), Some(("files.model.safetensors.sha256".into(), "\"ab\"".into(), "\"ef\"".into())));
        let mut c = record();
        c.parameters.insert("window".into(), "80".into());
        assert_eq!(a.first_difference(&c), Some(("parameters.window".into(), "(absent)".into(), "\"80\"".into())));
    }
}
