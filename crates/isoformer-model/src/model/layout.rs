//! Finding the model's parts in a checkpoint whatever their top-level names, and checking that
//! a build used everything it should.
//!
//! The official checkpoint's top-level attribute names are not public, so each part is found by
//! its internal names and shapes:
//! * Enformer: the prefix `P` for which `P + "stem.0.weight"` exists (its `_trunk.*` copies are
//!   accepted as aliases, checked identical, and not reported as unexpected).
//! * NT-v2 and ESM-2: the prefixes `P` for which `P + SequenceEncoder::ANCHOR` exists
//!   (`embeddings.word_embeddings.weight`); told apart by the anchor's shape, vocabulary size
//!   and width (`nt_vocab_size`/`nt_hidden_size` vs `esm_*`), then by name.
//! * Fusion: the two groups of four Linear layers named like [`PROJECTION_NAMES`] whose key
//!   projection reads the NT width (RNA layer) or the ESM width (protein layer); when both widths
//!   are equal, the group whose name contains `rna` / `protein`.
//! * Head: every remaining Linear layer, chained by shape from 2·enformer_dim to the outputs.
//! Unused `lm_head.*`, `contact_head.*`, rotary `inv_freq`, `position_ids` and BatchNorm
//! `num_batches_tracked` are ignored (listed at debug level). Anything else left over, missing
//! or mis-shaped is an error listing all of it.

use std::collections::BTreeSet;

use crate::config::{EsmGeometry, IsoformerConfig};
use crate::encoder::{Modality, SequenceEncoder};
use crate::enformer::TRUNK_ALIASES;
use crate::esm::EsmEncoder;
use crate::fusion::PROJECTION_NAMES;
use crate::weights::{LoadError, LoadProblem, Loader, TensorSource};

/// Where each part lives in a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub enformer: String,
    pub nt: String,
    pub esm: String,
    /// `(prefix, leaf names)` of the RNA and protein cross-attention layers.
    pub fusion_rna: (String, [&'static str; 4]),
    pub fusion_protein: (String, [&'static str; 4]),
    /// `(prefix, in, out)` of each head layer, in order.
    pub head: Vec<(String, usize, usize)>,
}

impl Layout {
    /// The names this project's fixture script uses (for models built from seeded values).
    pub fn standard(cfg: &IsoformerConfig, head_hidden: &[usize], outputs: usize) -> Self {
        let mut dims = vec![2 * cfg.enformer_dim];
        dims.extend_from_slice(head_hidden);
        dims.push(outputs);
        let fusion = |m: Modality| (format!("cross_attention_layer_{}.", m.key()), PROJECTION_NAMES[0]);
        Self {
            enformer: "enformer.".into(),
            nt: "nt_model.esm.".into(),
            esm: "esm_model.esm.".into(),
            fusion_rna: fusion(Modality::Rna),
            fusion_protein: fusion(Modality::Protein),
            head: dims.windows(2).enumerate().map(|(i, w)| (format!("head_layer_{}", i + 1), w[0], w[1])).collect(),
        }
    }
}

/// After building: `_trunk.*` copies must equal their canonical tensors (unless the loader was a
/// dry run), and every tensor must have been used or be ignorable.
pub(crate) fn audit(l: Loader, source: &dyn TensorSource, layout: &Layout) -> Result<(), LoadError> {
    let (mut problems, aliases_ok) = audit_aliases(&l, source, layout);
    let used = l.used().clone();
    let mut ignored = Vec::new();
    for n in source.names() {
        if used.contains(&n) || aliases_ok.contains(&n) {
            continue;
        }
        if is_ignored(&n) {
            ignored.push(n);
        } else {
            problems.push(LoadProblem::Unexpected { shape: source.shape(&n).unwrap_or_default(), name: n });
        }
    }
    if !ignored.is_empty() {
        log::debug!("ignored {} unused tensors: {}", ignored.len(), ignored.join(", "));
    }
    problems.extend(l.into_problems());
    if problems.is_empty() {
        Ok(())
    } else {
        problems.sort();
        Err(LoadError { context: "building IsoFormer from the checkpoint".into(), problems })
    }
}

/// The Enformer's `_trunk.*` aliases present in `source`, and a problem for each that differs
/// from its canonical copy (shapes always; values unless the loader is a dry run).
fn audit_aliases(l: &Loader, source: &dyn TensorSource, layout: &Layout) -> (Vec<LoadProblem>, BTreeSet<String>) {
    let mut problems = Vec::new();
    let mut aliases = BTreeSet::new();
    for n in source.names() {
        let Some(rel) = n.strip_prefix(&layout.enformer) else { continue };
        for (canonical, alias) in TRUNK_ALIASES {
            let Some(tail) = rel.strip_prefix(alias) else { continue };
            let c = format!("{}{canonical}{tail}", layout.enformer);
            if source.shape(&c).is_some() {
                let differs = format!("differs from its canonical copy `{c}`");
                // An alias that cannot be read beside a readable canonical copy says why (a bad
                // int8 scale, say); a canonical copy that cannot be read is reported where the
                // model reads it, or ignored with its alias (BatchNorm's integer counters).
                let problem = if source.shape(&c) != source.shape(&n) {
                    Some(differs)
                } else if l.is_dry() {
                    None
                } else {
                    match (source.values(&c, &[]), source.values(&n, &[])) {
                        (Err(_), _) => None,
                        (Ok(_), Err(e)) => Some(e.to_string()),
                        (Ok(a), Ok(b)) => (a != b).then_some(differs),
                    }
                };
                if let Some(message) = problem {
                    problems.push(LoadProblem::Bad { name: n.clone(), message });
                }
            }
            aliases.insert(n.clone());
        }
    }
    (problems, aliases)
}

/// Names ignored when left over.
pub fn is_ignored(name: &str) -> bool {
    let segs: Vec<&str> = name.split('.').collect();
    segs.iter().any(|s| *s == "lm_head" || *s == "contact_head")
        || name.ends_with("inv_freq")
        || name.ends_with("num_batches_tracked")
        || name.ends_with("position_ids")
}

fn problem(msg: String) -> LoadError {
    LoadError { context: "finding the model's parts".into(), problems: vec![LoadProblem::Bad { name: "(checkpoint)".into(), message: msg }] }
}

/// Find each part in `source` by its names and shapes.
pub fn discover(source: &dyn TensorSource, cfg: &IsoformerConfig) -> Result<Layout, LoadError> {
    let names = source.names();
    let enformer = find_enformer(&names)?;
    let [nt, esm] = find_encoders::<EsmEncoder>(source, &names, cfg)?;
    // Everything outside the encoders.
    let inside = |n: &str| n.starts_with(&enformer) && enformer_owned(&n[enformer.len()..]) || n.starts_with(&nt) || n.starts_with(&esm);
    let rest: Vec<&String> = names.iter().filter(|n| !inside(n) && !is_ignored(n)).collect();
    let [fusion_rna, fusion_protein] = find_fusion::<EsmEncoder>(source, &rest, cfg)?;
    let in_fusion = |n: &str| n.starts_with(&fusion_rna.0) || n.starts_with(&fusion_protein.0);
    let rest: Vec<&String> = rest.into_iter().filter(|n| !in_fusion(n)).collect();
    let head = find_head(source, &rest, 2 * cfg.enformer_dim)?;
    Ok(Layout { enformer, nt, esm, fusion_rna, fusion_protein, head })
}

/// The prefixes `P` (empty or ending in `.`) for which `P + suffix` is a name.
fn prefixes_with(names: &[String], suffix: &str) -> Vec<String> {
    names.iter().filter_map(|n| n.strip_suffix(suffix)).filter(|p| p.is_empty() || p.ends_with('.')).map(str::to_string).collect()
}

fn find_enformer(names: &[String]) -> Result<String, LoadError> {
    let canonical: Vec<String> = prefixes_with(names, "stem.0.weight").into_iter().filter(|p| !p.contains("_trunk.")).collect();
    let alias = prefixes_with(names, "_trunk.1.0.weight");
    match (canonical.as_slice(), alias.as_slice()) {
        ([p], _) => Ok(p.clone()),
        ([], [p]) => Ok(p.clone()),
        ([], []) => Err(problem("no Enformer trunk: no tensor named `<prefix>stem.0.weight`".into())),
        (many, _) => Err(problem(format!("several Enformer trunks at prefixes {many:?}"))),
    }
}

/// The prefix of each attended modality's encoder, in [`IsoformerConfig::attended`] order: those
/// holding `E`'s anchor tensor, assigned by the anchor's shape, then by the modality's name
/// hints, else to the last modality the shape fits.
fn find_encoders<E: SequenceEncoder<Geometry = EsmGeometry>>(
    source: &dyn TensorSource,
    names: &[String],
    cfg: &IsoformerConfig,
) -> Result<[String; 2], LoadError> {
    let attended = cfg.attended();
    let mut found: [Vec<String>; 2] = Default::default();
    for p in prefixes_with(names, E::ANCHOR) {
        let s = source.shape(&format!("{p}{}", E::ANCHOR)).unwrap_or_default();
        let fits: Vec<usize> = (0..attended.len()).filter(|&i| E::anchor_shape(&attended[i].1) == s).collect();
        let hinted = |&i: &usize| attended[i].0.name_hints().iter().any(|h| p.contains(h));
        let Some(i) = fits.iter().copied().find(hinted).or(fits.last().copied()) else {
            return Err(problem(format!(
                "`{p}{}` has shape {s:?}, neither NT [{}, {}] nor ESM [{}, {}] \
                 (nt_vocab_size/nt_hidden_size, esm_vocab_size/esm_hidden_size in config.json)",
                E::ANCHOR,
                cfg.nt_vocab_size,
                cfg.nt_hidden_size,
                cfg.esm_vocab_size,
                cfg.esm_hidden_size
            )));
        };
        found[i].push(p);
    }
    let one = |i: usize| -> Result<String, LoadError> {
        let what = attended[i].0.encoder_name();
        match found[i].as_slice() {
            [p] => Ok(p.clone()),
            [] => Err(problem(format!("no {what} encoder: no `<prefix>{}` of its shape", E::ANCHOR))),
            many => Err(problem(format!("several {what} encoders at prefixes {many:?}"))),
        }
    };
    Ok([one(0)?, one(1)?])
}

/// The cross-attention layer of each attended modality, in [`IsoformerConfig::attended`] order:
/// a group of four projections whose key reads the width of the modality's encoder `E`; when several do, the one
/// whose prefix names the modality (or names no other).
fn find_fusion<E: SequenceEncoder<Geometry = EsmGeometry>>(
    source: &dyn TensorSource,
    rest: &[&String],
    cfg: &IsoformerConfig,
) -> Result<[(String, [&'static str; 4]); 2], LoadError> {
    let mut groups: Vec<(String, [&'static str; 4], usize)> = Vec::new();
    for n in rest {
        for set in PROJECTION_NAMES {
            let Some(p) = n.strip_suffix(&format!("{}.weight", set[1])) else { continue };
            let all = set.iter().all(|leaf| source.shape(&format!("{p}{leaf}.weight")).is_some());
            if (p.is_empty() || p.ends_with('.')) && all {
                let k = source.shape(&format!("{p}{}.weight", set[1])).unwrap_or_default();
                groups.push((p.to_string(), set, k.get(1).copied().unwrap_or(0)));
            }
        }
    }
    let attended = cfg.attended();
    let pick = |i: usize| -> Result<(String, [&'static str; 4]), LoadError> {
        let (m, width) = (attended[i].0, E::width(&attended[i].1));
        let by_width: Vec<_> = groups.iter().filter(|g| g.2 == width).collect();
        let names_other = |p: &str| attended.iter().any(|(o, _)| *o != m && p.contains(o.key()));
        let chosen: Vec<_> =
            if by_width.len() > 1 { by_width.into_iter().filter(|g| g.0.contains(m.key()) || !names_other(&g.0)).collect() } else { by_width };
        match chosen.as_slice() {
            [g] => Ok((g.0.clone(), g.1)),
            [] => Err(problem(format!(
                "no {} cross-attention layer: no group of query/key/value/dense Linear layers whose key reads width {width}",
                m.key()
            ))),
            many => Err(problem(format!(
                "cannot tell which cross-attention layer is the {} one: {:?}",
                m.key(),
                many.iter().map(|g| &g.0).collect::<Vec<_>>()
            ))),
        }
    };
    let (rna, protein) = (pick(0)?, pick(1)?);
    if rna.0 == protein.0 {
        return Err(problem(format!("the RNA and protein cross-attention layers resolve to the same prefix `{}`", rna.0)));
    }
    Ok([rna, protein])
}

/// The head: the remaining Linear layers (2-D weight + 1-D bias), chained by shape from `width`.
fn find_head(source: &dyn TensorSource, rest: &[&String], width: usize) -> Result<Vec<(String, usize, usize)>, LoadError> {
    let shape = |n: &str| source.shape(n).unwrap_or_default();
    let mut linears: Vec<(String, usize, usize)> = Vec::new();
    let mut odd: Vec<String> = Vec::new();
    for n in rest {
        if let Some(p) = n.strip_suffix(".weight") {
            let s = shape(n);
            if s.len() == 2 && shape(&format!("{p}.bias")) == [s[0]] {
                linears.push((p.to_string(), s[1], s[0]));
                continue;
            }
        }
        if n.strip_suffix(".bias").is_some_and(|p| shape(&format!("{p}.weight")).len() == 2) {
            continue;
        }
        odd.push(format!("{n} {:?}", shape(n)));
    }
    linears.sort_by(|a, b| natural_key(&a.0).cmp(&natural_key(&b.0)));
    let mut head = Vec::new();
    let mut w = width;
    let mut pool: Vec<_> = linears.clone();
    while let Some(pos) = pool.iter().position(|l| l.1 == w) {
        let l = pool.remove(pos);
        w = l.2;
        head.push(l);
    }
    if head.is_empty() || !pool.is_empty() || !odd.is_empty() {
        return Err(problem(format!(
            "unrecognised head: expected Linear layers chained from width {width} (2·enformer_dim); found Linear layers {:?}{}",
            linears.iter().map(|(p, i, o)| format!("{p} [{i}→{o}]")).collect::<Vec<_>>(),
            if odd.is_empty() { String::new() } else { format!(" and other tensors {odd:?}") }
        )));
    }
    Ok(head)
}

/// Names the Enformer owns relative to its prefix.
fn enformer_owned(rel: &str) -> bool {
    ["stem.", "conv_tower.", "transformer.", "final_pointwise.", "_trunk."].iter().any(|p| rel.starts_with(p))
}

/// `layer.10` sorts after `layer.9`.
fn natural_key(s: &str) -> Vec<(String, u64)> {
    s.split('.').map(|seg| match seg.parse::<u64>() { Ok(n) => (String::new(), n), Err(_) => (seg.to_string(), 0) }).collect()
}
