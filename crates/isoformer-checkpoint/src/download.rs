//! Fetch a model repository from the Hugging Face Hub (hf-hub, blocking) into a model directory.
//!
//! `HF_ENDPOINT` (another Hub or a mirror), `HF_HOME` (cache at `$HF_HOME/hub`, the standard
//! layout shared with Python's huggingface_hub) and `HF_TOKEN` (else the token file in
//! `HF_HOME`) are honoured. Downloads resume from the partial file an interrupted run left in the
//! cache; every file's size, and its sha256 where the Hub reports one (LFS files), are checked.

use std::fs::File;
use std::path::{Path, PathBuf};

use hf_hub::api::Progress;
use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Repo, RepoType};
use isoformer_io::AtomicOutput;

use crate::error::{CheckpointError, ErrorKind};
use crate::convert::sha256_file;

/// The files of the official repository besides the weights.
pub const MODEL_FILES: [&str; 4] = ["config.json", "dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"];

/// A file the Hub lists, with what it says of it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Sibling {
    pub rfilename: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub lfs: Option<Lfs>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Lfs {
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, serde::Deserialize)]
struct RepoInfo {
    #[serde(default)]
    sha: Option<String>,
    siblings: Vec<Sibling>,
}

/// What was fetched.
#[derive(Debug)]
pub struct Fetched {
    pub commit: Option<String>,
    /// `(file name, path in the cache)`.
    pub files: Vec<(String, PathBuf)>,
    /// `pytorch_model.bin` or `model.safetensors`.
    pub weights: String,
}

/// Download `repo_id` at `revision` into the cache; `progress(file)` gives each file's bar.
pub fn fetch<P: Progress>(repo_id: &str, revision: &str, mut progress: impl FnMut() -> P) -> Result<Fetched, CheckpointError> {
    let here = Path::new(repo_id);
    let mut builder = ApiBuilder::from_env().with_progress(false).with_retries(2);
    if let Ok(token) = std::env::var("HF_TOKEN") {
        builder = builder.with_token(Some(token));
    }
    let api = builder.build().map_err(|e| ErrorKind::HubClient(e).at(here))?;
    let repo = api.repo(Repo::with_revision(repo_id.to_string(), RepoType::Model, revision.to_string()));
    let info: RepoInfo = repo
        .info_request()
        .query("blobs", "true")
        .call()
        .map_err(|e| ErrorKind::List { revision: revision.to_string(), source: ApiError::from(Box::new(e)) }.at(here))?
        .into_json()
        .map_err(|e| ErrorKind::Listing(e).at(here))?;
    let listed = |name: &str| info.siblings.iter().find(|s| s.rfilename == name);
    let weights = ["model.safetensors", "pytorch_model.bin"]
        .into_iter()
        .find(|w| listed(w).is_some())
        .ok_or_else(|| ErrorKind::NoWeights.at(here))?;
    let missing: Vec<String> = MODEL_FILES.iter().filter(|f| listed(f).is_none()).map(|f| f.to_string()).collect();
    if !missing.is_empty() {
        return Err(ErrorKind::MissingFiles(missing).at(here));
    }
    let mut files = Vec::new();
    for name in MODEL_FILES.iter().copied().chain([weights]) {
        let sib = listed(name).expect("listed above");
        let path = repo
            .download_with_progress(name, progress())
            .map_err(|source| ErrorKind::Download { name: name.to_string(), source }.at(here))?;
        verify(&path, name, sib)?;
        files.push((name.to_string(), path));
    }
    Ok(Fetched { commit: info.sha, files, weights: weights.to_string() })
}

/// Check the size and (for LFS files) sha256 the Hub reported.
fn verify(path: &Path, name: &str, sib: &Sibling) -> Result<(), CheckpointError> {
    let len = std::fs::metadata(path).map_err(|e| ErrorKind::Read(e).at(path))?.len();
    let want = sib.lfs.as_ref().map(|l| l.size).or(sib.size);
    if let Some(listed) = want.filter(|&w| w != len) {
        return Err(ErrorKind::SizeMismatch { name: name.to_string(), len, listed }.at(path));
    }
    if let Some(lfs) = &sib.lfs {
        let got = sha256_file(path)?;
        if !got.eq_ignore_ascii_case(&lfs.sha256) {
            return Err(ErrorKind::ShaMismatch { name: name.to_string(), got, listed: lfs.sha256.clone() }.at(path));
        }
    }
    Ok(())
}

/// Copy a file into `dir` under `name`, whole or not at all (isoformer-io's atomic output).
pub fn place(src: &Path, dir: &Path, name: &str) -> Result<PathBuf, CheckpointError> {
    std::fs::create_dir_all(dir).map_err(|e| ErrorKind::Create(e).at(dir))?;
    let dest = dir.join(name);
    let mut out = AtomicOutput::create(&dest).map_err(|e| ErrorKind::Output(e).at(&dest))?;
    let mut input = File::open(src).map_err(|e| ErrorKind::Open(e).at(src))?;
    std::io::copy(&mut input, out.writer()).map_err(|e| ErrorKind::Write(e).at(&dest))?;
    out.finish().map_err(|e| ErrorKind::Output(e).at(&dest))?;
    Ok(dest)
}
