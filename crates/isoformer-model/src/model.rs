//! The whole IsoFormer, and finding its parts in a checkpoint whatever their top-level names.
//!
//! The official checkpoint's top-level attribute names are not public, so each part is found by
//! its internal names and shapes:
//! * Enformer: the prefix `P` for which `P + "stem.0.weight"` exists (its `_trunk.*` copies are
//!   accepted as aliases, checked identical, and not reported as unexpected).
//! * NT-v2 and ESM-2: the prefixes `P` for which `P + "embeddings.word_embeddings.weight"` exists;
//!   told apart by vocabulary size and width (`nt_vocab_size`/`nt_hidden_size` vs `esm_*`).
//! * Fusion: the two groups of four Linear layers named like [`PROJECTION_NAMES`] whose key
//!   projection reads the NT width (RNA layer) or the ESM width (protein layer); when both widths
//!   are equal, the group whose name contains `rna` / `protein`.
//! * Head: every remaining Linear layer, chained by shape from 2·enformer_dim to the outputs.
//! Unused `lm_head.*`, `contact_head.*`, rotary `inv_freq`, `position_ids` and BatchNorm
//! `num_batches_tracked` are ignored (listed at debug level). Anything else left over, missing
//! or mis-shaped is an error listing all of it.

use std::collections::BTreeSet;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::config::{ConfigError, IsoformerConfig};
use crate::enformer::{Enformer, TRUNK_ALIASES, check_dna_length};
use crate::esm::EsmEncoder;
use crate::fusion::{CrossAttention, Fusion, PROJECTION_NAMES};
use crate::head::Head;
use crate::tokenizer::{DnaTokenizer, ProteinTokenizer, RnaTokenizer, TokenizeError, VocabError};
use crate::weights::{LoadError, LoadProblem, Loader, SeededSource, TensorSource};

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
        Self {
            enformer: "enformer.".into(),
            nt: "nt_model.esm.".into(),
            esm: "esm_model.esm.".into(),
            fusion_rna: ("cross_attention_layer_rna.".into(), PROJECTION_NAMES[0]),
            fusion_protein: ("cross_attention_layer_protein.".into(), PROJECTION_NAMES[0]),
            head: dims.windows(2).enumerate().map(|(i, w)| (format!("head_layer_{}", i + 1), w[0], w[1])).collect(),
        }
    }
}

/// After building: `_trunk.*` copies must equal their canonical tensors (unless the loader was a
/// dry run), and every tensor must have been used or be ignorable.
fn audit(l: Loader, source: &dyn TensorSource, layout: &Layout) -> Result<(), LoadError> {
    let mut problems = Vec::new();
    let used = l.used().clone();
    let mut aliases_ok = BTreeSet::new();
    for n in source.names() {
        let Some(rel) = n.strip_prefix(&layout.enformer) else { continue };
        for (canonical, alias) in TRUNK_ALIASES {
            if let Some(tail) = rel.strip_prefix(alias) {
                let c = format!("{}{canonical}{tail}", layout.enformer);
                if source.shape(&c).is_some() {
                    let same = source.shape(&c) == source.shape(&n)
                        && (l.is_dry() || source.values(&c, &[]).ok() == source.values(&n, &[]).ok());
                    if !same {
                        problems.push(LoadProblem::Bad { name: n.clone(), message: format!("differs from its canonical copy `{c}`") });
                    }
                }
                aliases_ok.insert(n.clone());
            }
        }
    }
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

/// Find each part in `names` (with `shape` lookups).
pub fn discover(source: &dyn TensorSource, cfg: &IsoformerConfig) -> Result<Layout, LoadError> {
    let names = source.names();
    let shape = |n: &str| source.shape(n).unwrap_or_default();
    let with_suffix = |suffix: &str| -> Vec<String> {
        names.iter().filter_map(|n| n.strip_suffix(suffix)).filter(|p| p.is_empty() || p.ends_with('.')).map(str::to_string).collect()
    };

    let enf: Vec<String> = with_suffix("stem.0.weight").into_iter().filter(|p| !p.contains("_trunk.")).collect();
    let enf_alias: Vec<String> = with_suffix("_trunk.1.0.weight");
    let enformer = match (enf.as_slice(), enf_alias.as_slice()) {
        ([p], _) => p.clone(),
        ([], [p]) => p.clone(),
        ([], []) => return Err(problem("no Enformer trunk: no tensor named `<prefix>stem.0.weight`".into())),
        (many, _) => return Err(problem(format!("several Enformer trunks at prefixes {many:?}"))),
    };

    let esm_like = with_suffix("embeddings.word_embeddings.weight");
    let (mut nt, mut esm) = (Vec::new(), Vec::new());
    for p in &esm_like {
        let s = shape(&format!("{p}embeddings.word_embeddings.weight"));
        let is_nt = s == [cfg.nt_vocab_size, cfg.nt_hidden_size];
        let is_esm = s == [cfg.esm_vocab_size, cfg.esm_hidden_size];
        match (is_nt, is_esm) {
            (true, false) => nt.push(p.clone()),
            (false, true) => esm.push(p.clone()),
            (true, true) => {
                if p.contains("nt") || p.contains("rna") || p.contains("nucleotide") {
                    nt.push(p.clone())
                } else {
                    esm.push(p.clone())
                }
            }
            (false, false) => {
                return Err(problem(format!(
                    "`{p}embeddings.word_embeddings.weight` has shape {s:?}, neither NT [{}, {}] nor ESM [{}, {}] \
                     (nt_vocab_size/nt_hidden_size, esm_vocab_size/esm_hidden_size in config.json)",
                    cfg.nt_vocab_size, cfg.nt_hidden_size, cfg.esm_vocab_size, cfg.esm_hidden_size
                )));
            }
        }
    }
    let one = |v: Vec<String>, what: &str| -> Result<String, LoadError> {
        match v.as_slice() {
            [p] => Ok(p.clone()),
            [] => Err(problem(format!("no {what} encoder: no `<prefix>embeddings.word_embeddings.weight` of its shape"))),
            many => Err(problem(format!("several {what} encoders at prefixes {many:?}"))),
        }
    };
    let nt = one(nt, "NT-v2 (RNA)")?;
    let esm = one(esm, "ESM-2 (protein)")?;

    // Everything outside the encoders.
    let inside = |n: &str| n.starts_with(&enformer) && enformer_owned(&n[enformer.len()..]) || n.starts_with(&nt) || n.starts_with(&esm);
    let rest: Vec<&String> = names.iter().filter(|n| !inside(n) && !is_ignored(n)).collect();

    // Fusion groups.
    let mut groups: Vec<(String, [&'static str; 4], usize)> = Vec::new();
    for n in &rest {
        for set in PROJECTION_NAMES {
            if let Some(p) = n.strip_suffix(&format!("{}.weight", set[1])) {
                if !(p.is_empty() || p.ends_with('.')) {
                    continue;
                }
                let all = set.iter().all(|leaf| source.shape(&format!("{p}{leaf}.weight")).is_some());
                if all {
                    let k = shape(&format!("{p}{}.weight", set[1]));
                    groups.push((p.to_string(), set, k.get(1).copied().unwrap_or(0)));
                }
            }
        }
    }
    let pick = |width: usize, word: &str, other_word: &str| -> Result<(String, [&'static str; 4]), LoadError> {
        let by_width: Vec<_> = groups.iter().filter(|g| g.2 == width).collect();
        let chosen: Vec<_> = if by_width.len() > 1 {
            by_width.into_iter().filter(|g| g.0.contains(word) || !g.0.contains(other_word)).collect()
        } else {
            by_width
        };
        match chosen.as_slice() {
            [g] => Ok((g.0.clone(), g.1)),
            [] => Err(problem(format!(
                "no {word} cross-attention layer: no group of query/key/value/dense Linear layers whose key reads width {width}"
            ))),
            many => Err(problem(format!(
                "cannot tell which cross-attention layer is the {word} one: {:?}",
                many.iter().map(|g| &g.0).collect::<Vec<_>>()
            ))),
        }
    };
    let fusion_rna = pick(cfg.nt_hidden_size, "rna", "protein")?;
    let fusion_protein = pick(cfg.esm_hidden_size, "protein", "rna")?;
    if fusion_rna.0 == fusion_protein.0 {
        return Err(problem(format!("the RNA and protein cross-attention layers resolve to the same prefix `{}`", fusion_rna.0)));
    }

    // Head: remaining Linear layers (2-D weight + 1-D bias), chained by shape.
    let in_fusion = |n: &str| n.starts_with(&fusion_rna.0) || n.starts_with(&fusion_protein.0);
    let mut linears: Vec<(String, usize, usize)> = Vec::new();
    let mut odd: Vec<String> = Vec::new();
    for n in rest.iter().filter(|n| !in_fusion(n)) {
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
    let d = 2 * cfg.enformer_dim;
    let mut head = Vec::new();
    let mut width = d;
    let mut pool: Vec<_> = linears.clone();
    while let Some(pos) = pool.iter().position(|l| l.1 == width) {
        let l = pool.remove(pos);
        width = l.2;
        head.push(l);
    }
    if head.is_empty() || !pool.is_empty() || !odd.is_empty() {
        return Err(problem(format!(
            "unrecognised head: expected Linear layers chained from width {d} (2·enformer_dim); found Linear layers {:?}{}",
            linears.iter().map(|(p, i, o)| format!("{p} [{i}→{o}]")).collect::<Vec<_>>(),
            if odd.is_empty() { String::new() } else { format!(" and other tensors {odd:?}") }
        )));
    }
    Ok(Layout { enformer, nt, esm, fusion_rna, fusion_protein, head })
}

/// Names the Enformer owns relative to its prefix.
fn enformer_owned(rel: &str) -> bool {
    ["stem.", "conv_tower.", "transformer.", "final_pointwise.", "_trunk."].iter().any(|p| rel.starts_with(p))
}

/// `layer.10` sorts after `layer.9`.
fn natural_key(s: &str) -> Vec<(String, u64)> {
    s.split('.').map(|seg| match seg.parse::<u64>() { Ok(n) => (String::new(), n), Err(_) => (seg.to_string(), 0) }).collect()
}

/// IsoFormer.
#[derive(Module, Debug)]
pub struct Isoformer {
    pub enformer: Enformer,
    pub nt: EsmEncoder,
    pub esm: EsmEncoder,
    pub fusion: Fusion,
    pub head: Head,
}

/// What a forward pass gives.
#[derive(Debug, Clone)]
pub struct Output {
    /// `(b, outputs)`, one column per tissue.
    pub predictions: Tensor<2>,
    /// Enformer output `(b, bins, 2·dim)`.
    pub dna_embeddings: Tensor<3>,
    /// NT-v2 last hidden state `(b, r, E1)` (padded to the longest RNA).
    pub rna_embeddings: Tensor<3>,
    /// ESM-2 last hidden state `(b, p, E2)` (padded to the longest protein).
    pub protein_embeddings: Tensor<3>,
    /// DNA embeddings after fusion `(b, bins, 2·dim)`.
    pub final_dna_embeddings: Tensor<3>,
}

/// Per-module parameter counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamCounts {
    pub enformer: usize,
    pub nt: usize,
    pub esm: usize,
    pub fusion: usize,
    pub head: usize,
}

impl Isoformer {
    /// Build from a checkpoint; one error lists every missing, unexpected or mis-shaped tensor.
    pub fn load(cfg: &IsoformerConfig, source: &dyn TensorSource, device: &Device) -> Result<Self, LoadError> {
        let layout = discover(source, cfg)?;
        let mut l = Loader::new(source, device);
        let model = Self::build(&mut l, cfg, &layout);
        audit(l, source, &layout)?;
        Ok(model)
    }

    /// Check a checkpoint's names and shapes against the model `cfg` describes, reading no
    /// values (`_trunk.*` copies are not compared). Returns where each part was found.
    pub fn check(cfg: &IsoformerConfig, source: &dyn TensorSource, device: &Device) -> Result<Layout, LoadError> {
        let layout = discover(source, cfg)?;
        let mut l = Loader::dry_run(source, device);
        Self::build(&mut l, cfg, &layout);
        audit(l, source, &layout)?;
        Ok(layout)
    }

    /// A model with seeded pseudo-random weights (see [`SeededSource`]) and the given head sizes.
    pub fn seeded(cfg: &IsoformerConfig, head_hidden: &[usize], outputs: usize, device: &Device) -> Self {
        let layout = Layout::standard(cfg, head_hidden, outputs);
        let source = SeededSource;
        let mut l = Loader::new(&source, device);
        Self::build(&mut l, cfg, &layout)
    }

    fn build(l: &mut Loader, cfg: &IsoformerConfig, layout: &Layout) -> Self {
        let dd = 2 * cfg.enformer_dim;
        let h = cfg.num_heads_omics_cross_attention;
        Self {
            enformer: Enformer::load(l, &layout.enformer, &cfg.enformer()),
            nt: EsmEncoder::load(l, &layout.nt, &cfg.nt()),
            esm: EsmEncoder::load(l, &layout.esm, &cfg.esm()),
            fusion: Fusion {
                rna: CrossAttention::load(l, &layout.fusion_rna.0, layout.fusion_rna.1, dd, cfg.nt_hidden_size, h),
                protein: CrossAttention::load(l, &layout.fusion_protein.0, layout.fusion_protein.1, dd, cfg.esm_hidden_size, h),
            },
            head: Head {
                transform: cfg.isoformer_target_transform.clone(),
                ..Head::load(l, &layout.head, cfg.isoformer_head_activation, (cfg.pool_window_start, cfg.pool_window_end))
            },
        }
    }

    /// Widths of the head's hidden layers (between 2·enformer_dim and the outputs).
    pub fn head_hidden(&self) -> Vec<usize> {
        let n = self.head.layers.len();
        self.head.layers.iter().take(n.saturating_sub(1)).map(|l| l.weight.dims()[1]).collect()
    }

    /// Every parameter under its checkpoint name in [`Layout::standard`], in PyTorch's layout
    /// (Linear `[out, in]`): what `model.safetensors` holds, so that [`Isoformer::load`] reads
    /// back exactly these values (used to save trained models).
    ///
    /// How each parameter maps to a checkpoint tensor is not written out by hand (the encoders
    /// transpose some tensors at load): a second model is built from a source whose values are
    /// their own element indices, and its parameters, read back, say which checkpoint element
    /// each parameter element came from. A parameter that is not a plain copy of checkpoint
    /// elements (anything computed at load) is an error, never a silent mis-save.
    pub fn named_tensors(&self, cfg: &IsoformerConfig) -> Result<Vec<(String, Vec<usize>, Vec<f32>)>, String> {
        let device = self.head.layers.first().ok_or("model has no head layers")?.weight.device().without_autodiff();
        let layout = Layout::standard(cfg, &self.head_hidden(), self.head.outputs());
        let ours = collect_params(self);
        let total: usize = ours.iter().map(Vec::len).sum();
        // f32 holds integers exactly below 2^24: element indices go in 23-bit digits, one build per digit.
        let digits = if total == 0 { 1 } else { (usize::BITS - (total - 1).leading_zeros()).div_ceil(23).max(1) as usize };
        let mut index: Vec<Vec<usize>> = ours.iter().map(|p| vec![0usize; p.len()]).collect();
        let mut names: Vec<(String, Vec<usize>, usize)> = Vec::new();
        for digit in 0..digits {
            let probe = IndexSource::new(digit);
            let mut l = Loader::new(&probe, &device);
            let model = Self::build(&mut l, cfg, &layout);
            if l.has_problems() {
                return Err(format!("building the index model: {:?}", l.into_problems()));
            }
            let values = collect_params(&model);
            if values.len() != ours.len() {
                return Err(format!("{} parameters in the index model, {} in the model", values.len(), ours.len()));
            }
            for (p, (vals, idx)) in values.iter().zip(index.iter_mut()).enumerate() {
                if vals.len() != idx.len() {
                    return Err(format!("parameter {p}: {} elements in the index model, {} in the model", vals.len(), idx.len()));
                }
                for (v, i) in vals.iter().zip(idx.iter_mut()) {
                    let d = *v as usize;
                    if *v < 0.0 || v.fract() != 0.0 || (d as f32) != *v || d >= 1 << 23 {
                        return Err(format!("parameter {p} is not a plain copy of checkpoint values (index element {v})"));
                    }
                    *i |= d << (23 * digit);
                }
            }
            if digit == 0 {
                names = probe.requested.into_inner();
            }
        }
        let size: usize = names.last().map(|(_, s, o)| o + s.iter().product::<usize>()).unwrap_or(0);
        if size != total {
            return Err(format!("checkpoint names hold {size} values, the model {total}"));
        }
        let mut flat = vec![f32::NAN; size];
        let mut seen = vec![false; size];
        for (vals, idx) in ours.iter().zip(&index) {
            for (v, &i) in vals.iter().zip(idx) {
                if i >= size || seen[i] {
                    return Err(format!("checkpoint element {i} is claimed twice or out of range"));
                }
                seen[i] = true;
                flat[i] = *v;
            }
        }
        Ok(names.into_iter().map(|(n, shape, off)| {
            let len: usize = shape.iter().product();
            let v = flat[off..off + len].to_vec();
            (n, shape, v)
        }).collect())
    }

    pub fn param_counts(&self) -> ParamCounts {
        ParamCounts {
            enformer: self.enformer.num_params(),
            nt: self.nt.num_params(),
            esm: self.esm.num_params(),
            fusion: self.fusion.num_params(),
            head: self.head.num_params(),
        }
    }

    /// `dna (b, length, 4)` one-hot; `rna[b]`, `protein[b]` token ids (unpadded). A row whose
    /// protein is only `<cls><eos>` (empty protein) skips the protein cross-attention.
    pub fn forward(&self, dna: Tensor<3>, rna: &[Vec<u32>], protein: &[Vec<u32>]) -> Output {
        self.forward_from_dna(self.enformer.forward(dna), rna, protein)
    }

    /// Everything after Enformer, from its output `(b, bins, 2·dim)`: for callers that reuse DNA
    /// embeddings (isoforms sharing a TSS share one window).
    pub fn forward_from_dna(&self, dna_embeddings: Tensor<3>, rna: &[Vec<u32>], protein: &[Vec<u32>]) -> Output {
        let rna_embeddings = self.nt.forward(rna);
        let protein_embeddings = self.esm.forward(protein);
        let valid = |rows: &[Vec<u32>]| -> Vec<Vec<bool>> { rows.iter().map(|r| vec![true; r.len()]).collect() };
        let has_protein: Vec<bool> = protein.iter().map(|p| p.len() > 2).collect();
        let final_dna_embeddings = self.fusion.forward(
            dna_embeddings.clone(),
            rna_embeddings.clone(),
            &valid(rna),
            protein_embeddings.clone(),
            &valid(protein),
            &has_protein,
        );
        let predictions = self.head.forward(final_dna_embeddings.clone());
        Output { predictions, dna_embeddings, rna_embeddings, protein_embeddings, final_dna_embeddings }
    }
}

/// Every float parameter's values, in visiting order.
fn collect_params<M: Module>(m: &M) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let data = param.val().into_data().convert::<f32>();
            self.0.push(data.try_to_vec::<f32>().expect("f32 parameter data"));
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

/// A generative source whose values are their own global element index (one 23-bit digit of
/// it), recording the names and shapes asked for, in order, with their offsets.
struct IndexSource {
    digit: usize,
    requested: std::cell::RefCell<Vec<(String, Vec<usize>, usize)>>,
}

impl IndexSource {
    fn new(digit: usize) -> Self {
        Self { digit, requested: std::cell::RefCell::new(Vec::new()) }
    }
}

impl TensorSource for IndexSource {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
    fn shape(&self, _name: &str) -> Option<Vec<usize>> {
        None
    }
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        let mut r = self.requested.borrow_mut();
        if r.iter().any(|(n, _, _)| n == name) {
            return Err(format!("`{name}` requested twice"));
        }
        let off = r.last().map(|(_, s, o)| o + s.iter().product::<usize>()).unwrap_or(0);
        let n: usize = shape.iter().product();
        r.push((name.to_string(), shape.to_vec(), off));
        Ok((off..off + n).map(|i| ((i >> (23 * self.digit)) & ((1 << 23) - 1)) as f32).collect())
    }
}

/// Anything that stops a model from being built from its files.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("config.json: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Vocab(#[from] VocabError),
    #[error("model.safetensors: {0}")]
    Safetensors(String),
    #[error("model.safetensors: {0}")]
    Weights(#[from] LoadError),
}

/// An input the model cannot take; `row` names the transcript.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{id}: {message}")]
pub struct InputError {
    pub id: String,
    pub message: String,
}

/// The files of a model directory, already read (the official HF repository layout with
/// safetensors weights; see models/README.md).
pub struct ModelFiles {
    pub config_json: String,
    pub safetensors: Vec<u8>,
    pub dna_vocab: String,
    pub rna_vocab: String,
    pub protein_vocab: String,
}

impl ModelFiles {
    pub const CONFIG: &'static str = "config.json";
    pub const WEIGHTS: &'static str = "model.safetensors";

    /// Gather the five files through `read(file name)`, which the caller backs with a file
    /// system, the browser's File API or memory. Text files must be UTF-8.
    pub fn gather<E>(mut read: impl FnMut(&str) -> Result<Vec<u8>, E>) -> Result<Self, GatherError<E>> {
        let mut text = |name: &'static str| -> Result<String, GatherError<E>> {
            let bytes = read(name).map_err(|e| GatherError::Read { file: name, source: e })?;
            String::from_utf8(bytes).map_err(|_| GatherError::NotUtf8 { file: name })
        };
        Ok(Self {
            config_json: text(Self::CONFIG)?,
            dna_vocab: text(DnaTokenizer::FILE)?,
            rna_vocab: text(RnaTokenizer::FILE)?,
            protein_vocab: text(ProteinTokenizer::FILE)?,
            safetensors: read(Self::WEIGHTS).map_err(|e| GatherError::Read { file: Self::WEIGHTS, source: e })?,
        })
    }
}

/// A model file that could not be had.
#[derive(Debug, thiserror::Error)]
pub enum GatherError<E> {
    #[error("{file}: cannot read")]
    Read {
        file: &'static str,
        #[source]
        source: E,
    },
    #[error("{file}: not UTF-8 text")]
    NotUtf8 { file: &'static str },
}

/// One transcript to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub id: String,
    pub dna: String,
    pub rna: String,
    /// Empty for a non-coding transcript.
    pub protein: String,
}

/// An example turned into model inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub id: String,
    /// `(length × 4)` one-hot, row-major.
    pub dna_one_hot: Vec<f32>,
    pub dna_len: usize,
    pub rna_tokens: Vec<u32>,
    pub protein_tokens: Vec<u32>,
    /// RNA had more tokens than `num_tokens_per_seq_nuctf_rna`: its 5′ tokens were dropped.
    pub rna_cropped: bool,
    /// Protein had more tokens than `num_protein_tokens_per_seq`: its C-terminal residues were dropped.
    pub protein_cropped: bool,
}

/// A model with its tokenizers: bytes in, predictions out.
pub struct Predictor {
    pub config: IsoformerConfig,
    pub model: Isoformer,
    pub dna: DnaTokenizer,
    pub rna: RnaTokenizer,
    pub protein: ProteinTokenizer,
    pub device: Device,
}

impl Predictor {
    pub fn from_files(files: &ModelFiles, device: &Device) -> Result<Self, ModelError> {
        let config = IsoformerConfig::from_json(&files.config_json)?;
        let dna = DnaTokenizer::from_vocab(&files.dna_vocab)?;
        let rna = RnaTokenizer::from_vocab(&files.rna_vocab)?;
        let protein = ProteinTokenizer::from_vocab(&files.protein_vocab)?;
        let source = crate::weights::SafetensorsSource::new(&files.safetensors).map_err(|e| ModelError::Safetensors(e.to_string()))?;
        let model = Isoformer::load(&config, &source, device)?;
        let outputs = model.head.outputs();
        let counts = [
            ("isoformer_output_names", config.isoformer_output_names.as_ref().map(Vec::len)),
            ("isoformer_target_transform", config.isoformer_target_transform.as_ref().and_then(|t| t.mean.as_ref()).map(Vec::len)),
        ];
        for (field, n) in counts {
            if let Some(n) = n.filter(|&n| n != outputs) {
                return Err(ModelError::Config(ConfigError::Field { field, message: format!("{n} entries for a head with {outputs} outputs") }));
            }
        }
        Ok(Self { config, model, dna, rna, protein, device: device.clone() })
    }

    /// Tokenize one example, cropping over-long RNA (keep the 3′ end) and protein (keep the N-terminus).
    pub fn encode(&self, ex: &Example) -> Result<Encoded, InputError> {
        let err = |e: TokenizeError| InputError { id: ex.id.clone(), message: e.to_string() };
        check_dna_length(ex.dna.len(), &self.config.enformer()).map_err(|message| InputError { id: ex.id.clone(), message })?;
        let dna_one_hot = self.dna.one_hot(&ex.dna).map_err(err)?;
        let mut rna_tokens = self.rna.encode(&ex.rna).map_err(err)?;
        let max_rna = self.config.num_tokens_per_seq_nuctf_rna;
        let rna_cropped = rna_tokens.len() > max_rna;
        if rna_cropped {
            let drop = rna_tokens.len() - max_rna;
            rna_tokens.drain(1..1 + drop);
        }
        let mut protein_tokens = self.protein.encode(&ex.protein).map_err(err)?;
        let max_p = self.config.num_protein_tokens_per_seq;
        let protein_cropped = protein_tokens.len() > max_p;
        if protein_cropped {
            let eos = *protein_tokens.last().expect("eos");
            protein_tokens.truncate(max_p - 1);
            protein_tokens.push(eos);
        }
        Ok(Encoded { id: ex.id.clone(), dna_len: ex.dna.len(), dna_one_hot, rna_tokens, protein_tokens, rna_cropped, protein_cropped })
    }

    /// Run a batch of encoded examples (all with the same DNA length).
    pub fn forward(&self, batch: &[Encoded]) -> Result<Output, InputError> {
        let first = batch.first().ok_or_else(|| InputError { id: "(batch)".into(), message: "empty batch".into() })?;
        if let Some(bad) = batch.iter().find(|e| e.dna_len != first.dna_len) {
            return Err(InputError {
                id: bad.id.clone(),
                message: format!("DNA length {} differs from {} in the same batch", bad.dna_len, first.dna_len),
            });
        }
        let b = batch.len();
        let dna: Vec<f32> = batch.iter().flat_map(|e| e.dna_one_hot.iter().copied()).collect();
        let dna = Tensor::<3>::from_data(TensorData::new(dna, [b, first.dna_len, 4]), &self.device);
        let rna: Vec<Vec<u32>> = batch.iter().map(|e| e.rna_tokens.clone()).collect();
        let protein: Vec<Vec<u32>> = batch.iter().map(|e| e.protein_tokens.clone()).collect();
        Ok(self.model.forward(dna, &rna, &protein))
    }

    /// Output column names: `isoformer_output_names` when the config has them, else the 30 GTEx
    /// tissues for a 30-output head, `output_N` otherwise.
    pub fn output_names(&self) -> Vec<String> {
        let n = self.model.head.outputs();
        if let Some(names) = &self.config.isoformer_output_names {
            return names.clone();
        }
        if n == crate::TISSUES.len() {
            crate::TISSUES.iter().map(|s| s.to_string()).collect()
        } else {
            (0..n).map(|i| format!("output_{i}")).collect()
        }
    }
}
