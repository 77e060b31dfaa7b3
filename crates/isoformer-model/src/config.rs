//! The model configuration, read from the official Hugging Face `config.json`.
//!
//! `IsoformerConfig` takes the file verbatim: the official field names (`enformer_*`, `nt_*`,
//! `esm_*`, `num_heads_omics_cross_attention`, `pool_window_start/end`, ...), unknown fields
//! ignored. Defaults are the official model's values (InstaDeepAI/isoformer `config.json`,
//! docs/REFERENCE.md), which match enformer-pytorch's `EnformerConfig`, NT-v2-250M and
//! ESM-2 150M; where the official file sets no value the upstream library default is used and
//! its source is named beside the field. [`IsoformerConfig::validate`] rejects impossible
//! geometry with an error naming the field.

use serde::{Deserialize, Serialize};

use crate::encoder::Modality;

/// The most halvings of the DNA window a config may ask for (see `validate_enformer`).
pub const MAX_DOWNSAMPLES: usize = 16;

/// Activation between the head's linear layers. Not recoverable from weights (an activation has
/// none), so it is a config field of ours, `isoformer_head_activation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HeadActivation {
    /// `log(1 + e^x)`; the default (see models/README.md for why).
    #[default]
    Softplus,
    Relu,
    Tanh,
    Gelu,
}

/// The official `config.json`, field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IsoformerConfig {
    // ---- Enformer (enformer-pytorch `EnformerConfig` names, prefixed) ----
    pub enformer_dim: usize,
    pub enformer_depth: usize,
    pub enformer_heads: usize,
    pub enformer_attn_dim_key: usize,
    pub enformer_num_downsamples: usize,
    pub enformer_dim_divisible_by: usize,
    pub enformer_target_length: usize,
    pub enformer_use_tf_gamma: bool,
    pub enformer_use_convnext: bool,

    // ---- Nucleotide Transformer v2 (transformers `EsmConfig` names, prefixed) ----
    pub nt_vocab_size: usize,
    pub nt_hidden_size: usize,
    /// Not in the official file [U]; NT-v2-250M has 24.
    pub nt_num_hidden_layers: usize,
    /// Not in the official file [U]; NT-v2-250M has 16.
    pub nt_num_attention_heads: usize,
    pub nt_intermediate_size: usize,
    pub nt_max_position_embeddings: usize,
    pub nt_add_bias_fnn: bool,
    pub nt_emb_layer_norm_before: bool,
    pub nt_mask_token_id: u32,
    pub nt_pad_token_id: u32,
    pub nt_token_dropout: bool,
    pub nt_position_embedding_type: String,
    /// transformers `EsmConfig` default 1e-12 when absent.
    pub nt_layer_norm_eps: f64,

    // ---- ESM-2 ----
    pub esm_vocab_size: usize,
    pub esm_hidden_size: usize,
    pub esm_num_hidden_layers: usize,
    pub esm_num_attention_heads: usize,
    pub esm_intermediate_size: usize,
    pub esm_max_position_embeddings: usize,
    pub esm_add_bias_fnn: bool,
    pub esm_emb_layer_norm_before: bool,
    pub esm_mask_token_id: u32,
    pub esm_pad_token_id: u32,
    pub esm_token_dropout: bool,
    pub esm_position_embedding_type: String,
    /// transformers `EsmConfig` default 1e-12 when absent (the original ESM-2 used 1e-5).
    pub esm_layer_norm_eps: f64,

    // ---- fusion and head ----
    pub num_heads_omics_cross_attention: usize,
    /// DNA tokens per sequence the official data pipeline used (informational).
    pub num_tokens_per_seq_nuctf: usize,
    /// RNA token limit (CLS included).
    pub num_tokens_per_seq_nuctf_rna: usize,
    /// Protein token limit (`<cls>` and `<eos>` included).
    pub num_protein_tokens_per_seq: usize,
    /// First DNA bin (after the Enformer crop) averaged by the head.
    pub pool_window_start: usize,
    /// One past the last DNA bin averaged by the head.
    pub pool_window_end: usize,
    /// Ours, not official: the head's activation (see [`HeadActivation`]).
    pub isoformer_head_activation: HeadActivation,
    /// Ours, not official: names of the head's outputs, written by `isoformer train` when it was
    /// trained on named target columns. Absent: the 30 GTEx tissues for a 30-output head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isoformer_output_names: Option<Vec<String>>,
    /// Ours, not official: how training transformed the targets; the head's raw outputs are
    /// mapped back through its inverse so predictions come out in the training file's units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isoformer_target_transform: Option<TargetTransform>,
    /// Ours, not official: how `isoformer quantize` stored the weights (`int8-per-channel`,
    /// `int4-per-block-N`;
    /// see `crate::quant`). Informational: the weights file's dtypes are what loading follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isoformer_quantization: Option<String>,
}

/// The transform `isoformer train` applied to targets before fitting: `y' = (f(y) − mean) / std`
/// with `f` = `log1p` or the identity, `mean`/`std` per output (absent: no standardisation).
/// Predictions are `f⁻¹(raw · std + mean)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TargetTransform {
    /// `"log1p"` or `"none"`.
    pub transform: TargetFunction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<Vec<f32>>,
}

/// The element-wise function of [`TargetTransform`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TargetFunction {
    /// `log(1 + y)`: for raw TPM-like values; undone with `exp(x) − 1`.
    Log1p,
    /// Targets used as they are (already on a log scale, or proportions).
    #[default]
    None,
}

impl TargetTransform {
    /// Training space from data units.
    pub fn forward(&self, output: usize, y: f32) -> f32 {
        let f = match self.transform {
            TargetFunction::Log1p => y.ln_1p(),
            TargetFunction::None => y,
        };
        match (&self.mean, &self.std) {
            (Some(m), Some(s)) => (f - m[output]) / s[output],
            _ => f,
        }
    }

    /// Data units from training space (what prediction applies).
    pub fn inverse(&self, output: usize, x: f32) -> f32 {
        let f = match (&self.mean, &self.std) {
            (Some(m), Some(s)) => x * s[output] + m[output],
            _ => x,
        };
        match self.transform {
            TargetFunction::Log1p => f.exp_m1(),
            TargetFunction::None => f,
        }
    }

    pub fn is_identity(&self) -> bool {
        self.transform == TargetFunction::None && self.mean.is_none() && self.std.is_none()
    }
}

impl Default for IsoformerConfig {
    fn default() -> Self {
        Self {
            enformer_dim: 1536,
            enformer_depth: 11,
            enformer_heads: 8,
            enformer_attn_dim_key: 64,
            enformer_num_downsamples: 7,
            enformer_dim_divisible_by: 128,
            enformer_target_length: 896,
            enformer_use_tf_gamma: false,
            enformer_use_convnext: false,
            nt_vocab_size: 4107,
            nt_hidden_size: 768,
            nt_num_hidden_layers: 24,
            nt_num_attention_heads: 16,
            nt_intermediate_size: 3072,
            nt_max_position_embeddings: 2050,
            nt_add_bias_fnn: false,
            nt_emb_layer_norm_before: false,
            nt_mask_token_id: 2,
            nt_pad_token_id: 1,
            nt_token_dropout: false,
            nt_position_embedding_type: "rotary".into(),
            nt_layer_norm_eps: 1e-12,
            esm_vocab_size: 33,
            esm_hidden_size: 640,
            esm_num_hidden_layers: 30,
            esm_num_attention_heads: 20,
            esm_intermediate_size: 2560,
            esm_max_position_embeddings: 1026,
            esm_add_bias_fnn: true,
            esm_emb_layer_norm_before: false,
            esm_mask_token_id: 32,
            esm_pad_token_id: 1,
            esm_token_dropout: true,
            esm_position_embedding_type: "rotary".into(),
            esm_layer_norm_eps: 1e-12,
            num_heads_omics_cross_attention: 8,
            num_tokens_per_seq_nuctf: 2048,
            num_tokens_per_seq_nuctf_rna: 2048,
            num_protein_tokens_per_seq: 1024,
            pool_window_start: 0,
            pool_window_end: 896,
            isoformer_head_activation: HeadActivation::Softplus,
            isoformer_output_names: None,
            isoformer_target_transform: None,
            isoformer_quantization: None,
        }
    }
}

/// An impossible or unsupported configuration; the message names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("not valid JSON for an IsoFormer config: {0}")]
    Json(String),
    #[error("starts with a UTF-8 byte-order mark (BOM); save it without one")]
    ByteOrderMark,
    #[error("holds {0}, not a JSON object of config fields")]
    NotAnObject(&'static str),
    #[error("no `{}` field (required: the official config.json names every one of {}){}", .0[0], REQUIRED.join(", "), if .0.len() > 1 { format!("; {} more missing: {}", .0.len() - 1, .0[1..].join(", ")) } else { String::new() })]
    Missing(Vec<&'static str>),
    #[error("the geometry implies about {parameters:.2e} parameters ({:.0} GiB as f32), more than this version allows ({MAX_PARAMETERS:.2e}); check the layer counts and widths", parameters * 4.0 / (1u64 << 30) as f64)]
    TooBig { parameters: f64 },
    #[error("config field `{field}`: {message}")]
    Field { field: &'static str, message: String },
}

/// The fields a config.json must name: the geometry the official file spells out (NT-v2's layer
/// and head counts are not in it, so they may be absent).
pub const REQUIRED: [&str; 13] = [
    "enformer_dim",
    "enformer_depth",
    "enformer_heads",
    "enformer_attn_dim_key",
    "enformer_num_downsamples",
    "enformer_target_length",
    "nt_hidden_size",
    "nt_intermediate_size",
    "esm_vocab_size",
    "esm_hidden_size",
    "esm_num_hidden_layers",
    "esm_num_attention_heads",
    "esm_intermediate_size",
];

/// Upper bounds on sizes, checked before anything is allocated: far above any IsoFormer (the
/// official model has 11 + 24 + 30 layers, widths up to 3,072, 4,107 tokens), far below what
/// would overflow or exhaust memory at initialisation (a 10^12-layer config used to abort).
const MAX_LAYERS: usize = 1024;
const MAX_WIDTH: usize = 1 << 16;
const MAX_VOCAB: usize = 1 << 20;
const MAX_TOKENS: usize = 1 << 20;
/// Parameters implied by the geometry (an estimate from the dominant matrices): 2^34 f32 values
/// are 64 GiB, over ten times the official model.
const MAX_PARAMETERS: f64 = (1u64 << 34) as f64;

fn bad(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Field { field, message: message.into() }
}

/// Geometry of one ESM-architecture encoder (the NT-v2 RNA encoder or the ESM-2 protein encoder).
#[derive(Debug, Clone, PartialEq)]
pub struct EsmGeometry {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
    /// NT-v2: SiLU(x1)·x2 over a `2 × intermediate` projection; ESM-2: erf-GELU.
    pub swiglu: bool,
    pub ffn_bias: bool,
    pub token_dropout: bool,
    pub mask_token_id: u32,
    pub pad_token_id: u32,
    pub layer_norm_eps: f64,
    pub max_tokens: usize,
}

/// Geometry of the Enformer trunk.
#[derive(Debug, Clone, PartialEq)]
pub struct EnformerGeometry {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub attn_dim_key: usize,
    pub num_downsamples: usize,
    pub target_length: usize,
    /// Channels after the stem and after each conv-tower stage (`filter_list` upstream).
    pub filters: Vec<usize>,
}

impl EnformerGeometry {
    /// DNA bases per output bin before cropping (2^num_downsamples).
    pub fn bin_size(&self) -> usize {
        1 << self.num_downsamples
    }
    /// Relative-position features per head (`dim / heads`).
    pub fn rel_pos_features(&self) -> usize {
        self.dim / self.heads
    }
    /// Output width (`2 × dim`).
    pub fn out_dim(&self) -> usize {
        2 * self.dim
    }
}

/// enformer-pytorch `exponential_linspace_int`: channel counts of the conv tower.
pub fn exponential_linspace_int(start: usize, end: usize, num: usize, divisible_by: usize) -> Vec<usize> {
    let round = |x: f64| ((x / divisible_by as f64).round_ties_even() as i64 * divisible_by as i64) as usize;
    if num == 1 {
        return vec![round(start as f64)];
    }
    let base = ((end as f64 / start as f64).ln() / (num as f64 - 1.0)).exp();
    (0..num).map(|i| round(start as f64 * base.powi(i as i32))).collect()
}

impl IsoformerConfig {
    /// Parse `config.json` text; unknown fields are ignored.
    ///
    /// The text must be a JSON object naming at least the [`REQUIRED`] geometry fields (a config
    /// that lost them is refused, not read as the official defaults); other fields take the
    /// official values when absent.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        if text.starts_with('\u{feff}') {
            return Err(ConfigError::ByteOrderMark);
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        let fields = match &value {
            serde_json::Value::Object(fields) => fields,
            serde_json::Value::Array(_) => return Err(ConfigError::NotAnObject("an array")),
            serde_json::Value::Null => return Err(ConfigError::NotAnObject("null")),
            _ => return Err(ConfigError::NotAnObject("a single value")),
        };
        let missing: Vec<&'static str> = REQUIRED.iter().copied().filter(|k| !fields.contains_key(*k)).collect();
        if !missing.is_empty() {
            return Err(ConfigError::Missing(missing));
        }
        let cfg: Self = serde_json::from_value(value).map_err(|e| ConfigError::Json(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reject impossible geometry, naming the field.
    ///
    /// Every size is bounded before it is used to allocate or shift.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let nonzero: [(&'static str, usize); 14] = [
            ("enformer_dim", self.enformer_dim),
            ("enformer_depth", self.enformer_depth),
            ("enformer_heads", self.enformer_heads),
            ("enformer_attn_dim_key", self.enformer_attn_dim_key),
            ("enformer_num_downsamples", self.enformer_num_downsamples),
            ("enformer_dim_divisible_by", self.enformer_dim_divisible_by),
            ("enformer_target_length", self.enformer_target_length),
            ("nt_hidden_size", self.nt_hidden_size),
            ("nt_num_attention_heads", self.nt_num_attention_heads),
            ("nt_intermediate_size", self.nt_intermediate_size),
            ("esm_hidden_size", self.esm_hidden_size),
            ("esm_num_attention_heads", self.esm_num_attention_heads),
            ("esm_intermediate_size", self.esm_intermediate_size),
            ("num_heads_omics_cross_attention", self.num_heads_omics_cross_attention),
        ];
        for (field, v) in nonzero {
            if v == 0 {
                return Err(bad(field, "must be at least 1"));
            }
        }
        self.validate_sizes()?;
        self.validate_enformer()?;
        self.validate_encoders()?;
        self.validate_limits()?;
        self.validate_outputs()
    }

    /// Every size under its bound, and the parameters they imply under [`MAX_PARAMETERS`].
    fn validate_sizes(&self) -> Result<(), ConfigError> {
        let bounded: [(&'static str, usize, usize, &str); 17] = [
            ("enformer_depth", self.enformer_depth, MAX_LAYERS, "layers"),
            ("nt_num_hidden_layers", self.nt_num_hidden_layers, MAX_LAYERS, "layers"),
            ("esm_num_hidden_layers", self.esm_num_hidden_layers, MAX_LAYERS, "layers"),
            ("enformer_dim", self.enformer_dim, MAX_WIDTH, "channels"),
            ("enformer_attn_dim_key", self.enformer_attn_dim_key, MAX_WIDTH, "channels"),
            ("enformer_heads", self.enformer_heads, MAX_WIDTH, "heads"),
            ("nt_hidden_size", self.nt_hidden_size, MAX_WIDTH, "channels"),
            ("nt_intermediate_size", self.nt_intermediate_size, MAX_WIDTH, "channels"),
            ("esm_hidden_size", self.esm_hidden_size, MAX_WIDTH, "channels"),
            ("esm_intermediate_size", self.esm_intermediate_size, MAX_WIDTH, "channels"),
            ("nt_vocab_size", self.nt_vocab_size, MAX_VOCAB, "tokens"),
            ("esm_vocab_size", self.esm_vocab_size, MAX_VOCAB, "tokens"),
            ("enformer_target_length", self.enformer_target_length, MAX_TOKENS, "bins"),
            ("nt_max_position_embeddings", self.nt_max_position_embeddings, MAX_TOKENS, "positions"),
            ("esm_max_position_embeddings", self.esm_max_position_embeddings, MAX_TOKENS, "positions"),
            ("num_tokens_per_seq_nuctf_rna", self.num_tokens_per_seq_nuctf_rna, MAX_TOKENS, "tokens"),
            ("num_protein_tokens_per_seq", self.num_protein_tokens_per_seq, MAX_TOKENS, "tokens"),
        ];
        for (field, v, max, unit) in bounded {
            if v > max {
                return Err(bad(field, format!("{v} {unit} is more than this version allows ({max}); the official model is far smaller")));
            }
        }
        let (e, nt, esm) = (self.enformer_dim as f64, self.nt_hidden_size as f64, self.esm_hidden_size as f64);
        let parameters = self.enformer_depth as f64 * (e * e * 6.0 + e * self.enformer_attn_dim_key as f64 * self.enformer_heads as f64 * 2.0)
            + self.nt_num_hidden_layers as f64 * (4.0 * nt * nt + 3.0 * nt * self.nt_intermediate_size as f64)
            + self.esm_num_hidden_layers as f64 * (4.0 * esm * esm + 2.0 * esm * self.esm_intermediate_size as f64)
            + self.nt_vocab_size as f64 * nt
            + self.esm_vocab_size as f64 * esm
            + 8.0 * e * e;
        if parameters > MAX_PARAMETERS {
            return Err(ConfigError::TooBig { parameters });
        }
        Ok(())
    }

    /// The trunk's geometry (after the non-zero checks).
    fn validate_enformer(&self) -> Result<(), ConfigError> {
        if self.enformer_dim % 2 != 0 {
            return Err(bad("enformer_dim", format!("{} is odd; the stem uses dim / 2 channels", self.enformer_dim)));
        }
        if self.enformer_dim % self.enformer_heads != 0 {
            return Err(bad(
                "enformer_heads",
                format!("{} heads do not divide enformer_dim {}", self.enformer_heads, self.enformer_dim),
            ));
        }
        let rel = self.enformer_dim / self.enformer_heads;
        if rel % 6 != 0 {
            return Err(bad(
                "enformer_dim",
                format!(
                    "enformer_dim / enformer_heads = {rel} relative-position features, not divisible by 6 \
                     (3 feature families, each with a signed copy)"
                ),
            ));
        }
        if self.enformer_num_downsamples < 2 {
            return Err(bad("enformer_num_downsamples", "must be at least 2 (stem + one conv-tower stage)"));
        }
        // 2^n bases per bin: the official model has 7 (128 bp); past 16 (65,536 bp per bin) the
        // bin size overflows small targets and the tower's channel list is a config typo, not a
        // model (found by fuzzing config.json).
        if self.enformer_num_downsamples > MAX_DOWNSAMPLES {
            return Err(bad("enformer_num_downsamples", format!("{} is more than {MAX_DOWNSAMPLES} (the official model has 7)", self.enformer_num_downsamples)));
        }
        // The tower must end at enformer_dim channels, the transformer's width; with fewer than
        // 3 downsamples (or a rounding enformer_dim_divisible_by) it does not.
        let last = self.enformer().filters.last().copied().unwrap_or(0);
        if last != self.enformer_dim {
            return Err(bad(
                "enformer_num_downsamples",
                format!(
                    "{}: the conv tower would end at {last} channels, not enformer_dim {} (at least 3 are needed)",
                    self.enformer_num_downsamples, self.enformer_dim
                ),
            ));
        }
        if self.enformer_use_tf_gamma {
            return Err(bad(
                "enformer_use_tf_gamma",
                "true is not supported: the official IsoFormer uses false (xlogy/lgamma gamma pdf)",
            ));
        }
        if self.enformer_use_convnext {
            return Err(bad("enformer_use_convnext", "true is not supported (the official IsoFormer uses false)"));
        }
        Ok(())
    }

    /// Head sizes of the encoders and the fusion, the encoder options we support, LayerNorm eps.
    fn validate_encoders(&self) -> Result<(), ConfigError> {
        for (field, hidden, heads_field, heads) in [
            ("nt_hidden_size", self.nt_hidden_size, "nt_num_attention_heads", self.nt_num_attention_heads),
            ("esm_hidden_size", self.esm_hidden_size, "esm_num_attention_heads", self.esm_num_attention_heads),
            (
                "enformer_dim",
                2 * self.enformer_dim,
                "num_heads_omics_cross_attention",
                self.num_heads_omics_cross_attention,
            ),
        ] {
            if hidden % heads != 0 {
                return Err(bad(heads_field, format!("{heads} heads do not divide the width {hidden} (`{field}`)")));
            }
            if heads_field != "num_heads_omics_cross_attention" && (hidden / heads) % 2 != 0 {
                return Err(bad(
                    heads_field,
                    format!("head size {} is odd; rotary embeddings need an even head size", hidden / heads),
                ));
            }
        }
        for (field, v) in [
            ("nt_position_embedding_type", &self.nt_position_embedding_type),
            ("esm_position_embedding_type", &self.esm_position_embedding_type),
        ] {
            if v != "rotary" {
                return Err(bad(field, format!("{v:?} is not supported; IsoFormer's encoders use \"rotary\"")));
            }
        }
        if self.nt_emb_layer_norm_before {
            return Err(bad("nt_emb_layer_norm_before", "true is not supported (NT-v2 uses false)"));
        }
        if self.esm_emb_layer_norm_before {
            return Err(bad("esm_emb_layer_norm_before", "true is not supported (ESM-2 uses false)"));
        }
        for (field, ln) in [("nt_layer_norm_eps", self.nt_layer_norm_eps), ("esm_layer_norm_eps", self.esm_layer_norm_eps)] {
            if !(ln > 0.0 && ln.is_finite()) {
                return Err(bad(field, format!("{ln} must be a positive number")));
            }
        }
        Ok(())
    }

    /// The head's pooling window and the token limits.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        if self.pool_window_end <= self.pool_window_start {
            return Err(bad(
                "pool_window_end",
                format!("{} must be greater than pool_window_start {}", self.pool_window_end, self.pool_window_start),
            ));
        }
        if self.pool_window_end > self.enformer_target_length {
            return Err(bad(
                "pool_window_end",
                format!("{} is past the {} DNA bins (enformer_target_length)", self.pool_window_end, self.enformer_target_length),
            ));
        }
        if self.num_tokens_per_seq_nuctf_rna < 2 {
            return Err(bad("num_tokens_per_seq_nuctf_rna", "must leave room for CLS and one token"));
        }
        if self.num_protein_tokens_per_seq < 3 {
            return Err(bad("num_protein_tokens_per_seq", "must leave room for <cls>, one residue and <eos>"));
        }
        Ok(())
    }

    /// Output names and the target transform of a trained model.
    fn validate_outputs(&self) -> Result<(), ConfigError> {
        if let Some(q) = &self.isoformer_quantization
            && crate::quant::Scheme::parse(q).is_none()
        {
            return Err(bad(
                "isoformer_quantization",
                format!("{q:?} is not a scheme this version reads (\"{}\" or \"int4-per-block-N\", N even)", crate::quant::INT8_PER_CHANNEL),
            ));
        }
        if let Some(names) = &self.isoformer_output_names {
            if names.is_empty() || names.iter().any(|n| n.is_empty() || n.contains(['\t', '\n'])) {
                return Err(bad("isoformer_output_names", "must be non-empty names without tabs or newlines"));
            }
        }
        if let Some(t) = &self.isoformer_target_transform {
            match (&t.mean, &t.std) {
                (None, None) => {}
                (Some(m), Some(s)) if m.len() == s.len() => {
                    if m.iter().any(|v| !v.is_finite()) || s.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                        return Err(bad("isoformer_target_transform", "mean must be finite and std finite and positive"));
                    }
                    if let Some(names) = &self.isoformer_output_names {
                        if names.len() != m.len() {
                            return Err(bad(
                                "isoformer_target_transform",
                                format!("{} means for {} output names", m.len(), names.len()),
                            ));
                        }
                    }
                }
                _ => return Err(bad("isoformer_target_transform", "mean and std must both be present, of equal length")),
            }
        }
        Ok(())
    }

    pub fn enformer(&self) -> EnformerGeometry {
        let half = self.enformer_dim / 2;
        let mut filters = vec![half];
        filters.extend(exponential_linspace_int(
            half,
            self.enformer_dim,
            self.enformer_num_downsamples - 1,
            self.enformer_dim_divisible_by,
        ));
        EnformerGeometry {
            dim: self.enformer_dim,
            depth: self.enformer_depth,
            heads: self.enformer_heads,
            attn_dim_key: self.enformer_attn_dim_key,
            num_downsamples: self.enformer_num_downsamples,
            target_length: self.enformer_target_length,
            filters,
        }
    }

    /// Geometry of the encoder of each attended modality, in fusion order.
    pub fn attended(&self) -> [(Modality, EsmGeometry); 2] {
        [(Modality::Rna, self.nt()), (Modality::Protein, self.esm())]
    }

    pub fn nt(&self) -> EsmGeometry {
        EsmGeometry {
            vocab_size: self.nt_vocab_size,
            hidden_size: self.nt_hidden_size,
            num_layers: self.nt_num_hidden_layers,
            num_heads: self.nt_num_attention_heads,
            intermediate_size: self.nt_intermediate_size,
            swiglu: true,
            ffn_bias: self.nt_add_bias_fnn,
            token_dropout: self.nt_token_dropout,
            mask_token_id: self.nt_mask_token_id,
            pad_token_id: self.nt_pad_token_id,
            layer_norm_eps: self.nt_layer_norm_eps,
            max_tokens: self.num_tokens_per_seq_nuctf_rna,
        }
    }

    pub fn esm(&self) -> EsmGeometry {
        EsmGeometry {
            vocab_size: self.esm_vocab_size,
            hidden_size: self.esm_hidden_size,
            num_layers: self.esm_num_hidden_layers,
            num_heads: self.esm_num_attention_heads,
            intermediate_size: self.esm_intermediate_size,
            swiglu: false,
            ffn_bias: self.esm_add_bias_fnn,
            token_dropout: self.esm_token_dropout,
            mask_token_id: self.esm_mask_token_id,
            pad_token_id: self.esm_pad_token_id,
            layer_norm_eps: self.esm_layer_norm_eps,
            max_tokens: self.num_protein_tokens_per_seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_filter_list() {
        // enformer-pytorch: [768, 768, 896, 1024, 1152, 1280, 1536]
        assert_eq!(IsoformerConfig::default().enformer().filters, vec![768, 768, 896, 1024, 1152, 1280, 1536]);
    }

    #[test]
    fn official_crop() {
        let g = IsoformerConfig::default().enformer();
        assert_eq!(crate::enformer::crop_range(1536, g.target_length), (320, 1216));
        // odd difference: enformer-pytorch's floor division trims one more bin
        assert_eq!(crate::enformer::crop_range(9, 4), (3, 6));
    }

    #[test]
    fn too_many_downsamples_are_refused_before_the_bin_size_overflows() {
        let mut huge = IsoformerConfig::default();
        huge.enformer_num_downsamples = 64;
        assert!(huge.validate().unwrap_err().to_string().contains("enformer_num_downsamples"));
        huge.enformer_num_downsamples = MAX_DOWNSAMPLES;
        assert!(huge.validate().is_ok());
    }

    /// The official config with the fields of `json` replaced.
    fn over_default(json: &str) -> String {
        let mut base = serde_json::to_value(IsoformerConfig::default()).unwrap();
        let serde_json::Value::Object(fields) = serde_json::from_str(json).unwrap() else { panic!("not an object") };
        base.as_object_mut().unwrap().extend(fields);
        base.to_string()
    }

    /// The required fields only, with the official values.
    fn required_only() -> serde_json::Map<String, serde_json::Value> {
        let base = serde_json::to_value(IsoformerConfig::default()).unwrap();
        REQUIRED.iter().map(|k| (k.to_string(), base[k].clone())).collect()
    }

    #[test]
    fn unknown_fields_ignored_and_defaults_apply() {
        let mut fields = required_only();
        fields.insert("model_type".into(), "isoformer".into());
        fields.insert("architectures".into(), serde_json::json!(["X"]));
        let c = IsoformerConfig::from_json(&serde_json::Value::Object(fields).to_string()).unwrap();
        assert_eq!(c, IsoformerConfig::default());
    }

    #[test]
    fn not_an_object_missing_fields_bom_and_absurd_sizes_are_named() {
        let e = |json: &str| IsoformerConfig::from_json(json).unwrap_err().to_string();
        assert_eq!(e("[]"), "holds an array, not a JSON object of config fields");
        assert_eq!(e("null"), "holds null, not a JSON object of config fields");
        assert!(e("{}").starts_with("no `enformer_dim` field (required: "), "{}", e("{}"));
        let mut fields = required_only();
        fields.remove("esm_hidden_size");
        let text = serde_json::Value::Object(fields).to_string();
        assert!(e(&text).starts_with("no `esm_hidden_size` field (required: "), "{}", e(&text));
        assert_eq!(e(&format!("\u{feff}{}", over_default("{}"))), "starts with a UTF-8 byte-order mark (BOM); save it without one");
        assert_eq!(field_of(r#"{"enformer_depth": 1000000000000}"#), "enformer_depth");
        assert_eq!(field_of(r#"{"esm_num_hidden_layers": 18446744073709551615}"#), "esm_num_hidden_layers");
        assert_eq!(field_of(r#"{"nt_intermediate_size": 4294967296}"#), "nt_intermediate_size");
        let big = e(&over_default(r#"{"enformer_depth": 1000, "esm_num_hidden_layers": 1000, "esm_hidden_size": 8000, "esm_intermediate_size": 32000}"#));
        assert!(big.contains("parameters") && big.contains("more than this version allows"), "{big}");
    }

    fn field_of(json: &str) -> &'static str {
        match IsoformerConfig::from_json(&over_default(json)) {
            Err(ConfigError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn impossible_geometry_names_the_field() {
        assert_eq!(field_of(r#"{"esm_num_attention_heads": 7}"#), "esm_num_attention_heads");
        assert_eq!(field_of(r#"{"nt_num_attention_heads": 5}"#), "nt_num_attention_heads");
        assert_eq!(field_of(r#"{"enformer_heads": 7}"#), "enformer_heads");
        // 1536 / 16 = 96 features: divisible by 6; 1280 / 8 = 160 is not.
        assert_eq!(field_of(r#"{"enformer_dim": 1280}"#), "enformer_dim");
        assert_eq!(field_of(r#"{"num_heads_omics_cross_attention": 7}"#), "num_heads_omics_cross_attention");
        assert_eq!(field_of(r#"{"pool_window_start": 10, "pool_window_end": 10}"#), "pool_window_end");
        assert_eq!(field_of(r#"{"pool_window_end": 900}"#), "pool_window_end");
        assert_eq!(field_of(r#"{"enformer_use_tf_gamma": true}"#), "enformer_use_tf_gamma");
        assert_eq!(field_of(r#"{"esm_position_embedding_type": "absolute"}"#), "esm_position_embedding_type");
        assert_eq!(field_of(r#"{"enformer_depth": 0}"#), "enformer_depth");
    }

    #[test]
    fn bad_json_is_reported() {
        assert!(matches!(IsoformerConfig::from_json("{"), Err(ConfigError::Json(_))));
        assert!(matches!(IsoformerConfig::from_json(&over_default(r#"{"enformer_dim": "big"}"#)), Err(ConfigError::Json(_))));
    }
}
