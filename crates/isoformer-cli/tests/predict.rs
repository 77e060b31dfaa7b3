//! `isoformer predict`: how results leave the program (standard output only once everything is
//! computed, files claimed before the model runs and moved into place at the end).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn isoformer(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isoformer")).args(args).current_dir(cwd).output().expect("run isoformer")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("isoformer-predict-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tiny() -> String {
    root().join("models/tiny").to_str().unwrap().to_string()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn standard_output_gets_nothing_when_a_later_row_fails() {
    let dir = scratch("stdout");
    let example = std::fs::read_to_string(root().join("models/tiny/example.tsv")).unwrap();
    let row: Vec<&str> = example.lines().nth(1).unwrap().split('\t').collect();
    // Two good rows, then a protein with a stop sign on line 4.
    let mut text = example.clone();
    text += &format!("late\t{}\tACGT\tMK*\n", row[1]);
    std::fs::write(dir.join("in.tsv"), text).unwrap();
    let o = isoformer(&["predict", "-m", &tiny(), "-i", "in.tsv", "-o", "-"], &dir);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "stdout: {}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: in.tsv:5: late:"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn outputs_are_claimed_before_the_model_loads_and_nothing_is_left_behind() {
    let dir = scratch("claim");
    std::fs::copy(root().join("models/tiny/example.tsv"), dir.join("in.tsv")).unwrap();
    // The plot's folder does not exist: the run must stop on it before reading the (missing) model.
    let o = isoformer(&["predict", "-m", "no-model", "-i", "in.tsv", "-o", "out.tsv", "--plot", "nodir/heatmap.svg"], &dir);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.starts_with("error: nodir/heatmap.svg: cannot create"), "{err}");
    assert_eq!(files_in(&dir), ["in.tsv"], "no output, no temporary file");
    // A failure after the outputs were claimed (the model) removes their temporary files.
    let o = isoformer(&["predict", "-m", "no-model", "-i", "in.tsv", "-o", "out.tsv.gz", "--plot", "heatmap.svg", "--dump-embeddings", "e.safetensors"], &dir);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-model/config.json: cannot read"));
    assert_eq!(files_in(&dir), ["in.tsv"]);
    // Two outputs cannot share standard output.
    let o = isoformer(&["predict", "-m", &tiny(), "-i", "in.tsv", "-o", "-", "--dump-embeddings", "-"], &dir);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("only one of --output, --plot, --dump-embeddings can be `-`"));
    assert!(o.stdout.is_empty());
}
