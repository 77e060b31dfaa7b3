//! The trained part's forward pass on a batch: the whole model, or fusion and head on cached
//! encoder outputs, or the head on cached pooled embeddings.

use burn::tensor::{Device, Tensor, TensorData};
use isoformer_model::Isoformer;
use isoformer_model::model::Batch;

use crate::data::Sample;
use crate::features::{EncoderOutputs, FrozenBatch, Rows};

/// Raw head outputs `(b, outputs)` for a batch, on `model`'s device.
pub(crate) fn forward_batch(model: &Isoformer, batch: &[&Sample], frozen: &FrozenBatch) -> Tensor<2> {
    let device = model.head.layers[0].weight.device();
    match frozen {
        FrozenBatch::None => {
            let b = Batch::new(batch.iter().map(|s| &s.encoded), &device);
            let fused = model.fuse(model.enformer.forward(b.dna), &b.rna, &b.protein);
            model.head.forward_raw(fused.final_dna_embeddings)
        }
        FrozenBatch::Pooled(rows) => {
            let d = rows[0].len();
            let flat: Vec<f32> = rows.iter().flatten().copied().collect();
            model.head.forward_pooled(Tensor::from_data(TensorData::new(flat, [batch.len(), d]), &device))
        }
        FrozenBatch::Encoders(outputs) => fusion_head(model, batch, outputs, &device),
    }
}

fn fusion_head(model: &Isoformer, batch: &[&Sample], outputs: &[EncoderOutputs], device: &Device) -> Tensor<2> {
    let rows = |f: fn(&EncoderOutputs) -> &Rows| outputs.iter().map(f).collect::<Vec<_>>();
    let (dna, _) = pad(&rows(|o| &o.dna), device);
    let (rna, rna_valid) = pad(&rows(|o| &o.rna), device);
    let (protein, protein_valid) = pad(&rows(|o| &o.protein), device);
    let has_protein: Vec<bool> = batch.iter().map(|s| s.encoded.has_protein()).collect();
    let fused = model.fusion.forward(dna, rna, &rna_valid, protein, &protein_valid, &has_protein);
    model.head.forward_raw(fused)
}

/// Rows of `(len_i, width)` zero-padded to `(b, max_len, width)`, with validity masks.
fn pad(rows: &[&Rows], device: &Device) -> (Tensor<3>, Vec<Vec<bool>>) {
    let width = rows[0].0[1];
    let max = rows.iter().map(|r| r.0[0]).max().unwrap_or(0);
    let mut flat = vec![0f32; rows.len() * max * width];
    let mut valid = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let n = r.0[0];
        flat[i * max * width..(i * max + n) * width].copy_from_slice(&r.1);
        valid.push((0..max).map(|j| j < n).collect());
    }
    (Tensor::from_data(TensorData::new(flat, [rows.len(), max, width]), device), valid)
}
