//! The WGSL kernels keep long inputs within what WebGPU guarantees: a wgpu device limited to
//! 128 MiB per storage binding and 256 MiB per buffer (`webgpu_limited_device`, on Mesa's
//! lavapipe in CI) runs a narrow model with long sequences and many heads, and its predictions
//! equal the CPU's; with the kernels switched off the same forward does not fit.
//!
//! Sizes: 16 heads everywhere; 2,048 Enformer bins (the reference's relative logits are
//! 16 × 2,048 × 4,095 × 4 B = 537 MB, its scores 268 MB); 4,096 RNA tokens (NT scores
//! 16 × 4,096² × 4 B = 1.07 GB; the fusion's 16 × 2,048 × 4,096 × 4 B = 537 MB).
//! One test function: the kernel switch is process-wide, and this binary runs nothing else.
#![cfg(feature = "wgsl")]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::tensor::{Device, Tensor, TensorData};
use isoformer_model::kernels::{WgslUse, set_wgsl_use, wgsl::webgpu_limited_device};
use isoformer_model::tokenizer::{DnaTokenizer, ProteinTokenizer, RnaTokenizer};
use isoformer_model::{Isoformer, IsoformerConfig};
use isoformer_model::weights::seeded_sequence as sequence;

const BINS: usize = 2048;
const BIN: usize = 8;
const RNA_TOKENS: usize = 4096;

fn config() -> IsoformerConfig {
    let mut cfg: IsoformerConfig =
        serde_json::from_str(include_str!("../../../models/tiny/config.json")).expect("tiny config");
    cfg.enformer_dim = 96;
    cfg.enformer_depth = 1;
    cfg.enformer_heads = 16;
    cfg.enformer_num_downsamples = 3;
    cfg.enformer_target_length = BINS;
    cfg.nt_hidden_size = 128;
    cfg.nt_num_hidden_layers = 1;
    cfg.nt_num_attention_heads = 16;
    cfg.nt_intermediate_size = 128;
    cfg.nt_max_position_embeddings = RNA_TOKENS + 2;
    cfg.num_tokens_per_seq_nuctf_rna = RNA_TOKENS;
    cfg.esm_hidden_size = 64;
    cfg.esm_num_hidden_layers = 1;
    cfg.esm_num_attention_heads = 16;
    cfg.esm_intermediate_size = 64;
    cfg.num_heads_omics_cross_attention = 16;
    cfg.pool_window_start = BINS / 2 - 8;
    cfg.pool_window_end = BINS / 2 + 8;
    cfg.validate().expect("narrow long-sequence config is valid");
    cfg
}


struct Inputs {
    dna: Vec<f32>,
    rna: Vec<u32>,
    protein: Vec<u32>,
}

fn inputs() -> Inputs {
    let dna_tok = DnaTokenizer::from_vocab(include_str!("../../../models/dna_vocab_list.txt")).expect("dna vocab");
    let rna_tok = RnaTokenizer::from_vocab(include_str!("../../../models/rna_vocab_list.txt")).expect("rna vocab");
    let prot_tok =
        ProteinTokenizer::from_vocab(include_str!("../../../models/protein_vocab_list.txt")).expect("protein vocab");
    let mut rna = rna_tok.encode(&sequence(6 * (RNA_TOKENS - 1), b"ACGT", 2)).expect("rna");
    rna.truncate(RNA_TOKENS);
    assert_eq!(rna.len(), RNA_TOKENS, "RNA tokens");
    Inputs {
        dna: dna_tok.one_hot(&sequence(BINS * BIN, b"ACGT", 1)).expect("dna"),
        rna,
        protein: prot_tok.encode(&sequence(700, b"LAGVSERTIDPKQNFYMHWC", 3)).expect("protein"),
    }
}

/// The predictions, or the device's error (burn reports a failed execution when the data is
/// read back).
fn predict(cfg: &IsoformerConfig, x: &Inputs, device: &Device) -> Result<Vec<f32>, String> {
    let model = Isoformer::seeded(cfg, &[], 30, device);
    let dna = Tensor::<3>::from_data(TensorData::new(x.dna.clone(), [1, BINS * BIN, 4]), device);
    let out = model.forward(dna, std::slice::from_ref(&x.rna), std::slice::from_ref(&x.protein));
    let data = out.predictions.try_into_data().map_err(|e| e.to_string())?;
    Ok(data.convert::<f32>().try_to_vec::<f32>().expect("f32 predictions"))
}

#[test]
fn long_inputs_fit_webgpu_limits_only_with_the_kernels() {
    let device = match webgpu_limited_device() {
        Ok(d) => d,
        Err(why) => {
            assert!(
                std::env::var("ISOFORMER_REQUIRE_WGPU").as_deref() != Ok("1"),
                "ISOFORMER_REQUIRE_WGPU=1 but {why}"
            );
            println!("SKIPPED WebGPU-limits test: {why}");
            return;
        }
    };
    let cfg = config();
    let x = inputs();
    let cpu = predict(&cfg, &x, &Device::flex()).expect("CPU forward");
    let t = std::time::Instant::now();
    let gpu = predict(&cfg, &x, &device).expect("WebGPU-limited forward with the kernels");
    println!("WebGPU-limited wgpu forward with the kernels: {:.2?}", t.elapsed());
    let mut max = 0f32;
    for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
        let d = (g - c).abs();
        assert!(d <= 1e-4 + 1e-4 * c.abs(), "output {i}: wgpu {g}, cpu {c}");
        max = max.max(d);
    }
    println!("max |Δ| WebGPU-limited wgpu vs CPU (narrow, long)      {max:.3e}");

    // Without the kernels the reference attention needs buffers over the limits: the forward
    // must fail (an error on readback, or a panic inside burn), which is what the kernels prevent.
    set_wgsl_use(WgslUse::Never);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let without = catch_unwind(AssertUnwindSafe(|| predict(&cfg, &x, &device)));
    std::panic::set_hook(hook);
    set_wgsl_use(WgslUse::WhenLarge);
    let err = match without {
        Ok(Ok(p)) => panic!("without the kernels the forward fit WebGPU's limits (first output {})", p[0]),
        Ok(Err(e)) => e,
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_else(|| "a panic".into()),
    };
    println!("without the kernels: {err}");
}
