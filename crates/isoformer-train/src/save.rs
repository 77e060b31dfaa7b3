//! Writing a model directory: weights under their checkpoint names (`Isoformer::named_tensors`)
//! as safetensors, `config.json` and the vocab files, each written whole or not at all.

use std::path::Path;

use isoformer_model::{Isoformer, IsoformerConfig, ModelFiles};

use crate::error::{TrainError, write};

/// Write `bytes` to `path` whole or not at all (isoformer-io's atomic output: a temporary file
/// beside it, renamed into place).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    Ok(isoformer_io::write_output(path, bytes)?)
}

/// `(name, shape, values)` as a safetensors file (f32).
pub fn safetensors_bytes(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Result<Vec<u8>, TrainError> {
    use safetensors::tensor::TensorView;
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|source| TrainError::TensorView { name: n.clone(), source })
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize(views, None).map_err(TrainError::Serialise)
}

/// `model.safetensors` bytes of a model (standard names, PyTorch layout).
pub fn model_bytes(model: &Isoformer, cfg: &IsoformerConfig) -> Result<Vec<u8>, TrainError> {
    let tensors = model.named_tensors(cfg).map_err(TrainError::Export)?;
    safetensors_bytes(&tensors)
}

/// Write a model directory: `config.json` (the base file's other fields kept), weights and the
/// three vocabulary files.
pub fn write_model_dir(dir: &Path, base: &ModelFiles, cfg: &IsoformerConfig, model: &Isoformer) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(write(dir))?;
    let mut json: serde_json::Value = serde_json::from_str(&base.config_json).unwrap_or(serde_json::json!({}));
    let ours = serde_json::to_value(cfg).map_err(|source| TrainError::Json { what: "the config", source })?;
    if let (Some(obj), serde_json::Value::Object(fields)) = (json.as_object_mut(), ours) {
        for k in ["isoformer_output_names", "isoformer_target_transform"] {
            obj.remove(k);
        }
        obj.extend(fields);
    }
    let text = serde_json::to_string_pretty(&json).map_err(|source| TrainError::Json { what: "config.json", source })? + "\n";
    write_atomic(&dir.join(ModelFiles::WEIGHTS), &model_bytes(model, cfg)?)?;
    write_atomic(&dir.join("dna_vocab_list.txt"), base.dna_vocab.as_bytes())?;
    write_atomic(&dir.join("rna_vocab_list.txt"), base.rna_vocab.as_bytes())?;
    write_atomic(&dir.join("protein_vocab_list.txt"), base.protein_vocab.as_bytes())?;
    write_atomic(&dir.join(ModelFiles::CONFIG), text.as_bytes())
}
