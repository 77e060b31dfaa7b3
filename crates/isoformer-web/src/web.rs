//! wasm-bindgen bindings: device choice, model loading from bytes, prediction with progress.

use std::cell::RefCell;

use burn::tensor::{Device, Tensor};
use isoformer_model::model::{GatherError, ModelError};
use isoformer_model::{ModelFiles, Predictor};
use isoformer_pipeline::input::{InputError, Records, Source, read_fasta_triplet, read_tsv};
use isoformer_pipeline::job::{Job, JobError};
use isoformer_pipeline::device_failure::DeviceFailure;
use isoformer_pipeline::table::PredictionTable;
use isoformer_pipeline::{DEFAULT_BATCH_SIZE, one_line};

use crate::weights::{JsBlob, NoSyncReader, WebWeights};
use isoformer_bio::annotation::{Annotation, AnnotationError, Format};
use isoformer_bio::genome::{ChromMap, Genome, GenomeError};
use isoformer_bio::transcript::Transcript;
use isoformer_bio::variants::{PlanOptions, Planner, RefMismatch, VariantError, check_contigs, read_vcf};
use isoformer_pipeline::variants::{Scoring, WindowError, chunk_variants, summary};
use std::path::Path;
use js_sys::{Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

thread_local! {
    /// burn's wgpu runtime can be initialised once per page (a second `init_async` is refused),
    /// and callers may ask concurrently: the first starts this promise, everyone awaits it.
    static WEBGPU_INIT: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
    static WEBGPU: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// A device to run on and the words the page shows for it.
pub struct Selected {
    pub device: Device,
    /// e.g. `WebGPU (Google SwiftShader)` or `CPU (burn flex)`.
    pub label: String,
    /// Why WebGPU was not used, when it was not.
    pub fallback_reason: Option<String>,
}

/// Why the page could not do what it was asked. JavaScript's own failures arrive as text
/// (`detail`); everything from Rust keeps its typed cause.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("this browser has no WebGPU (navigator.gpu is missing)")]
    NoWebGpu,
    #[error("navigator.gpu.requestAdapter is missing")]
    NoRequestAdapter,
    #[error("requestAdapter failed: {detail}")]
    AdapterRequest { detail: String },
    #[error("navigator.gpu.requestAdapter() found no adapter")]
    NoAdapter,
    #[error("{detail}")]
    WebGpuStart { detail: String },
    #[error("unknown backend {name:?} (expected auto, webgpu or cpu)")]
    UnknownBackend { name: String },
    #[error("reading a tensor back: {detail}")]
    Readback { detail: String },
    #[error("{}", one_line(.0))]
    ModelFile(#[from] GatherError<MissingFile>),
    #[error("{}", one_line(.0))]
    Model(#[from] ModelError),
    #[error("{}", one_line(.0))]
    Input(#[from] InputError),
    #[error("{}", one_line(.0))]
    Job(#[from] JobError),
    #[error("{0}")]
    Device(#[from] DeviceFailure),
    #[error(transparent)]
    Slices(#[from] NoSyncReader),
    #[error("{}", one_line(.0))]
    Genome(#[from] GenomeError),
    #[error("{}", one_line(.0))]
    Annotation(#[from] AnnotationError),
    #[error("{}", one_line(.0))]
    Variant(#[from] VariantError),
    #[error("{}", one_line(.0))]
    Window(#[from] WindowError),
}

fn get(target: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// The WebGPU adapter's description, or why there is none. Works in windows and workers.
pub async fn webgpu_adapter() -> Result<String, WebError> {
    let gpu = get(&js_sys::global(), "navigator").and_then(|n| get(&n, "gpu")).ok_or(WebError::NoWebGpu)?;
    let request: Function = get(&gpu, "requestAdapter").ok_or(WebError::NoRequestAdapter)?.unchecked_into();
    let failed = |e: JsValue| WebError::AdapterRequest { detail: format!("{e:?}") };
    let promise = request.call0(&gpu).map_err(failed)?;
    let adapter = JsFuture::from(js_sys::Promise::from(promise)).await.map_err(failed)?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err(WebError::NoAdapter);
    }
    let info = get(&adapter, "info");
    let field = |k: &str| info.as_ref().and_then(|i| get(i, k)).and_then(|v| v.as_string()).filter(|s| !s.is_empty());
    // A WebGPU implementation on the CPU (SwiftShader when the browser has no GPU): the model
    // takes its register-blocked matmul and conv1d kernels there.
    let flag = |t: Option<JsValue>| t.and_then(|i| get(&i, "isFallbackAdapter")).and_then(|v| v.as_bool()).unwrap_or(false);
    let on_cpu = flag(info.clone())
        || flag(Some(adapter.clone()))
        || ["description", "architecture", "vendor", "device"]
            .iter()
            .any(|k| field(k).is_some_and(|v| isoformer_model::kernels::adapter_runs_on_cpu(&v)));
    isoformer_model::kernels::set_cpu_adapter(on_cpu);
    let described = field("description")
        .or_else(|| field("vendor").map(|v| format!("{v} {}", field("architecture").unwrap_or_default())))
        .unwrap_or_else(|| "adapter without a description".into());
    Ok(if on_cpu { format!("{}, on the CPU", described.trim()) } else { described })
}

/// burn's wgpu device on the browser's WebGPU adapter and its label (initialised once, then
/// reused; a failure is remembered too).
pub async fn webgpu_device() -> Result<(Device, String), WebError> {
    let promise = WEBGPU_INIT.with(|p| {
        p.borrow_mut()
            .get_or_insert_with(|| {
                wasm_bindgen_futures::future_to_promise(async {
                    let adapter = webgpu_adapter().await.map_err(|e| JsValue::from_str(&e.to_string()))?;
                    let device = Device::wgpu_options()
                        .init_async()
                        .await
                        .map_err(|e| JsValue::from_str(&format!("burn could not start WebGPU: {e}")))?;
                    WEBGPU.with(|w| *w.borrow_mut() = Some(device));
                    Ok(JsValue::from_str(&format!("WebGPU ({})", adapter.trim())))
                })
            })
            .clone()
    });
    let label = JsFuture::from(promise).await.map_err(|e| WebError::WebGpuStart { detail: e.as_string().unwrap_or_else(|| format!("{e:?}")) })?;
    let missing = || WebError::WebGpuStart { detail: "WebGPU device missing after its initialisation".into() };
    let device = WEBGPU.with(|w| w.borrow().clone()).ok_or_else(missing)?;
    Ok((device, label.as_string().unwrap_or_default()))
}

/// `backend`: `auto` (WebGPU if there is an adapter, else CPU), `webgpu` (fail without one) or `cpu`.
pub async fn select(backend: &str) -> Result<Selected, WebError> {
    let cpu = |reason| Selected { device: Device::flex(), label: "CPU (burn flex)".into(), fallback_reason: reason };
    match backend {
        "cpu" => Ok(cpu(None)),
        "webgpu" => webgpu_device().await.map(|(device, label)| Selected { device, label, fallback_reason: None }),
        "auto" | "" => Ok(match webgpu_device().await {
            Ok((device, label)) => Selected { device, label, fallback_reason: None },
            Err(reason) => cpu(Some(reason.to_string())),
        }),
        other => Err(WebError::UnknownBackend { name: other.into() }),
    }
}

/// Read a tensor back without blocking (the only readback WebGPU allows).
pub async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, WebError> {
    let data = t.into_data_async().await.map_err(|e| WebError::Readback { detail: e.to_string() })?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| WebError::Readback { detail: format!("{e:?}") })
}

/// Gather a model directory from a JS object `{ "config.json": Uint8Array, ... }` whose
/// `model.safetensors` is a `Uint8Array` or a `Blob`/`File` (read in slices as the model loads:
/// a worker only).
pub fn files_from_object(files: &Object) -> Result<ModelFiles<WebWeights>, WebError> {
    let weights = match get(files, ModelFiles::WEIGHTS) {
        Some(v) if v.is_instance_of::<Uint8Array>() => WebWeights::Bytes(Uint8Array::from(v).to_vec()),
        Some(v) if v.is_instance_of::<JsBlob>() => WebWeights::blob(v.unchecked_into())?,
        Some(_) => return Err(GatherError::Read { file: ModelFiles::WEIGHTS, source: MissingFile::NotBytes }.into()),
        None => return Err(GatherError::Read { file: ModelFiles::WEIGHTS, source: MissingFile::Absent }.into()),
    };
    let text = |name: &str| match get(files, name) {
        Some(v) if v.is_instance_of::<Uint8Array>() => Ok(Uint8Array::from(v).to_vec()),
        Some(_) => Err(MissingFile::NotBytes),
        None => Err(MissingFile::Absent),
    };
    Ok(ModelFiles::gather_with(text, || Ok(weights))?)
}

#[derive(Debug, thiserror::Error)]
pub enum MissingFile {
    #[error("the model directory has no such file (pick all five: config.json, model.safetensors and the three *_vocab_list.txt)")]
    Absent,
    #[error("not given as bytes (nor, for model.safetensors, as a Blob or File)")]
    NotBytes,
}

/// A loaded model on its device.
#[wasm_bindgen]
pub struct WebPredictor {
    predictor: Predictor,
    label: String,
    fallback_reason: Option<String>,
}

#[wasm_bindgen]
impl WebPredictor {
    /// Build a predictor from a model directory's files (`{ "config.json": Uint8Array, ...,
    /// "model.safetensors": Uint8Array | Blob | File }`)
    /// on `backend` (`auto`, `webgpu` or `cpu`).
    pub async fn load(files: Object, backend: String) -> Result<WebPredictor, JsError> {
        let files = files_from_object(&files).map_err(|e| JsError::new(&e.to_string()))?;
        let selected = select(&backend).await.map_err(|e| JsError::new(&e.to_string()))?;
        let predictor = Predictor::from_files(&files, &selected.device).map_err(|e| JsError::new(&one_line(&e)))?;
        Ok(WebPredictor { predictor, label: selected.label, fallback_reason: selected.fallback_reason })
    }

    /// The device the model runs on, in words.
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> String {
        self.label.clone()
    }

    /// Why WebGPU was not used (`auto` only), or undefined.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.fallback_reason.clone()
    }

    /// Output column names (the 30 GTEx tissues for the official head).
    #[wasm_bindgen(getter)]
    pub fn outputs(&self) -> Vec<String> {
        self.predictor.output_names()
    }

    /// What the model's outputs measure, in one sentence, decided from its output names by the
    /// pipeline's `PredictionTable::units` (the sentence every `Prediction` carries).
    #[wasm_bindgen(getter)]
    pub fn units(&self) -> String {
        let table = PredictionTable { outputs: self.predictor.output_names(), has_gene: false, rows: Vec::new() };
        table.units().sentence().to_string()
    }

    /// Predict every row of an input TSV (`name` is used in messages). `on_progress(done, total)`
    /// is called after each batch.
    pub async fn predict(&self, name: String, text: String, on_progress: Option<Function>) -> Result<Prediction, JsError> {
        self.predict_rows(&name, &text, on_progress.as_ref()).await.map_err(|e| JsError::new(&e.to_string()))
    }

    /// Predict from three FASTA texts paired by record name, as `isoformer predict --dna --rna
    /// --protein` reads them (each name is used in messages).
    #[wasm_bindgen(js_name = predictFasta)]
    #[allow(clippy::too_many_arguments)]
    pub async fn predict_fasta(
        &self,
        dna_name: String,
        dna: String,
        rna_name: String,
        rna: String,
        protein_name: String,
        protein: String,
        on_progress: Option<Function>,
    ) -> Result<Prediction, JsError> {
        let triplet = FastaTriplet { dna: (&dna_name, &dna), rna: (&rna_name, &rna), protein: (&protein_name, &protein) };
        self.predict_fasta_rows(triplet, on_progress.as_ref()).await.map_err(|e| JsError::new(&e.to_string()))
    }
}

/// The Variants section's three files: names (for messages) and texts.
pub struct VariantFiles<'a> {
    /// A genome FASTA, or a region of one (`>chr22:20000001-20100000`, as `samtools faidx` names it).
    pub genome: (&'a str, &'a str),
    /// GTF or GFF3.
    pub annotation: (&'a str, &'a str),
    pub vcf: (&'a str, &'a str),
}

#[wasm_bindgen]
impl WebPredictor {
    /// Score a VCF's variants on every transcript of the annotation they touch, as
    /// `isoformer score-variants` does (the same code: isoformer-bio's `variants`, the
    /// pipeline's `Scoring`), the DNA window `window` bases. `on_progress(done, total)` counts
    /// variants.
    #[wasm_bindgen(js_name = scoreVariants)]
    #[allow(clippy::too_many_arguments)]
    pub async fn score_variants(
        &self,
        genome_name: String,
        genome: String,
        annotation_name: String,
        annotation: String,
        vcf_name: String,
        vcf: String,
        window: u32,
        on_progress: Option<Function>,
    ) -> Result<VariantScores, JsError> {
        let files = VariantFiles { genome: (&genome_name, &genome), annotation: (&annotation_name, &annotation), vcf: (&vcf_name, &vcf) };
        self.score_variant_files(files, window as u64, on_progress.as_ref()).await.map_err(|e| JsError::new(&e.to_string()))
    }
}

impl WebPredictor {
    /// [`WebPredictor::score_variants`] for callers in Rust.
    pub async fn score_variant_files(&self, files: VariantFiles<'_>, window: u64, on_progress: Option<&Function>) -> Result<VariantScores, WebError> {
        let limits = isoformer_pipeline::variants::limits(&self.predictor.config, window)?;
        let mut genome = Genome::read_whole_regions(Path::new(files.genome.0), files.genome.1.as_bytes())?;
        let annotation_path = Path::new(files.annotation.0);
        let annotation = Annotation::parse(annotation_path, files.annotation.1.as_bytes(), Format::of(annotation_path))?;
        let transcripts = annotation.transcripts.iter().map(|r| Transcript::from_record(&annotation.path, r)).collect::<Result<Vec<_>, _>>()?;
        let vcf = read_vcf(Path::new(files.vcf.0), files.vcf.1.as_bytes())?;
        let chrom_map = ChromMap::default();
        check_contigs(&vcf, &genome, &chrom_map)?;
        let options = PlanOptions { limits, ref_mismatch: RefMismatch::Error };
        let mut planner = Planner::new(&genome, &chrom_map, &annotation.path, transcripts, options);
        let mut scoring = Scoring::new(self.predictor.output_names(), &planner);
        let t0 = js_sys::Date::now();
        let (n, per_chunk) = (vcf.variants.len(), chunk_variants(window));
        let (mut first, mut pairs, mut runs) = (0, 0, 0);
        while first < n {
            let count = per_chunk.min(n - first);
            let chunk = scoring.chunk(&mut planner, &mut genome, &chrom_map, &vcf.variants, first, count)?;
            pairs += chunk.pairs();
            runs += chunk.records.records.len();
            let table = if chunk.records.records.is_empty() {
                PredictionTable { outputs: self.predictor.output_names(), has_gene: true, rows: Vec::new() }
            } else {
                let mut job = Job::new(&self.predictor, chunk.records.clone(), DEFAULT_BATCH_SIZE)?;
                for b in 0..job.batches() {
                    let out = job.forward(b);
                    let values = read_f32(out.predictions).await?;
                    job.accept(b, &values)?;
                }
                job.finish()?
            };
            scoring.accept(&planner, &vcf.variants, chunk, &table);
            planner.forget_references();
            first += count;
            if let Some(f) = on_progress {
                let _ = f.call2(&JsValue::NULL, &JsValue::from(first as u32), &JsValue::from(n as u32));
            }
        }
        let share = scoring.share();
        let table = scoring.finish();
        Ok(VariantScores {
            tsv: table.to_tsv(),
            labels: table.rows.iter().map(|r| format!("{} {} {}", r.variant_id, r.transcript_id, r.consequence)).collect(),
            variants: table.rows.iter().map(|r| r.variant_id.clone()).collect(),
            values: table.rows.iter().flat_map(|r| r.delta.iter().copied()).collect(),
            outputs: table.outputs.iter().map(|o| format!("delta:{o}")).collect(),
            notes: summary(&vcf, &planner, pairs, runs, share),
            millis: js_sys::Date::now() - t0,
        })
    }
}

/// Variant scores: `values` is row-major `rows × outputs` (the Δ columns).
#[wasm_bindgen]
pub struct VariantScores {
    tsv: String,
    labels: Vec<String>,
    variants: Vec<String>,
    values: Vec<f32>,
    outputs: Vec<String>,
    notes: Vec<String>,
    millis: f64,
}

#[wasm_bindgen]
impl VariantScores {
    /// The table as `isoformer score-variants` writes it.
    #[wasm_bindgen(getter)]
    pub fn tsv(&self) -> String {
        self.tsv.clone()
    }
    /// Per row `VARIANT_ID TRANSCRIPT_ID CONSEQUENCE`.
    #[wasm_bindgen(getter)]
    pub fn labels(&self) -> Vec<String> {
        self.labels.clone()
    }
    /// Per row its variant id.
    #[wasm_bindgen(getter)]
    pub fn variants(&self) -> Vec<String> {
        self.variants.clone()
    }
    #[wasm_bindgen(getter)]
    pub fn values(&self) -> Vec<f32> {
        self.values.clone()
    }
    /// The Δ columns' names.
    #[wasm_bindgen(getter)]
    pub fn outputs(&self) -> Vec<String> {
        self.outputs.clone()
    }
    /// The run summary (counts, skips), as the CLI prints it.
    #[wasm_bindgen(getter)]
    pub fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
    #[wasm_bindgen(getter)]
    pub fn millis(&self) -> f64 {
        self.millis
    }
}

/// Three FASTA files' names (for messages) and texts.
pub struct FastaTriplet<'a> {
    pub dna: (&'a str, &'a str),
    pub rna: (&'a str, &'a str),
    pub protein: (&'a str, &'a str),
}

impl WebPredictor {
    /// The predictor itself, for callers in Rust (tests).
    pub fn predictor(&self) -> &Predictor {
        &self.predictor
    }

    /// Predict every row of an input TSV.
    pub async fn predict_rows(&self, name: &str, text: &str, on_progress: Option<&Function>) -> Result<Prediction, WebError> {
        self.predict_records(read_tsv(Source::new(name, text.as_bytes()))?, on_progress).await
    }

    /// Predict the records of a FASTA triplet (`isoformer_pipeline::input::read_fasta_triplet`).
    pub async fn predict_fasta_rows(&self, files: FastaTriplet<'_>, on_progress: Option<&Function>) -> Result<Prediction, WebError> {
        fn source<'a>((name, text): (&str, &'a str)) -> Source<&'a [u8]> {
            Source::new(name, text.as_bytes())
        }
        let records = read_fasta_triplet(source(files.dna), source(files.rna), source(files.protein))?;
        self.predict_records(records, on_progress).await
    }

    /// What both inputs share: the job's batches on the device, read back asynchronously, and
    /// the table as the CLI writes it.
    async fn predict_records(&self, records: Records, on_progress: Option<&Function>) -> Result<Prediction, WebError> {
        let mut job = Job::new(&self.predictor, records, DEFAULT_BATCH_SIZE)?;
        let warnings = job.notices().iter().map(ToString::to_string).collect();
        let t0 = js_sys::Date::now();
        for b in 0..job.batches() {
            let out = job.forward(b);
            // A batch the device could not run is named on one line, as the CLI names it.
            let values = read_f32(out.predictions).await.map_err(|e| match e {
                WebError::Readback { detail } => {
                    let ids = job.batch(b).iter().map(|e| e.id.clone()).collect();
                    WebError::Device(DeviceFailure::from_report(ids, &detail, None))
                }
                other => other,
            })?;
            let done = job.accept(b, &values)?;
            if let Some(f) = on_progress {
                let _ = f.call2(&JsValue::NULL, &JsValue::from(done as u32), &JsValue::from(job.len() as u32));
            }
        }
        let table = job.finish()?;
        let millis = js_sys::Date::now() - t0;
        Ok(Prediction {
            tsv: table.to_tsv(),
            units: table.units().sentence().to_string(),
            ids: table.rows.iter().map(|r| r.transcript_id.clone()).collect(),
            genes: table.rows.iter().map(|r| r.gene_id.clone()).collect(),
            values: table.rows.iter().flat_map(|r| r.values.iter().copied()).collect(),
            outputs: table.outputs,
            warnings,
            millis,
        })
    }
}

/// Predictions: `values` is row-major `ids × outputs`.
#[wasm_bindgen]
pub struct Prediction {
    ids: Vec<String>,
    genes: Vec<String>,
    units: String,
    outputs: Vec<String>,
    values: Vec<f32>,
    tsv: String,
    warnings: Vec<String>,
    millis: f64,
}

#[wasm_bindgen]
impl Prediction {
    #[wasm_bindgen(getter)]
    pub fn ids(&self) -> Vec<String> {
        self.ids.clone()
    }
    /// Gene ids (empty strings when the input had no `gene_id` column).
    #[wasm_bindgen(getter)]
    pub fn genes(&self) -> Vec<String> {
        self.genes.clone()
    }
    #[wasm_bindgen(getter)]
    pub fn outputs(&self) -> Vec<String> {
        self.outputs.clone()
    }
    /// What the values measure, in one sentence (log(TPM+1) for the official tissues, the
    /// model's own units otherwise).
    #[wasm_bindgen(getter)]
    pub fn units(&self) -> String {
        self.units.clone()
    }
    #[wasm_bindgen(getter)]
    pub fn values(&self) -> Vec<f32> {
        self.values.clone()
    }
    /// The table as `isoformer predict` writes it.
    #[wasm_bindgen(getter)]
    pub fn tsv(&self) -> String {
        self.tsv.clone()
    }
    /// Cropping notices (`name:line: ...`).
    #[wasm_bindgen(getter)]
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
    /// Time spent in the forward passes and readback, in milliseconds.
    #[wasm_bindgen(getter)]
    pub fn millis(&self) -> f64 {
        self.millis
    }
}
