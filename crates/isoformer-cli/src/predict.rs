//! `isoformer predict`: a thin adapter over isoformer-pipeline's [`Job`], which the page runs
//! too: files in, the job's batches run with a progress bar, the table, plot and embeddings out.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use burn::tensor::{Device, Tensor};
use isoformer_io::{Outputs, open_input};
use isoformer_model::model::Encoded;
use isoformer_model::{Output, Predictor};
use isoformer_pipeline::device_failure::DeviceFailure;
use isoformer_pipeline::input::{InputError, Records, Source, read_fasta_triplet, read_tsv};
use isoformer_pipeline::job::Job;
use isoformer_pipeline::provenance::PARQUET_KEY as PROVENANCE_KEY;
use isoformer_pipeline::table::PredictionTable;

use crate::plot::{PlotFormat, heatmap};
use crate::{ComputeArg, DeviceArg, FormatArg, PredictArgs};

/// Read a model directory and build the predictor on `device`.
pub fn load_predictor(dir: &Path, device: &Device) -> Result<Predictor> {
    Ok(isoformer_pipeline::model_dir::load(dir, device)?)
}

/// The GPU's largest buffer (the smaller of its storage-binding and buffer limits), once
/// `--device gpu` has made one: what a failed batch is measured against.
static GPU_BUFFER_LIMIT: OnceLock<u64> = OnceLock::new();

pub fn device(arg: DeviceArg) -> Result<Device> {
    Ok(match arg {
        DeviceArg::Cpu => Device::flex(),
        DeviceArg::Gpu => {
            let (device, setup) =
                Device::wgpu_options().init_with_setup().map_err(|e| anyhow!("no usable GPU through wgpu: {e}"))?;
            let limits = setup.device.limits();
            let limit = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
            let info = setup.adapter.get_info();
            // A WebGPU implementation on the CPU (lavapipe, SwiftShader): the register-blocked
            // matmul and conv1d kernels instead of burn's workgroup-tiled ones.
            let on_cpu = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu
                || isoformer_model::kernels::adapter_runs_on_cpu(&info.name);
            isoformer_model::kernels::set_cpu_adapter(on_cpu);
            let note = if on_cpu { ", on the CPU: register-blocked matmul and conv1d kernels" } else { "" };
            log::info!("GPU: {} ({:?}{note}), {} MiB per buffer", info.name, setup.backend, limit >> 20);
            let _ = GPU_BUFFER_LIMIT.set(limit);
            device
        }
    })
}

/// A tensor's values on the host; a failure on the device comes back as the device's report
/// (see [`DeviceFailure`]).
pub fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.try_into_data().map_err(|e| anyhow!("{e}"))?;
    data.convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow!("reading a tensor back: {e:?}"))
}

/// `--compute`: switches the int8 kernels on for the process (CPU only), and says when the
/// model has no int8 weights for them. With int8 on, the packed weights' f32 copies are let go
/// (the model then runs only through the int8 kernels).
pub fn set_compute(compute: ComputeArg, device: DeviceArg, predictor: &mut Predictor, model_dir: &Path) -> Result<()> {
    if compute == ComputeArg::Int8 {
        anyhow::ensure!(device == DeviceArg::Cpu, "--compute int8 runs on the CPU only (--device cpu)");
        if predictor.config.isoformer_quantization.as_deref() != Some(isoformer_model::quant::INT8_PER_CHANNEL) {
            log::warn!(
                "--compute int8: {} has no int8 weights (isoformer quantize writes them): computing in f32",
                isoformer_io::shown(model_dir).display()
            );
        }
    }
    isoformer_model::kernels::set_int8_compute(compute == ComputeArg::Int8);
    if compute == ComputeArg::Int8 {
        let t = std::time::Instant::now();
        let n = isoformer_model::kernels::cpu_int8::prepare(&predictor.model);
        predictor.model = isoformer_model::kernels::cpu_int8::release(predictor.model.clone());
        isoformer_io::memory::return_freed_memory();
        isoformer_io::memory::keep_large_blocks();
        log::info!("int8 matrix products ({}): {n} int8 weights packed in {:.2?}", isoformer_model::kernels::cpu_int8::kernel_name(), t.elapsed());
    }
    Ok(())
}

/// `-j N`: the size of rayon's global pool, which burn's CPU backend runs on; more threads
/// than cores only cost (10,000 ran for minutes), so N is capped at the cores available, with a
/// note.
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(mut n) = threads {
        anyhow::ensure!(n >= 1, "--threads must be at least 1");
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        if n > cores {
            eprintln!("note: --threads {n} is more than the {cores} cores available; using {cores}");
            n = cores;
        }
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| anyhow!("--threads: {e}"))?;
    }
    Ok(())
}

/// `predict`'s records: the TSV of `--input` (standard input by default), or the FASTA triplet;
/// with the TSV's content (decompressed), for provenance.
fn read_records(args: &PredictArgs) -> Result<(Records, Option<Vec<u8>>)> {
    let source = |path: &Path| -> Result<_> { Ok(Source::new(path, open_input(path)?)) };
    Ok(match (&args.dna, &args.rna, &args.protein) {
        (Some(dna), Some(rna), Some(protein)) => {
            let stdin = [dna, rna, protein].iter().filter(|p| p.as_os_str() == "-").count();
            anyhow::ensure!(stdin <= 1, "at most one of --dna, --rna, --protein can be `-` (standard input)");
            (read_fasta_triplet(source(dna)?, source(rna)?, source(protein)?)?, None)
        }
        _ => {
            let path = args.input.as_deref().unwrap_or(Path::new("-"));
            let mut text = Vec::new();
            open_input(path)?.read_to_end(&mut text).with_context(|| format!("{}: cannot read", isoformer_io::shown(path).display()))?;
            let records = match read_tsv(Source::new(path, text.as_slice())) {
                // An empty shard of a `prepare --shard` run (more shards than windows) is empty here too.
                Err(InputError::NoRows { .. }) if crate::provenance::is_empty_shard(path)? => {
                    let header = text.split(|&b| b == b'\n').next().unwrap_or_default();
                    Records { records: Vec::new(), has_gene: header.split(|&b| b == b'\t').any(|c| c == b"gene_id") }
                }
                r => r?,
            };
            (records, Some(text))
        }
    })
}

/// Run every batch of `job` in order, with a progress bar; `each` sees every batch's inputs and
/// outputs (for embedding dumps).
pub fn run_job(job: &mut Job, quiet: bool, mut each: impl FnMut(&[&Encoded], &Output) -> Result<()>) -> Result<()> {
    for notice in job.notices() {
        log::warn!("{notice}");
    }
    log::info!("{} transcripts, {} distinct DNA windows, {} batches", job.len(), job.windows(), job.batches());
    let t0 = Instant::now();
    let bar = crate::progress::bar(job.len() as u64, "predict [{bar:40}] {pos}/{len} transcripts {per_sec} ETA {eta}", quiet);
    for b in 0..job.batches() {
        let out = job.forward(b);
        let values = read_f32(out.predictions.clone()).map_err(|e| {
            let ids = job.batch(b).iter().map(|e| e.id.clone()).collect();
            DeviceFailure::from_report(ids, &format!("{e:#}"), GPU_BUFFER_LIMIT.get().copied())
        })?;
        each(&job.batch(b), &out)?;
        bar.set_position(job.accept(b, &values)? as u64);
    }
    bar.finish_and_clear();
    log::info!("{} transcripts predicted in {:.2?}", job.len(), t0.elapsed());
    Ok(())
}

fn output_format(args: &PredictArgs) -> Result<FormatArg> {
    let format = args.format.unwrap_or(if args.output.extension().is_some_and(|e| e == "parquet") { FormatArg::Parquet } else { FormatArg::Tsv });
    if format == FormatArg::Parquet {
        anyhow::ensure!(
            !args.output.extension().is_some_and(|e| e == "gz"),
            "--output {}: Parquet is not gzip-compressed from outside; drop the .gz",
            args.output.display()
        );
        anyhow::ensure!(
            !(args.output.as_os_str() == "-" && std::io::stdout().is_terminal()),
            "not writing Parquet (binary) to a terminal: give --output FILE.parquet or redirect standard output"
        );
    }
    let stdout_users = [Some(&args.output), args.plot.as_ref(), args.dump_embeddings.as_ref()].into_iter().flatten().filter(|p| p.as_os_str() == "-").count();
    anyhow::ensure!(stdout_users <= 1, "only one of --output, --plot, --dump-embeddings can be `-` (standard output)");
    Ok(format)
}

pub fn run(args: &PredictArgs) -> Result<()> {
    anyhow::ensure!(args.run.batch_size >= 1, "--batch-size must be at least 1");
    let plot_format = args.plot.as_deref().map(PlotFormat::of).transpose()?;
    let format = output_format(args)?;
    set_threads(args.run.threads)?;
    anyhow::ensure!(args.run.compute == ComputeArg::F32 || args.run.device == DeviceArg::Cpu, "--compute int8 runs on the CPU only (--device cpu)");
    // Every output is claimed before the model runs, so that an unwritable path (or one given
    // twice, or an input) fails now rather than after the work; each stays a temporary file
    // (standard output: nothing) until all the results are ready, and a failure removes them.
    let mut outputs = Outputs::new();
    outputs.input_dir(&args.model, &isoformer_pipeline::model_dir::FILES)?;
    for input in [&args.input, &args.dna, &args.rna, &args.protein].into_iter().flatten() {
        outputs.input(input)?;
    }
    let output = outputs.file(&args.output)?;
    // A TSV's provenance sidecar (`OUT.json`; Parquet keeps it in its metadata).
    let side = crate::provenance::sidecar_for(&args.output).filter(|_| format == FormatArg::Tsv).map(|p| outputs.file(&p)).transpose()?;
    let plot_out = args.plot.as_deref().map(|p| outputs.file(p)).transpose()?;
    let dump_out = args.dump_embeddings.as_deref().map(|p| outputs.file(p)).transpose()?;

    let device = device(args.run.device)?;
    let t0 = Instant::now();
    let mut predictor = load_predictor(&args.model, &device)?;
    log::info!("model loaded in {:.2?}", t0.elapsed());
    set_compute(args.run.compute, args.run.device, &mut predictor, &args.model)?;
    let (records, text) = read_records(args)?;
    let (records, provenance) = crate::provenance::predict(args, records, text.as_deref())?;
    let mut job = Job::new(&predictor, records, args.run.batch_size)?;
    let mut dump: Vec<(String, Vec<usize>, DumpData)> = Vec::new();
    run_job(&mut job, args.quiet, |batch, out| if dump_out.is_some() { collect_dump(&mut dump, batch, out) } else { Ok(()) })?;
    let table = job.finish()?;

    // Everything is rendered before anything is moved into place.
    let bytes = match format {
        FormatArg::Tsv => table.to_tsv().into_bytes(),
        FormatArg::Parquet => table.to_parquet_with(&[(PROVENANCE_KEY, provenance.to_json_line())]).context("writing Parquet")?,
    };
    let plot = plot_format.map(|f| heatmap(f, &table)).transpose()?;
    let dump = dump_out.as_ref().map(|_| serialize_dump(dump)).transpose()?;
    outputs.write_all(output, &bytes)?;
    if let Some(side) = side {
        outputs.write_all(side, crate::provenance::sidecar_json(&provenance, table.rows.len(), crate::provenance::sha256_hex(&bytes)).as_bytes())?;
    }
    if let (Some(out), Some(image)) = (plot_out, plot) {
        outputs.write_all(out, &image)?;
    }
    if let (Some(out), Some(bytes)) = (dump_out, dump) {
        outputs.write_all(out, &bytes)?;
    }
    Ok(outputs.commit()?)
}

/// The rows of a table as the plot takes them.
pub fn plot_rows(table: &PredictionTable) -> Vec<(&str, &str, &[f32])> {
    table.rows.iter().map(|r| (r.transcript_id.as_str(), r.gene_id.as_str(), r.values.as_slice())).collect()
}

enum DumpData {
    F32(Vec<f32>),
    I32(Vec<i32>),
}

fn collect_dump(dump: &mut Vec<(String, Vec<usize>, DumpData)>, batch: &[&Encoded], out: &Output) -> Result<()> {
    let dims3 = |t: &Tensor<3>| t.dims();
    let [_, bins, dd] = dims3(&out.dna_embeddings);
    let [_, r, rw] = dims3(&out.rna_embeddings);
    let [_, p, pw] = dims3(&out.protein_embeddings);
    let dna = read_f32(out.dna_embeddings.clone())?;
    let fin = read_f32(out.final_dna_embeddings.clone())?;
    let rna = read_f32(out.rna_embeddings.clone())?;
    let prot = read_f32(out.protein_embeddings.clone())?;
    for (k, e) in batch.iter().enumerate() {
        let id = &e.id;
        let dna_row = |v: &[f32]| v[k * bins * dd..(k + 1) * bins * dd].to_vec();
        dump.push((format!("{id}.dna_embeddings"), vec![bins, dd], DumpData::F32(dna_row(&dna))));
        dump.push((format!("{id}.final_dna_embeddings"), vec![bins, dd], DumpData::F32(dna_row(&fin))));
        let nr = e.rna_tokens.len();
        dump.push((format!("{id}.rna_embeddings"), vec![nr, rw], DumpData::F32(rna[k * r * rw..(k * r + nr) * rw].to_vec())));
        let np = e.protein_tokens.len();
        dump.push((format!("{id}.protein_embeddings"), vec![np, pw], DumpData::F32(prot[k * p * pw..(k * p + np) * pw].to_vec())));
        dump.push((format!("{id}.rna_tokens"), vec![nr], DumpData::I32(e.rna_tokens.iter().map(|&t| t as i32).collect())));
        dump.push((format!("{id}.protein_tokens"), vec![np], DumpData::I32(e.protein_tokens.iter().map(|&t| t as i32).collect())));
    }
    Ok(())
}

fn serialize_dump(dump: Vec<(String, Vec<usize>, DumpData)>) -> Result<Vec<u8>> {
    use safetensors::tensor::TensorView;
    let bytes: Vec<(String, Vec<usize>, safetensors::Dtype, Vec<u8>)> = dump
        .into_iter()
        .map(|(n, s, d)| match d {
            DumpData::F32(v) => (n, s, safetensors::Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            DumpData::I32(v) => (n, s, safetensors::Dtype::I32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, s, d, b)| Ok((n.clone(), TensorView::new(*d, s.clone(), b).map_err(|e| anyhow!("{n}: {e}"))?)))
        .collect::<Result<_>>()?;
    safetensors::serialize(views, None).map_err(|e| anyhow!("serialising embeddings: {e}"))
}
