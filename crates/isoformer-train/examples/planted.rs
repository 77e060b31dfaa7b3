//! Planted-signal benchmark: synthetic transcripts whose targets are known functions of
//! motifs planted in the DNA window, the RNA and the protein. A small IsoFormer, all of it
//! trained from seeded weights, must reach mean R² ≥ 0.9 on held-out genes, and zeroing one
//! modality's embeddings must lose what was planted in that modality. This checks that the
//! gradients reach every encoder and the fusion.
//!
//! `cargo run --release -p isoformer-train --example planted -- OUT_DIR [--epochs N] [--genes N]`
//! writes OUT_DIR/{train,valid,test}.tsv (gene-disjoint), OUT_DIR/base (the seeded starting
//! model directory, usable with `isoformer train`), OUT_DIR/model (the trained one) and
//! OUT_DIR/planted.json; prints the R² table. Exits non-zero when a criterion fails.
//!
//! Plant (per gene: one DNA window shared by its isoforms; per isoform: its RNA and protein):
//! * DNA (128 bp): d ∈ 0..=4 copies of `CACGTGAC` at random places in random sequence;
//! * RNA (120 nt = 20 NT 6-mer tokens): r ∈ 0..=4 copies of the token `TTTAAA`;
//! * protein (30 residues, no W in the background): p ∈ 0..=4 tryptophans.
//! Targets (6 "tissues"): d, d + r/2, r, r + p/2, p, p + d/2.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use isoformer_model::config::TargetFunction;
use isoformer_model::model::{Batch, Encoded};
use isoformer_model::{Example, Isoformer, IsoformerConfig, ModelFiles, Predictor, Tokenizers};
use isoformer_train::metrics;
use isoformer_train::split::{SplitMix64, split_by_gene};
use isoformer_train::trainer::{model_bytes, write_model_dir};
use isoformer_train::{Event, Run, Sample, Summary, TrainOptions, TrainParts};

const DNA_MOTIF: &str = "CACGTGAC";
const RNA_TOKEN: &str = "TTTAAA";
const NAMES: [&str; 6] = ["dna", "dna+rna/2", "rna", "rna+protein/2", "protein", "protein+dna/2"];

fn config() -> IsoformerConfig {
    IsoformerConfig {
        enformer_dim: 48,
        enformer_depth: 1,
        enformer_heads: 2,
        enformer_attn_dim_key: 8,
        enformer_num_downsamples: 3,
        enformer_dim_divisible_by: 8,
        enformer_target_length: 16,
        nt_hidden_size: 32,
        nt_num_hidden_layers: 1,
        nt_num_attention_heads: 2,
        nt_intermediate_size: 64,
        nt_layer_norm_eps: 1e-5,
        esm_hidden_size: 32,
        esm_num_hidden_layers: 1,
        esm_num_attention_heads: 2,
        esm_intermediate_size: 64,
        esm_layer_norm_eps: 1e-5,
        num_heads_omics_cross_attention: 4,
        pool_window_start: 0,
        pool_window_end: 16,
        ..IsoformerConfig::default()
    }
}

struct Row {
    id: String,
    gene: String,
    dna: String,
    rna: String,
    protein: String,
    counts: [u32; 3],
}

fn targets(c: [u32; 3]) -> [f32; 6] {
    let [d, r, p] = c.map(|x| x as f32);
    [d, d + r / 2.0, r, r + p / 2.0, p, p + d / 2.0]
}

fn random_seq(rng: &mut SplitMix64, n: usize, alphabet: &[u8]) -> Vec<u8> {
    (0..n).map(|_| alphabet[rng.below(alphabet.len())]).collect()
}

/// Place `k` copies of `motif` at distinct slots of `slot` bytes (slot ≥ motif length).
fn plant(rng: &mut SplitMix64, seq: &mut [u8], motif: &[u8], k: u32, slot: usize) {
    let mut slots: Vec<usize> = (0..seq.len() / slot).collect();
    rng.shuffle(&mut slots);
    for &s in slots.iter().take(k as usize) {
        seq[s * slot..s * slot + motif.len()].copy_from_slice(motif);
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn make(genes: usize, seed: u64) -> Vec<Row> {
    let mut rng = SplitMix64::new(seed);
    let mut rows = Vec::new();
    for g in 0..genes {
        // DNA: motif copies in 16-bp slots; resample until the count is exact (no chance copies).
        let d = rng.below(5) as u32;
        let dna = loop {
            let mut s = random_seq(&mut rng, 128, b"ACGT");
            plant(&mut rng, &mut s, DNA_MOTIF.as_bytes(), d, 16);
            if count(&s, DNA_MOTIF.as_bytes()) == d as usize {
                break s;
            }
        };
        for i in 0..1 + rng.below(3) {
            let r = rng.below(5) as u32;
            let rna = loop {
                let mut s = random_seq(&mut rng, 120, b"ACGT");
                plant(&mut rng, &mut s, RNA_TOKEN.as_bytes(), r, 6);
                let tokens = s.chunks(6).filter(|c| *c == RNA_TOKEN.as_bytes()).count();
                if tokens == r as usize {
                    break s;
                }
            };
            let p = rng.below(5) as u32;
            let mut protein = random_seq(&mut rng, 30, b"ACDEFGHIKLMNPQRSTVY");
            plant(&mut rng, &mut protein, b"W", p, 1);
            rows.push(Row {
                id: format!("g{g}_t{i}"),
                gene: format!("g{g}"),
                dna: String::from_utf8(dna.clone()).expect("ascii"),
                rna: String::from_utf8(rna).expect("ascii"),
                protein: String::from_utf8(protein).expect("ascii"),
                counts: [d, r, p],
            });
        }
    }
    rows
}

fn write_tsv(path: &Path, rows: &[Row]) {
    let mut t = String::from("transcript_id\tgene_id\tdna\trna\tprotein");
    for n in NAMES {
        t += &format!("\t{n}");
    }
    t.push('\n');
    for r in rows {
        t += &format!("{}\t{}\t{}\t{}\t{}", r.id, r.gene, r.dna, r.rna, r.protein);
        for v in targets(r.counts) {
            t += &format!("\t{v}");
        }
        t.push('\n');
    }
    std::fs::write(path, t).expect("write tsv");
}

/// Predictions in data units with one modality's encoder output zeroed (`None`: nothing zeroed).
fn predict(p: &Predictor, data: &[Encoded], zero: Option<usize>) -> Vec<Vec<f32>> {
    let m = &p.model;
    let mut out = Vec::new();
    for chunk in data.chunks(16) {
        let Batch { dna, rna, protein } = Batch::new(chunk, &p.device);
        let valid = |rows: &[Vec<u32>]| -> Vec<Vec<bool>> {
            let l = rows.iter().map(Vec::len).max().unwrap_or(0);
            rows.iter().map(|r| (0..l).map(|j| j < r.len()).collect()).collect()
        };
        let z = |t: Tensor<3>, k: usize| if zero == Some(k) { t.zeros_like() } else { t };
        let d = z(m.enformer.forward(dna), 0);
        let r = z(m.nt.forward(&rna), 1);
        let pr = z(m.esm.forward(&protein), 2);
        let has: Vec<bool> = protein.iter().map(|x| isoformer_model::has_protein(x)).collect();
        let fused = m.fusion.forward(d, r, &valid(&rna), pr, &valid(&protein), &has);
        let y = m.head.forward(fused).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32");
        out.extend(y.chunks(NAMES.len()).map(<[f32]>::to_vec));
    }
    out
}

/// The gene-disjoint data: train, valid and test rows, each part also written as a TSV.
fn data(out: &Path, genes: usize) -> [Vec<Row>; 3] {
    let rows = make(genes, 2024);
    let gene_ids: Vec<String> = rows.iter().map(|r| r.gene.clone()).collect();
    let part = split_by_gene(&gene_ids, &[0.7, 0.1, 0.2], 7).expect("split");
    let mut parts: [Vec<Row>; 3] = Default::default();
    for (r, k) in rows.into_iter().zip(part) {
        parts[k].push(r);
    }
    for (name, r) in ["train", "valid", "test"].iter().zip(&parts) {
        write_tsv(&out.join(format!("{name}.tsv")), r);
    }
    parts
}

/// The seeded starting model as model files (vocab files from models/tiny), also written to
/// `dir` as a model directory.
fn base_model(dir: &Path, device: &Device) -> ModelFiles {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |f: &str| std::fs::read_to_string(root.join("models/tiny").join(f)).expect("vocab file");
    let cfg = config();
    cfg.validate().expect("valid config");
    let seeded = Isoformer::seeded(&cfg, &[64], NAMES.len(), device);
    let base = ModelFiles {
        config_json: serde_json::to_string_pretty(&cfg).expect("json"),
        safetensors: model_bytes(&seeded, &cfg).expect("weights"),
        dna_vocab: read("dna_vocab_list.txt"),
        rna_vocab: read("rna_vocab_list.txt"),
        protein_vocab: read("protein_vocab_list.txt"),
    };
    write_model_dir(dir, &base, &cfg, &seeded).expect("write base model");
    base
}

/// Train everything from the seeded model into `model_dir`.
fn train(base: &ModelFiles, train: &[Sample], valid: &[Sample], epochs: usize, model_dir: &Path, device: &Device) -> Summary {
    let _ = std::fs::remove_dir_all(model_dir);
    let options = TrainOptions {
        parts: TrainParts::All,
        epochs,
        batch_size: 16,
        learning_rate: 2e-3,
        min_learning_rate: 1e-5,
        warmup_steps: 50,
        weight_decay: 0.01,
        clip_grad_norm: Some(1.0),
        seed: 1,
        target_function: TargetFunction::None,
        standardize: true,
        new_head: false,
        checkpoint_every: 0,
    };
    let run = Run {
        base,
        train,
        valid,
        output_names: NAMES.iter().map(|s| s.to_string()).collect(),
        options,
        out_dir: model_dir.to_path_buf(),
        cache_dir: None,
        resume: false,
        device: device.clone(),
    };
    run.run(&mut |e| {
        if let Event::Epoch { epoch, train_loss, valid_loss, valid_mean_r2, .. } = e {
            eprintln!("epoch {:>3}: train loss {train_loss:.4}  valid loss {:.4}  valid mean R² {:.4}", epoch + 1, valid_loss.unwrap_or(f64::NAN), valid_mean_r2.unwrap_or(f64::NAN));
        }
    })
    .expect("training")
}

/// Held-out reports of the trained directory as predict loads it: all modalities, then each
/// modality zeroed.
fn held_out(model_dir: &Path, base: ModelFiles, test: &[Sample], device: &Device) -> Vec<(&'static str, metrics::Report)> {
    let trained = std::fs::read(model_dir.join("model.safetensors")).expect("trained weights");
    let files = ModelFiles { safetensors: trained, config_json: std::fs::read_to_string(model_dir.join("config.json")).expect("config"), ..base };
    let p = Predictor::from_files(&files, device).expect("trained model loads");
    let enc: Vec<Encoded> = test.iter().map(|s| s.encoded.clone()).collect();
    let obs: Vec<Vec<f32>> = test.iter().map(|s| s.targets.clone()).collect();
    let names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let cases = [("full", None), ("DNA zeroed", Some(0)), ("RNA zeroed", Some(1)), ("protein zeroed", Some(2))];
    cases.iter().map(|(n, z)| (*n, metrics::report(&names, &predict(&p, &enc, *z), &obs))).collect()
}

fn print_table(reports: &[(&str, metrics::Report)]) {
    print!("{:<16}", "target");
    for (n, _) in reports {
        print!("{n:>16}");
    }
    println!();
    for (k, name) in NAMES.iter().enumerate() {
        print!("{name:<16}");
        for (_, r) in reports {
            print!("{:>16.4}", r.targets[k].r2);
        }
        println!();
    }
    print!("{:<16}", "mean");
    for (_, r) in reports {
        print!("{:>16.4}", r.mean_r2);
    }
    println!();
}

/// Criteria. The target planted in one modality alone (dna, rna, protein) must lose most of its
/// R² when that modality is zeroed; the mixed targets lose the share planted there.
fn failures(reports: &[(&str, metrics::Report)]) -> Vec<String> {
    let full = &reports[0].1;
    let mut failures = Vec::new();
    if full.mean_r2 < 0.9 {
        failures.push(format!("mean held-out R² {:.4} < 0.9", full.mean_r2));
    }
    for (m, (case, pure)) in [("DNA zeroed", 0usize), ("RNA zeroed", 2), ("protein zeroed", 4)].iter().enumerate() {
        let r = &reports[m + 1].1;
        let lost = full.targets[*pure].r2 - r.targets[*pure].r2;
        if lost < 0.5 {
            failures.push(format!("{case}: target `{}` lost only {lost:.3} of R²", NAMES[*pure]));
        }
    }
    failures
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "target/planted".into()));
    let flag = |name: &str, default: usize| -> usize {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(|v| v.parse().expect("a number")).unwrap_or(default)
    };
    let epochs = flag("--epochs", 15);
    let genes = flag("--genes", 3000);
    std::fs::create_dir_all(&out).expect("create output directory");

    let [train_rows, valid_rows, test_rows] = data(&out, genes);
    let device = Device::flex();
    let base = base_model(&out.join("base"), &device);
    // Inputs need the tokenizers only: the weights are loaded once, by the run.
    let cfg = IsoformerConfig::from_json(&base.config_json).expect("config");
    let tokenizers = Tokenizers::from_files(&base, &cfg).expect("vocab files");
    let samples = |rs: &[Row]| -> Vec<Sample> {
        rs.iter()
            .map(|r| {
                let ex = Example { id: r.id.clone(), dna: r.dna.clone(), rna: r.rna.clone(), protein: r.protein.clone() };
                Sample { encoded: tokenizers.encode(&ex).expect("encodes"), targets: targets(r.counts).to_vec() }
            })
            .collect()
    };
    let (train_set, valid, test) = (samples(&train_rows), samples(&valid_rows), samples(&test_rows));
    eprintln!("planted: {} train / {} valid / {} test transcripts ({genes} genes)", train_set.len(), valid.len(), test.len());

    let model_dir = out.join("model");
    let summary = train(&base, &train_set, &valid, epochs, &model_dir, &device);
    let reports = held_out(&model_dir, base, &test, &device);
    println!("\nheld-out R² ({} transcripts of unseen genes; {:.1} examples/s training, {} steps)", test.len(), summary.examples_per_second, summary.steps);
    print_table(&reports);
    let failures = failures(&reports);
    let json = serde_json::json!({
        "genes": genes, "epochs": epochs,
        "train": train_set.len(), "valid": valid.len(), "test": test.len(),
        "training": summary,
        "held_out": reports.iter().map(|(n, r)| serde_json::json!({"case": n, "report": r})).collect::<Vec<_>>(),
        "failures": failures,
    });
    std::fs::write(out.join("planted.json"), serde_json::to_string_pretty(&json).expect("json") + "\n").expect("write planted.json");
    if failures.is_empty() {
        println!("planted: PASS (mean held-out R² {:.4} ≥ 0.9; each modality's own target collapses when it is zeroed)", reports[0].1.mean_r2);
    } else {
        for f in &failures {
            println!("planted: FAIL {f}");
        }
        std::process::exit(1);
    }
}
