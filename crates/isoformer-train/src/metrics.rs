//! Per-target regression metrics: R², Pearson, Spearman, MSE, and their uniform averages over
//! targets (torchmetrics' `multioutput="uniform_average"`: the plain mean of the per-target
//! values). Computed in f64.

use serde::Serialize;

/// One target's metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetMetrics {
    pub name: String,
    pub n: usize,
    /// `1 − SS_res / SS_tot` (sklearn's `r2_score`; NaN when the observations are constant).
    pub r2: f64,
    /// Pearson correlation (NaN when either side is constant).
    pub pearson: f64,
    /// Spearman correlation: Pearson of the ranks, ties given their average rank (NaN when
    /// either side is constant).
    pub spearman: f64,
    pub mse: f64,
}

/// Metrics for every target and their uniform averages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub targets: Vec<TargetMetrics>,
    /// Means over targets, skipping NaN values (a constant target has no R² or correlation);
    /// `*_defined` counts the targets that entered each mean.
    pub mean_r2: f64,
    pub mean_pearson: f64,
    pub mean_spearman: f64,
    pub mean_mse: f64,
    pub r2_defined: usize,
    pub pearson_defined: usize,
    pub spearman_defined: usize,
}

/// `1 − Σ(y−ŷ)² / Σ(y−ȳ)²`.
pub fn r2(pred: &[f64], obs: &[f64]) -> f64 {
    assert_eq!(pred.len(), obs.len());
    let n = obs.len() as f64;
    let mean = obs.iter().sum::<f64>() / n;
    let ss_tot: f64 = obs.iter().map(|y| (y - mean).powi(2)).sum();
    let ss_res: f64 = pred.iter().zip(obs).map(|(p, y)| (y - p).powi(2)).sum();
    if ss_tot == 0.0 { f64::NAN } else { 1.0 - ss_res / ss_tot }
}

pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    if saa == 0.0 || sbb == 0.0 { f64::NAN } else { sab / (saa * sbb).sqrt() }
}

/// 1-based ranks, ties sharing their average rank (scipy's `rankdata(method="average")`).
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

pub fn mse(pred: &[f64], obs: &[f64]) -> f64 {
    pred.iter().zip(obs).map(|(p, y)| (p - y).powi(2)).sum::<f64>() / obs.len() as f64
}

/// `pred[i][t]`, `obs[i][t]` for examples `i` and targets `t` named by `names`.
pub fn report(names: &[String], pred: &[Vec<f32>], obs: &[Vec<f32>]) -> Report {
    assert_eq!(pred.len(), obs.len());
    let targets: Vec<TargetMetrics> = names
        .iter()
        .enumerate()
        .map(|(t, name)| {
            let p: Vec<f64> = pred.iter().map(|r| r[t] as f64).collect();
            let o: Vec<f64> = obs.iter().map(|r| r[t] as f64).collect();
            TargetMetrics {
                name: name.clone(),
                n: o.len(),
                r2: r2(&p, &o),
                pearson: pearson(&p, &o),
                spearman: spearman(&p, &o),
                mse: mse(&p, &o),
            }
        })
        .collect();
    let mean = |f: fn(&TargetMetrics) -> f64| -> (f64, usize) {
        let v: Vec<f64> = targets.iter().map(f).filter(|x| !x.is_nan()).collect();
        (if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }, v.len())
    };
    let (mean_r2, r2_defined) = mean(|m| m.r2);
    let (mean_pearson, pearson_defined) = mean(|m| m.pearson);
    let (mean_spearman, spearman_defined) = mean(|m| m.spearman);
    let (mean_mse, _) = mean(|m| m.mse);
    Report { targets, mean_r2, mean_pearson, mean_spearman, mean_mse, r2_defined, pearson_defined, spearman_defined }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn r2_by_hand() {
        // obs mean 2.5; SS_tot = 2.25+0.25+0.25+2.25 = 5; SS_res = 0.01+0.04+0+0.09 = 0.14
        close(r2(&[1.1, 1.8, 3.0, 4.3], &[1.0, 2.0, 3.0, 4.0]), 1.0 - 0.14 / 5.0);
        // predicting the mean gives 0; a constant observation gives NaN
        close(r2(&[2.5; 4], &[1.0, 2.0, 3.0, 4.0]), 0.0);
        assert!(r2(&[1.0, 2.0], &[3.0, 3.0]).is_nan());
    }

    #[test]
    fn pearson_by_hand() {
        // a = 1,2,3 ; b = 2,4,7: deviations (-1,0,1), (-2.333,-0.333,2.667)
        // sab = 2.333+2.667 = 5; saa = 2; sbb = 5.444+0.111+7.111 = 12.667
        close(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0]), 5.0 / (2.0f64 * (38.0 / 3.0)).sqrt());
        close(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0, 20.0]), vec![2.0, 4.0, 4.0, 1.0, 4.0]);
    }

    #[test]
    fn spearman_with_ties_by_hand() {
        // a = [1,2,2,3] -> ranks [1, 2.5, 2.5, 4]; b = [1,3,2,4] -> ranks [1,3,2,4]
        // both rank means 2.5; ra dev: -1.5, 0, 0, 1.5 ; rb dev: -1.5, 0.5, -0.5, 1.5
        // sab = 2.25+0+0+2.25 = 4.5 ; saa = 4.5 ; sbb = 2.25+0.25+0.25+2.25 = 5
        close(spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]), 4.5 / (4.5f64 * 5.0).sqrt());
        // monotone but non-linear: Spearman 1, Pearson below 1
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [1.0, 8.0, 27.0, 64.0];
        close(spearman(&a, &b), 1.0);
        assert!(pearson(&a, &b) < 0.99);
    }

    #[test]
    fn report_averages_skip_undefined_targets() {
        let names = vec!["a".to_string(), "b".to_string()];
        let obs = vec![vec![1.0, 5.0], vec![2.0, 5.0], vec![3.0, 5.0]];
        let pred = vec![vec![1.0, 4.0], vec![2.0, 5.0], vec![4.0, 6.0]];
        let r = report(&names, &pred, &obs);
        // a: SS_tot 2, SS_res 1 -> 0.5 ; b: constant -> NaN, left out of the mean
        close(r.targets[0].r2, 0.5);
        assert!(r.targets[1].r2.is_nan());
        close(r.mean_r2, 0.5);
        assert_eq!(r.r2_defined, 1);
        close(r.targets[0].mse, 1.0 / 3.0);
        close(r.targets[1].mse, 2.0 / 3.0);
        close(r.mean_mse, 0.5);
    }
}

/// How closely one model's predictions follow another's on the same transcripts (a quantized
/// model against its fp32 original): `isoformer quantize`'s accuracy gate.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// Per output: `(name, cosine across transcripts, max |Δ|, Spearman across transcripts)`;
    /// the Spearman is NaN below 3 transcripts or for a constant output.
    pub outputs: Vec<(String, f64, f64, f64)>,
    /// Cosine of all values, flattened.
    pub cosine: f64,
    pub max_abs: f64,
    /// Mean over transcripts of the Spearman correlation of their output profiles.
    pub spearman_within: f64,
    /// Mean over outputs of the Spearman correlation across transcripts (NaN below 3).
    pub spearman_across: f64,
}

/// The accuracy gate a quantized model must pass against its original: cosine of all values at
/// least this,
pub const GATE_MIN_COSINE: f64 = 0.999;
/// and a Spearman drift ([`Agreement::spearman_drift`]) at most this.
pub const GATE_MAX_SPEARMAN_DRIFT: f64 = 0.01;

impl Agreement {
    /// Whether the gate ([`GATE_MIN_COSINE`], [`GATE_MAX_SPEARMAN_DRIFT`]) passes.
    pub fn passes_gate(&self) -> bool {
        self.cosine >= GATE_MIN_COSINE && self.spearman_drift() <= GATE_MAX_SPEARMAN_DRIFT
    }

    /// One row per output (cosine, max |Δ| and Spearman across transcripts), then `overall`:
    /// cosine and max |Δ| of all values, the mean of the Spearman column. `NA` where undefined.
    pub fn to_tsv(&self) -> String {
        let f = |x: f64| if x.is_nan() { "NA".to_string() } else { format!("{x:.6}") };
        let g = |x: f64| format!("{x:.3e}");
        let mut tsv = String::from("output\tcosine\tmax_abs_delta\tspearman\n");
        for (name, cos, max, rho) in &self.outputs {
            tsv += &format!("{name}\t{}\t{}\t{}\n", f(*cos), g(*max), f(*rho));
        }
        tsv + &format!("overall\t{}\t{}\t{}\n", f(self.cosine), g(self.max_abs), f(self.spearman_across))
    }

    /// `1 −` the worse of the two mean Spearman correlations (the across-transcript one only
    /// where it is defined).
    pub fn spearman_drift(&self) -> f64 {
        let worst = if self.spearman_across.is_nan() { self.spearman_within } else { self.spearman_within.min(self.spearman_across) };
        1.0 - worst
    }
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 && nb == 0.0 { 1.0 } else { dot / (na * nb) }
}

fn mean_defined(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.filter(|x| x.is_finite()).fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// `a[i][t]` against `reference[i][t]`, transcripts `i`, outputs `t` named by `names`.
pub fn agreement(names: &[String], a: &[Vec<f32>], reference: &[Vec<f32>]) -> Agreement {
    let col = |m: &[Vec<f32>], t: usize| -> Vec<f64> { m.iter().map(|r| r[t] as f64).collect() };
    let outputs: Vec<(String, f64, f64, f64)> = names
        .iter()
        .enumerate()
        .map(|(t, name)| {
            let (x, y) = (col(a, t), col(reference, t));
            let max = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
            let rho = if x.len() >= 3 { spearman(&x, &y) } else { f64::NAN };
            (name.clone(), cosine(&x, &y), max, rho)
        })
        .collect();
    let flat = |m: &[Vec<f32>]| -> Vec<f64> { m.iter().flatten().map(|&v| v as f64).collect() };
    let (fa, fr) = (flat(a), flat(reference));
    let within = mean_defined(a.iter().zip(reference).map(|(p, q)| {
        spearman(&p.iter().map(|&v| v as f64).collect::<Vec<_>>(), &q.iter().map(|&v| v as f64).collect::<Vec<_>>())
    }));
    Agreement {
        cosine: cosine(&fa, &fr),
        max_abs: fa.iter().zip(&fr).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max),
        spearman_within: within,
        spearman_across: mean_defined(outputs.iter().map(|o| o.3)),
        outputs,
    }
}

#[cfg(test)]
mod agreement_tests {
    use super::*;

    #[test]
    fn identical_predictions_agree_fully_and_a_shuffle_does_not() {
        let names: Vec<String> = (0..4).map(|i| format!("o{i}")).collect();
        let p: Vec<Vec<f32>> = (0..5).map(|i| (0..4).map(|t| (i * 4 + t) as f32 * 0.3 - 2.0).collect()).collect();
        let same = agreement(&names, &p, &p);
        assert!((same.cosine - 1.0).abs() < 1e-12 && same.max_abs == 0.0 && same.spearman_drift().abs() < 1e-12);
        let reversed: Vec<Vec<f32>> = p.iter().map(|r| r.iter().rev().copied().collect()).collect();
        let off = agreement(&names, &reversed, &p);
        assert!(off.spearman_within < -0.99, "{off:?}");
        assert!(off.spearman_drift() > 1.9);
    }
}
