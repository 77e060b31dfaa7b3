//! Tokenizer id parity with transformers' EsmTokenizer, checkpoint discovery and load errors,
//! and parameter counts of the official geometry.

mod common;

use std::collections::BTreeMap;

use common::*;
use isoformer_model::IsoformerConfig;
use isoformer_model::model::{Isoformer, discover};
use isoformer_model::tokenizer::{ProteinTokenizer, RnaTokenizer};
use isoformer_model::weights::{LoadProblem, SafetensorsSource, TensorSource, ValuesError};

#[test]
fn tokenizer_ids_equal_transformers_esm_tokenizer() {
    let fx = Fixture::open("tests/fixtures/tokenizers.safetensors");
    let rna = RnaTokenizer::from_vocab(include_str!("../../../models/rna_vocab_list.txt")).unwrap();
    let prot = ProteinTokenizer::from_vocab(include_str!("../../../models/protein_vocab_list.txt")).unwrap();
    let mut n = 0;
    for (i, s) in fx.json_strings("rna").iter().enumerate() {
        let want: Vec<u32> = fx.get(&format!("rna.{i}")).1.iter().map(|&v| v as u32).collect();
        assert_eq!(rna.encode(s).unwrap(), want, "RNA case {i}: {s:?}");
        n += 1;
    }
    for (i, s) in fx.json_strings("protein").iter().enumerate() {
        let want: Vec<u32> = fx.get(&format!("protein.{i}")).1.iter().map(|&v| v as u32).collect();
        assert_eq!(prot.encode(s).unwrap(), want, "protein case {i}: {s:?}");
        n += 1;
    }
    assert!(n >= 10);
}

/// An in-memory checkpoint: the tiny model's tensors, editable.
struct Mem(BTreeMap<String, (Vec<usize>, Vec<f32>)>);

impl TensorSource for Mem {
    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.0.get(name).map(|t| t.0.clone())
    }
    fn values(&self, name: &str, _: &[usize]) -> Result<Vec<f32>, ValuesError> {
        self.0.get(name).map(|t| t.1.clone()).ok_or(ValuesError::Absent)
    }
}

fn tiny() -> (IsoformerConfig, Mem) {
    let cfg = IsoformerConfig::from_json(&std::fs::read_to_string(root().join("models/tiny/config.json")).unwrap()).unwrap();
    let bytes = std::fs::read(root().join("models/tiny/model.safetensors")).unwrap();
    let src = SafetensorsSource::new(&bytes).unwrap();
    let map = src.names().into_iter().map(|n| {
        let s = src.shape(&n).unwrap();
        // integer buffers (BatchNorm `num_batches_tracked`) are kept with no values
        let v = src.values(&n, &s).unwrap_or_default();
        (n, (s, v))
    });
    (cfg, Mem(map.collect()))
}

#[test]
fn discovery_finds_every_part() {
    let (cfg, mem) = tiny();
    let layout = discover(&mem, &cfg).unwrap();
    assert_eq!(layout.enformer, "enformer.");
    assert_eq!(layout.nt, "nt_model.esm.");
    assert_eq!(layout.esm, "esm_model.esm.");
    assert_eq!(layout.fusion_rna.0, "cross_attention_layer_rna.");
    assert_eq!(layout.fusion_protein.0, "cross_attention_layer_protein.");
    assert_eq!(layout.head.iter().map(|h| (h.1, h.2)).collect::<Vec<_>>(), vec![(96, 20), (20, 30)]);
}

#[test]
fn trunk_aliases_alone_are_enough_and_are_deduplicated() {
    let (cfg, mut mem) = tiny();
    // Drop the canonical Enformer names: only `_trunk.*` copies remain.
    mem.0.retain(|k, _| !["enformer.stem.", "enformer.conv_tower.", "enformer.transformer.", "enformer.final_pointwise."].iter().any(|p| k.starts_with(p)));
    assert!(mem.0.keys().any(|k| k.starts_with("enformer._trunk.")));
    Isoformer::load(&cfg, &mem, &cpu()).unwrap();
}

#[test]
fn a_trunk_alias_that_differs_is_an_error() {
    let (cfg, mut mem) = tiny();
    mem.0.get_mut("enformer._trunk.1.0.bias").unwrap().1[0] += 1.0;
    let err = Isoformer::load(&cfg, &mem, &cpu()).unwrap_err();
    assert!(err.to_string().contains("enformer._trunk.1.0.bias: differs from its canonical copy"), "{err}");
}

#[test]
fn every_problem_is_listed_in_one_error() {
    let (cfg, mut mem) = tiny();
    mem.0.remove("nt_model.esm.encoder.layer.1.attention.self.key.weight");
    mem.0.remove("enformer.transformer.0.0.fn.1.to_q.weight");
    mem.0.remove("enformer._trunk.4.0.0.fn.1.to_q.weight");
    mem.0.get_mut("esm_model.esm.encoder.layer.0.output.dense.weight").unwrap().0 = vec![24, 35];
    mem.0.insert("nt_model.esm.encoder.layer.0.attention.self.extra".into(), (vec![3], vec![0.0; 3]));
    mem.0.insert("esm_model.lm_head.extra".into(), (vec![3], vec![0.0; 3]));
    let err = Isoformer::load(&cfg, &mem, &cpu()).unwrap_err();
    let kinds: Vec<String> = err
        .problems
        .iter()
        .map(|p| match p {
            LoadProblem::Missing { name, .. } => format!("missing {name}"),
            LoadProblem::Shape { name, .. } => format!("shape {name}"),
            LoadProblem::Unexpected { name, .. } => format!("unexpected {name}"),
            LoadProblem::Bad { name, .. } => format!("bad {name}"),
        })
        .collect();
    for want in [
        "missing nt_model.esm.encoder.layer.1.attention.self.key.weight",
        "missing enformer.transformer.0.0.fn.1.to_q.weight",
        "shape esm_model.esm.encoder.layer.0.output.dense.weight",
        "unexpected nt_model.esm.encoder.layer.0.attention.self.extra",
    ] {
        assert!(kinds.contains(&want.to_string()), "{want} not in {kinds:?}");
    }
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    // `extra.thing` is not a Linear layer: the head is not recognised, said before loading.
    let (cfg, mut mem) = tiny();
    mem.0.insert("extra.thing".into(), (vec![3], vec![0.0; 3]));
    let err = Isoformer::load(&cfg, &mem, &cpu()).unwrap_err().to_string();
    assert!(err.contains("unrecognised head") && err.contains("extra.thing"), "{err}");
    // lm_head leftovers are ignored.
    let (cfg, mut mem) = tiny();
    mem.0.insert("esm_model.lm_head.extra".into(), (vec![3], vec![0.0; 3]));
    Isoformer::load(&cfg, &mem, &cpu()).unwrap();
}

#[test]
fn a_head_that_does_not_chain_is_refused() {
    let (cfg, mut mem) = tiny();
    let w = mem.0.remove("head_layer_2.weight").unwrap();
    mem.0.insert("head_layer_2.weight".into(), (vec![30, 19], w.1[..30 * 19].to_vec()));
    let err = Isoformer::load(&cfg, &mem, &cpu()).unwrap_err().to_string();
    assert!(err.contains("unrecognised head"), "{err}");
}

#[test]
fn missing_encoder_is_named() {
    let (cfg, mut mem) = tiny();
    mem.0.retain(|k, _| !k.starts_with("esm_model."));
    let err = Isoformer::load(&cfg, &mem, &cpu()).unwrap_err().to_string();
    assert!(err.contains("no ESM-2 (protein) encoder"), "{err}");
}

/// Builds the official geometry (≈640 M parameters, ~2.6 GB) with seeded weights and counts
/// parameters per module (BatchNorm running statistics are buffers in PyTorch, not counted).
#[test]
fn official_geometry_parameter_counts() {
    let cfg = IsoformerConfig::default();
    let m = Isoformer::seeded(&cfg, &[], 30, &cpu());
    let c = m.param_counts();
    let g = cfg.enformer();
    let half = g.dim / 2;
    let bn_channels: usize = half
        + g.filters.windows(2).map(|w| w[0] + w[1]).sum::<usize>()
        + g.filters.last().unwrap();
    let enformer = c.enformer - 2 * bn_channels;
    println!("parameters: enformer {enformer}, nt {}, esm {}, fusion {}, head {}", c.nt, c.esm, c.fusion, c.head);
    // enformer-pytorch trunk at dim 1536 / depth 11: 229.85 M.
    assert_eq!((enformer as f64 / 1e4).round() / 100.0, 229.85, "Enformer trunk: {enformer}");
    // ESM-2 150M encoder without lm_head / contact head: 147.7 M (exactly 147,728,000).
    assert_eq!(c.esm, 147_728_000);
    // NT-v2 at width 768, 24 layers, SwiGLU 2×3072 without FFN biases, vocab 4107:
    // per layer 4·(768²+768) + 2·2·768 + 768·6144 + 3072·768, plus embeddings and final LN.
    let per = 4 * (768 * 768 + 768) + 4 * 768 + 768 * 6144 + 3072 * 768;
    assert_eq!(c.nt, 24 * per + 4107 * 768 + 2 * 768);
    // Fusion: q, dense 3072² each, k, v from 768 / 640, all with biases.
    assert_eq!(c.fusion, 2 * (2 * (3072 * 3072 + 3072)) + 2 * (768 * 3072 + 3072) + 2 * (640 * 3072 + 3072));
    // Tiled conv tower at 128-bp bins: the stem's k15 conv spoils 7 bp, pooled to 4; each of the
    // six stages adds 2 (k5) and halves: 4→3→3→3→3→3→3 bins of halo = 384 bp.
    assert_eq!(m.enformer.halo_bins(), 3);
    assert_eq!(m.enformer.tile_bins, isoformer_model::enformer::DEFAULT_TILE_BINS);
}
