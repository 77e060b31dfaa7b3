//! `--compute int8`: the int8 kernels on a quantized model (close to its f32 predictions), no
//! change at all on an fp32 model, and a clear refusal on the GPU.

mod common;
use common::{isoformer, root, scratch};

/// The value columns of a predictions TSV, row by row.
fn values(tsv: &str) -> Vec<f64> {
    tsv.lines().skip(1).flat_map(|l| l.split('\t').skip(2).map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>()).collect()
}

fn predict(model: &str, compute: &str, dir: &std::path::Path) -> String {
    let example = root().join("models/demo/example.tsv");
    let model = root().join(model);
    let o = isoformer(&["predict", "-m", model.to_str().unwrap(), "-i", example.to_str().unwrap(), "-o", "-", "-q", "--compute", compute], dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn int8_kernels_stay_within_the_activation_rounding_of_the_f32_predictions() {
    let dir = scratch("int8-demo");
    let (f32s, int8s) = (predict("models/demo-int8", "f32", &dir), predict("models/demo-int8", "int8", &dir));
    let (a, b) = (values(&f32s), values(&int8s));
    assert_eq!(a.len(), b.len());
    assert_ne!(f32s, int8s, "the int8 kernels ran");
    let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    let cos = dot / (a.iter().map(|x| x * x).sum::<f64>() * b.iter().map(|y| y * y).sum::<f64>()).sqrt();
    println!("max |Δ| int8 kernels vs f32 on models/demo-int8 ({} values) {max:.3e}, cosine {cos:.7}", a.len());
    assert!(cos > 0.9999, "cosine {cos}");
    assert!(max < 0.05, "max |Δ| {max}");
}

#[test]
fn an_fp32_model_is_computed_in_f32_whatever_the_flag() {
    let dir = scratch("int8-fp32");
    assert_eq!(predict("models/demo", "int8", &dir), predict("models/demo", "f32", &dir));
}

#[test]
fn int8_on_the_gpu_is_refused_in_one_line() {
    let dir = scratch("int8-gpu");
    let model = root().join("models/demo-int8");
    let example = root().join("models/demo/example.tsv");
    let o = isoformer(&["predict", "-m", model.to_str().unwrap(), "-i", example.to_str().unwrap(), "-o", "out.tsv", "--device", "gpu", "--compute", "int8"], &dir);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--compute int8 runs on the CPU only"), "{err}");
    assert!(!dir.join("out.tsv").exists());
}
