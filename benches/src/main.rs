//! isoformer's side of the benchmarks in `benches/` (driven by `benches/run.py`, which runs the
//! PyTorch side, `benches/torch_side.py`, alternately with this one).
//!
//!     isoformer-bench run --workload enformer --backend flex --weights benches/weights --reps 3
//!     isoformer-bench run --workload nt-1x2048 --backend flex --int8 on   (int8 weights and kernels)
//!     isoformer-bench sgemm --backend ndarray
//!     isoformer-bench sgemm --backend wgpu --path kernel --n 1024   (the WGSL matmul of CPU adapters)
//!     isoformer-bench conv --backend wgpu --path kernel --len 2048   (the WGSL conv1d, one tower conv)
//!     isoformer-bench flops
//!     isoformer-bench kernels --shape nt-self --path kernel     (wgpu rows: see kernels.rs)
//!     isoformer-bench limited-forward
//!     isoformer-bench official-model --output DIR                 (the official geometry, seeded random weights)
//!     isoformer-bench tokens --model DIR --input TSV --output T.safetensors   (batch59's inputs for PyTorch)
//!     isoformer-bench int8-copy --model DIR --output DIR2         (the weights int8 per channel)
//!
//! `run` loads only the weights the workload needs, runs `--warmup` untimed passes, resets the
//! process's peak-RSS counter (`/proc/self/clear_refs`), runs `--reps` timed passes (each ends
//! by copying the output to the host, so GPU work is finished) and prints one JSON line: the
//! times, the peak RSS during the timed passes and over the whole process, the FLOP count of one
//! pass and a checksum of the output (the driver compares it with PyTorch's).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::{Device, Tensor, TensorData};
use isoformer_model::config::{EnformerGeometry, EsmGeometry};
use isoformer_model::enformer::Enformer;
use isoformer_model::esm::EsmEncoder;
use isoformer_model::weights::{Loader, SafetensorsSource};
use isoformer_model::{Isoformer, IsoformerConfig};
use safetensors::SafeTensors;

mod batch;
mod kernels;
mod official;

/// The repository's root (the vocabulary files of `models/`).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The benchmark workloads, by name (the same names in `torch_side.py`).
const WORKLOADS: [&str; 5] = ["esm-1x512", "esm-8x256", "nt-1x2048", "enformer", "full"];

fn main() {
    // As the CLI: freed memory stays with the process for the next pass.
    isoformer_io::memory::keep_freed_memory();
    if let Err(e) = run() {
        eprintln!("isoformer-bench: {e:#}");
        std::process::exit(1);
    }
}

struct Args {
    cmd: String,
    flags: BTreeMap<String, String>,
}

impl Args {
    fn parse() -> Result<Self> {
        let mut it = std::env::args().skip(1);
        let cmd = it.next().ok_or_else(|| anyhow!("usage: isoformer-bench run|sgemm|conv|flops|kernels|limited-forward|official-model|tokens|int8-copy [--flag value]..."))?;
        let mut flags = BTreeMap::new();
        while let Some(k) = it.next() {
            let key = k.strip_prefix("--").ok_or_else(|| anyhow!("expected a --flag, got {k:?}"))?.to_string();
            let v = it.next().ok_or_else(|| anyhow!("--{key} needs a value"))?;
            flags.insert(key, v);
        }
        Ok(Self { cmd, flags })
    }

    fn get(&self, key: &str, default: &str) -> String {
        self.flags.get(key).cloned().unwrap_or_else(|| default.to_string())
    }

    fn num(&self, key: &str, default: usize) -> Result<usize> {
        self.get(key, &default.to_string()).parse().with_context(|| format!("--{key}"))
    }
}

fn run() -> Result<()> {
    let args = Args::parse()?;
    match args.cmd.as_str() {
        "flops" => {
            let cfg = IsoformerConfig::default();
            let table: BTreeMap<&str, f64> = WORKLOADS.iter().map(|w| (*w, flops(w, &cfg).unwrap())).collect();
            println!("{}", serde_json::to_string(&table)?);
            Ok(())
        }
        "sgemm" => sgemm(&device(&args.get("backend", "flex"))?, args.num("n", 2048)?, args.num("reps", 5)?, &args.get("path", "burn")),
        "conv" => conv(&device(&args.get("backend", "flex"))?, &args),
        "run" => bench(&args),
        "kernels" => kernels::kernels(&args),
        "limited-forward" => kernels::limited_forward(&args),
        "official-model" => official::official_model(&args),
        "tokens" => batch::tokens(&args),
        "int8-copy" => batch::int8_copy(&args),
        other => bail!("unknown command {other:?} (run, sgemm, conv, flops, kernels, limited-forward, official-model, tokens, int8-copy)"),
    }
}

fn device(backend: &str) -> Result<Device> {
    Ok(match backend {
        "flex" => Device::flex(),
        // Deprecated in burn 0.22 in favour of flex; measured here because it can use OpenBLAS.
        #[allow(deprecated)]
        "ndarray" => Device::ndarray(),
        "wgpu" => Device::wgpu_options().init().map_err(|e| anyhow!("no wgpu adapter: {e}"))?,
        other => bail!("unknown backend {other:?} (flex, ndarray, wgpu)"),
    })
}

/// `VmHWM` (peak resident set) of this process in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(f64::NAN)
        / 1024.0
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0), so the next reading is the peak from here on.
fn reset_peak_rss() -> Result<()> {
    std::fs::write("/proc/self/clear_refs", "5").context("resetting the peak RSS (/proc/self/clear_refs)")
}

/// Plain SGEMM `n×n · n×n`, the machine's reachable peak on this backend.
/// `--path kernel`: the register-blocked WGSL matmul (wgpu only; `shaders/matmul.wgsl`).
fn sgemm(device: &Device, n: usize, reps: usize, path: &str) -> Result<()> {
    if path == "kernel" {
        isoformer_model::kernels::set_wgsl_use(isoformer_model::kernels::WgslUse::Always);
    }
    let mut times = Vec::new();
    let mut checksum = 0.0;
    for rep in 0..=reps {
        // Fresh inputs each time, materialised before the clock starts.
        let a = Tensor::<2>::random([n, n], burn::tensor::Distribution::Default, device);
        let b = Tensor::<2>::random([n, n], burn::tensor::Distribution::Default, device);
        let _ = (a.clone().sum() + b.clone().sum()).into_data();
        let t = Instant::now();
        let c = match path {
            "burn" => a.matmul(b),
            "kernel" => isoformer_model::kernels::matmul::matmul(a.unsqueeze::<3>(), b.unsqueeze::<3>()).squeeze::<2>(),
            other => bail!("unknown --path {other:?} (burn, kernel)"),
        };
        let c = c.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow!("{e:?}"))?;
        if rep > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
        // Entries of a product of U(0, 1) matrices average n / 4: a check that the work was done.
        checksum = c.iter().map(|&v| v as f64).sum::<f64>() / (n * n) as f64 / (n as f64 / 4.0);
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let flops = 2.0 * (n as f64).powi(3);
    println!("{}", serde_json::json!({"n": n, "times_s": times, "gflops": flops / best / 1e9, "mean_over_expected": checksum}));
    Ok(())
}

/// One convolution of Enformer's conv tower (`--cin`, `--cout`, `--k`, `--len`, one row) by burn
/// (`--path burn`), the register-blocked WGSL kernel (`--path kernel`, wgpu only;
/// `shaders/conv1d.wgsl`) or the CPU kernel (`--path cpu`, flex only: `kernels::cpu_gemm`).
fn conv(device: &Device, args: &Args) -> Result<()> {
    use isoformer_model::kernels::{self, conv1d};
    let (cin, cout, k, len, reps) = (args.num("cin", 768)?, args.num("cout", 768)?, args.num("k", 5)?, args.num("len", 4096)?, args.num("reps", 3)?);
    let path = args.get("path", "burn");
    if path == "kernel" {
        kernels::set_wgsl_use(kernels::WgslUse::Always);
    }
    let x = Tensor::<3>::random([1, cin, len], burn::tensor::Distribution::Default, device);
    let w = Tensor::<3>::random([cout, cin, k], burn::tensor::Distribution::Default, device);
    let b = Tensor::<1>::random([cout], burn::tensor::Distribution::Default, device);
    let (mut times, mut out) = (Vec::new(), Vec::new());
    for rep in 0..=reps {
        let t = Instant::now();
        let y = match path.as_str() {
            "burn" => conv1d::reference(x.clone(), w.clone(), b.clone()),
            "kernel" | "cpu" => conv1d::conv1d(x.clone(), w.clone(), b.clone()),
            other => bail!("unknown --path {other:?} (burn, kernel, cpu)"),
        };
        out = y.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow!("{e:?}"))?;
        if rep > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let flops = 2.0 * (cin * cout * k * len) as f64;
    let sum: f64 = out.iter().map(|&v| v as f64).sum();
    println!("{}", serde_json::json!({"cin": cin, "cout": cout, "k": k, "len": len, "path": path, "times_s": times, "gflops": flops / best / 1e9, "out_sum": sum}));
    Ok(())
}

/// A part's weights, read whole from `dir/name` (the bytes are dropped once the tensors exist);
/// with `int8`, quantized int8 per channel first, as `isoformer quantize --scheme int8` writes
/// them (the weights the int8 kernels then run).
fn load_part<T>(dir: &Path, name: &str, device: &Device, int8: bool, build: impl FnOnce(&mut Loader) -> T) -> Result<T> {
    let path = dir.join(name);
    let bytes = read_weights(&path, int8)?;
    let source = SafetensorsSource::new(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut l = Loader::new(&source, device);
    let part = build(&mut l);
    if l.has_problems() {
        let problems: Vec<String> = l.into_problems().iter().map(|p| p.to_string()).collect();
        bail!("{}: {}", path.display(), problems.join("; "));
    }
    Ok(part)
}

/// The benchmark inputs `make_weights.py` wrote (token ids as int64, DNA one-hot as f32).
struct Inputs {
    bytes: Vec<u8>,
}

impl Inputs {
    fn ids(&self, name: &str) -> Result<Vec<Vec<u32>>> {
        let st = SafeTensors::deserialize(&self.bytes)?;
        let t = st.tensor(name).with_context(|| format!("inputs.safetensors has no {name}"))?;
        let [rows, cols] = t.shape() else { bail!("{name}: expected 2 dimensions") };
        let vals: Vec<u32> = t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32).collect();
        Ok((0..*rows).map(|r| vals[r * cols..(r + 1) * cols].to_vec()).collect())
    }

    fn dna(&self, device: &Device) -> Result<Tensor<3>> {
        let st = SafeTensors::deserialize(&self.bytes)?;
        let t = st.tensor("dna_onehot")?;
        let vals: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        let s = t.shape();
        Ok(Tensor::<3>::from_data(TensorData::new(vals, [s[0], s[1], s[2]]), device))
    }
}

/// One pass of a workload; returns its output on the host.
enum Work {
    Esm(EsmEncoder, Vec<Vec<u32>>),
    Enformer(Enformer),
    Full(Box<Isoformer>, Vec<Vec<u32>>, Vec<Vec<u32>>),
}

/// A safetensors file's bytes, quantized int8 per channel with `int8`.
fn read_weights(path: &Path, int8: bool) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !int8 {
        return Ok(bytes);
    }
    let (q, _) = isoformer_model::quant::quantize_safetensors(&bytes, isoformer_model::quant::Scheme::Int8).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(q)
}

/// `run`: `--int8 on` quantizes the weights int8 per channel and computes with the int8 kernels
/// (`kernels::cpu_int8`, flex only).
fn bench(args: &Args) -> Result<()> {
    let workload = args.get("workload", "");
    let int8 = match args.get("int8", "off").as_str() {
        "on" => true,
        "off" => false,
        other => bail!("--int8 {other:?}: on or off"),
    };
    isoformer_model::kernels::set_int8_compute(int8);
    let backend = args.get("backend", "flex");
    let dir = PathBuf::from(args.get("weights", "benches/weights"));
    let reps = args.num("reps", 3)?;
    let warmup = args.num("warmup", 1)?;
    let tile = args.flags.get("tile-bins").map(|s| s.parse::<usize>()).transpose().context("--tile-bins")?;
    let device = device(&backend)?;
    let cfg_path = dir.join("config.json");
    let cfg = IsoformerConfig::from_json(
        &std::fs::read_to_string(&cfg_path).with_context(|| format!("reading {}", cfg_path.display()))?,
    )
    .map_err(|e| anyhow!("{}: {e}", cfg_path.display()))?;
    let inputs = Inputs { bytes: std::fs::read(dir.join("inputs.safetensors")).context("reading inputs.safetensors")? };

    let t_load = Instant::now();
    let esm = |g: EsmGeometry, file: &str| load_part(&dir, file, &device, int8, |l| EsmEncoder::load(l, "", &g));
    let enformer = |g: EnformerGeometry| load_part(&dir, "enformer.safetensors", &device, int8, |l| Enformer::load(l, "", &g));
    let mut work = match workload.as_str() {
        "esm-1x512" => Work::Esm(esm(cfg.esm(), "esm.safetensors")?, inputs.ids("esm_1x512")?),
        "esm-8x256" => Work::Esm(esm(cfg.esm(), "esm.safetensors")?, inputs.ids("esm_8x256")?),
        "nt-1x2048" => Work::Esm(esm(cfg.nt(), "nt.safetensors")?, inputs.ids("nt_1x2048")?),
        "enformer" => {
            let e = enformer(cfg.enformer())?;
            Work::Enformer(match tile {
                Some(t) => e.with_tile_bins(t),
                None => e,
            })
        }
        "full" => {
            let path = dir.join("model.safetensors");
            let bytes = read_weights(&path, int8)?;
            let source = SafetensorsSource::new(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            let mut m = Isoformer::load(&cfg, &source, &device).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            if let Some(t) = tile {
                m.enformer = m.enformer.with_tile_bins(t);
            }
            Work::Full(Box::new(m), inputs.ids("full_rna")?, inputs.ids("full_protein")?)
        }
        other => bail!("unknown workload {other:?} ({})", WORKLOADS.join(", ")),
    };
    if int8 {
        // The int8 forms found and packed now, and the f32 copies of those weights let go, as
        // the CLI does after loading.
        use isoformer_model::kernels::cpu_int8::{prepare, release};
        work = match work {
            Work::Esm(enc, ids) => {
                prepare(&enc);
                Work::Esm(release(enc), ids)
            }
            Work::Enformer(e) => {
                prepare(&e);
                Work::Enformer(release(e))
            }
            Work::Full(m, rna, protein) => {
                prepare(m.as_ref());
                Work::Full(Box::new(release(*m)), rna, protein)
            }
        };
        isoformer_io::memory::return_freed_memory();
        isoformer_io::memory::keep_large_blocks();
    }
    let load_s = t_load.elapsed().as_secs_f64();

    let pass = || -> Result<Vec<f32>> {
        let out = match &work {
            Work::Esm(enc, ids) => enc.forward(ids),
            Work::Enformer(e) => e.forward(inputs.dna(&device)?),
            Work::Full(m, rna, protein) => m.forward(inputs.dna(&device)?, rna, protein).predictions.reshape([1, 1, -1]),
        };
        out.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow!("{e:?}"))
    };
    for _ in 0..warmup {
        pass()?;
    }
    reset_peak_rss()?;
    let mut times = Vec::new();
    let mut out = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        out = pass()?;
        times.push(t.elapsed().as_secs_f64());
    }
    let sum: f64 = out.iter().map(|&v| v as f64).sum();
    let abs_mean: f64 = out.iter().map(|&v| (v as f64).abs()).sum::<f64>() / out.len().max(1) as f64;
    let threads = rayon::current_num_threads();
    println!(
        "{}",
        serde_json::json!({
            "side": format!("isoformer-{backend}"), "workload": workload, "threads": threads,
            "load_s": load_s, "times_s": times, "peak_rss_timed_mib": peak_rss_mib(),
            "flops": flops(&workload, &cfg)?, "out_len": out.len(), "out_sum": sum, "out_abs_mean": abs_mean,
            "tile_bins": match &work { Work::Enformer(e) => Some(e.tile_bins), Work::Full(m, ..) => Some(m.enformer.tile_bins), _ => None },
        })
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------ FLOPs
// One multiply-add = 2 FLOPs. Counted: every matmul, linear and convolution (including attention
// scores, attention-weighted sums, Enformer's relative-position projections and its attention-pool
// logits). Not counted: element-wise work (norms, activations, softmax, residual sums), which is
// a few percent of the total. Formulas in benches/README.md.

fn linear(n: f64, d_in: f64, d_out: f64) -> f64 {
    2.0 * n * d_in * d_out
}

/// Self-attention scores and weighted sum: `b·h·n·n·(dk + dv)` multiply-adds.
fn attention(b: f64, h: f64, n: f64, m: f64, dk: f64, dv: f64) -> f64 {
    2.0 * b * h * n * m * (dk + dv)
}

fn esm_flops(g: &EsmGeometry, b: usize, n: usize) -> f64 {
    let (b, n, d, i) = (b as f64, n as f64, g.hidden_size as f64, g.intermediate_size as f64);
    let tokens = b * n;
    let ffn = if g.swiglu { linear(tokens, d, 2.0 * i) + linear(tokens, i, d) } else { linear(tokens, d, i) + linear(tokens, i, d) };
    let per_layer = 4.0 * linear(tokens, d, d) + attention(b, g.num_heads as f64, n, n, d / g.num_heads as f64, d / g.num_heads as f64) + ffn;
    per_layer * g.num_layers as f64
}

fn enformer_flops(g: &EnformerGeometry, len: usize) -> f64 {
    let f = |x: usize| x as f64;
    let half = g.dim / 2;
    let mut total = 2.0 * f(len) * 4.0 * f(half) * 15.0; // stem conv k15
    total += 2.0 * f(len) * f(half) * f(half); // stem residual k1
    total += 2.0 * f(len) * f(half) * f(half); // stem attention-pool logits
    let mut n = len / 2;
    for w in g.filters.windows(2) {
        total += 2.0 * f(n) * f(w[0]) * f(w[1]) * 5.0 + 2.0 * f(n) * f(w[1]) * f(w[1]) * 2.0;
        n /= 2;
    }
    let (d, h, k) = (f(g.dim), f(g.heads), f(g.attn_dim_key));
    let bins = f(n);
    let rel = 2.0 * bins - 1.0;
    let per_block = linear(bins, d, 2.0 * h * k) // q, k
        + linear(bins, d, d) // v
        + linear(bins, d, d) // out
        + linear(rel, f(g.rel_pos_features()), h * k) // relative-position keys
        + 2.0 * h * bins * rel * k // q · rel_k over all 2n−1 distances
        + attention(1.0, h, bins, bins, k, d / h)
        + linear(bins, d, 2.0 * d)
        + linear(bins, 2.0 * d, d);
    total += per_block * f(g.depth);
    total + linear(f(g.target_length), f(*g.filters.last().unwrap()), 2.0 * d) // final pointwise
}

fn flops(workload: &str, cfg: &IsoformerConfig) -> Result<f64> {
    let window = 196_608;
    Ok(match workload {
        "esm-1x512" => esm_flops(&cfg.esm(), 1, 512),
        "esm-8x256" => esm_flops(&cfg.esm(), 8, 256),
        "nt-1x2048" => esm_flops(&cfg.nt(), 1, 2048),
        "enformer" => enformer_flops(&cfg.enformer(), window),
        "full" => {
            // DNA 196,608 bp, RNA 336 tokens (2 kb as 6-mers + CLS), protein 502 tokens (500 aa
            // + CLS + EOS); fusion: two cross-attentions of the bins over those, then the head.
            let dd = 2.0 * cfg.enformer_dim as f64;
            let bins = cfg.enformer_target_length as f64;
            let h = cfg.num_heads_omics_cross_attention as f64;
            let cross = |m: f64, other: f64| {
                linear(bins, dd, dd) * 2.0 + linear(m, other, dd) * 2.0 + attention(1.0, h, bins, m, dd / h, dd / h)
            };
            enformer_flops(&cfg.enformer(), window)
                + esm_flops(&cfg.nt(), 1, 336)
                + esm_flops(&cfg.esm(), 1, 502)
                + cross(336.0, cfg.nt_hidden_size as f64)
                + cross(502.0, cfg.esm_hidden_size as f64)
        }
        other => bail!("unknown workload {other:?}"),
    })
}
