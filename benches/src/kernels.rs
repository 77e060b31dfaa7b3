//! wgpu rows: each attention of the official geometry through the WGSL kernel, burn's own
//! `attention` op and the unfused reference (plain burn ops), and the whole official forward
//! with seeded weights on a device limited to WebGPU's defaults, against the CPU.
//!
//!     isoformer-bench kernels --shape nt-self --path kernel [--device webgpu-limited] [--reps 3]
//!     isoformer-bench limited-forward [--rna-tokens 2048] [--protein-tokens 1024]
//!
//! One process per measurement (`benches/kernels.sh` runs the matrix): burn's allocator report
//! (`largest_alloc`, `pages_peak`) only grows over a process's life, so a row's largest buffer
//! and peak device memory are its own only in a fresh process.

use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Tensor, TensorData};
use isoformer_model::kernels::attention::{self, KeyMask, LogitScale};
use isoformer_model::kernels::relative_attention::{self, relative_shift};
use isoformer_model::kernels::parity::seeded;
use isoformer_model::kernels::{WgslUse, set_wgsl_use, wgsl::webgpu_limited_device};
use isoformer_pipeline::device_failure::root_cause;
use isoformer_model::{Isoformer, IsoformerConfig};

use crate::Args;
use isoformer_model::weights::seeded_sequence as sequence;

/// An attention of the official model: `(name, b, heads, queries, keys, d, dv, relative, scale)`.
struct Shape {
    name: &'static str,
    b: usize,
    h: usize,
    n: usize,
    m: usize,
    d: usize,
    dv: usize,
    relative: bool,
    scale: LogitScale,
}

const SHAPES: [Shape; 5] = [
    // NT-v2: 768 wide, 16 heads, the 2,048-token limit.
    Shape { name: "nt-self", b: 1, h: 16, n: 2048, m: 2048, d: 48, dv: 48, relative: false, scale: LogitScale::Prescaled },
    // ESM-2 150M: 640 wide, 20 heads, the 1,024-token limit.
    Shape { name: "esm-self", b: 1, h: 20, n: 1024, m: 1024, d: 32, dv: 32, relative: false, scale: LogitScale::Prescaled },
    // Enformer: 1,536 bins, 8 heads, keys of 64, values of 1,536 / 8.
    Shape { name: "enformer-rel", b: 1, h: 8, n: 1536, m: 1536, d: 64, dv: 192, relative: true, scale: LogitScale::Prescaled },
    // Fusion: 896 DNA bins × 3,072, 8 heads, over 2,048 RNA tokens, then 1,024 protein tokens.
    Shape { name: "fusion-rna", b: 1, h: 8, n: 896, m: 2048, d: 384, dv: 384, relative: false, scale: LogitScale::DivideBySqrtHeadDim },
    Shape { name: "fusion-protein", b: 1, h: 8, n: 896, m: 1024, d: 384, dv: 384, relative: false, scale: LogitScale::DivideBySqrtHeadDim },
];

/// The device of `--device`: `wgpu` (the adapter's own limits) or `webgpu-limited`.
fn gpu(args: &Args) -> Result<Device> {
    match args.get("device", "webgpu-limited").as_str() {
        "wgpu" => Device::wgpu_options().init().map_err(|e| anyhow!("no wgpu adapter: {e}")),
        "webgpu-limited" => webgpu_limited_device().map_err(|e| anyhow!(e)),
        other => bail!("unknown --device {other:?} (wgpu, webgpu-limited)"),
    }
}


/// `(largest single allocation, peak bytes reserved)` over this process's life.
fn memory(device: &Device) -> (Option<u64>, Option<u64>) {
    match device.memory_pool_report() {
        Some(pools) => (
            pools.iter().map(|p| p.largest_alloc).max(),
            Some(pools.iter().map(|p| p.pages_peak * p.page_size).sum()),
        ),
        None => (None, None),
    }
}

/// One attention of `s` through `path`; the output's sum, read back (so the work is finished).
fn attend(s: &Shape, path: &str, device: &Device) -> Result<f64> {
    let q = seeded(1, [s.b, s.h, s.n, s.d], 1.0, device);
    let k = seeded(2, [s.b, s.h, s.m, s.d], 1.0, device);
    let v = seeded(3, [s.b, s.h, s.m, s.dv], 1.0, device);
    let out = if s.relative {
        let r = seeded::<3>(4, [s.h, 2 * s.n - 1, s.d], 1.0, device);
        let u = seeded(5, [1, s.h, 1, s.d], 1.0, device);
        let w = seeded(6, [1, s.h, 1, s.d], 1.0, device);
        match path {
            "kernel" => relative_attention::relative_attention(q, k, v, r, u, w),
            "reference" => relative_attention::reference(q, k, v, r, u, w),
            "burn" => {
                // burn's op takes the position logits as an additive bias: they are still
                // computed over all 2n − 1 distances and shifted first.
                let bias = relative_shift((q.clone() + w).matmul(r.unsqueeze::<4>().swap_dims(2, 3)));
                let options = AttentionModuleOptions { scale: Some(1.0), softcap: None, is_causal: false };
                burn::tensor::module::attention(q + u, k, v, None, Some(bias), options)
            }
            other => bail!("unknown --path {other:?} (kernel, burn, reference)"),
        }
    } else {
        // Every row is whole: a mask with no padding, as a length per row for the kernel.
        let mask = KeyMask::from_valid(&vec![vec![true; s.m]; s.b], s.m, device);
        match path {
            "kernel" => attention::attention(q, k, v, &mask, s.scale),
            "reference" => attention::reference(q, k, v, &mask, s.scale),
            "burn" => {
                let scale = match s.scale {
                    LogitScale::Prescaled => 1.0,
                    LogitScale::DivideBySqrtHeadDim => 1.0 / (s.d as f64).sqrt(),
                };
                let options = AttentionModuleOptions { scale: Some(scale), softcap: None, is_causal: false };
                let none: Option<Tensor<4, Bool>> = None;
                burn::tensor::module::attention(q, k, v, none, None, options)
            }
            other => bail!("unknown --path {other:?} (kernel, burn, reference)"),
        }
    };
    let data = out.sum().try_into_data().map_err(|e| anyhow!("{e}"))?;
    Ok(data.convert::<f64>().try_to_vec::<f64>().map_err(|e| anyhow!("{e:?}"))?[0])
}

/// `isoformer-bench kernels`: one shape through one path, timed; one JSON line.
pub fn kernels(args: &Args) -> Result<()> {
    let name = args.get("shape", "nt-self");
    let s = SHAPES.iter().find(|s| s.name == name).with_context(|| {
        format!("unknown --shape {name:?} ({})", SHAPES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "))
    })?;
    let path = args.get("path", "kernel");
    let reps = args.num("reps", 3)?;
    // `kernel` means the kernel at any size; the others never take it.
    set_wgsl_use(if path == "kernel" { WgslUse::Always } else { WgslUse::Never });
    let device = gpu(args)?;
    let flops = 2.0 * (s.b * s.h * s.n * s.m * (s.d + s.dv)) as f64
        + if s.relative { 2.0 * (s.b * s.h * s.n * (2 * s.n - 1) * s.d) as f64 } else { 0.0 };
    let mut times = Vec::new();
    let mut result = Ok(0.0);
    for rep in 0..=reps {
        let t = Instant::now();
        result = attend(s, &path, &device);
        if result.is_err() {
            break;
        }
        if rep > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let (largest, peak) = memory(&device);
    println!(
        "{}",
        serde_json::json!({
            "shape": s.name, "path": path, "device": args.get("device", "webgpu-limited"),
            "times_s": times, "gflops": if times.is_empty() { None } else { Some(flops / best / 1e9) },
            "largest_buffer_bytes": largest, "peak_reserved_bytes": peak,
            "out_sum": result.as_ref().ok(),
            "error": result.as_ref().err().map(|e| root_cause(&e.to_string()).to_string()),
        })
    );
    Ok(())
}


/// Every output of one official forward, on the host: `(name, values)`.
type Parts = Vec<(&'static str, Vec<f32>)>;

fn host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.try_into_data().map_err(|e| anyhow!("{e}"))?;
    data.convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow!("{e:?}"))
}

/// The official forward with seeded weights on `device`, from the DNA one-hot or (`dna_embeddings`
/// given: Enformer's output computed elsewhere) from after Enformer; its outputs and seconds.
fn official_forward(
    cfg: &IsoformerConfig,
    dna: &[f32],
    dna_embeddings: Option<&(Vec<usize>, Vec<f32>)>,
    rna: &[u32],
    protein: &[u32],
    device: &Device,
) -> Result<(Parts, f64)> {
    let model = Isoformer::seeded(cfg, &[], 30, device);
    let t = Instant::now();
    let out = match dna_embeddings {
        None => {
            let x = Tensor::<3>::from_data(TensorData::new(dna.to_vec(), [1, dna.len() / 4, 4]), device);
            model.forward(x, &[rna.to_vec()], &[protein.to_vec()])
        }
        Some((shape, values)) => {
            let e = Tensor::<3>::from_data(TensorData::new(values.clone(), [shape[0], shape[1], shape[2]]), device);
            model.forward_from_dna(e, &[rna.to_vec()], &[protein.to_vec()])
        }
    };
    let parts = vec![
        ("predictions", host(out.predictions)?),
        ("dna_embeddings", host(out.dna_embeddings)?),
        ("rna_embeddings", host(out.rna_embeddings)?),
        ("protein_embeddings", host(out.protein_embeddings)?),
        ("final_dna_embeddings", host(out.final_dna_embeddings)?),
    ];
    Ok((parts, t.elapsed().as_secs_f64()))
}

/// Per part: max |gpu − cpu|, max |cpu|, and whether every value is within 1e-4 + 1e-4·|cpu|.
fn compare_parts(gpu: &Parts, cpu: &Parts) -> serde_json::Value {
    let rows: serde_json::Map<String, serde_json::Value> = gpu
        .iter()
        .zip(cpu)
        .map(|((name, g), (_, c))| {
            let delta = g.iter().zip(c).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            let scale = c.iter().map(|v| v.abs()).fold(0f32, f32::max);
            let within = g.len() == c.len() && g.iter().zip(c).all(|(a, b)| (a - b).abs() <= 1e-4 + 1e-4 * b.abs());
            (name.to_string(), serde_json::json!({"max_abs_delta": delta, "max_abs_cpu": scale, "within_1e-4": within}))
        })
        .collect();
    serde_json::Value::Object(rows)
}

/// `isoformer-bench limited-forward`: the official geometry (196,608 bp, `--rna-tokens`,
/// `--protein-tokens`) with seeded weights, on the CPU and on the WebGPU-limited device
/// (`--kernels off`: the reference path everywhere; `--register off`: burn's matmul and conv1d
/// instead of the register-blocked kernels); compares the two and prints one JSON line.
pub fn limited_forward(args: &Args) -> Result<()> {
    let cfg = IsoformerConfig::default();
    let rna_tokens = args.num("rna-tokens", 2048)?;
    let protein_tokens = args.num("protein-tokens", 1024)?;
    // on: the default policy (kernels where the scores would pass 64 MiB); always; off.
    set_wgsl_use(match args.get("kernels", "on").as_str() {
        "on" => WgslUse::WhenLarge,
        "always" => WgslUse::Always,
        "off" => WgslUse::Never,
        other => bail!("--kernels {other:?}: on, always or off"),
    });
    // `--register on` (the default: lavapipe is a WebGPU on the CPU, as the CLI detects): the
    // register-blocked matmul and conv1d kernels under `--kernels on`; `off`: burn's own.
    isoformer_model::kernels::set_cpu_adapter(match args.get("register", "on").as_str() {
        "on" => true,
        "off" => false,
        other => bail!("--register {other:?}: on or off"),
    });
    let vocab = |f: &str| std::fs::read_to_string(crate::root().join("models").join(f)).with_context(|| format!("models/{f}"));
    let dna_tok = isoformer_model::tokenizer::DnaTokenizer::from_vocab(&vocab("dna_vocab_list.txt")?)?;
    let rna_tok = isoformer_model::tokenizer::RnaTokenizer::from_vocab(&vocab("rna_vocab_list.txt")?)?;
    let prot_tok = isoformer_model::tokenizer::ProteinTokenizer::from_vocab(&vocab("protein_vocab_list.txt")?)?;
    let dna = dna_tok.one_hot(&sequence(196_608, b"ACGT", 1))?;
    let mut rna = rna_tok.encode(&sequence(6 * (rna_tokens - 1), b"ACGT", 2))?;
    rna.truncate(rna_tokens);
    let protein = prot_tok.encode(&sequence(protein_tokens - 2, b"LAGVSERTIDPKQNFYMHWC", 3))?;

    // `--from-dna-embeddings 1`: Enformer runs on the CPU only and its output is uploaded, so the
    // GPU run covers NT-v2, ESM-2, the fusion and the head (a quick check of those parts).
    let from_dna = args.get("from-dna-embeddings", "0") == "1";
    let (cpu, cpu_s) = official_forward(&cfg, &dna, None, &rna, &protein, &Device::flex())?;
    let dna_embeddings = cpu.iter().find(|(n, _)| *n == "dna_embeddings").map(|(_, v)| (vec![1, cfg.enformer_target_length, 2 * cfg.enformer_dim], v.clone()));
    let device = gpu(args)?;
    let gpu_run = official_forward(&cfg, &dna, if from_dna { dna_embeddings.as_ref() } else { None }, &rna, &protein, &device);
    let (largest, peak) = memory(&device);
    let parts = gpu_run.as_ref().ok().map(|(g, _)| compare_parts(g, &cpu));
    let within = parts.as_ref().map(|p| p.as_object().is_some_and(|o| o.values().all(|v| v["within_1e-4"] == true)));
    println!(
        "{}",
        serde_json::json!({
            "workload": "official forward, seeded weights", "dna_bp": 196_608, "rna_tokens": rna.len(),
            "protein_tokens": protein.len(), "kernels": args.get("kernels", "on"), "register": args.get("register", "on"),
            "device": args.get("device", "webgpu-limited"),
            "gpu_s": gpu_run.as_ref().ok().map(|r| r.1), "cpu_s": cpu_s,
            "largest_buffer_bytes": largest, "peak_reserved_bytes": peak,
            "from_dna_embeddings": from_dna, "parts": parts, "within_1e-4": within,
            "error": gpu_run.as_ref().err().map(|e| root_cause(&e.to_string()).to_string()),
        })
    );
    Ok(())
}
