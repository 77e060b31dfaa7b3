//! A prediction job: records tokenized once, crop notices kept as data, batches of equal DNA
//! length in which isoforms sharing a DNA window (a TSS) sit next to each other, so that
//! Enformer runs once per distinct window. The caller drives it batch by batch and reads each
//! batch's predictions back itself (synchronously on the CLI, asynchronously in the browser,
//! where a blocking readback deadlocks), then calls [`Job::accept`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use burn::tensor::Tensor;
use isoformer_io::Location;
use isoformer_model::model::{Encoded, dna_batch, has_protein};
use isoformer_model::{Example, Output, Predictor};

use crate::input::Records;
use crate::table::{PredictionRow, PredictionTable};

/// Why a job could not be built or finished.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the batch size must be at least 1")]
    ZeroBatch,
    #[error("{at}: {source}")]
    Encode { at: Location, source: isoformer_model::model::InputError },
    #[error("batch {batch}: {got} values read back for {rows} transcripts of {outputs} outputs")]
    Readback { batch: usize, got: usize, rows: usize, outputs: usize },
    #[error("transcript {id} was never predicted (batch not run)")]
    NotRun { id: String },
    #[error("transcript {id}: the model predicted {value} for {output}; a model whose outputs are not finite is broken (check its weights)")]
    NonFinite { id: String, output: String, value: f32 },
}

/// Something the user should know about an input that was still predicted.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub at: Location,
    pub id: String,
    pub kind: NoticeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// More RNA tokens than the model takes: the 5′ tokens were dropped.
    RnaCropped { limit: usize },
    /// More protein tokens than the model takes: the C-terminal residues were dropped.
    ProteinCropped { limit: usize },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            NoticeKind::RnaCropped { limit } => write!(f, "{}: {} RNA longer than the model's {limit} tokens: kept its 3' end", self.at, self.id),
            NoticeKind::ProteinCropped { limit } => {
                write!(f, "{}: {} protein longer than the model's {limit} tokens: kept its N-terminus", self.at, self.id)
            }
        }
    }
}

/// One prediction run over a set of records.
pub struct Job<'p> {
    predictor: &'p Predictor,
    ids: Vec<(String, String)>,
    has_gene: bool,
    encoded: Vec<Encoded>,
    window_of: Vec<usize>,
    windows: usize,
    batches: Vec<Vec<usize>>,
    values: Vec<Option<Vec<f32>>>,
    /// Transcripts whose predictions were accepted.
    done: usize,
    shared: SharedDna,
    notices: Vec<Notice>,
}

impl<'p> Job<'p> {
    /// Tokenize every record (an input the model cannot take fails here, naming its line) and
    /// plan the batches.
    pub fn new(predictor: &'p Predictor, records: Records, batch_size: usize) -> Result<Self, JobError> {
        if batch_size == 0 {
            return Err(JobError::ZeroBatch);
        }
        let n = records.records.len();
        let (mut encoded, mut ids, mut notices) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::new());
        // Distinct DNA windows: isoforms sharing a TSS share one.
        let mut windows: HashMap<String, usize> = HashMap::new();
        let mut window_of = Vec::with_capacity(n);
        for r in records.records {
            let example = Example { id: r.transcript_id, dna: r.dna, rna: r.rna, protein: r.protein };
            let e = predictor.encode(&example).map_err(|source| JobError::Encode { at: r.at.clone(), source })?;
            notices.extend(crop_notices(predictor, &r.at, &e));
            let next = windows.len();
            window_of.push(*windows.entry(example.dna).or_insert(next));
            encoded.push(e);
            ids.push((example.id, r.gene_id));
        }
        let batches = plan(&encoded, &window_of, batch_size);
        let values = vec![None; n];
        let windows = windows.len();
        let mut shared = SharedDna::default();
        for e in &encoded {
            *shared.rna.uses.entry(e.rna_tokens.clone()).or_default() += 1;
            *shared.protein.uses.entry(e.protein_tokens.clone()).or_default() += 1;
        }
        Ok(Self { predictor, ids, has_gene: records.has_gene, encoded, window_of, windows, batches, values, done: 0, shared, notices })
    }

    /// Transcripts in the job.
    pub fn len(&self) -> usize {
        self.encoded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.encoded.is_empty()
    }

    /// Distinct DNA windows (Enformer passes).
    pub fn windows(&self) -> usize {
        self.windows
    }

    /// The batches, in the order they must run (the shared-DNA reuse relies on it).
    pub fn batches(&self) -> usize {
        self.batches.len()
    }

    /// The encoded transcripts of batch `b`, in batch order.
    pub fn batch(&self, b: usize) -> Vec<&Encoded> {
        self.batches[b].iter().map(|&i| &self.encoded[i]).collect()
    }

    /// Crop notices, in input order.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// Run batch `b` through the model; read `predictions` back and pass them to [`Job::accept`].
    pub fn forward(&mut self, b: usize) -> Output {
        let rows = &self.batches[b];
        let batch: Vec<&Encoded> = rows.iter().map(|&i| &self.encoded[i]).collect();
        let keys: Vec<usize> = rows.iter().map(|&i| self.window_of[i]).collect();
        self.shared.forward(self.predictor, &batch, &keys)
    }

    /// Batch `b`'s predictions, row-major `(batch, outputs)`. Returns how many transcripts are done.
    pub fn accept(&mut self, b: usize, predictions: &[f32]) -> Result<usize, JobError> {
        let outputs = self.predictor.model.head.outputs();
        let rows = &self.batches[b];
        if predictions.len() != rows.len() * outputs {
            return Err(JobError::Readback { batch: b, got: predictions.len(), rows: rows.len(), outputs });
        }
        for (row, &i) in predictions.chunks(outputs).zip(rows) {
            if let Some(t) = row.iter().position(|v| !v.is_finite()) {
                let output = self.predictor.output_names().swap_remove(t);
                return Err(JobError::NonFinite { id: self.ids[i].0.clone(), output, value: row[t] });
            }
            if self.values[i].replace(row.to_vec()).is_none() {
                self.done += 1;
            }
        }
        Ok(self.done)
    }

    /// The table, in input order; every batch must have been accepted.
    pub fn finish(self) -> Result<PredictionTable, JobError> {
        let outputs = self.predictor.output_names();
        let mut rows = Vec::with_capacity(self.ids.len());
        for ((transcript_id, gene_id), values) in self.ids.into_iter().zip(self.values) {
            let values = values.ok_or_else(|| JobError::NotRun { id: transcript_id.clone() })?;
            rows.push(PredictionRow { transcript_id, gene_id, values });
        }
        Ok(PredictionTable { outputs, has_gene: self.has_gene, rows })
    }
}

fn crop_notices(p: &Predictor, at: &Location, e: &Encoded) -> Vec<Notice> {
    let notice = |kind| Notice { at: at.clone(), id: e.id.clone(), kind };
    let mut out = Vec::new();
    if e.rna_cropped {
        out.push(notice(NoticeKind::RnaCropped { limit: p.config.num_tokens_per_seq_nuctf_rna }));
    }
    if e.protein_cropped {
        out.push(notice(NoticeKind::ProteinCropped { limit: p.config.num_protein_tokens_per_seq }));
    }
    out
}

/// Batches of equal DNA length (shortest first), at most `size` each; within a length,
/// transcripts sharing a window are adjacent, so consecutive batches can reuse its embeddings.
pub fn plan(encoded: &[Encoded], window_of: &[usize], size: usize) -> Vec<Vec<usize>> {
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, e) in encoded.iter().enumerate() {
        by_len.entry(e.dna_len).or_default().push(i);
    }
    let mut batches = Vec::new();
    for mut idx in by_len.into_values() {
        idx.sort_by_key(|&i| window_of[i]);
        batches.extend(idx.chunks(size).map(<[usize]>::to_vec));
    }
    batches
}

/// `Isoformer::forward` with Enformer run once per distinct DNA window: the last window's
/// embeddings are kept, so a run of isoforms sharing a TSS (adjacent after planning) encodes it
/// once, across batch boundaries too. NT-v2 and ESM-2 run once per distinct token row that
/// occurs more than once in the job (an isoform's RNA and protein beside a DNA-only variant of
/// them): such a row's embeddings are kept until its last use. The rest is
/// `Isoformer::forward_from_dna`'s fusion and head.
#[derive(Default)]
struct SharedDna {
    last: Option<(usize, Tensor<3>)>,
    rna: Reused,
    protein: Reused,
}

/// One encoder's outputs kept for token rows used again later in the job.
#[derive(Default)]
struct Reused {
    /// Uses not yet run, per token row (all rows of the job at the start).
    uses: HashMap<Vec<u32>, usize>,
    /// `(1, tokens, width)` outputs of rows with uses left.
    kept: HashMap<Vec<u32>, Tensor<3>>,
}

impl Reused {
    /// The encoder's `(b, longest, width)` output for `rows`, from kept rows where there are,
    /// the encoder on the others; unless some row is kept or worth keeping, exactly
    /// `encoder.forward(rows)`. Padding positions of reused rows are zeros (the fusion masks
    /// them).
    fn encode(&mut self, encoder: &isoformer_model::esm::EsmEncoder, rows: &[Vec<u32>]) -> Tensor<3> {
        let reuse = rows.iter().any(|r| self.kept.contains_key(r) || self.uses.get(r).is_some_and(|&u| u > 1));
        let out = if !reuse {
            encoder.forward(rows)
        } else {
            let mut missing: Vec<&Vec<u32>> = Vec::new();
            for r in rows {
                if !self.kept.contains_key(r) && !missing.contains(&r) {
                    missing.push(r);
                }
            }
            let mut fresh: HashMap<&Vec<u32>, Tensor<3>> = HashMap::new();
            if !missing.is_empty() {
                let owned: Vec<Vec<u32>> = missing.iter().map(|r| (*r).clone()).collect();
                let emb = encoder.forward(&owned);
                for (j, r) in missing.iter().enumerate() {
                    fresh.insert(r, emb.clone().narrow(0, j, 1).narrow(1, 0, r.len()));
                }
            }
            let longest = rows.iter().map(Vec::len).max().unwrap_or(0);
            let parts: Vec<Tensor<3>> = rows
                .iter()
                .map(|r| {
                    let t = fresh.get(r).cloned().unwrap_or_else(|| self.kept[r].clone());
                    let [_, n, w] = t.dims();
                    if n < longest { Tensor::cat(vec![t.clone(), Tensor::zeros([1, longest - n, w], &t.device())], 1) } else { t }
                })
                .collect();
            for (r, t) in fresh {
                if self.uses.get(r).is_some_and(|&u| u > 1) {
                    self.kept.insert(r.clone(), t);
                }
            }
            Tensor::cat(parts, 0)
        };
        for r in rows {
            if let Some(u) = self.uses.get_mut(r) {
                *u = u.saturating_sub(1);
                if *u == 0 {
                    self.uses.remove(r);
                    self.kept.remove(r);
                }
            }
        }
        out
    }
}

impl SharedDna {
    fn forward(&mut self, p: &Predictor, batch: &[&Encoded], keys: &[usize]) -> Output {
        let fresh = self.encode_new_windows(p, batch, keys);
        let rows: Vec<Tensor<3>> = keys
            .iter()
            .map(|key| match fresh.get(key) {
                Some(t) => t.clone(),
                None => self.last.as_ref().filter(|(l, _)| l == key).map(|(_, t)| t.clone()).expect("window computed or kept"),
            })
            .collect();
        let last_key = *keys.last().expect("non-empty batch");
        self.last = Some((last_key, rows.last().expect("non-empty batch").clone()));
        let rna: Vec<Vec<u32>> = batch.iter().map(|e| e.rna_tokens.clone()).collect();
        let protein: Vec<Vec<u32>> = batch.iter().map(|e| e.protein_tokens.clone()).collect();
        let dna_embeddings = Tensor::cat(rows, 0);
        let rna_embeddings = self.rna.encode(&p.model.nt, &rna);
        let protein_embeddings = self.protein.encode(&p.model.esm, &protein);
        // As `Isoformer::fuse`: every token of a row is valid, a row without a protein skips
        // the protein cross-attention.
        let valid = |rows: &[Vec<u32>]| -> Vec<Vec<bool>> { rows.iter().map(|r| vec![true; r.len()]).collect() };
        let with_protein: Vec<bool> = protein.iter().map(|t| has_protein(t)).collect();
        let final_dna_embeddings =
            p.model.fusion.forward(dna_embeddings.clone(), rna_embeddings.clone(), &valid(&rna), protein_embeddings.clone(), &valid(&protein), &with_protein);
        let predictions = p.model.head.forward(final_dna_embeddings.clone());
        Output { predictions, dna_embeddings, rna_embeddings, protein_embeddings, final_dna_embeddings }
    }

    /// Enformer on the batch's windows that are neither kept from the previous batch nor
    /// repeated within this one.
    fn encode_new_windows(&self, p: &Predictor, batch: &[&Encoded], keys: &[usize]) -> HashMap<usize, Tensor<3>> {
        let mut missing: Vec<usize> = Vec::new();
        for (k, key) in keys.iter().enumerate() {
            let kept = self.last.as_ref().is_some_and(|(l, _)| l == key);
            if !kept && !missing.iter().any(|&t| keys[t] == *key) {
                missing.push(k);
            }
        }
        let mut fresh = HashMap::new();
        if missing.is_empty() {
            return fresh;
        }
        let rows: Vec<&Encoded> = missing.iter().map(|&k| batch[k]).collect();
        let emb = p.model.enformer.forward(dna_batch(&rows, &p.device));
        for (j, &k) in missing.iter().enumerate() {
            fresh.insert(keys[k], emb.clone().narrow(0, j, 1));
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(id: &str, dna_len: usize) -> Encoded {
        Encoded { id: id.into(), dna_one_hot: Vec::new(), dna_len, rna_tokens: Vec::new(), protein_tokens: Vec::new(), rna_cropped: false, protein_cropped: false }
    }

    #[test]
    fn plan_groups_by_length_then_window_and_cuts_batches() {
        let e = [encoded("a", 256), encoded("b", 128), encoded("c", 256), encoded("d", 256), encoded("e", 128)];
        // Windows: a and d share one, b and e another.
        let window_of = [0, 1, 2, 0, 1];
        assert_eq!(plan(&e, &window_of, 2), vec![vec![1, 4], vec![0, 3], vec![2]]);
        assert_eq!(plan(&e, &window_of, 10), vec![vec![1, 4], vec![0, 3, 2]]);
    }

    #[test]
    fn a_non_finite_prediction_names_the_transcript_and_the_output() {
        let e = JobError::NonFinite { id: "ENST01".into(), output: "Brain".into(), value: f32::NAN };
        assert_eq!(
            e.to_string(),
            "transcript ENST01: the model predicted NaN for Brain; a model whose outputs are not finite is broken (check its weights)"
        );
    }

    #[test]
    fn notices_read_like_the_cli_warnings() {
        let n = Notice { at: Location::new("x.tsv", 4), id: "t1".into(), kind: NoticeKind::RnaCropped { limit: 2048 } };
        assert_eq!(n.to_string(), "x.tsv:4: t1 RNA longer than the model's 2048 tokens: kept its 3' end");
    }
}
