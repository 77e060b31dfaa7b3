//! End to end: the `isoformer` binary on the bundled example against the PyTorch reference, and
//! bad inputs giving one clear error that names the file and line, with no output left behind.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn isoformer(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_isoformer")).args(args).current_dir(root()).output().expect("run isoformer");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// The reference predictions (tools/make_fixtures.py, `head.out`) for models/tiny/example.tsv.
fn reference() -> Vec<f32> {
    let bytes = std::fs::read(root().join("tests/fixtures/tiny_forward.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("head.out").unwrap();
    t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn parse(tsv: &str) -> (Vec<String>, Vec<f32>) {
    let mut lines = tsv.lines();
    let header: Vec<String> = lines.next().unwrap().split('\t').map(String::from).collect();
    let values = lines.flat_map(|l| l.split('\t').skip(1).map(|v| v.parse::<f32>().unwrap()).collect::<Vec<_>>()).collect();
    (header, values)
}

fn check_against_reference(model: &str, extra: &[&str]) {
    let mut args = vec!["predict", "--model", model, "--input", "models/tiny/example.tsv", "--output", "-"];
    args.extend_from_slice(extra);
    let (ok, out, err) = isoformer(&args);
    assert!(ok, "{err}");
    let (header, got) = parse(&out);
    assert_eq!(header.len(), 31);
    assert_eq!(header[1], "Adipose Tissue");
    assert_eq!(header[30], "Vagina");
    let want = reference();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        // printed with 6 decimals: 5e-7 of rounding on top of the parity bound
        assert!((g - w).abs() <= 1e-4 + 1e-4 * w.abs() + 5e-7, "value {i}: got {g}, want {w}");
    }
}

#[test]
fn predict_matches_pytorch_on_the_bundled_example() {
    check_against_reference("models/tiny", &[]);
}

#[test]
fn predict_loads_a_checkpoint_saved_under_other_prefixes() {
    check_against_reference("tests/fixtures/tiny_renamed", &["--batch-size", "3"]);
}

#[test]
fn gzip_input_and_file_output_and_dump() {
    use std::io::Write;
    let dir = tempdir();
    let gz = dir.join("in.tsv.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(&std::fs::read(root().join("models/tiny/example.tsv")).unwrap()).unwrap();
    enc.finish().unwrap();
    let out = dir.join("out.tsv");
    let dump = dir.join("dump.safetensors");
    let (ok, _, err) = isoformer(&[
        "predict", "-m", "models/tiny", "-i", gz.to_str().unwrap(), "-o", out.to_str().unwrap(),
        "--dump-embeddings", dump.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (_, got) = parse(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(got.len(), 90);
    let bytes = std::fs::read(&dump).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("tiny_tx1.dna_embeddings").unwrap().shape(), &[6, 96]);
    assert_eq!(st.tensor("tiny_tx2.protein_tokens").unwrap().shape(), &[2]); // empty protein: <cls><eos>
    assert_eq!(st.tensor("tiny_tx1.rna_tokens").unwrap().shape(), &[12]);
    assert_eq!(st.names().len(), 18);
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("isoformer-cli-test-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn failing(input: &str, expect: &[&str]) {
    let dir = tempdir();
    let inp = dir.join("bad.tsv");
    std::fs::write(&inp, input).unwrap();
    let out = dir.join("out.tsv");
    let (ok, _, err) = isoformer(&["predict", "-m", "models/tiny", "-i", inp.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(!ok, "should fail: {input}");
    for e in expect {
        assert!(err.contains(e), "stderr lacks {e:?}: {err}");
    }
    assert!(!out.exists(), "no output on failure");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "nothing half-written");
}

#[test]
fn bad_inputs_name_file_and_line() {
    let example = std::fs::read_to_string(root().join("models/tiny/example.tsv")).unwrap();
    let row: Vec<&str> = example.lines().nth(1).unwrap().split('\t').collect();
    failing("transcript_id\tdna\trna\n", &["bad.tsv:1", "no `protein` column"]);
    failing(&format!("transcript_id\tdna\trna\tprotein\nx\t{}\tACGU\tMK*\n", row[1]), &["bad.tsv:2", "x:", "protein"]);
    failing(&format!("transcript_id\tdna\trna\tprotein\nx\t{}A\tACG\tMK\n", row[1]), &["bad.tsv:2", "not a positive multiple of 8"]);
    failing("transcript_id\tdna\trna\tprotein\nx\tACGTACGT\tACG\tMK\n", &["bad.tsv:2", "fewer than enformer_target_length"]);
    failing(&format!("transcript_id\tdna\trna\tprotein\nx\t{0}\tACG\tMK\nx\t{0}\tA\tM\n", row[1]), &["bad.tsv:3", "already on line 2"]);
    failing("transcript_id\tdna\trna\tprotein\nx\tACGT\n", &["bad.tsv:2", "2 fields, but the header has 4"]);
    failing(&format!("transcript_id\tdna\trna\tprotein\nx\t{}\tAC-G\tMK\n", row[1]), &["bad.tsv:2", "'-' is not an allowed RNA letter (rna position 3)"]);
}

#[test]
fn a_missing_model_file_is_named() {
    let (ok, _, err) = isoformer(&["predict", "-m", "tests/fixtures", "-i", "models/tiny/example.tsv"]);
    assert!(!ok);
    assert!(err.contains("tests/fixtures/config.json: cannot read"), "{err}");
}
