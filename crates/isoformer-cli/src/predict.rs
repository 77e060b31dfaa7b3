//! `isoformer predict`.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use burn::tensor::{Device, Tensor, TensorData};
use isoformer_model::model::{Encoded, GatherError, ModelFiles};
use isoformer_model::{Example, Predictor};

use crate::io::AtomicOutput;
use crate::plot::{PlotFormat, heatmap};
use crate::{DeviceArg, FormatArg, PredictArgs};

/// Read a model directory and build the predictor on `device`.
pub fn load_predictor(dir: &Path, device: &Device) -> Result<Predictor> {
    let files = ModelFiles::gather(|name| std::fs::read(dir.join(name))).map_err(|e| {
        let file = match &e {
            GatherError::Read { file, .. } | GatherError::NotUtf8 { file } => *file,
        };
        let path = dir.join(file);
        let hint = if file == ModelFiles::WEIGHTS && dir.join("pytorch_model.bin").exists() {
            " (this directory has pytorch_model.bin: convert it to safetensors first)"
        } else {
            " (a model directory holds config.json, model.safetensors and the three vocab files)"
        };
        let why = match e {
            GatherError::Read { source, .. } => source.to_string(),
            GatherError::NotUtf8 { .. } => "not UTF-8 text".into(),
        };
        anyhow!("{}: cannot read: {why}{hint}", path.display())
    })?;
    Predictor::from_files(&files, device).with_context(|| format!("loading the model in {}", dir.display()))
}

pub fn device(arg: DeviceArg) -> Result<Device> {
    Ok(match arg {
        DeviceArg::Cpu => Device::flex(),
        DeviceArg::Gpu => Device::wgpu_options().init().map_err(|e| anyhow!("no usable GPU through wgpu: {e}"))?,
    })
}

fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow!("reading a tensor back: {e:?}"))
}

pub fn run(args: &PredictArgs) -> Result<()> {
    anyhow::ensure!(args.batch_size >= 1, "--batch-size must be at least 1");
    let plot_format = args.plot.as_deref().map(PlotFormat::of).transpose()?;
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
    if let Some(n) = args.threads {
        anyhow::ensure!(n >= 1, "--threads must be at least 1");
        // burn's CPU backend (flex with rayon) runs on rayon's global pool.
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| anyhow!("--threads: {e}"))?;
    }
    // Every output is claimed before the model runs, so that an unwritable path fails now rather
    // than after the work; each stays a temporary file (standard output: nothing) until all the
    // results are ready, and a failure removes them.
    let output = AtomicOutput::create(&args.output)?;
    let plot_out = args.plot.as_deref().map(AtomicOutput::create).transpose()?;
    let dump_out = args.dump_embeddings.as_deref().map(AtomicOutput::create).transpose()?;

    let device = device(args.device)?;
    let t0 = Instant::now();
    let predictor = load_predictor(&args.model, &device)?;
    log::info!("model loaded in {:.2?}", t0.elapsed());

    let inputs = match (&args.dna, &args.rna, &args.protein) {
        (Some(dna), Some(rna), Some(protein)) => crate::inputs::from_fasta(dna, rna, protein)?,
        _ => crate::inputs::from_tsv(args.input.as_deref().unwrap_or(Path::new("-")))?,
    };
    let has_gene = inputs.has_gene;
    let mut gene_ids: Vec<String> = Vec::with_capacity(inputs.rows.len());
    let mut encoded = Vec::with_capacity(inputs.rows.len());
    // Distinct DNA windows: isoforms sharing a TSS share one, and Enformer runs once for it.
    let mut windows: HashMap<String, usize> = HashMap::new();
    let mut window_of: Vec<usize> = Vec::with_capacity(inputs.rows.len());
    for row in inputs.rows {
        let ex = Example { id: row.id, dna: row.dna, rna: row.rna, protein: row.protein };
        let e = predictor.encode(&ex).map_err(|e| anyhow!("{}: {e}", row.at))?;
        let next = windows.len();
        window_of.push(*windows.entry(ex.dna).or_insert(next));
        if e.rna_cropped {
            log::warn!("{}: {} RNA longer than the model's {} tokens: kept its 3' end", row.at, ex.id, predictor.config.num_tokens_per_seq_nuctf_rna);
        }
        if e.protein_cropped {
            log::warn!("{}: {} protein longer than the model's {} tokens: kept its N-terminus", row.at, ex.id, predictor.config.num_protein_tokens_per_seq);
        }
        encoded.push(e);
        gene_ids.push(row.gene);
    }

    // Batches of equal DNA length; within a length, transcripts sharing a window are adjacent so
    // that its Enformer embeddings are computed once and reused (`SharedDna`).
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, e) in encoded.iter().enumerate() {
        by_len.entry(e.dna_len).or_default().push(i);
    }
    for idx in by_len.values_mut() {
        idx.sort_by_key(|&i| window_of[i]);
    }
    log::info!("{} transcripts, {} distinct DNA windows", encoded.len(), windows.len());
    let mut shared = SharedDna::default();
    let names = predictor.output_names();
    let mut predictions: Vec<Option<Vec<f32>>> = vec![None; encoded.len()];
    let mut dump: Vec<(String, Vec<usize>, DumpData)> = Vec::new();
    let t1 = Instant::now();
    let bar = crate::progress::bar(encoded.len() as u64, "predict [{bar:40}] {pos}/{len} transcripts {per_sec} ETA {eta}", args.quiet);
    for idx in by_len.values() {
        for chunk in idx.chunks(args.batch_size) {
            let batch: Vec<Encoded> = chunk.iter().map(|&i| encoded[i].clone()).collect();
            let keys: Vec<usize> = chunk.iter().map(|&i| window_of[i]).collect();
            let out = shared.forward(&predictor, &batch, &keys);
            let p = read_f32(out.predictions.clone())?;
            for (k, &i) in chunk.iter().enumerate() {
                predictions[i] = Some(p[k * names.len()..(k + 1) * names.len()].to_vec());
            }
            if dump_out.is_some() {
                collect_dump(&mut dump, &batch, &out)?;
            }
            bar.inc(chunk.len() as u64);
        }
    }
    bar.finish_and_clear();
    log::info!("{} transcripts predicted in {:.2?}", encoded.len(), t1.elapsed());

    let rows: Vec<(&str, &str, &[f32])> = encoded
        .iter()
        .zip(&predictions)
        .zip(&gene_ids)
        .map(|((e, p), g)| (e.id.as_str(), g.as_str(), p.as_deref().expect("every row predicted")))
        .collect();
    // Everything is rendered before anything is moved into place.
    let table = match format {
        FormatArg::Tsv => tsv_table(&rows, &names, has_gene).into_bytes(),
        FormatArg::Parquet => crate::parquet::predictions(&rows, &names)?,
    };
    let plot = plot_format.map(|f| heatmap(f, &rows, &names)).transpose()?;
    let dump = dump_out.as_ref().map(|_| serialize_dump(dump)).transpose()?;
    output.write_all_and_finish(&table)?;
    if let (Some(out), Some(image)) = (plot_out, plot) {
        out.write_all_and_finish(&image)?;
    }
    if let (Some(out), Some(bytes)) = (dump_out, dump) {
        out.write_all_and_finish(&bytes)?;
    }
    Ok(())
}

/// The predictions as TSV: `transcript_id` (`gene_id` when `has_gene`), then one column per
/// output, values with 6 decimals.
fn tsv_table(rows: &[(&str, &str, &[f32])], names: &[String], has_gene: bool) -> String {
    let mut text = String::from(if has_gene { "transcript_id\tgene_id" } else { "transcript_id" });
    for n in names {
        text.push('\t');
        text.push_str(n);
    }
    text.push('\n');
    for (id, gene, values) in rows {
        text.push_str(id);
        if has_gene {
            text.push('\t');
            text.push_str(gene);
        }
        for v in *values {
            text.push_str(&format!("\t{v:.6}"));
        }
        text.push('\n');
    }
    text
}

/// `Isoformer::forward` with Enformer run once per distinct DNA window: the last window's
/// embeddings are kept, so a run of isoforms sharing a TSS (adjacent after sorting) encodes it once;
/// the rest is `Isoformer::forward_from_dna`.
#[derive(Default)]
struct SharedDna {
    last: Option<(usize, Tensor<3>)>,
}

impl SharedDna {
    fn forward(&mut self, p: &Predictor, batch: &[Encoded], keys: &[usize]) -> isoformer_model::Output {
        let mut rows: Vec<Tensor<3>> = Vec::with_capacity(batch.len());
        let mut todo: Vec<usize> = Vec::new();
        for (k, &key) in keys.iter().enumerate() {
            let known = self.last.as_ref().is_some_and(|(l, _)| *l == key) || keys[..k].contains(&key);
            if !known && !todo.iter().any(|&t| keys[t] == key) {
                todo.push(k);
            }
        }
        let mut fresh: HashMap<usize, Tensor<3>> = HashMap::new();
        if !todo.is_empty() {
            let len = batch[0].dna_len;
            let dna: Vec<f32> = todo.iter().flat_map(|&k| batch[k].dna_one_hot.iter().copied()).collect();
            let dna = Tensor::<3>::from_data(TensorData::new(dna, [todo.len(), len, 4]), &p.device);
            let emb = p.model.enformer.forward(dna);
            for (j, &k) in todo.iter().enumerate() {
                fresh.insert(keys[k], emb.clone().narrow(0, j, 1));
            }
        }
        for &key in keys {
            let t = match fresh.get(&key) {
                Some(t) => t.clone(),
                None => self.last.as_ref().filter(|(l, _)| *l == key).map(|(_, t)| t.clone()).expect("window computed or kept"),
            };
            rows.push(t);
        }
        let last_key = *keys.last().expect("non-empty batch");
        self.last = Some((last_key, rows.last().expect("non-empty batch").clone()));
        let rna: Vec<Vec<u32>> = batch.iter().map(|e| e.rna_tokens.clone()).collect();
        let protein: Vec<Vec<u32>> = batch.iter().map(|e| e.protein_tokens.clone()).collect();
        p.model.forward_from_dna(Tensor::cat(rows, 0), &rna, &protein)
    }
}

enum DumpData {
    F32(Vec<f32>),
    I32(Vec<i32>),
}

fn collect_dump(dump: &mut Vec<(String, Vec<usize>, DumpData)>, batch: &[Encoded], out: &isoformer_model::Output) -> Result<()> {
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
