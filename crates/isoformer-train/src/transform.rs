//! The target transform fitted on the training targets: saved in `config.json`, undone by
//! `Predictor`, so predictions come out in the training file's units.

use isoformer_model::config::{TargetFunction, TargetTransform};

use crate::data::Sample;
use crate::error::TrainError;

/// Fit the target transform on the training targets.
pub fn fit_transform(train: &[Sample], f: TargetFunction, standardize: bool) -> Result<TargetTransform, TrainError> {
    let mut t = TargetTransform { transform: f, mean: None, std: None };
    if f == TargetFunction::Log1p {
        if let Some((s, v)) = train.iter().find_map(|s| s.targets.iter().find(|v| **v <= -1.0).map(|v| (s, v))) {
            return Err(TrainError::Log1pDomain { id: s.encoded.id.clone(), value: *v });
        }
    }
    if standardize {
        let (mean, std) = moments(train, &t);
        t.mean = Some(mean);
        t.std = Some(std);
    }
    Ok(t)
}

/// Per-target mean and population standard deviation of the transformed targets; a constant
/// target gets std 1 (its standardised value is then 0).
fn moments(train: &[Sample], t: &TargetTransform) -> (Vec<f32>, Vec<f32>) {
    let n_out = train.first().map(|s| s.targets.len()).unwrap_or(0);
    let mut mean = vec![0f64; n_out];
    let mut sq = vec![0f64; n_out];
    for s in train {
        for (j, v) in s.targets.iter().enumerate() {
            let x = t.forward(j, *v) as f64;
            mean[j] += x;
            sq[j] += x * x;
        }
    }
    let n = train.len() as f64;
    let mean: Vec<f64> = mean.iter().map(|m| m / n).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| {
            let v = (s / n - m * m).max(0.0).sqrt();
            if v > 1e-6 { v as f32 } else { 1.0 }
        })
        .collect();
    (mean.iter().map(|m| *m as f32).collect(), std)
}

#[cfg(test)]
mod tests {
    use isoformer_model::model::Encoded;

    use super::*;

    #[test]
    fn transform_round_trips_and_standardises() {
        let enc = Encoded {
            id: "x".into(),
            dna_one_hot: vec![],
            dna_len: 0,
            rna_tokens: vec![],
            protein_tokens: vec![],
            rna_cropped: false,
            protein_cropped: false,
        };
        let s = |a: f32, b: f32| Sample { encoded: enc.clone(), targets: vec![a, b] };
        let train = vec![s(0.0, 5.0), s(3.0, 5.0), s(8.0, 5.0)];
        let t = fit_transform(&train, TargetFunction::Log1p, true).unwrap();
        let z: Vec<f32> = train.iter().map(|x| t.forward(0, x.targets[0])).collect();
        let mean = z.iter().sum::<f32>() / 3.0;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 3.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5, "{mean} {var}");
        // constant target: std 1, value 0
        assert_eq!(t.std.as_ref().unwrap()[1], 1.0);
        assert!(t.forward(1, 5.0).abs() < 1e-6);
        for v in [0.0f32, 3.0, 8.0, 100.0] {
            assert!((t.inverse(0, t.forward(0, v)) - v).abs() < 1e-3 * (1.0 + v));
        }
        assert!(fit_transform(&[s(-1.0, 0.0)], TargetFunction::Log1p, false).is_err());
    }
}
