//! What a checkpoint holds, what geometry it implies, and whether the model loads it.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use isoformer_model::IsoformerConfig;
use isoformer_model::model::{Layout, discover, is_ignored};
use isoformer_model::weights::{TensorSource, ValuesError};

use crate::checkpoint::{Checkpoint, Entry};
use crate::convert::trunk_aliases;

/// Names and shapes of a checkpoint, without values: what the model's checks need.
pub struct ShapeSource<'a> {
    entries: BTreeMap<&'a str, &'a Entry>,
}

impl<'a> ShapeSource<'a> {
    pub fn new(entries: &'a [Entry]) -> Self {
        Self { entries: entries.iter().map(|e| (e.name.as_str(), e)).collect() }
    }
}

impl TensorSource for ShapeSource<'_> {
    fn names(&self) -> Vec<String> {
        self.entries.keys().map(|s| s.to_string()).collect()
    }
    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.entries.get(name).map(|e| e.shape.clone())
    }
    fn values(&self, _: &str, _: &[usize]) -> Result<Vec<f32>, ValuesError> {
        Err(ValuesError::ShapesOnly)
    }
}

/// Parameter counts per part. With a config whose parts are all found: `enformer`, `nt`, `esm`,
/// `fusion`, `head`, plus `ignored` (lm_head, contact_head, buffers); otherwise by first name segment.
pub fn module_counts(source: &ShapeSource, cfg: Option<&IsoformerConfig>, kept: &[&Entry]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let layout = cfg.and_then(|c| discover(source, c).ok());
    for e in kept {
        let part = match &layout {
            Some(l) => part_of(l, &e.name).to_string(),
            None => e.name.split('.').next().unwrap_or("").to_string(),
        };
        *out.entry(part).or_insert(0) += e.numel();
    }
    out
}

fn part_of<'a>(l: &Layout, name: &str) -> &'a str {
    if is_ignored(name) {
        "ignored"
    } else if name.starts_with(&l.nt) {
        "nt"
    } else if name.starts_with(&l.esm) {
        "esm"
    } else if name.starts_with(&l.enformer) {
        "enformer"
    } else if name.starts_with(&l.fusion_rna.0) || name.starts_with(&l.fusion_protein.0) {
        "fusion"
    } else if l.head.iter().any(|h| name.starts_with(&h.0)) {
        "head"
    } else {
        "other"
    }
}

/// The module a tensor belongs to for the table: the name up to its first layer index
/// (`nt_model.esm.encoder.layer.*`), or without its last segment.
fn module_key(name: &str) -> String {
    let segs: Vec<&str> = name.split('.').collect();
    if let Some(i) = segs.iter().position(|s| s.parse::<usize>().is_ok()) {
        let mut k = segs[..i].join(".");
        k.push_str(".*");
        return k;
    }
    segs[..segs.len().saturating_sub(1)].join(".")
}

/// Geometry read from shapes alone.
pub fn infer_geometry(source: &ShapeSource) -> Vec<String> {
    let names = source.names();
    let shape = |n: &str| source.shape(n).unwrap_or_default();
    let mut out = Vec::new();
    for n in names.iter().filter(|n| n.ends_with("stem.0.weight") && !n.contains("_trunk.")) {
        let p = &n[..n.len() - "stem.0.weight".len()];
        let s = shape(n);
        let dim = s.first().copied().unwrap_or(0) * 2;
        let depth = count_indices(&names, &format!("{p}transformer."));
        let stages = count_indices(&names, &format!("{p}conv_tower."));
        let bias = shape(&format!("{p}transformer.0.0.fn.1.rel_content_bias"));
        let heads_key = if bias.len() == 4 { format!("heads {} × key {}", bias[1], bias[3]) } else { "heads ?".into() };
        let out_dim = shape(&format!("{p}final_pointwise.1.2.weight")).first().copied().unwrap_or(0);
        out.push(format!(
            "Enformer at `{p}`: dim {dim}, depth {depth}, {heads_key}, {stages} conv-tower stages (num_downsamples {}), stem kernel {}, output width {out_dim}",
            stages + 1,
            s.get(2).copied().unwrap_or(0)
        ));
    }
    for n in names.iter().filter(|n| n.ends_with("embeddings.word_embeddings.weight")) {
        let p = &n[..n.len() - "embeddings.word_embeddings.weight".len()];
        let s = shape(n);
        let layers = count_indices(&names, &format!("{p}encoder.layer."));
        let inter = shape(&format!("{p}encoder.layer.0.intermediate.dense.weight"));
        let out_in = shape(&format!("{p}encoder.layer.0.output.dense.weight"));
        let swiglu = inter.first().zip(out_in.get(1)).is_some_and(|(a, b)| *a == 2 * b);
        let ffn_bias = source.shape(&format!("{p}encoder.layer.0.output.dense.bias")).is_some();
        let inv = shape(&format!("{p}encoder.layer.0.attention.self.rotary_embeddings.inv_freq"));
        let hidden = s.get(1).copied().unwrap_or(0);
        let heads = inv.first().map(|h| format!("{} heads (rotary head dim {})", hidden / (2 * h).max(1), 2 * h)).unwrap_or_else(|| "heads not recorded (no rotary inv_freq buffer)".into());
        out.push(format!(
            "{} at `{p}`: vocab {}, width {hidden}, {layers} layers, {heads}, feed-forward {} {}{}",
            if swiglu { "NT-v2-like encoder (SwiGLU)" } else { "ESM-like encoder (GELU)" },
            s.first().copied().unwrap_or(0),
            out_in.get(1).copied().unwrap_or(0),
            if swiglu { "(SwiGLU, 2× projection)" } else { "" },
            if ffn_bias { ", with biases" } else { ", no biases" },
        ));
    }
    out
}

fn count_indices(names: &[String], prefix: &str) -> usize {
    names
        .iter()
        .filter_map(|n| n.strip_prefix(prefix))
        .filter_map(|rest| rest.split('.').next()?.parse::<usize>().ok())
        .max()
        .map_or(0, |m| m + 1)
}

/// The full report `isoformer inspect` prints; the second value says whether the model loads it
/// (`None` when no config was given).
pub fn report(ckpt: &Checkpoint, cfg: Option<(&str, &IsoformerConfig)>) -> (String, Option<bool>) {
    let aliases = trunk_aliases(&ckpt.entries);
    let alias_set: HashSet<&str> = aliases.iter().map(|a| a.0.as_str()).collect();
    let kept: Vec<&Entry> = ckpt.entries.iter().filter(|e| !alias_set.contains(e.name.as_str())).collect();
    let mut s = String::new();
    write_summary(&mut s, ckpt, aliases.len());
    write_modules(&mut s, &kept);
    let shapes = ShapeSource::new(&ckpt.entries);
    let _ = writeln!(s, "\ngeometry (from shapes):");
    for line in infer_geometry(&shapes) {
        let _ = writeln!(s, "  {line}");
    }
    let Some((cfg_name, cfg)) = cfg else {
        let _ = writeln!(s, "\n(no --model/--config given: not checked against a model)");
        return (s, None);
    };
    let loads = write_load_check(&mut s, &shapes, (cfg_name, cfg), &kept);
    (s, Some(loads))
}

/// Format, counts, and the pickle's globals.
fn write_summary(s: &mut String, ckpt: &Checkpoint, aliases: usize) {
    let total: usize = ckpt.entries.iter().map(Entry::numel).sum();
    let bytes: usize = ckpt.entries.iter().map(Entry::byte_len).sum();
    let _ = writeln!(s, "{}: {}", ckpt.path.display(), ckpt.format);
    let _ = writeln!(
        s,
        "{} tensors, {} elements, {:.1} MB of data; {} `_trunk.*` aliases of Enformer tensors",
        ckpt.entries.len(),
        total,
        bytes as f64 / 1e6,
        aliases
    );
    if !ckpt.globals.is_empty() {
        let mut g: Vec<String> = ckpt.globals.iter().map(|(m, n)| format!("{m}.{n}")).collect();
        g.sort();
        g.dedup();
        let _ = writeln!(s, "pickle globals (all on the allow-list): {}", g.join(", "));
    }
}

/// Tensors, parameters and dtypes per module (see [`module_key`]).
fn write_modules(s: &mut String, kept: &[&Entry]) {
    let _ = writeln!(s, "\nmodules:");
    let mut groups: BTreeMap<String, (usize, usize, Vec<String>)> = BTreeMap::new();
    for e in kept {
        let g = groups.entry(module_key(&e.name)).or_default();
        g.0 += 1;
        g.1 += e.numel();
        let d = format!("{:?}", e.dtype);
        if !g.2.contains(&d) {
            g.2.push(d);
        }
    }
    let width = groups.keys().map(String::len).max().unwrap_or(10).min(70);
    for (k, (n, p, d)) in &groups {
        let _ = writeln!(s, "  {k:<width$}  {n:>5} tensors  {p:>12} params  {}", d.join(","));
    }
}

/// Whether the model loads these tensors: where it found each part, or every problem.
fn write_load_check(s: &mut String, shapes: &ShapeSource, (cfg_name, cfg): (&str, &IsoformerConfig), kept: &[&Entry]) -> bool {
    let _ = writeln!(s, "\ncheck against {cfg_name}:");
    match isoformer_model::Isoformer::check(cfg, shapes, &burn::tensor::Device::flex()) {
        Ok(layout) => {
            let _ = writeln!(s, "  Enformer `{}`, NT `{}`, ESM `{}`", layout.enformer, layout.nt, layout.esm);
            let _ = writeln!(s, "  fusion: RNA `{}`, protein `{}`", layout.fusion_rna.0, layout.fusion_protein.0);
            let head: Vec<String> = layout.head.iter().map(|(p, i, o)| format!("{p} [{i}→{o}]")).collect();
            let _ = writeln!(s, "  head: mean over bins {}..{} → {} ({:?} between layers)", cfg.pool_window_start, cfg.pool_window_end, head.join(" → "), cfg.isoformer_head_activation);
            for (part, n) in module_counts(shapes, Some(cfg), kept) {
                let _ = writeln!(s, "  {part:<9} {n:>12} parameters");
            }
            let _ = writeln!(s, "OK: every tensor the model needs is present with the right shape; this checkpoint loads.");
            true
        }
        Err(e) => {
            let _ = writeln!(s, "  {}", e.to_string().replace('\n', "\n  "));
            let _ = writeln!(s, "FAILED: this checkpoint does not load with {cfg_name} (see the list above).");
            false
        }
    }
}
