//! The native parity cases (crates/isoformer-model/tests/parity.rs), in headless Chromium: the tiny
//! model stage by stage and one block of each encoder at the official width, against the PyTorch
//! fixtures, on WebGPU (SwiftShader under `--enable-unsafe-webgpu`) and on burn's CPU backend,
//! same tolerance; then the page's path (`WebPredictor`) on the tiny model's example (TSV and the
//! same transcripts as a FASTA triplet) and its errors. (The page's bundled example is
//! models/demo-int8; tools/e2e_page.py drives the page on it.)
//! Run by tools/test.sh through wasm-bindgen-test-runner.
#![cfg(target_arch = "wasm32")]


use burn::tensor::{Device, Tensor, TensorData};
use isoformer_model::config::{EnformerGeometry, IsoformerConfig};
use isoformer_model::enformer::{EnformerTrace, TransformerBlock};
use isoformer_model::esm::EsmEncoder;
use isoformer_model::kernels::parity;
use isoformer_model::weights::{Loader, SeededSource, seeded_values};
use isoformer_model::{ModelFiles, Predictor};
use isoformer_web::web::{self, FastaTriplet, WebPredictor};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const CONFIG: &[u8] = include_bytes!("../../../models/tiny/config.json");
const WEIGHTS: &[u8] = include_bytes!("../../../models/tiny/model.safetensors");
const DNA_VOCAB: &[u8] = include_bytes!("../../../models/tiny/dna_vocab_list.txt");
const RNA_VOCAB: &[u8] = include_bytes!("../../../models/tiny/rna_vocab_list.txt");
const PROTEIN_VOCAB: &[u8] = include_bytes!("../../../models/tiny/protein_vocab_list.txt");
const EXAMPLE: &str = include_str!("../../../models/tiny/example.tsv");
const TINY_FORWARD: &[u8] = include_bytes!("../../../tests/fixtures/tiny_forward.safetensors");
const WIDE_BLOCKS: &[u8] = include_bytes!("../../../tests/fixtures/wide_blocks.safetensors");

fn model_file(name: &str) -> Option<&'static [u8]> {
    Some(match name {
        "config.json" => CONFIG,
        "model.safetensors" => WEIGHTS,
        "dna_vocab_list.txt" => DNA_VOCAB,
        "rna_vocab_list.txt" => RNA_VOCAB,
        "protein_vocab_list.txt" => PROTEIN_VOCAB,
        _ => return None,
    })
}

const MODEL_FILES: [&str; 5] = ["config.json", "model.safetensors", "dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"];

/// The JS object the page's worker builds from picked files, leaving out `skip`.
fn files_object(skip: Option<&str>) -> Object {
    let o = Object::new();
    for name in MODEL_FILES.iter().filter(|n| Some(**n) != skip) {
        Reflect::set(&o, &JsValue::from_str(name), &Uint8Array::from(model_file(name).unwrap()).into()).unwrap();
    }
    o
}

#[path = "../../isoformer-model/tests/fixture/mod.rs"]
mod fixture;
use fixture::{ABS, Fixture, REL, encode_checked};

/// Compare values with a fixture entry; returns max |Δ|, panics naming the first bad index.
fn compare_vec(label: &str, shape: &[usize], got: &[f32], want: &(Vec<usize>, Vec<f32>)) -> f32 {
    let max = fixture::max_delta(label, shape, got, want, ABS, REL);
    console_log!("max |Δ| {label}: {max:.3e}");
    max
}

async fn compare<const D: usize>(label: &str, got: Tensor<D>, want: &(Vec<usize>, Vec<f32>)) -> f32 {
    let shape = got.dims().to_vec();
    compare_vec(label, &shape, &web::read_f32(got).await.unwrap(), want)
}

fn tiny_predictor(device: &Device) -> Predictor {
    let files = ModelFiles::gather(|name| model_file(name).map(<[u8]>::to_vec).ok_or("absent")).unwrap();
    Predictor::from_files(&files, device).unwrap()
}

async fn tiny_end_to_end(device: &Device, tag: &str) {
    let fx = Fixture::from_bytes(TINY_FORWARD);
    let p = tiny_predictor(device);
    let m = &p.model;

    let encoded = encode_checked(&fx, &p);
    let (rna_rows, prot_rows) = (fx.id_rows("input.rna_ids", 1), fx.id_rows("input.protein_ids", 1));

    let (shape, x) = fx.get("input.dna_onehot");
    let dna = Tensor::<3>::from_data(TensorData::new(x.clone(), [shape[0], shape[1], shape[2]]), device);
    let mut trace = EnformerTrace::default();
    let out = m.enformer.forward_traced(dna, Some(&mut trace));
    compare(&format!("[{tag}] enformer.stem"), trace.stem.unwrap(), fx.get("enformer.stem")).await;
    for (i, t) in trace.conv_tower.into_iter().enumerate() {
        compare(&format!("[{tag}] enformer.conv_tower.{i}"), t, fx.get(&format!("enformer.conv_tower.{i}"))).await;
    }
    for (i, t) in trace.transformer.into_iter().enumerate() {
        compare(&format!("[{tag}] enformer.transformer.{i}"), t, fx.get(&format!("enformer.transformer.{i}"))).await;
    }
    compare(&format!("[{tag}] enformer.crop"), trace.crop.unwrap(), fx.get("enformer.crop")).await;
    compare(&format!("[{tag}] enformer.out"), out, fx.get("enformer.out")).await;

    for (name, enc, rows) in [("nt", &m.nt, &rna_rows), ("esm", &m.esm, &prot_rows)] {
        let mut hidden = Vec::new();
        let out = enc.forward_traced(rows, Some(&mut hidden));
        let n = enc.layer.len();
        for (i, h) in hidden.into_iter().enumerate().take(n) {
            compare(&format!("[{tag}] {name}.hidden.{i}"), h, fx.get(&format!("{name}.hidden.{i}"))).await;
        }
        compare(&format!("[{tag}] {name}.out"), out, fx.get(&format!("{name}.out"))).await;
    }

    let o = p.forward(&encoded).unwrap();
    let valid = |rows: &[Vec<u32>]| -> Vec<Vec<bool>> { rows.iter().map(|r| vec![true; r.len()]).collect() };
    let after_rna = m.fusion.rna.forward(o.dna_embeddings.clone(), o.rna_embeddings.clone(), &valid(&rna_rows), &vec![true; rna_rows.len()]);
    compare(&format!("[{tag}] fusion.after_rna"), after_rna, fx.get("fusion.after_rna")).await;
    compare(&format!("[{tag}] fusion.after_protein"), o.final_dna_embeddings.clone(), fx.get("fusion.after_protein")).await;
    compare(&format!("[{tag}] head.out"), o.predictions, fx.get("head.out")).await;
}

async fn wide_blocks(device: &Device, tag: &str) {
    let fx = Fixture::from_bytes(WIDE_BLOCKS);
    compare_vec("seeded values", &[3, 5], &seeded_values("check.weight", &[3, 5]), fx.get("seeded.check"));
    let cfg = IsoformerConfig::default();
    let g: EnformerGeometry = cfg.enformer();
    let source = SeededSource;
    let mut l = Loader::new(&source, device);
    let block = TransformerBlock::load(&mut l, "", &g);
    let (s, x) = fx.get("enformer_block.in");
    let x = Tensor::<3>::from_data(TensorData::new(x.clone(), [s[0], s[1], s[2]]), device);
    compare(&format!("[{tag}] enformer block (1536 wide, 96 bins)"), block.forward(x), fx.get("enformer_block.out")).await;
    // The fixture's NT block used LayerNorm eps 1e-5, its ESM block transformers' default 1e-12.
    for (name, mut geom, eps) in [("nt_block", cfg.nt(), 1e-5), ("esm_block", cfg.esm(), 1e-12)] {
        geom.num_layers = 1;
        geom.layer_norm_eps = eps;
        let mut l = Loader::new(&source, device);
        let enc = EsmEncoder::load(&mut l, "", &geom);
        let rows = fx.id_rows(&format!("{name}.ids"), 1);
        // The block's time as the page would see it: the forward and the read back.
        let t0 = js_sys::Date::now();
        compare(&format!("[{tag}] {name} ({} wide)", geom.hidden_size), enc.forward(&rows), fx.get(&format!("{name}.out"))).await;
        let tokens: usize = rows.iter().map(Vec::len).sum();
        console_log!("time [{tag}] {name}: one layer over {tokens} tokens in {:.1} ms", js_sys::Date::now() - t0);
    }
}

/// burn's WebGPU device, or `None` after printing why there is none (the CPU tests still run).
async fn webgpu(test: &str) -> Option<Device> {
    match web::webgpu_device().await {
        Ok((device, label)) => {
            console_log!("{test}: running on {label}");
            Some(device)
        }
        Err(reason) => {
            console_log!("SKIPPED {test}: no WebGPU here: {reason}");
            None
        }
    }
}

/// Each kernel case of `isoformer_model::kernels::parity` (the native test's), read back
/// asynchronously, kernel against reference on the same WebGPU device.
async fn check_kernels(cases: Vec<parity::Case>) {
    for c in cases {
        let kernel = web::read_f32(c.kernel).await.unwrap();
        let reference = web::read_f32(c.reference).await.unwrap();
        match parity::compare(&c.label, &kernel, &reference) {
            Ok(max) => console_log!("max |Δ| [browser webgpu] kernel {}: {max:.3e}", c.label),
            Err(e) => panic!("{e}"),
        }
    }
}

#[wasm_bindgen_test]
async fn wgsl_kernels_match_their_references_on_webgpu() {
    if let Some(d) = webgpu("wgsl_kernels_match_their_references_on_webgpu").await {
        assert!(isoformer_model::kernels::wgsl_runs_on(&d), "the WebGPU device must take the kernel path");
        // At every size for these cases; back to the default for the other tests of this page.
        isoformer_model::kernels::set_wgsl_use(isoformer_model::kernels::WgslUse::Always);
        check_kernels(parity::attention_cases(&d)).await;
        check_kernels(parity::relative_cases(&d)).await;
        check_kernels(parity::residual_cases(&d)).await;
        check_kernels(parity::matmul_cases(&d)).await;
        isoformer_model::kernels::set_wgsl_use(isoformer_model::kernels::WgslUse::WhenLarge);
    }
}

#[wasm_bindgen_test]
async fn tiny_model_matches_pytorch_on_cpu() {
    tiny_end_to_end(&Device::flex(), "browser cpu").await;
}

#[wasm_bindgen_test]
async fn tiny_model_matches_pytorch_on_webgpu() {
    if let Some(d) = webgpu("tiny_model_matches_pytorch_on_webgpu").await {
        tiny_end_to_end(&d, "browser webgpu").await;
    }
}

#[wasm_bindgen_test]
async fn official_width_blocks_match_pytorch_on_cpu() {
    wide_blocks(&Device::flex(), "browser cpu").await;
}

#[wasm_bindgen_test]
async fn official_width_blocks_match_pytorch_on_webgpu() {
    if let Some(d) = webgpu("official_width_blocks_match_pytorch_on_webgpu").await {
        wide_blocks(&d, "browser webgpu").await;
    }
}

/// The page's path: files object → `WebPredictor` → TSV text, on each backend; the example's rows
/// are the fixture's transcripts, so the table must match PyTorch's `head.out`.
async fn page_path(backend: &str) {
    let fx = Fixture::from_bytes(TINY_FORWARD);
    let w = WebPredictor::load(files_object(None), backend.into()).await.unwrap_or_else(|_| panic!("load on {backend}"));
    console_log!("page path, backend {backend}: {}", w.device());
    let progress = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = progress.clone();
    let cb = wasm_bindgen::closure::Closure::<dyn FnMut(u32, u32)>::new(move |done, total| sink.borrow_mut().push((done, total)));
    let f: &js_sys::Function = cb.as_ref().unchecked_ref();
    let p = w.predict_rows("example.tsv", EXAMPLE, Some(f)).await.unwrap();
    // One call per batch; the page batches as `isoformer predict` does by default (one transcript).
    assert_eq!(*progress.borrow(), vec![(1, 3), (2, 3), (3, 3)]);
    assert_eq!(p.ids(), ["tiny_tx1", "tiny_tx2", "tiny_tx3"]);
    assert_eq!(p.outputs().len(), 30);
    assert_eq!(p.outputs()[0], "Adipose Tissue");
    compare_vec(&format!("[page {}] example.tsv predictions", w.device()), &[3, 30], &p.values(), fx.get("head.out"));
    // The TSV carries the same numbers to six decimals.
    let tsv = p.tsv();
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("transcript_id\tAdipose Tissue\t"));
    let row: Vec<f32> = lines[1].split('\t').skip(1).map(|v| v.parse().unwrap()).collect();
    compare_vec("tsv row tiny_tx1 (six decimals)", &[1, 30], &row, &(vec![1, 30], fx.get("head.out").1[..30].to_vec()));
}

use wasm_bindgen::JsCast;

#[wasm_bindgen_test]
async fn page_predicts_the_example_on_cpu() {
    page_path("cpu").await;
}

#[wasm_bindgen_test]
async fn page_predicts_the_example_on_webgpu() {
    if webgpu("page_predicts_the_example_on_webgpu").await.is_some() {
        page_path("webgpu").await;
    }
}

/// A quantized copy (int8, and int4 in blocks of 8) made in the browser by the same code as
/// `isoformer quantize` loads through the page's path and predicts the example close to the f32
/// model (the weights are dequantized as they load, so only the rounding of the weights differs).
#[wasm_bindgen_test]
async fn quantized_models_load_and_predict_in_the_browser() {
    use isoformer_model::quant::{Scheme, quantize_safetensors};
    let f32_model = WebPredictor::load(files_object(None), "cpu".into()).await.unwrap();
    let want = f32_model.predict_rows("example.tsv", EXAMPLE, None).await.unwrap().values();
    for (scheme, bound) in [(Scheme::Int8, 0.05), (Scheme::Int4 { block: 8 }, 0.5)] {
        let (bytes, summary) = quantize_safetensors(WEIGHTS, scheme).unwrap();
        assert!(summary.quantized > 0 && bytes.len() < WEIGHTS.len());
        let o = files_object(None);
        Reflect::set(&o, &JsValue::from_str("model.safetensors"), &Uint8Array::from(&bytes[..]).into()).unwrap();
        let w = WebPredictor::load(o, "cpu".into()).await.unwrap_or_else(|_| panic!("{scheme:?} model did not load"));
        let got = w.predict_rows("example.tsv", EXAMPLE, None).await.unwrap().values();
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        console_log!("{} in the browser: max |Δ| against f32 {worst:.3e} ({} of {} bytes)", scheme.name(), bytes.len(), WEIGHTS.len());
        assert!(worst > 0.0 && worst < bound, "{scheme:?}: max |Δ| {worst}");
    }
}

fn load_error(r: Result<WebPredictor, wasm_bindgen::JsError>) -> String {
    match r {
        Ok(_) => panic!("loaded a broken model"),
        Err(e) => {
            let v: JsValue = e.into();
            Reflect::get(&v, &JsValue::from_str("message")).unwrap().as_string().unwrap()
        }
    }
}

#[wasm_bindgen_test]
async fn bad_inputs_give_readable_messages() {
    // A model directory missing a file.
    let e = load_error(WebPredictor::load(files_object(Some("rna_vocab_list.txt")), "cpu".into()).await);
    assert!(e.starts_with("rna_vocab_list.txt: cannot read: the model directory has no such file"), "{e}");
    // A file that is not what its name says.
    let o = files_object(None);
    Reflect::set(&o, &JsValue::from_str("config.json"), &Uint8Array::from(&b"{ not json"[..]).into()).unwrap();
    let e = load_error(WebPredictor::load(o, "cpu".into()).await);
    assert!(e.starts_with("config.json: "), "{e}");
    let e = load_error(WebPredictor::load(files_object(None), "quantum".into()).await);
    assert_eq!(e, "unknown backend \"quantum\" (expected auto, webgpu or cpu)");

    // Inputs: each error names file and line, and the same predictor keeps working afterwards.
    let w = WebPredictor::load(files_object(None), "cpu".into()).await.unwrap();
    let header = "transcript_id\tdna\trna\tprotein\n";
    let bad_letter = EXAMPLE.replacen("MKTAYIAKQ", "MKTAYI4KQ", 1);
    let cases = [
        ("in.tsv", ">tx1\nACGT\n".to_string(), "in.tsv:1: header has no `transcript_id` column"),
        ("in.tsv", format!("{header}t1\tACGT\n"), "in.tsv:2: 2 fields, but the header has 4"),
        ("in.tsv", bad_letter, "in.tsv:2: tiny_tx1: "),
        ("in.tsv", format!("{header}short\tACGTACGT\tACGT\tMK\n"), "in.tsv:2: short: "),
    ];
    for (name, text, want) in cases {
        let e = w.predict_rows(name, &text, None).await.err().unwrap_or_else(|| panic!("accepted {text:?}")).to_string();
        console_log!("bad input message: {e}");
        assert!(e.starts_with(want), "{e}");
    }
    let p = w.predict_rows("example.tsv", EXAMPLE, None).await.unwrap();
    assert_eq!(p.ids().len(), 3);
}

/// The tiny example's rows as the three FASTA texts `predict --dna --rna --protein` reads (the
/// non-coding transcript with an empty protein record), but for tiny_tx3, whose protein spells
/// `<mask>`: the TSV reader takes ESM-2 tokens written out, the FASTA reader does not.
fn example_as_fasta() -> [String; 3] {
    let mut lines = EXAMPLE.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut fasta = [String::new(), String::new(), String::new()];
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        if f[column("protein")].contains('<') {
            continue;
        }
        for (text, name) in fasta.iter_mut().zip(["dna", "rna", "protein"]) {
            text.push_str(&format!(">{}\n", f[column("transcript_id")]));
            if !f[column(name)].is_empty() {
                text.push_str(&format!("{}\n", f[column(name)]));
            }
        }
    }
    fasta
}

/// The FASTA triplet through `WebPredictor` gives the TSV path's numbers, and its errors name the
/// file and line; the units sentence at load is the one every prediction carries.
#[wasm_bindgen_test]
async fn page_predicts_a_fasta_triplet_on_cpu() {
    let w = WebPredictor::load(files_object(None), "cpu".into()).await.unwrap();
    let from_tsv = w.predict_rows("example.tsv", EXAMPLE, None).await.unwrap();
    assert_eq!(w.units(), from_tsv.units());
    assert_eq!(w.units(), "Predicted log(TPM+1) per tissue.");
    let [dna, rna, protein] = example_as_fasta();
    let triplet = FastaTriplet { dna: ("dna.fa", &dna), rna: ("rna.fa", &rna), protein: ("protein.fa", &protein) };
    let p = w.predict_fasta_rows(triplet, None).await.unwrap();
    assert_eq!(p.ids(), ["tiny_tx1", "tiny_tx2"]);
    assert_eq!(p.values(), from_tsv.values()[..2 * 30]);
    // FASTA input gives a gene_id column (empty without `gene:` words), as the CLI's does.
    assert!(p.tsv().starts_with("transcript_id\tgene_id\tAdipose Tissue\t"), "{}", p.tsv());
    let no_rna = rna.replacen(">tiny_tx2\n", ">other\n", 1);
    let triplet = FastaTriplet { dna: ("dna.fa", &dna), rna: ("rna.fa", &no_rna), protein: ("protein.fa", &protein) };
    let e = w.predict_fasta_rows(triplet, None).await.err().expect("accepted an unpaired RNA record").to_string();
    console_log!("bad FASTA triplet message: {e}");
    assert!(e.starts_with("rna.fa:3: record `other` has no DNA record in dna.fa"), "{e}");
}
