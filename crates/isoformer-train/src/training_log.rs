//! `training_log.tsv`: one row per optimiser step and one per epoch, appended as training goes
//! and cut back to a checkpoint's step when a run resumes from it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{TrainError, write};
use crate::save::write_atomic;

const HEADER: &str = "kind\tepoch\tstep\tlr\tloss\tvalid_loss\tvalid_mean_r2\tvalid_mean_pearson\tseconds";

/// One epoch row: the mean training loss and, with validation data, its loss and metrics.
pub(crate) struct EpochRow {
    pub epoch: usize,
    pub step: usize,
    pub train_loss: f64,
    pub valid_loss: Option<f64>,
    pub valid_mean_r2: Option<f64>,
    pub valid_mean_pearson: Option<f64>,
    pub seconds: f64,
}

pub(crate) struct TrainingLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl TrainingLog {
    /// Keep the header and the rows of steps up to `step` (a resume continues after it).
    /// Nothing to do when there is no log yet.
    pub fn truncate_after(path: &Path, step: usize) -> Result<(), TrainError> {
        let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
        let kept: String = text
            .lines()
            .enumerate()
            .filter(|(i, l)| *i == 0 || l.split('\t').nth(2).and_then(|s| s.parse::<usize>().ok()).is_some_and(|s| s <= step))
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        write_atomic(path, kept.as_bytes())
    }

    /// Open for appending; a new file starts with the header.
    pub fn open(path: PathBuf) -> Result<Self, TrainError> {
        let exists = path.exists();
        let f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(write(&path))?;
        let mut log = Self { path, out: BufWriter::new(f) };
        if !exists {
            log.line(format_args!("{HEADER}"))?;
        }
        Ok(log)
    }

    pub fn step(&mut self, epoch: usize, step: usize, lr: f64, loss: f64, seconds: f64) -> Result<(), TrainError> {
        self.line(format_args!("step\t{epoch}\t{step}\t{lr:.6e}\t{loss:.6e}\t\t\t\t{seconds:.3}"))
    }

    pub fn epoch(&mut self, r: &EpochRow) -> Result<(), TrainError> {
        let fmt = |v: Option<f64>| v.map(|x| format!("{x:.6e}")).unwrap_or_default();
        let (vl, vr2, vp) = (fmt(r.valid_loss), fmt(r.valid_mean_r2), fmt(r.valid_mean_pearson));
        self.line(format_args!("epoch\t{}\t{}\t\t{:.6e}\t{vl}\t{vr2}\t{vp}\t{:.3}", r.epoch, r.step, r.train_loss, r.seconds))
    }

    pub fn flush(&mut self) -> Result<(), TrainError> {
        self.out.flush().map_err(write(&self.path))
    }

    fn line(&mut self, args: std::fmt::Arguments) -> Result<(), TrainError> {
        writeln!(self.out, "{args}").map_err(write(&self.path))
    }
}
