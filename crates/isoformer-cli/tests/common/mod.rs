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
