//! `isoformer eval`: per-target R², Pearson, Spearman and MSE of a model on a TSV with targets,
//! their uniform averages, an optional training-mean baseline, TSV + JSON, SVG plots.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use burn::tensor::Device;
use isoformer_io::{OutputId, Outputs, open_input};
use isoformer_pipeline::data::{Targets, read_labeled};
use isoformer_pipeline::input::{Source, read_tsv};
use isoformer_pipeline::job::Job;
use isoformer_train::metrics::{self, Report};

use crate::compare::{compare, verdict};
use crate::predict::{load_predictor, run_job, set_compute, set_threads};

pub const HELP: &str = "EXAMPLE:\n  isoformer eval --model trained --data test.tsv -o metrics.tsv --json metrics.json \
--plot plots --baseline train.tsv\n\n\
The data TSV needs transcript_id, dna, rna, protein and one column per model output, named as the \
model's outputs (`isoformer predict` prints them; the 30 tissues for the official head). Metrics are \
computed in the data's units, after the model's saved target transform is undone: R² = 1 − SS_res/SS_tot \
(sklearn r2_score), Pearson, Spearman (average ranks for ties), MSE; `mean` rows are uniform averages over \
targets (torchmetrics multioutput=\"uniform_average\"), skipping targets whose value is undefined (a \
constant column has no R² or correlation). --baseline TRAIN.tsv adds the scores of predicting each \
target's mean over that file. --plot DIR writes scatter_TARGET.svg (predicted vs observed, for \
--plot-target, default the first target) and metrics.svg (per-target bars).\n\n\
--against ORIGINAL compares two models instead of one model with targets: the data TSV is predict's \
input (no target columns needed), both models predict it, and the output holds, per output, the \
cosine, max |delta| and Spearman correlation across transcripts of --model against ORIGINAL (the \
quantize gate's figures; --json writes them all). The exit status is 1 when --model fails the gate \
(cosine below 0.999 or Spearman drift above 0.01), as `isoformer quantize` would refuse it.";

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Model directory.
    #[arg(short, long)]
    pub model: PathBuf,
    /// TSV with inputs and target columns.
    #[arg(short, long)]
    pub data: PathBuf,
    /// Metrics TSV (`-` for standard output).
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    /// Also write the metrics as JSON.
    #[arg(long, value_name = "METRICS.json")]
    pub json: Option<PathBuf>,
    /// Also write the predictions: `predict`'s table (transcript_id, gene_id when the data has
    /// one, then one column per model output).
    #[arg(long, value_name = "PREDICTIONS.tsv")]
    pub predictions: Option<PathBuf>,
    /// Directory for the SVG plots.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Target drawn in the scatter plot (default: the first).
    #[arg(long)]
    pub plot_target: Option<String>,
    /// Compare --model with this model directory (e.g. a quantized copy with its fp32
    /// original) on --data instead of scoring against targets.
    #[arg(long, value_name = "ORIGINAL_DIR", conflicts_with_all = ["baseline", "plot", "plot_target", "predictions"])]
    pub against: Option<PathBuf>,
    /// Training TSV whose per-target means give a baseline predictor.
    #[arg(long, value_name = "TRAIN.tsv")]
    pub baseline: Option<PathBuf>,
    /// Transcripts per forward pass.
    #[arg(short, long, default_value_t = 8)]
    pub batch_size: usize,
    /// CPU threads (default: all cores).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    /// Matrix products of --model in f32, or in int8 where its weights are int8 (with
    /// --against: the accuracy of the int8 kernels against the original).
    #[arg(long, value_enum, default_value_t = crate::ComputeArg::F32)]
    pub compute: crate::ComputeArg,
}

pub fn run(args: &EvalArgs) -> Result<()> {
    anyhow::ensure!(args.batch_size >= 1, "--batch-size must be at least 1");
    set_threads(args.threads)?;
    // Every output is claimed before the work (see isoformer-io's `Outputs`) and moved into
    // place together at the end.
    let mut outputs = Outputs::new();
    outputs.input_dir(&args.model, &isoformer_pipeline::model_dir::FILES)?;
    if let Some(original) = &args.against {
        outputs.input_dir(original, &isoformer_pipeline::model_dir::FILES)?;
    }
    for input in [Some(&args.data), args.baseline.as_ref()].into_iter().flatten() {
        outputs.input(input)?;
    }
    if let (Some(dir), None) = (&args.plot, &args.against) {
        outputs.create_dir(dir)?;
    }
    let json_out = args.json.as_deref().map(|p| outputs.file(p)).transpose()?;
    let tsv_out = outputs.file(&args.output)?;
    let device = Device::flex();
    let mut predictor = load_predictor(&args.model, &device)?;
    set_compute(args.compute, crate::DeviceArg::Cpu, &mut predictor, &args.model)?;
    if let Some(original) = &args.against {
        return against(args, &predictor, &load_predictor(original, &device)?, outputs, tsv_out, json_out);
    }
    let predictions_out = args.predictions.as_deref().map(|p| outputs.file(p)).transpose()?;
    let names = predictor.output_names();
    let plot_outs = args.plot.as_deref().map(|dir| plot_outputs(&mut outputs, dir, args.plot_target.as_deref(), &names)).transpose()?;
    let data = read_labeled(Source::new(&args.data, open_input(&args.data)?), Targets::ModelOutputs(&names))?;
    let examples = data.targets.len();
    let mut job = Job::new(&predictor, data.records, args.batch_size)?;
    run_job(&mut job, false, |_, _| Ok(()))?;
    let table = job.finish()?;
    let pred: Vec<Vec<f32>> = table.rows.iter().map(|r| r.values.clone()).collect();
    let obs = data.targets;
    let report = metrics::report(&names, &pred, &obs);

    let baseline: Option<(Vec<f32>, Report)> = match &args.baseline {
        Some(path) => {
            let train = read_labeled(Source::new(path, open_input(path)?), Targets::ModelOutputs(&names))?.targets;
            let n = names.len();
            let mut mean = vec![0f64; n];
            for row in &train {
                for (m, v) in mean.iter_mut().zip(row) {
                    *m += *v as f64;
                }
            }
            let mean: Vec<f32> = mean.iter().map(|m| (m / train.len() as f64) as f32).collect();
            let constant = vec![mean.clone(); obs.len()];
            Some((mean, metrics::report(&names, &constant, &obs)))
        }
        None => None,
    };

    let f = |x: f64| if x.is_nan() { "NA".to_string() } else { format!("{x:.6}") };
    let mut tsv = String::from("target\tn\tr2\tpearson\tspearman\tmse");
    if baseline.is_some() {
        tsv.push_str("\tbaseline_r2\tbaseline_mse");
    }
    tsv.push('\n');
    for (k, t) in report.targets.iter().enumerate() {
        tsv += &format!("{}\t{}\t{}\t{}\t{}\t{}", t.name, t.n, f(t.r2), f(t.pearson), f(t.spearman), f(t.mse));
        if let Some((_, b)) = &baseline {
            tsv += &format!("\t{}\t{}", f(b.targets[k].r2), f(b.targets[k].mse));
        }
        tsv.push('\n');
    }
    tsv += &format!("mean\t{}\t{}\t{}\t{}\t{}", examples, f(report.mean_r2), f(report.mean_pearson), f(report.mean_spearman), f(report.mean_mse));
    if let Some((_, b)) = &baseline {
        tsv += &format!("\t{}\t{}", f(b.mean_r2), f(b.mean_mse));
    }
    tsv.push('\n');

    if let Some(out) = json_out {
        let json = serde_json::json!({
            "model": args.model,
            "data": args.data,
            "examples": examples,
            "metrics": report,
            "baseline": baseline.as_ref().map(|(m, r)| serde_json::json!({ "what": "each target's mean over the baseline file", "file": args.baseline, "means": m, "metrics": r })),
        });
        outputs.write_all(out, (serde_json::to_string_pretty(&json)? + "\n").as_bytes())?;
    }
    if let Some(out) = predictions_out {
        outputs.write_all(out, table.to_tsv().as_bytes())?;
    }
    if let Some((k, scatter, bars)) = plot_outs {
        let xs: Vec<f64> = obs.iter().map(|r| r[k] as f64).collect();
        let ys: Vec<f64> = pred.iter().map(|r| r[k] as f64).collect();
        outputs.write_all(scatter, scatter_svg(&names[k], &xs, &ys, &report.targets[k]).as_bytes())?;
        outputs.write_all(bars, bars_svg(&report).as_bytes())?;
    }
    outputs.write_all(tsv_out, tsv.as_bytes())?;
    Ok(outputs.commit()?)
}

/// `--plot DIR`: the plotted target's index (`--plot-target`, default the first output), and
/// its scatter and the bars files claimed (DIR is created now, and removed again if the run
/// fails and leaves it empty).
fn plot_outputs(outputs: &mut Outputs, dir: &std::path::Path, target: Option<&str>, names: &[String]) -> Result<(usize, OutputId, OutputId)> {
    let target = target.unwrap_or(&names[0]);
    let k = names.iter().position(|n| n == target).ok_or_else(|| anyhow!("--plot-target {target:?} is not one of the model's outputs ({})", names.join(", ")))?;
    let file = format!("scatter_{}.svg", target.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect::<String>());
    outputs.create_dir(dir)?;
    Ok((k, outputs.file(&dir.join(file))?, outputs.file(&dir.join("metrics.svg"))?))
}

/// `--against`: the quantize gate's comparison, written as a TSV (and JSON); an error when the
/// gate fails.
fn against(
    args: &EvalArgs,
    predictor: &isoformer_model::Predictor,
    original: &isoformer_model::Predictor,
    mut outputs: Outputs,
    tsv_out: OutputId,
    json_out: Option<OutputId>,
) -> Result<()> {
    let records = read_tsv(Source::new(&args.data, open_input(&args.data)?))?;
    let report = compare(original, predictor, records, args.batch_size)?;
    if let Some(out) = json_out {
        let json = serde_json::json!({
            "model": args.model, "against": args.against, "data": args.data,
            "agreement": report, "spearman_drift": report.spearman_drift(), "passes_gate": report.passes_gate(),
        });
        outputs.write_all(out, (serde_json::to_string_pretty(&json)? + "\n").as_bytes())?;
    }
    outputs.write_all(tsv_out, report.to_tsv().as_bytes())?;
    outputs.commit()?;
    anyhow::ensure!(report.passes_gate(), "{} does not pass the gate against {}: {}", args.model.display(), args.against.as_ref().map(|p| p.display().to_string()).unwrap_or_default(), verdict(&report));
    eprintln!("passes the gate: {}", verdict(&report));
    Ok(())
}

/// Text for SVG (XML 1.0): markup characters escaped, and control characters, which XML cannot
/// hold even escaped, shown as U+FFFD.
pub fn esc(s: &str) -> String {
    let s: String = s.chars().map(|c| if c.is_control() && !matches!(c, '\t' | '\n' | '\r') { '\u{fffd}' } else { c }).collect();
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Predicted (y) against observed (x), one dot per transcript, the y = x line, both axes on one range.
pub fn scatter_svg(target: &str, obs: &[f64], pred: &[f64], m: &metrics::TargetMetrics) -> String {
    let (w, h, pad) = (480.0, 480.0, 60.0);
    let all = obs.iter().chain(pred).copied().filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo < hi { (lo, hi) } else { (lo - 1.0, lo + 1.0) };
    let sx = |v: f64| pad + (v - lo) / (hi - lo) * (w - 2.0 * pad);
    let sy = |v: f64| h - pad - (v - lo) / (hi - lo) * (h - 2.0 * pad);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n");
    s += &format!("<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">{}: R² {:.3}, Pearson {:.3}, Spearman {:.3} (n = {})</text>\n", w / 2.0, esc(target), m.r2, m.pearson, m.spearman, m.n);
    s += &format!("<rect x=\"{pad}\" y=\"{pad}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", w - 2.0 * pad, h - 2.0 * pad);
    s += &format!("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>\n", sx(lo), sy(lo), sx(hi), sy(hi));
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        s += &format!("<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{v:.3}</text>\n", sx(v), h - pad + 16.0);
        s += &format!("<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.3}</text>\n", pad - 4.0, sy(v) + 4.0);
    }
    s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">observed</text>\n", w / 2.0, h - 15.0);
    s += &format!("<text transform=\"translate(15,{}) rotate(-90)\" text-anchor=\"middle\">predicted</text>\n", h / 2.0);
    for (x, y) in obs.iter().zip(pred) {
        if x.is_finite() && y.is_finite() {
            s += &format!("<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#08306b\" fill-opacity=\"0.6\"/>\n", sx(*x), sy(*y));
        }
    }
    s + "</svg>\n"
}

/// Per-target R², Pearson and Spearman as grouped horizontal bars on a common [-1, 1] axis
/// (R² below −1 is drawn at −1 and labelled with its value).
pub fn bars_svg(r: &Report) -> String {
    let (left, row, bar, width) = (170.0, 36.0, 9.0, 360.0);
    let h = 60.0 + row * r.targets.len() as f64 + 40.0;
    let w = left + width + 120.0;
    let x = |v: f64| left + (v.clamp(-1.0, 1.0) + 1.0) / 2.0 * width;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n");
    s += &format!("<text x=\"{}\" y=\"20\" font-size=\"13\">Per-target metrics: mean R² {:.3}, Pearson {:.3}, Spearman {:.3}</text>\n", left, r.mean_r2, r.mean_pearson, r.mean_spearman);
    let colours = [("R²", "#08519c"), ("Pearson", "#6baed6"), ("Spearman", "#fd8d3c")];
    for (k, (name, c)) in colours.iter().enumerate() {
        let lx = left + k as f64 * 90.0;
        s += &format!("<rect x=\"{lx}\" y=\"32\" width=\"10\" height=\"10\" fill=\"{c}\"/><text x=\"{}\" y=\"41\">{name}</text>\n", lx + 14.0);
    }
    let top = 60.0;
    for v in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        s += &format!("<line x1=\"{0}\" x2=\"{0}\" y1=\"{top}\" y2=\"{1}\" stroke=\"#ddd\"/><text x=\"{0}\" y=\"{2}\" text-anchor=\"middle\">{v}</text>\n", x(v), h - 30.0, h - 16.0);
    }
    for (i, t) in r.targets.iter().enumerate() {
        let y = top + i as f64 * row;
        s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 6.0, y + 18.0, esc(&t.name));
        for (k, (v, (_, c))) in [t.r2, t.pearson, t.spearman].iter().zip(colours.iter()).enumerate() {
            let yy = y + 4.0 + k as f64 * bar;
            if v.is_nan() {
                s += &format!("<text x=\"{}\" y=\"{}\" font-size=\"8\">NA</text>\n", x(0.0) + 2.0, yy + 7.0);
                continue;
            }
            let (a, b) = (x(0.0).min(x(*v)), x(0.0).max(x(*v)));
            s += &format!("<rect x=\"{a:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{}\" fill=\"{c}\"><title>{}: {v:.4}</title></rect>\n", (b - a).max(0.5), bar - 1.0, esc(&t.name));
            if *v < -1.0 {
                s += &format!("<text x=\"{}\" y=\"{}\" font-size=\"8\" text-anchor=\"end\">{v:.2}</text>\n", x(-1.0) - 2.0, yy + 7.0);
            }
        }
    }
    s + "</svg>\n"
}

#[cfg(test)]
mod tests {
    #[test]
    fn svg_text_has_no_control_characters() {
        assert_eq!(super::esc("tx\u{1}<1>&\"g\""), "tx\u{fffd}&lt;1&gt;&amp;&quot;g&quot;");
    }
}
