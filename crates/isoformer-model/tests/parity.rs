//! Parity with the PyTorch references (fixtures made by tools/make_fixtures.py): every module of
//! the tiny model end to end, one block of each encoder at the official width, on burn's CPU
//! backend (flex) and on wgpu when an adapter exists.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use isoformer_model::config::{EnformerGeometry, IsoformerConfig};
use isoformer_model::enformer::{EnformerTrace, TransformerBlock, positional_features};
use isoformer_model::esm::EsmEncoder;
use isoformer_model::model::ModelFiles;
use isoformer_model::weights::{Loader, SeededSource, seeded_values};
use isoformer_model::{Example, Predictor};

fn predictor(dir: &str, device: &Device) -> Predictor {
    let d = root().join(dir);
    let files = ModelFiles::gather(|name| std::fs::read(d.join(name))).unwrap_or_else(|e| panic!("{dir}: {e}"));
    Predictor::from_files(&files, device).unwrap_or_else(|e| panic!("{dir}: {e}"))
}

fn tiny_end_to_end(device: &Device, tag: &str) {
    let fx = Fixture::open("tests/fixtures/tiny_forward.safetensors");
    let p = predictor("models/tiny", device);
    let m = &p.model;

    // Inputs: our tokenizers must give the reference's ids from the same strings.
    let encoded = encode_checked(&fx, &p);
    let (rna_rows, prot_rows) = (fx.id_rows("input.rna_ids", 1), fx.id_rows("input.protein_ids", 1));

    // Enformer, stage by stage.
    let (shape, x) = fx.get("input.dna_onehot");
    let dna = Tensor::<3>::from_data(TensorData::new(x.clone(), [shape[0], shape[1], shape[2]]), device);
    let mut trace = EnformerTrace::default();
    let out = m.enformer.forward_traced(dna.clone(), Some(&mut trace));
    compare(&format!("[{tag}] enformer.stem"), trace.stem.unwrap(), fx.get("enformer.stem"));
    for (i, t) in trace.conv_tower.into_iter().enumerate() {
        compare(&format!("[{tag}] enformer.conv_tower.{i}"), t, fx.get(&format!("enformer.conv_tower.{i}")));
    }
    for (i, t) in trace.transformer.into_iter().enumerate() {
        compare(&format!("[{tag}] enformer.transformer.{i}"), t, fx.get(&format!("enformer.transformer.{i}")));
    }
    compare(&format!("[{tag}] enformer.crop"), trace.crop.unwrap(), fx.get("enformer.crop"));
    compare(&format!("[{tag}] enformer.out"), out, fx.get("enformer.out"));

    // The conv tower in tiles with halos (the path `forward` takes) equals the reference at every
    // tile size, including ones that do not divide the window; with one bin less of halo it
    // does not (so the halo is as small as it can be and still exact).
    let bins = shape[1] / m.enformer.bin_size;
    let halo = m.enformer.halo_bins();
    assert!(bins > 3 * halo, "the fixture window ({bins} bins) is too short to test tiling");
    for tile in [1, 2, 3, bins / 2 + 1, bins - 1] {
        let tiled = m.enformer.clone().with_tile_bins(tile).forward(dna.clone());
        compare(&format!("[{tag}] enformer.out, conv tower in tiles of {tile} bins"), tiled, fx.get("enformer.out"));
    }
    let whole = m.enformer.conv_tower_tiled(dna.clone().swap_dims(1, 2), 0, 0);
    let short = m.enformer.conv_tower_tiled(dna.clone().swap_dims(1, 2), 2, halo - 1);
    let diff = (whole - short).abs().max().into_data().convert::<f32>().try_to_vec::<f32>().unwrap()[0];
    assert!(diff > 1e-3, "[{tag}] a halo of {} bins should change the tiled conv tower, max |Δ| {diff}", halo - 1);

    // Encoders, layer by layer.
    for (name, enc, rows) in [("nt", &m.nt, &rna_rows), ("esm", &m.esm, &prot_rows)] {
        let mut hidden = Vec::new();
        let out = enc.forward_traced(rows, Some(&mut hidden));
        // transformers' hidden_states: the embeddings and every layer's output but the last
        // (whose place holds the output after the final LayerNorm, compared below).
        let n = enc.layer.len();
        for (i, h) in hidden.into_iter().enumerate().take(n) {
            compare(&format!("[{tag}] {name}.hidden.{i}"), h, fx.get(&format!("{name}.hidden.{i}")));
        }
        compare(&format!("[{tag}] {name}.out"), out, fx.get(&format!("{name}.out")));
    }

    // Fusion and head, through the public forward.
    let o = p.forward(&encoded).unwrap();
    let has_protein: Vec<bool> = fx.json_strings("protein").iter().map(|s| !s.is_empty()).collect();
    assert_eq!(has_protein, vec![true, false, true]);
    let valid = |rows: &[Vec<u32>]| -> Vec<Vec<bool>> { rows.iter().map(|r| vec![true; r.len()]).collect() };
    let after_rna = m.fusion.rna.forward(o.dna_embeddings.clone(), o.rna_embeddings.clone(), &valid(&rna_rows), &vec![true; rna_rows.len()]);
    compare(&format!("[{tag}] fusion.after_rna"), after_rna, fx.get("fusion.after_rna"));
    compare(&format!("[{tag}] fusion.after_protein"), o.final_dna_embeddings.clone(), fx.get("fusion.after_protein"));
    let pred = o.predictions;
    compare_vec(&format!("[{tag}] head.out"), &pred.dims(), &read(pred), fx.get("head.out"), ABS, REL);
}

#[test]
fn tiny_model_matches_pytorch_on_cpu() {
    tiny_end_to_end(&cpu(), "cpu");
}

#[test]
fn tiny_model_matches_pytorch_on_wgpu() {
    if let Some(d) = wgpu() {
        tiny_end_to_end(&d, "wgpu");
    }
}

#[test]
fn any_top_level_prefixes_load_to_the_same_model() {
    let device = cpu();
    let a = predictor("models/tiny", &device);
    let b = predictor("tests/fixtures/tiny_renamed", &device);
    let fx = Fixture::open("tests/fixtures/tiny_forward.safetensors");
    let dnas = fx.json_strings("dna");
    let ex = Example { id: "x".into(), dna: dnas[0].clone(), rna: "ACGTACGTTT".into(), protein: "MKV".into() };
    let ea = a.encode(&ex).unwrap();
    let pa = read(a.forward(std::slice::from_ref(&ea)).unwrap().predictions);
    let pb = read(b.forward(&[b.encode(&ex).unwrap()]).unwrap().predictions);
    assert_eq!(pa, pb);
}

fn wide_blocks(device: &Device, tag: &str) {
    let fx = Fixture::open("tests/fixtures/wide_blocks.safetensors");
    // The seeded weights are the ones PyTorch used (same rule on both sides).
    compare_vec("seeded values", &[3, 5], &seeded_values("check.weight", &[3, 5]), fx.get("seeded.check"), 0.0, 0.0);

    let cfg = IsoformerConfig::default();
    let g: EnformerGeometry = cfg.enformer();
    let source = SeededSource;
    let mut l = Loader::new(&source, device);
    let block = TransformerBlock::load(&mut l, "", &g);
    let (s, x) = fx.get("enformer_block.in");
    let x = Tensor::<3>::from_data(TensorData::new(x.clone(), [s[0], s[1], s[2]]), device);
    compare(&format!("[{tag}] enformer block (1536 wide, 96 bins)"), block.forward(x), fx.get("enformer_block.out"));

    // The fixture's NT block used LayerNorm eps 1e-5, its ESM block transformers' default 1e-12.
    for (name, mut geom, eps) in [("nt_block", cfg.nt(), 1e-5), ("esm_block", cfg.esm(), 1e-12)] {
        geom.num_layers = 1;
        geom.layer_norm_eps = eps;
        let mut l = Loader::new(&source, device);
        let enc = EsmEncoder::load(&mut l, "", &geom);
        let rows = fx.id_rows(&format!("{name}.ids"), 1);
        compare(&format!("[{tag}] {name} ({} wide)", geom.hidden_size), enc.forward(&rows), fx.get(&format!("{name}.out")));
    }
}

#[test]
fn official_width_blocks_match_pytorch_on_cpu() {
    wide_blocks(&cpu(), "cpu");
}

#[test]
fn official_width_blocks_match_pytorch_on_wgpu() {
    if let Some(d) = wgpu() {
        wide_blocks(&d, "wgpu");
    }
}

#[test]
fn positional_features_match_pytorch() {
    let fx = Fixture::open("tests/fixtures/wide_blocks.safetensors");
    let p96 = positional_features(96, 192);
    compare_vec("positions (96 bins)", &[191, 192], &p96, fx.get("enformer_block.positions"), ABS, REL);
    let p = positional_features(1536, 192);
    let rows: Vec<f32> = p.chunks(192).step_by(97).flatten().copied().collect();
    compare_vec("positions (1536 bins, every 97th row)", &[32, 192], &rows, fx.get("enformer_positions_1536.rows"), ABS, REL);
}
