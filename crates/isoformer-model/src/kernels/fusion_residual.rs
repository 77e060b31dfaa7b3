//! A fusion layer's epilogue: `out = y + x` (y the output projection of the cross-attention
//! context, x the DNA embeddings entering the layer), except for rows whose transcript has no
//! protein, which leave the protein layer with x unchanged.
//!
//! The reference is an add, then (only in a batch that mixes coding and non-coding rows) a
//! masked select over an expanded `(b, n, d)` mask. On wgpu (the `wgsl` feature)
//! `shaders/fusion_residual.wgsl` does both in one pass over the activations.

use burn::tensor::{Bool, Tensor, TensorData};

/// `y`, `x` `(b, n, d)`, `keep[b]` false = that row's output is `x` → `(b, n, d)`.
pub fn fusion_residual(y: Tensor<3>, x: Tensor<3>, keep: &[bool]) -> Tensor<3> {
    assert_eq!(keep.len(), x.dims()[0], "one flag per batch row");
    #[cfg(feature = "wgsl")]
    // No scores here: one pass instead of two whenever the kernels are on.
    if super::use_wgsl(&x.device(), usize::MAX) {
        use super::wgsl::WgslKernels;
        let keep = keep.iter().map(|&k| u32::from(k)).collect();
        let out = <burn::backend::Dispatch as WgslKernels>::fusion_residual(y.into_dispatch(), x.into_dispatch(), keep);
        return Tensor::from_dispatch(out);
    }
    reference(y, x, keep)
}

/// [`fusion_residual`] in plain burn ops.
pub fn reference(y: Tensor<3>, x: Tensor<3>, keep: &[bool]) -> Tensor<3> {
    if keep.iter().all(|&k| k) {
        return y + x;
    }
    let [b, n, d] = x.dims();
    let skip: Vec<bool> = keep.iter().map(|&k| !k).collect();
    let skip = Tensor::<3, Bool>::from_data(TensorData::new(skip, [b, 1, 1]), &x.device()).expand([b, n, d]);
    (y + x.clone()).mask_where(skip, x)
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;

    #[test]
    fn a_row_without_protein_keeps_its_input() {
        let device = Device::flex();
        let y = Tensor::<3>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 1, 2]), &device);
        let x = Tensor::<3>::from_data(TensorData::new(vec![10.0f32, 20.0, 30.0, 40.0], [2, 1, 2]), &device);
        let got = reference(y, x, &[true, false]).into_data().try_to_vec::<f32>().expect("f32");
        assert_eq!(got, vec![11.0, 22.0, 30.0, 40.0]);
    }
}
