//! A model directory on disk (native only; the page gets the same files from the File API).

use std::path::{Path, PathBuf};

use isoformer_model::model::{GatherError, ModelError};
use isoformer_model::{ModelFiles, Predictor};

/// Why a model directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelDirError {
    #[error("{}: cannot read{}", path.display(), hint(path))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("loading the model in {}", dir.display())]
    Load { dir: PathBuf, source: ModelError },
}

fn hint(path: &Path) -> &'static str {
    let weights = path.file_name().is_some_and(|n| n == ModelFiles::WEIGHTS);
    if weights && path.with_file_name("pytorch_model.bin").exists() {
        " (this directory has pytorch_model.bin: convert it to safetensors first)"
    } else {
        " (a model directory holds config.json, model.safetensors and the three vocab files)"
    }
}

/// Read a model directory's five files.
pub fn read_files(dir: &Path) -> Result<ModelFiles, ModelDirError> {
    ModelFiles::gather(|name| std::fs::read(dir.join(name))).map_err(|e| match e {
        GatherError::Read { file, source } => ModelDirError::Read { path: dir.join(file), source },
        GatherError::NotUtf8 { file } => ModelDirError::NotUtf8 { path: dir.join(file) },
    })
}

/// Read a model directory and build the predictor on `device`.
pub fn load(dir: &Path, device: &burn::tensor::Device) -> Result<Predictor, ModelDirError> {
    let files = read_files(dir)?;
    Predictor::from_files(&files, device).map_err(|source| ModelDirError::Load { dir: dir.into(), source })
}
