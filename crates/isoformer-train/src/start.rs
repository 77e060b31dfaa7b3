//! Where a run starts: the latest checkpoint when resuming, else the base model with, when
//! asked or when the number of outputs differs, a new head seeded from its names and the seed.

use burn::tensor::Device;
use isoformer_model::head::Head;
use isoformer_model::model::Layout;
use isoformer_model::weights::{Loader, SafetensorsSource, TensorSource, ValuesError, seeded_values};
use isoformer_model::{Isoformer, IsoformerConfig, ModelFiles};

use crate::checkpoint::{Checkpoint, Checkpointer, State};
use crate::data::Sample;
use crate::error::TrainError;
use crate::options::TrainOptions;
use crate::transform::fit_transform;

/// The model and position a run starts from.
pub struct Start {
    pub model: Isoformer,
    /// The position, options and config (output names and target transform set).
    pub state: State,
    /// The checkpoint resumed from, if any.
    pub resumed: Option<Checkpoint>,
}

/// Continue from `checkpointer`'s latest checkpoint, refusing other options or data.
pub fn resume(checkpointer: &Checkpointer, options: &TrainOptions, data_hash: String, device: &Device) -> Result<Start, TrainError> {
    let checkpoint = checkpointer.latest()?;
    checkpoint.check_continues(options, &data_hash)?;
    let model = checkpoint.model(device)?;
    Ok(Start { model, state: checkpoint.state.clone(), resumed: Some(checkpoint) })
}

/// Start from the base model at step 0; the target transform is fitted on `train`.
pub fn fresh(
    base: &ModelFiles,
    train: &[Sample],
    output_names: &[String],
    options: &TrainOptions,
    data_hash: String,
    device: &Device,
) -> Result<Start, TrainError> {
    let mut config = IsoformerConfig::from_json(&base.config_json).map_err(TrainError::BaseConfig)?;
    let source = SafetensorsSource::new(&base.safetensors).map_err(TrainError::BaseWeights)?;
    let mut model = Isoformer::load(&config, &source, device).map_err(TrainError::BaseModel)?;
    let n_out = output_names.len();
    if options.new_head || model.head.outputs() != n_out {
        let hidden = model.head_hidden();
        let layout = Layout::standard(&config, &hidden, n_out);
        let seeded = SeededWith(options.seed);
        let mut l = Loader::new(&seeded, device);
        model.head = Head::load(&mut l, &layout.head, config.isoformer_head_activation, (config.pool_window_start, config.pool_window_end));
        log::info!("new head {:?} → {n_out} outputs (seed {})", hidden, options.seed);
    }
    config.isoformer_output_names = Some(output_names.to_vec());
    config.isoformer_target_transform = Some(fit_transform(train, options.target_function, options.standardize)?);
    let state = State { step: 0, epoch: 0, next_batch: 0, epoch_loss_sum: 0.0, options: options.clone(), config, data_hash };
    Ok(Start { model, state, resumed: None })
}

/// Parameter values drawn from their names and a seed (as `SeededSource`, mixed with the seed).
struct SeededWith(u64);

impl TensorSource for SeededWith {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
    fn shape(&self, _name: &str) -> Option<Vec<usize>> {
        None
    }
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ValuesError> {
        Ok(seeded_values(&format!("{name}#seed={}", self.0), shape))
    }
}
