//! One model against another on the same transcripts (a quantized copy against its fp32
//! original): `isoformer quantize`'s gate and `isoformer eval --against`.

use anyhow::Result;
use isoformer_model::Predictor;
use isoformer_pipeline::input::Records;
use isoformer_pipeline::job::Job;
use isoformer_train::metrics::{Agreement, GATE_MAX_SPEARMAN_DRIFT, GATE_MIN_COSINE, agreement};

use crate::predict::run_job;

/// Every transcript's predictions, in input order.
pub fn predictions(predictor: &Predictor, records: Records, batch_size: usize) -> Result<Vec<Vec<f32>>> {
    let mut job = Job::new(predictor, records, batch_size)?;
    run_job(&mut job, true, |_, _| Ok(()))?;
    Ok(job.finish()?.rows.into_iter().map(|r| r.values).collect())
}

/// `candidate` against `reference` on `records`, printed to standard error.
pub fn compare(reference: &Predictor, candidate: &Predictor, records: Records, batch_size: usize) -> Result<Agreement> {
    let want = predictions(reference, records.clone(), batch_size)?;
    let got = predictions(candidate, records, batch_size)?;
    let report = agreement(&reference.output_names(), &got, &want);
    print(&report, want.len());
    Ok(report)
}

fn print(a: &Agreement, transcripts: usize) {
    eprintln!("{:<28} {:>10} {:>12} {:>10}", "output", "cosine", "max |delta|", "spearman");
    for (name, cos, max, rho) in &a.outputs {
        eprintln!("{name:<28} {cos:>10.6} {max:>12.3e} {rho:>10.4}");
    }
    eprintln!(
        "overall ({transcripts} transcripts): cosine {:.6}, max |delta| {:.3e}, mean Spearman within transcripts {:.4}, across transcripts {:.4}, drift {:.4}",
        a.cosine,
        a.max_abs,
        a.spearman_within,
        a.spearman_across,
        a.spearman_drift()
    );
}

/// The gate's verdict in words.
pub fn verdict(a: &Agreement) -> String {
    format!(
        "cosine {:.6} (at least {GATE_MIN_COSINE} wanted), Spearman drift {:.4} (at most {GATE_MAX_SPEARMAN_DRIFT} wanted)",
        a.cosine,
        a.spearman_drift()
    )
}
