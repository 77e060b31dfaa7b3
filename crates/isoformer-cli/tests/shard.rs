//! Sharded runs (`--shard K/N`), provenance and `isoformer merge`, on the bundled genome and
//! annotation with the demo model: the merged output is the unsharded one byte for byte,
//! whichever path was sharded (prepare or predict), whatever the shard count, thread count and
//! batch size; merge refuses what it cannot put back together.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{isoformer, root, scratch};

fn demo() -> String {
    root().join("models/demo").to_str().unwrap().to_string()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn error(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    String::from_utf8_lossy(&o.stderr).trim_end().to_string()
}

fn prepare(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let (genome, annotation) = (root().join("examples/genome.fa.gz"), root().join("examples/genes.gtf"));
    let mut args = vec!["prepare", "--genome", genome.to_str().unwrap(), "--annotation", annotation.to_str().unwrap(), "--all", "--model"];
    let model = demo();
    args.extend([model.as_str(), "--window", "1024", "-o", out]);
    args.extend(extra);
    isoformer(&args, dir)
}

fn predict(dir: &Path, input: &str, out: &str, extra: &[&str]) -> Output {
    let model = demo();
    let mut args = vec!["predict", "-m", model.as_str(), "-i", input, "-o", out, "-q"];
    args.extend(extra);
    isoformer(&args, dir)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(dir: &Path, name: &str) -> serde_json::Value {
    serde_json::from_slice(&read(dir, name)).unwrap()
}

fn merge(dir: &Path, out: &str, shards: &[String]) -> Output {
    let mut args = vec!["merge", "-o", out];
    args.extend(shards.iter().map(String::as_str));
    isoformer(&args, dir)
}

/// The unsharded run: prepare, then predict as TSV and Parquet.
fn unsharded(name: &str) -> PathBuf {
    let dir = scratch(name);
    ok(prepare(&dir, "prepared.tsv", &[]));
    assert_eq!(read(&dir, "prepared.tsv"), std::fs::read(root().join("models/demo/example.tsv")).unwrap());
    ok(predict(&dir, "prepared.tsv", "full.tsv", &[]));
    ok(predict(&dir, "prepared.tsv", "full.parquet", &[]));
    dir
}

#[test]
fn prepare_shards_predicted_and_merged_equal_the_unsharded_run() {
    let dir = unsharded("prepare-shards");
    let p = json(&dir, "prepared.tsv.json");
    assert_eq!(p["command"], "prepare");
    assert_eq!(p["output"]["rows"], 59);
    assert_eq!(p["parameters"]["window"], "1024");
    assert_eq!(p["files"]["genome"]["sha256"].as_str().unwrap().len(), 64);
    assert!(p.get("shard").is_none());
    for n in [1usize, 3, 7, 64] {
        let mut parts = Vec::new();
        let mut rows = 0;
        for k in 1..=n {
            let (prep, pred) = (format!("prep.{k}.tsv"), format!("pred.{k}.tsv"));
            ok(prepare(&dir, &prep, &["--shard", &format!("{k}/{n}")]));
            // Threads and batch sizes vary from shard to shard.
            let threads = if k % 2 == 0 { "1" } else { "2" };
            ok(predict(&dir, &prep, &pred, &["-j", threads, "-b", &(1 + k % 5).to_string()]));
            let s = json(&dir, &format!("{pred}.json"));
            assert_eq!((s["shard"]["index"].as_u64(), s["shard"]["count"].as_u64()), (Some(k as u64), Some(n as u64)));
            assert_eq!(s["upstream"]["command"], "prepare");
            rows += s["output"]["rows"].as_u64().unwrap();
            parts.push(pred);
        }
        assert_eq!(rows, 59, "{n} shards: every row once");
        parts.reverse(); // any order
        ok(merge(&dir, "merged.tsv", &parts));
        assert!(read(&dir, "merged.tsv") == read(&dir, "full.tsv"), "{n} shards: merged TSV differs from the unsharded run");
        assert_eq!(json(&dir, "merged.tsv.json"), json(&dir, "full.tsv.json"), "{n} shards: the merged provenance is the unsharded run's");
        for f in std::fs::read_dir(&dir).unwrap() {
            let name = f.unwrap().file_name().into_string().unwrap();
            if name.starts_with("prep.") || name.starts_with("pred.") {
                std::fs::remove_file(dir.join(name)).unwrap();
            }
        }
    }
}

#[test]
fn predict_shards_merge_to_the_unsharded_tsv_and_parquet() {
    let dir = unsharded("predict-shards");
    let (mut tsv, mut parquet) = (Vec::new(), Vec::new());
    for k in 1..=3 {
        let shard = format!("{k}/3");
        ok(predict(&dir, "prepared.tsv", &format!("s{k}.tsv"), &["--shard", &shard, "-b", "4", "-j", "1"]));
        ok(predict(&dir, "prepared.tsv", &format!("s{k}.parquet"), &["--shard", &shard]));
        tsv.push(format!("s{k}.tsv"));
        parquet.push(format!("s{k}.parquet"));
    }
    ok(merge(&dir, "merged.tsv", &tsv));
    assert!(read(&dir, "merged.tsv") == read(&dir, "full.tsv"), "merged TSV differs from the unsharded run");
    ok(merge(&dir, "merged.parquet", &parquet));
    assert!(read(&dir, "merged.parquet") == read(&dir, "full.parquet"), "merged Parquet differs from the unsharded run");
    // A shard of a shard is refused; so are bad K/N.
    ok(prepare(&dir, "p1.tsv", &["--shard", "1/2"]));
    let o = predict(&dir, "p1.tsv", "x.tsv", &["--shard", "1/2"]);
    assert_eq!(error(&o), "error: --shard: p1.tsv is already shard 1/2 of a `prepare` run (p1.tsv.json)");
    assert_eq!(error(&predict(&dir, "prepared.tsv", "x.tsv", &["--shard", "4/3"])), "error: --shard 4/3: K must be between 1 and N=3");
    assert_eq!(error(&prepare(&dir, "x.tsv", &["--shard", "0/2"])), "error: --shard 0/2: K must be between 1 and N=2");
    assert_eq!(error(&predict(&dir, "prepared.tsv", "x.tsv", &["--shard", "2"])), "error: --shard \"2\": expected K/N, two whole numbers with 1 <= K <= N (e.g. 3/8)");
    assert!(!dir.join("x.tsv").exists() && !dir.join("x.tsv.json").exists());
}

#[test]
fn merge_refuses_missing_duplicate_mixed_and_stale_shards() {
    let dir = unsharded("merge-refusals");
    let shards: Vec<String> = (1..=3).map(|k| format!("s{k}.tsv")).collect();
    for (k, s) in shards.iter().enumerate() {
        ok(predict(&dir, "prepared.tsv", s, &["--shard", &format!("{}/3", k + 1)]));
    }
    let refused = |shards: &[&str]| {
        let owned: Vec<String> = shards.iter().map(|s| s.to_string()).collect();
        let e = error(&merge(&dir, "out.tsv", &owned));
        assert!(!dir.join("out.tsv").exists() && !dir.join("out.tsv.json").exists(), "nothing written");
        e
    };
    assert_eq!(refused(&["s1.tsv", "s3.tsv"]), "error: missing shard 2 of 3");
    assert_eq!(refused(&["s1.tsv", "s2.tsv", "s2.tsv", "s3.tsv"]), "error: s2.tsv and s2.tsv are both shard 2/3");
    assert_eq!(refused(&["full.tsv"]), "error: full.tsv: not a shard (its provenance has no shard)");
    // Another model: mixed provenance, the differing field named.
    let int8 = root().join("models/demo-int8");
    ok(isoformer(&["predict", "-m", int8.to_str().unwrap(), "-i", "prepared.tsv", "-o", "q2.tsv", "--shard", "2/3"], &dir));
    let e = refused(&["s1.tsv", "q2.tsv", "s3.tsv"]);
    assert!(e.starts_with("error: q2.tsv is not from the run of s1.tsv: files.config.json.sha256 is "), "{e}");
    // Another shard count.
    ok(predict(&dir, "prepared.tsv", "t2.tsv", &["--shard", "2/4"]));
    assert_eq!(refused(&["s1.tsv", "t2.tsv", "s3.tsv"]), "error: t2.tsv is shard 2/4 but s1.tsv is of 3 shards");
    // Fast provenance (size and mtime) is another run than sha256.
    ok(predict(&dir, "prepared.tsv", "f2.tsv", &["--shard", "2/3", "--fast-provenance"]));
    assert!(refused(&["s1.tsv", "f2.tsv", "s3.tsv"]).starts_with("error: f2.tsv is not from the run of s1.tsv: files."));
    // A shard rewritten after its sidecar; a shard without one.
    let mut text = read(&dir, "s2.tsv");
    text.extend_from_slice(b"extra\t\n");
    std::fs::write(dir.join("s2.tsv"), text).unwrap();
    assert_eq!(
        refused(&["s1.tsv", "s2.tsv", "s3.tsv"]),
        "error: s2.tsv.json: does not describe s2.tsv (another run's rows or sha256): the shard was rewritten after its provenance, rerun it"
    );
    std::fs::remove_file(dir.join("s2.tsv.json")).unwrap();
    assert_eq!(refused(&["s1.tsv", "s2.tsv", "s3.tsv"]), "error: s2.tsv: no s2.tsv.json beside it (merge needs each shard's provenance)");
    // A sidecar that does not describe the input is refused by predict too.
    std::fs::write(dir.join("prepared.tsv"), [read(&dir, "prepared.tsv"), b"x\t\t\t\t\t\tACGT\tAC\t\t\n".to_vec()].concat()).unwrap();
    let e = error(&predict(&dir, "prepared.tsv", "x.tsv", &[]));
    assert!(e.starts_with("error: prepared.tsv.json does not describe prepared.tsv"), "{e}");
}
