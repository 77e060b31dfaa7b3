//! `isoformer split`, `train` and `eval` end to end on the tiny model: gene-disjoint splits, a
//! training run killed with SIGKILL after its first checkpoint and resumed must end with the same
//! bytes as an uninterrupted run, the embedding cache must not change the result, and eval's
//! metrics must match a computation from its own predictions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("isoformer-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn isoformer(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_isoformer")).args(args).current_dir(root()).output().expect("run isoformer");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 48 transcripts of 16 genes for models/tiny (64-bp windows: 8 bins of 8 bp), three targets
/// that depend on the DNA's GC content, the RNA length and the protein's lysine count.
fn synthetic(dir: &Path) -> PathBuf {
    let mut x: u64 = 12345;
    let mut next = move || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) as usize
    };
    let mut text = String::from("transcript_id\tgene_id\tdna\trna\tprotein\tt_gc\tt_len\tt_lys\n");
    for g in 0..16 {
        for i in 0..3 {
            let dna: String = (0..64).map(|_| b"ACGT"[next() % 4] as char).collect();
            let rna_len = 12 + next() % 30;
            let rna: String = (0..rna_len).map(|_| b"ACGT"[next() % 4] as char).collect();
            let plen = next() % 12;
            let protein: String = (0..plen).map(|_| b"ACDEFGHIKLMNPQRSTVWY"[next() % 20] as char).collect();
            let gc = dna.bytes().filter(|b| *b == b'G' || *b == b'C').count() as f32 / 64.0;
            let lys = protein.bytes().filter(|b| *b == b'K').count() as f32;
            text += &format!("tx{g}_{i}\tG{g}\t{dna}\t{rna}\t{protein}\t{:.4}\t{:.4}\t{:.4}\n", 4.0 * gc, rna_len as f32 / 10.0, lys);
        }
    }
    let p = dir.join("data.tsv");
    std::fs::write(&p, text).unwrap();
    p
}

fn read_tsv(p: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(p).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split('\t').map(String::from).collect();
    (header, lines.map(|l| l.split('\t').map(String::from).collect()).collect())
}

fn genes_of(p: &Path) -> BTreeSet<String> {
    let (h, rows) = read_tsv(p);
    let g = h.iter().position(|c| c == "gene_id").unwrap();
    rows.iter().map(|r| r[g].clone()).collect()
}

fn train_args<'a>(train: &'a str, valid: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "train", "--model", "models/tiny", "--train", train, "--valid", valid, "--out", out, "--epochs", "12", "--batch-size", "4",
        "--lr", "3e-3", "--warmup-steps", "3", "--seed", "5", "--standardize", "-j", "1", "-q",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn split_train_resume_after_kill_cache_and_eval() {
    let dir = tempdir("e2e");
    let data = synthetic(&dir);
    let prefix = dir.join("data");

    // Split: gene-disjoint, every row in exactly one part, reproducible.
    let (ok, _, err) = isoformer(&["split", "--input", s(&data), "--by", "gene", "--fractions", "0.6,0.2,0.2", "--seed", "3", "-o", s(&prefix)]);
    assert!(ok, "{err}");
    let part = |n: &str| dir.join(format!("data.{n}.tsv"));
    let (tr, va, te) = (genes_of(&part("train")), genes_of(&part("valid")), genes_of(&part("test")));
    assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te), "{tr:?} {va:?} {te:?}");
    assert_eq!(tr.len() + va.len() + te.len(), 16);
    let rows = |n: &str| read_tsv(&part(n)).1.len();
    assert_eq!(rows("train") + rows("valid") + rows("test"), 48);
    let first = std::fs::read(part("train")).unwrap();
    let (ok, _, err) = isoformer(&["split", "--input", s(&data), "--fractions", "0.6,0.2,0.2", "--seed", "3", "-o", s(&prefix)]);
    assert!(ok, "{err}");
    assert_eq!(first, std::fs::read(part("train")).unwrap(), "same seed, same split");

    let (train, valid, test) = (part("train"), part("valid"), part("test"));

    // Uninterrupted run (everything trained).
    let full = dir.join("full");
    let (ok, _, err) = isoformer(&train_args(s(&train), s(&valid), s(&full), &["--train-parts", "all", "--checkpoint-every", "5"]));
    assert!(ok, "{err}");
    let want = std::fs::read(full.join("model.safetensors")).unwrap();

    // The same run, killed with SIGKILL after its first checkpoint, then resumed.
    let cut = dir.join("cut");
    let args = train_args(s(&train), s(&valid), s(&cut), &["--train-parts", "all", "--checkpoint-every", "5"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_isoformer")).args(&args).current_dir(root()).spawn().unwrap();
    let t0 = Instant::now();
    while !cut.join("checkpoint.json").exists() {
        assert!(child.try_wait().unwrap().is_none(), "training ended before its first checkpoint");
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint after 120 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!cut.join("model.safetensors").exists(), "the run finished before it was killed: nothing was tested");
    let ckpt: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(cut.join("checkpoint.json")).unwrap()).unwrap();
    let at_step = ckpt["step"].as_u64().unwrap();
    let total_steps = 12 * rows("train").div_ceil(4) as u64;
    assert!(at_step > 0 && at_step < total_steps, "killed at step {at_step} of {total_steps}");
    let mut resumed = args.clone();
    resumed.push("--resume");
    let (ok, _, err) = isoformer(&resumed);
    assert!(ok, "{err}");
    let got = std::fs::read(cut.join("model.safetensors")).unwrap();
    assert!(got == want, "resumed from step {at_step}: weights differ from the uninterrupted run");
    assert_eq!(std::fs::read(cut.join("config.json")).unwrap(), std::fs::read(full.join("config.json")).unwrap());
    // the log holds each step once
    let (_, log) = read_tsv(&cut.join("training_log.tsv"));
    let steps: Vec<u64> = log.iter().filter(|r| r[0] == "step").map(|r| r[2].parse().unwrap()).collect();
    assert_eq!(steps, (1..=total_steps).collect::<Vec<_>>());

    // A resume with other options is refused.
    let mut other = train_args(s(&train), s(&valid), s(&cut), &["--train-parts", "all", "--checkpoint-every", "5", "--resume"]);
    let lr = other.iter().position(|a| *a == "3e-3").unwrap();
    other[lr] = "1e-3";
    let (ok, _, err) = isoformer(&other);
    assert!(!ok && err.contains("other training options"), "{err}");

    // Fusion + head with frozen encoders: the embedding cache gives the same weights as running
    // the encoders every batch, and a second run reads everything from it.
    let cache = dir.join("cache");
    let with_cache = dir.join("fh_cache");
    let no_cache = dir.join("fh_nocache");
    let fh = ["--train-parts", "fusion+head"];
    let (ok, _, err) = isoformer(&[train_args(s(&train), s(&valid), s(&with_cache), &fh), vec!["--cache-dir", s(&cache)]].concat());
    assert!(ok, "{err}");
    assert!(!err.contains(" 0 misses"), "a fresh cache must be filled: {err}");
    let (ok, _, err) = isoformer(&[train_args(s(&train), s(&valid), s(&no_cache), &fh), vec!["--no-cache"]].concat());
    assert!(ok, "{err}");
    assert!(std::fs::read(with_cache.join("model.safetensors")).unwrap() == std::fs::read(no_cache.join("model.safetensors")).unwrap());
    let again = dir.join("fh_again");
    let (ok, _, err) = isoformer(&[train_args(s(&train), s(&valid), s(&again), &fh), vec!["--cache-dir", s(&cache)]].concat());
    assert!(ok, "{err}");
    assert!(err.contains(" 0 misses"), "{err}");
    // frozen parts are unchanged: the encoders' tensors equal the starting model's
    let base = safetensors_map(&root().join("models/tiny/model.safetensors"));
    let trained = safetensors_map(&with_cache.join("model.safetensors"));
    let mut compared = 0;
    for (name, v) in &trained {
        if name.starts_with("nt_model.") || name.starts_with("esm_model.") || name.starts_with("enformer.") {
            if let Some(b) = base.get(name) {
                assert_eq!(v, b, "{name} changed although frozen");
                compared += 1;
            }
        }
    }
    assert!(compared > 50, "only {compared} encoder tensors compared");
    assert_ne!(trained.get("cross_attention_layer_rna.query.weight"), base.get("cross_attention_layer_rna.query.weight"), "fusion did not learn");

    // Eval on held-out genes; its metrics agree with its own predictions.
    let plots = dir.join("plots");
    let metrics_tsv = dir.join("metrics.tsv");
    let preds = dir.join("preds.tsv");
    let json = dir.join("metrics.json");
    let (ok, _, err) = isoformer(&[
        "eval", "--model", s(&full), "--data", s(&test), "-o", s(&metrics_tsv), "--json", s(&json), "--predictions", s(&preds),
        "--plot", s(&plots), "--plot-target", "t_len", "--baseline", s(&train),
    ]);
    assert!(ok, "{err}");
    let (h, m) = read_tsv(&metrics_tsv);
    assert_eq!(h[..6], ["target", "n", "r2", "pearson", "spearman", "mse"]);
    assert_eq!(m.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["t_gc", "t_len", "t_lys", "mean"]);
    // `predict`'s table: transcript_id, gene_id (the data has one), then the outputs.
    let (ph, pred_rows) = read_tsv(&preds);
    assert_eq!(ph[..5], ["transcript_id", "gene_id", "t_gc", "t_len", "t_lys"]);
    let (dh, data_rows) = read_tsv(&test);
    let col = |name: &str| dh.iter().position(|c| c == name).unwrap();
    for (k, t) in ["t_gc", "t_len", "t_lys"].iter().enumerate() {
        let obs: Vec<f64> = data_rows.iter().map(|r| r[col(t)].parse().unwrap()).collect();
        let p: Vec<f64> = pred_rows.iter().map(|r| r[2 + k].parse().unwrap()).collect();
        let mean = obs.iter().sum::<f64>() / obs.len() as f64;
        let r2 = 1.0 - obs.iter().zip(&p).map(|(o, q)| (o - q).powi(2)).sum::<f64>() / obs.iter().map(|o| (o - mean).powi(2)).sum::<f64>();
        let reported: f64 = m[k][2].parse().unwrap();
        assert!((r2 - reported).abs() < 1e-4, "{t}: R² {reported} reported, {r2} from the predictions");
    }
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["metrics"]["targets"].as_array().unwrap().len(), 3);
    assert!(j["baseline"]["metrics"]["mean_r2"].as_f64().unwrap() <= 0.0, "a constant predictor has R² ≤ 0");
    assert!(std::fs::read_to_string(plots.join("scatter_t_len.svg")).unwrap().contains("<circle"));
    assert!(std::fs::read_to_string(plots.join("metrics.svg")).unwrap().contains("t_lys"));

    // predict on the trained directory: named outputs, same values as eval's predictions.
    let (ok, out, err) = isoformer(&["predict", "--model", s(&full), "--input", s(&test), "--output", "-"]);
    assert!(ok, "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), "transcript_id\tgene_id\tt_gc\tt_len\tt_lys");
    let by_id: BTreeMap<String, Vec<String>> = pred_rows.iter().map(|r| (r[0].clone(), r[2..].to_vec())).collect();
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        let e = &by_id[f[0]];
        for (a, b) in f[2..].iter().zip(e) {
            assert!((a.parse::<f64>().unwrap() - b.parse::<f64>().unwrap()).abs() < 2e-6, "{l}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn safetensors_map(p: &Path) -> BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.names().into_iter().map(|n| (n.to_string(), st.tensor(n).unwrap().data().to_vec())).collect()
}

#[test]
fn bad_inputs_name_file_and_line() {
    let dir = tempdir("bad");
    let p = dir.join("bad.tsv");
    let dna = "ACGT".repeat(16);
    std::fs::write(&p, format!("transcript_id\tgene_id\tdna\trna\tprotein\ty\nt1\tG1\t{dna}\tACGTAC\tMK\t1.5\nt2\tG2\t{dna}\tACGTAC\tMK\tfoo\n")).unwrap();
    let out = dir.join("out");
    let (ok, _, err) = isoformer(&["train", "--model", "models/tiny", "--train", s(&p), "--out", s(&out), "--no-cache", "-q"]);
    assert!(!ok);
    assert!(err.contains("bad.tsv:3") && err.contains("not a finite number"), "{err}");
    assert!(!out.join("model.safetensors").exists());
    let (ok, _, err) = isoformer(&["train", "--model", "models/tiny", "--train", s(&p), "--out", s(&out), "--targets", "z", "-q"]);
    assert!(!ok && err.contains("no target column `z`"), "{err}");
    let good = dir.join("good.tsv");
    std::fs::write(&good, format!("transcript_id\tgene_id\tdna\trna\tprotein\ty\nt1\tG1\t{dna}\tACGTAC\tMK\t1.5\n")).unwrap();
    let (ok, _, err) = isoformer(&["train", "--model", "models/tiny", "--train", s(&good), "--out", s(&out), "--resume", "--no-cache", "-q"]);
    assert!(!ok && err.contains("cannot resume"), "{err}");
    let (ok, _, err) = isoformer(&["split", "--input", "models/tiny/example.tsv", "-o", s(&dir.join("x"))]);
    assert!(!ok && err.contains("example.tsv:1") && err.contains("gene_id"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
