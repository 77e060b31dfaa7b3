//! A model directory on disk (native only; the page gets the same files from the File API).

use std::path::{Path, PathBuf};

use isoformer_model::model::{GatherError, ModelError};
use isoformer_model::weights::ReadAt;
use isoformer_model::{ModelFiles, Predictor};

/// Why a model directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelDirError {
    #[error("{}: cannot read{}", path.display(), hint(path))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf },
    /// Every [`ModelError`] starts with the name of the file it is about: shown after the
    /// directory, it is one line naming the file (`m/config.json: ...`).
    #[error("{}/{source}", dir.display())]
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

/// The five files of a model directory (what an output of a run that reads the directory may
/// not overwrite).
pub const FILES: [&str; 5] = [ModelFiles::CONFIG, ModelFiles::WEIGHTS, "dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"];

/// Read a model directory's five files.
pub fn read_files(dir: &Path) -> Result<ModelFiles, ModelDirError> {
    ModelFiles::gather(|name| std::fs::read(dir.join(name))).map_err(|e| gather_error(dir, e))
}

fn gather_error(dir: &Path, e: GatherError<std::io::Error>) -> ModelDirError {
    match e {
        GatherError::Read { file, source } => ModelDirError::Read { path: dir.join(file), source },
        GatherError::NotUtf8 { file } => ModelDirError::NotUtf8 { path: dir.join(file) },
    }
}

/// Read a model directory and build the predictor on `device`. The weights are read one tensor
/// at a time ([`WeightsFile`]), so loading never holds the file and the model at once.
pub fn load(dir: &Path, device: &burn::tensor::Device) -> Result<Predictor, ModelDirError> {
    let files = ModelFiles::gather_with(|name| std::fs::read(dir.join(name)), || WeightsFile::open(&dir.join(ModelFiles::WEIGHTS)))
        .map_err(|e| gather_error(dir, e))?;
    Predictor::from_files(&files, device).map_err(|source| ModelDirError::Load { dir: dir.into(), source })
}

/// A weights file on disk, read in slices.
pub struct WeightsFile {
    file: std::fs::File,
    size: u64,
}

impl WeightsFile {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        Ok(Self { file, size })
    }
}

impl ReadAt for WeightsFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; len];
        #[cfg(unix)]
        std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut buf, offset).map_err(|e| e.to_string())?;
        #[cfg(windows)]
        {
            let mut done = 0;
            while done < len {
                let n = std::os::windows::fs::FileExt::seek_read(&self.file, &mut buf[done..], offset + done as u64).map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err(format!("unexpected end of file at byte {}", offset + done as u64));
                }
                done += n;
            }
        }
        Ok(buf)
    }
}
