//! Validation after each epoch: the loss in the training (transformed) space, the metrics in
//! data units.

use isoformer_model::Isoformer;
use isoformer_model::config::TargetTransform;

use crate::data::Sample;
use crate::error::TrainError;
use crate::features::{Features, frozen_batch};
use crate::forward::forward_batch;
use crate::metrics;

/// What one validation pass measured.
#[derive(Debug, Clone)]
pub struct Validation {
    pub loss: f64,
    pub report: metrics::Report,
}

/// Predict `data` in chunks of 8 with `model` (inference mode) and score it against its targets.
pub(crate) fn evaluate(
    model: &Isoformer,
    data: &[Sample],
    mut features: Option<&mut Features>,
    transform: &TargetTransform,
    names: &[String],
) -> Result<Validation, TrainError> {
    let n_out = names.len();
    let mut preds: Vec<Vec<f32>> = Vec::with_capacity(data.len());
    for chunk in data.chunks(8) {
        let batch: Vec<&Sample> = chunk.iter().collect();
        let frozen = frozen_batch(features.as_deref_mut(), &batch)?;
        let raw = forward_batch(model, &batch, &frozen).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
        preds.extend(raw.chunks(n_out).map(<[f32]>::to_vec));
    }
    let mut sq = 0.0;
    for (p, s) in preds.iter().zip(data) {
        for j in 0..n_out {
            sq += (p[j] as f64 - transform.forward(j, s.targets[j]) as f64).powi(2);
        }
    }
    let loss = sq / (data.len() * n_out) as f64;
    let in_units: Vec<Vec<f32>> = preds.iter().map(|p| p.iter().enumerate().map(|(j, v)| transform.inverse(j, *v)).collect()).collect();
    let obs: Vec<Vec<f32>> = data.iter().map(|s| s.targets.clone()).collect();
    Ok(Validation { loss, report: metrics::report(names, &in_units, &obs) })
}
