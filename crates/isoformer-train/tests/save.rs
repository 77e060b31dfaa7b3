//! Saving a model (`Isoformer::named_tensors` → safetensors) loses nothing: the bundled tiny
//! model saved and loaded again holds the same values under the same names and predicts the
//! same bits; a trained target transform is undone by `Predictor` and survives the round trip.

use burn::tensor::Device;
use isoformer_model::config::{TargetFunction, TargetTransform};
use isoformer_model::{Example, ModelFiles, Predictor};
use isoformer_train::trainer::{model_bytes, write_model_dir};

fn tiny() -> ModelFiles {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny");
    ModelFiles::gather(|n| std::fs::read(dir.join(n))).unwrap()
}

fn examples(p: &Predictor) -> Vec<isoformer_model::model::Encoded> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny/example.tsv");
    std::fs::read_to_string(dir)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            p.encode(&Example { id: f[0].into(), dna: f[1].into(), rna: f[2].into(), protein: f.get(3).unwrap_or(&"").to_string() }).unwrap()
        })
        .collect()
}

fn predictions(p: &Predictor) -> Vec<f32> {
    let ex = examples(p);
    p.forward(&ex[..1]).unwrap().predictions.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

#[test]
fn tiny_model_round_trips_bit_for_bit() {
    let device = Device::flex();
    let files = tiny();
    let p = Predictor::from_files(&files, &device).unwrap();
    let saved = model_bytes(&p.model, &p.config).unwrap();
    let again = Predictor::from_files(&ModelFiles { safetensors: saved.clone(), ..tiny() }, &device).unwrap();
    assert_eq!(predictions(&p), predictions(&again));
    // every saved tensor equals the original file's tensor of that name, where it has one
    let a = safetensors::SafeTensors::deserialize(&files.safetensors).unwrap();
    let b = safetensors::SafeTensors::deserialize(&saved).unwrap();
    let mut same = 0;
    for n in b.names() {
        if let Ok(t) = a.tensor(n) {
            // the loader's shapes: PyTorch's singleton dims (Conv2d 1x1 `[d, d, 1, 1]`) dropped
            let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
            assert_eq!(squeeze(t.shape()), squeeze(b.tensor(n).unwrap().shape()), "{n}");
            assert_eq!(t.data(), b.tensor(n).unwrap().data(), "{n}");
            same += 1;
        }
    }
    assert!(same > 100, "{same} tensors compared");
    // nothing the model owns is left out: saving the reloaded model gives the same bytes
    assert_eq!(saved, model_bytes(&again.model, &again.config).unwrap());
}

#[test]
fn target_transform_is_undone_at_prediction() {
    let device = Device::flex();
    let p = Predictor::from_files(&tiny(), &device).unwrap();
    let raw = predictions(&p);
    let mut cfg = p.config.clone();
    let t = TargetTransform {
        transform: TargetFunction::Log1p,
        mean: Some((0..30).map(|i| i as f32 * 0.1).collect()),
        std: Some((0..30).map(|i| 1.0 + i as f32 * 0.05).collect()),
    };
    cfg.isoformer_target_transform = Some(t.clone());
    let dir = std::env::temp_dir().join(format!("isoformer-save-test-{}", std::process::id()));
    write_model_dir(&dir, &tiny(), &cfg, &p.model).unwrap();
    let files = ModelFiles::gather(|n| std::fs::read(dir.join(n))).unwrap();
    let q = Predictor::from_files(&files, &device).unwrap();
    let got = predictions(&q);
    for (j, (r, g)) in raw.iter().zip(&got).enumerate() {
        let want = t.inverse(j, *r);
        assert!((g - want).abs() <= 1e-5 * (1.0 + want.abs()), "output {j}: {g} vs {want}");
    }
    // a transform of the wrong length is refused, naming the field
    cfg.isoformer_target_transform = Some(TargetTransform { mean: Some(vec![0.0; 3]), std: Some(vec![1.0; 3]), ..t });
    write_model_dir(&dir, &tiny(), &cfg, &p.model).unwrap();
    let files = ModelFiles::gather(|n| std::fs::read(dir.join(n))).unwrap();
    let err = Predictor::from_files(&files, &device).err().expect("refused").to_string();
    assert!(err.contains("isoformer_target_transform"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
