//! Helpers shared by the CLI's integration tests (`mod common;` in each test file).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the `isoformer` binary built for these tests in `cwd`.
pub fn isoformer(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isoformer")).args(args).current_dir(cwd).output().expect("run isoformer")
}

/// A fresh empty directory for one test, named after the test binary, the process and `name`.
pub fn scratch(name: &str) -> PathBuf {
    let exe = std::env::current_exe().ok();
    let binary = exe.as_deref().and_then(Path::file_stem).and_then(|s| s.to_str()).unwrap_or("test");
    let d = std::env::temp_dir().join(format!("isoformer-{binary}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A copy of model directory `from` at `to` whose `model.safetensors` went through `edit`
/// (each tensor's name, shape and bytes, changeable in place): for tests of damaged weights.
pub fn damaged_model(from: &Path, to: &Path, edit: impl Fn(&str, &mut Vec<usize>, &mut Vec<u8>)) {
    let bytes = std::fs::read(from.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
        .names()
        .into_iter()
        .map(|name| {
            let t = st.tensor(name).unwrap();
            let (mut shape, mut data) = (t.shape().to_vec(), t.data().to_vec());
            edit(name, &mut shape, &mut data);
            (name.to_string(), t.dtype(), shape, data)
        })
        .collect();
    let views: Vec<_> =
        owned.iter().map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap())).collect();
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for f in ["config.json", "dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    std::fs::write(to.join("model.safetensors"), safetensors::serialize(views, None).unwrap()).unwrap();
}
