//! Convert and inspect on checkpoints written by torch (tools/make_checkpoints.py), and on bad
//! inputs: each gives one line naming the file and leaves no output behind.

use std::path::{Path, PathBuf};

use isoformer_checkpoint::convert::convert;
use isoformer_checkpoint::inspect::report;
use isoformer_checkpoint::{Checkpoint, Format};
use isoformer_model::IsoformerConfig;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn hub(f: &str) -> PathBuf {
    root().join("tests/fixtures/hub").join(f)
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("isoformer-ckpt-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tiny_config() -> IsoformerConfig {
    IsoformerConfig::from_json(&std::fs::read_to_string(hub("tiny/config.json")).unwrap()).unwrap()
}

/// Every tensor of `b` is in `a` with the same dtype, shape and bytes.
fn same_tensors(a: &Path, b: &Path) -> usize {
    let ab = std::fs::read(a).unwrap();
    let bb = std::fs::read(b).unwrap();
    let sa = safetensors::SafeTensors::deserialize(&ab).unwrap();
    let sb = safetensors::SafeTensors::deserialize(&bb).unwrap();
    for (name, t) in sb.tensors() {
        let o = sa.tensor(&name).unwrap_or_else(|_| panic!("{name} missing from {}", a.display()));
        assert_eq!((o.dtype(), o.shape()), (t.dtype(), t.shape()), "{name}");
        assert!(o.data() == t.data(), "{name}: bytes differ");
    }
    sb.len()
}

#[test]
fn zip_checkpoint_converts_bit_for_bit_and_drops_trunk_aliases() {
    let ckpt = Checkpoint::open(&hub("tiny/pytorch_model.bin")).unwrap();
    assert_eq!(ckpt.format, Format::TorchZip);
    let d = tmp("zip");
    let out = d.join("model.safetensors");
    let cfg = tiny_config();
    let m = convert(&ckpt, &out, Some(&d.join("manifest.json")), Some((&hub("tiny/config.json"), &cfg)), |_, _| {}).unwrap();
    assert_eq!(m.dropped_aliases, 79);
    assert!(m.tensors > 100);
    // The torch checkpoint was made from models/tiny's tensors: all must come back unchanged.
    let n = same_tensors(&root().join("models/tiny/model.safetensors"), &out);
    assert_eq!(n, m.tensors);
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["output"]["sha256"].as_str().unwrap(), isoformer_checkpoint::convert::sha256_file(&out).unwrap());
    assert_eq!(manifest["parameters"]["esm"], 9408);
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 2, "only model.safetensors and manifest.json");
}

#[test]
fn legacy_and_zip_formats_give_the_same_tensors() {
    let d = tmp("legacy");
    for (f, format) in [("legacy_esm_layer0.bin", Format::TorchLegacy), ("zip_esm_layer0.bin", Format::TorchZip)] {
        let ckpt = Checkpoint::open(&hub(f)).unwrap();
        assert_eq!(ckpt.format, format, "{f}");
        let out = d.join(format!("{f}.safetensors"));
        convert(&ckpt, &out, None, None, |_, _| {}).unwrap();
        // layer 0 of the ESM encoder: 16 parameters and the rotary inv_freq buffer
        assert_eq!(same_tensors(&root().join("models/tiny/model.safetensors"), &out), 17, "{f}");
    }
}

fn refused(path: &Path, want: &[&str]) {
    let d = tmp(&format!("bad-{}", path.file_name().unwrap().to_string_lossy()));
    let out = d.join("model.safetensors");
    let result = Checkpoint::open(path).and_then(|c| convert(&c, &out, Some(&d.join("manifest.json")), None, |_, _| {}));
    let msg = match result {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{} should be refused", path.display()),
    };
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(msg.starts_with(&path.display().to_string()), "names the file: {msg}");
    for w in want {
        assert!(msg.contains(w), "{msg:?} lacks {w:?}");
    }
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "no output left: {msg}");
}

#[test]
fn hostile_pickles_are_refused_without_running() {
    let marker = Path::new("/tmp/isoformer-pickle-executed");
    let _ = std::fs::remove_file(marker);
    refused(&hub("evil_os_system.bin"), &["data.pkl", "system`", "refusing"]);
    refused(&hub("evil_exec.pkl"), &["builtins.exec"]);
    assert!(!marker.exists(), "the pickle's payload ran");
}

#[test]
fn bad_files_give_one_line_and_no_output() {
    let d = tmp("inputs");
    let good = std::fs::read(hub("tiny/pytorch_model.bin")).unwrap();
    let p = d.join("truncated.bin");
    std::fs::write(&p, &good[..good.len() / 2]).unwrap();
    refused(&p, &[]);
    let p = d.join("magic.bin");
    std::fs::write(&p, b"GIF89a not a checkpoint at all").unwrap();
    refused(&p, &["not a PyTorch checkpoint"]);
    let p = d.join("empty.bin");
    std::fs::write(&p, b"").unwrap();
    refused(&p, &["empty file"]);

    // A ZIP without data.pkl.
    let p = d.join("nopkl.bin");
    {
        let f = std::fs::File::create(&p).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        z.start_file("archive/data/0", opts).unwrap();
        std::io::Write::write_all(&mut z, &[0u8; 16]).unwrap();
        z.finish().unwrap();
    }
    refused(&p, &["without data.pkl"]);

    // safetensors whose header declares more data than the file holds.
    let p = d.join("short.safetensors");
    std::fs::write(&p, safetensors_bytes(r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 8)).unwrap();
    refused(&p, &["truncated"]);
    // ... and one naming a tensor twice.
    let p = d.join("dup.safetensors");
    std::fs::write(
        &p,
        safetensors_bytes(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8),
    )
    .unwrap();
    refused(&p, &["appears twice"]);
    let p = d.join("header.safetensors");
    std::fs::write(&p, [&(1u64 << 40).to_le_bytes()[..], b"{}"].concat()).unwrap();
    refused(&p, &["header declares"]);
}

fn safetensors_bytes(header: &str, data: usize) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend(std::iter::repeat_n(0u8, data));
    v
}

#[test]
fn a_config_that_does_not_match_stops_the_conversion() {
    let d = tmp("config");
    let text = std::fs::read_to_string(hub("tiny/config.json")).unwrap().replace("\"esm_intermediate_size\": 36", "\"esm_intermediate_size\": 40");
    let cfg_path = d.join("config.json");
    std::fs::write(&cfg_path, &text).unwrap();
    let cfg = IsoformerConfig::from_json(&text).unwrap();
    let ckpt = Checkpoint::open(&hub("tiny/pytorch_model.bin")).unwrap();
    let out = d.join("out/model.safetensors");
    let e = convert(&ckpt, &out, Some(&d.join("out/manifest.json")), Some((&cfg_path, &cfg)), |_, _| {}).unwrap_err().to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(e.contains("does not match") && e.contains("config.json") && e.contains("intermediate.dense.weight"), "{e}");
    assert!(!out.exists() && !d.join("out/manifest.json").exists());
}

#[test]
fn inspect_reports_geometry_and_the_load_check() {
    let ckpt = Checkpoint::open(&hub("tiny/pytorch_model.bin")).unwrap();
    let cfg = tiny_config();
    let (text, ok) = report(&ckpt, Some(("config.json", &cfg)));
    assert_eq!(ok, Some(true), "{text}");
    for want in [
        "Enformer at `enformer.`: dim 48, depth 2, heads 2 × key 8",
        "NT-v2-like encoder (SwiGLU) at `nt_model.esm.`: vocab 4107, width 40, 2 layers, 4 heads",
        "ESM-like encoder (GELU) at `esm_model.esm.`: vocab 33, width 24, 2 layers, 3 heads",
        "head_layer_1 [96→20] → head_layer_2 [20→30]",
        "79 `_trunk.*` aliases",
    ] {
        assert!(text.contains(want), "report lacks {want:?}:\n{text}");
    }
    let mut wrong = cfg.clone();
    wrong.nt_num_hidden_layers = 3;
    let (text, ok) = report(&ckpt, Some(("config.json", &wrong)));
    assert_eq!(ok, Some(false));
    assert!(text.contains("missing    nt_model.esm.encoder.layer.2.attention.self.query.weight"), "{text}");
}
