//! Checkpoints: `checkpoint-STEP/` holds the model, the AdamW moments and the run's position;
//! `checkpoint.json` names the latest. A checkpoint is written under a temporary name and
//! renamed, then pointed at, then older ones are removed as the [`RetentionPolicy`] says, so a
//! run killed at any moment leaves a complete checkpoint to resume from.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use isoformer_model::weights::SafetensorsSource;
use isoformer_model::{Isoformer, IsoformerConfig, ModelFiles};
use serde::{Deserialize, Serialize};

use crate::error::{TrainError, read, write};
use crate::optim::Optimiser;
use crate::options::TrainOptions;
use crate::retention::RetentionPolicy;
use crate::save::{model_bytes, write_atomic};

const POINTER: &str = "checkpoint.json";
const STATE: &str = "state.json";
const MOMENTS: &str = "optimizer.safetensors";

/// Where a run stands, with what decides its result (saved in each checkpoint as `state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Optimizer steps done.
    pub step: usize,
    /// The epoch to continue in and its next batch (the batch order is a function of
    /// `(seed, epoch)`: this pair is the generator's whole state).
    pub epoch: usize,
    pub next_batch: usize,
    /// Sum of the current epoch's batch losses so far (for its mean).
    pub epoch_loss_sum: f64,
    pub options: TrainOptions,
    pub config: IsoformerConfig,
    /// SHA-256 of the training examples and targets: a resume must see the same data.
    pub data_hash: String,
}

impl State {
    /// The position at the start of the next epoch.
    pub fn end_epoch(&mut self) {
        self.epoch += 1;
        self.next_batch = 0;
        self.epoch_loss_sum = 0.0;
    }
}

/// A checkpoint found on disk.
pub struct Checkpoint {
    pub dir: PathBuf,
    pub state: State,
}

/// Saves and loads the checkpoints of one output directory.
pub struct Checkpointer {
    out_dir: PathBuf,
    retention: RetentionPolicy,
}

impl Checkpointer {
    pub fn new(out_dir: &Path, retention: RetentionPolicy) -> Self {
        Self { out_dir: out_dir.to_path_buf(), retention }
    }

    fn pointer(&self) -> PathBuf {
        self.out_dir.join(POINTER)
    }

    /// Write `checkpoint-STEP/`, point `checkpoint.json` at it, remove what the policy drops.
    pub fn save(&self, model: &Isoformer, optimiser: &Optimiser, state: &State) -> Result<PathBuf, TrainError> {
        let name = format!("checkpoint-{:08}", state.step);
        let dir = self.out_dir.join(&name);
        let tmp = self.out_dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        // A signal while it is being written removes it (isoformer-io's registry).
        let _registered = isoformer_io::signals::Temporary::new(&tmp);
        std::fs::create_dir_all(&tmp).map_err(write(&tmp))?;
        write_atomic(&tmp.join(ModelFiles::WEIGHTS), &model_bytes(model, &state.config)?)?;
        write_atomic(&tmp.join(MOMENTS), &optimiser.record()?)?;
        let text = serde_json::to_string_pretty(state).map_err(|source| TrainError::Json { what: "the checkpoint state", source })?;
        write_atomic(&tmp.join(STATE), text.as_bytes())?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(write(&dir))?;
        write_atomic(&self.pointer(), serde_json::json!({ "dir": name, "step": state.step }).to_string().as_bytes())?;
        self.remove_old(state.step);
        Ok(dir)
    }

    /// Remove the checkpoints the retention policy drops (best effort: a checkpoint left over
    /// costs disk space, never correctness).
    fn remove_old(&self, saved: usize) {
        let Ok(entries) = std::fs::read_dir(&self.out_dir) else { return };
        let on_disk: Vec<(usize, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let step = e.file_name().to_str()?.strip_prefix("checkpoint-")?.parse().ok()?;
                Some((step, e.path()))
            })
            .collect();
        let steps: Vec<usize> = on_disk.iter().map(|(s, _)| *s).collect();
        let gone = self.retention.to_remove(&steps, saved);
        for (_, path) in on_disk.iter().filter(|(s, _)| gone.contains(s)) {
            let _ = std::fs::remove_dir_all(path);
        }
    }

    /// The checkpoint `checkpoint.json` names.
    pub fn latest(&self) -> Result<Checkpoint, TrainError> {
        let ptr = self.pointer();
        let text = std::fs::read_to_string(&ptr).map_err(|source| TrainError::NoCheckpoint { path: ptr.clone(), source })?;
        let name = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("dir").and_then(|d| d.as_str()).map(str::to_string))
            .ok_or_else(|| TrainError::CheckpointPointer { path: ptr.clone() })?;
        let dir = self.out_dir.join(name);
        let path = dir.join(STATE);
        let state = serde_json::from_slice(&std::fs::read(&path).map_err(read(&path))?)
            .map_err(|source| TrainError::CheckpointState { path: path.clone(), source })?;
        Ok(Checkpoint { dir, state })
    }
}

impl Checkpoint {
    /// Refuse to continue with other options or other training data.
    pub fn check_continues(&self, options: &TrainOptions, data_hash: &str) -> Result<(), TrainError> {
        let path = self.dir.join(STATE);
        if self.state.options != *options {
            let json = |o: &TrainOptions| serde_json::to_string(o).unwrap_or_default();
            return Err(TrainError::OtherOptions { path, checkpoint: json(&self.state.options), now: json(options) });
        }
        if self.state.data_hash != data_hash {
            return Err(TrainError::OtherData { path });
        }
        Ok(())
    }

    /// The checkpoint's model, on `device`.
    pub fn model(&self, device: &Device) -> Result<Isoformer, TrainError> {
        let path = self.dir.join(ModelFiles::WEIGHTS);
        let bytes = std::fs::read(&path).map_err(read(&path))?;
        let source = SafetensorsSource::new(&bytes).map_err(|source| TrainError::CheckpointWeights { path: path.clone(), source })?;
        Isoformer::load(&self.state.config, &source, device).map_err(|source| TrainError::CheckpointModel { path, source })
    }

    /// Continue `optimiser` from the checkpoint's moments (kept on `device`).
    pub fn resume_optimiser(&self, optimiser: &mut Optimiser, device: &Device) -> Result<(), TrainError> {
        let path = self.dir.join(MOMENTS);
        let bytes = std::fs::read(&path).map_err(read(&path))?;
        optimiser.resume(&bytes, self.state.step, device).map_err(|source| TrainError::CheckpointMoments { path, source })
    }
}
