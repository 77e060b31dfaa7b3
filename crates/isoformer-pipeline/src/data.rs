//! Training and evaluation data: `prepare`'s TSV plus one numeric column per target.

use std::io::BufRead;

use isoformer_io::Location;
use isoformer_io::tsv::{self, Table, TsvError};
use isoformer_model::TISSUES;

use crate::columns::{INPUT, PREPARED};
use crate::input::{InputError, Records, Source, records_from_table};

/// Which columns are the targets.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// Named by the user (`train --targets`).
    Named(&'a [String]),
    /// The 30 tissue names when all are there, else every column `prepare` does not write.
    Default,
    /// A model's outputs, every one required (`eval`: a column per model output).
    ModelOutputs(&'a [String]),
}

/// Records with their target values.
#[derive(Debug, Clone, PartialEq)]
pub struct Labeled {
    pub records: Records,
    pub target_names: Vec<String>,
    /// One row per record, one value per target.
    pub targets: Vec<Vec<f32>>,
}

/// Why training or evaluation data was refused.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Tsv(#[from] TsvError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{at}: no target column `{name}` (columns: {columns})")]
    NoTargetColumn { at: Location, name: String, columns: String },
    #[error("{at}: no target columns (add numeric columns, e.g. the 30 tissue names, or name them with --targets)")]
    NoTargets { at: Location },
    #[error("{at}: no column for the model's output(s) {}{} (the data needs one column per model output)", missing.iter().take(3).map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "), if missing.len() > 3 { format!(" and {} more", missing.len() - 3) } else { String::new() })]
    NoOutputColumns { at: Location, missing: Vec<String> },
    #[error("{at}: {id}: target `{name}` is {raw:?}, not a finite number")]
    NotANumber { at: Location, id: String, name: String, raw: String },
}

/// Read a labelled table.
pub fn read_labeled(input: Source<impl BufRead>, targets: Targets<'_>) -> Result<Labeled, DataError> {
    let table = tsv::read(&input.path, input.reader, &INPUT)?;
    let target_names = target_columns(&table, targets)?;
    let records = records_from_table(&table)?;
    let names: Vec<&str> = target_names.iter().map(String::as_str).collect();
    let index = table.require(&names)?;
    let mut values = Vec::with_capacity(table.rows.len());
    for (row, record) in table.rows.iter().zip(&records.records) {
        let parse = |(k, &j): (usize, &usize)| {
            let raw = &row.fields[j];
            raw.parse::<f32>().ok().filter(|v| v.is_finite()).ok_or_else(|| DataError::NotANumber {
                at: record.at.clone(),
                id: record.transcript_id.clone(),
                name: target_names[k].clone(),
                raw: raw.clone(),
            })
        };
        values.push(index.iter().enumerate().map(parse).collect::<Result<Vec<f32>, _>>()?);
    }
    Ok(Labeled { records, target_names, targets: values })
}

/// The target columns of a table.
pub fn target_columns(table: &Table, targets: Targets<'_>) -> Result<Vec<String>, DataError> {
    let at = Location::new(&table.path, table.header_line);
    let has = |c: &str| table.column(c).is_some();
    match targets {
        Targets::Named(asked) => match asked.iter().find(|t| !has(t)) {
            Some(t) => Err(DataError::NoTargetColumn { at, name: t.clone(), columns: table.names.join(", ") }),
            None => Ok(asked.to_vec()),
        },
        Targets::ModelOutputs(outputs) => {
            let missing: Vec<String> = outputs.iter().filter(|o| !has(o)).cloned().collect();
            if missing.is_empty() { Ok(outputs.to_vec()) } else { Err(DataError::NoOutputColumns { at, missing }) }
        }
        Targets::Default if TISSUES.iter().all(|t| has(t)) => Ok(TISSUES.iter().map(|s| s.to_string()).collect()),
        Targets::Default => {
            let rest: Vec<String> = table.names.iter().filter(|c| !PREPARED.contains(&c.as_str())).cloned().collect();
            if rest.is_empty() { Err(DataError::NoTargets { at }) } else { Ok(rest) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, targets: Targets<'_>) -> Result<Labeled, DataError> {
        read_labeled(Source::new("d.tsv", text.as_bytes()), targets)
    }

    const H: &str = "transcript_id\tgene_id\tdna\trna\tprotein\tflags\tliver\tlung\n";

    #[test]
    fn default_targets_are_the_columns_prepare_does_not_write() {
        let l = read(&format!("{H}t1\tg\tACGT\tAC\t\t\t1.5\t-2\n"), Targets::Default).unwrap();
        assert_eq!(l.target_names, ["liver", "lung"]);
        assert_eq!(l.targets, [vec![1.5, -2.0]]);
        assert_eq!(l.records.records[0].gene_id, "g");
    }

    #[test]
    fn refusals_name_file_and_line() {
        let e = |text: &str, t| read(text, t).unwrap_err().to_string();
        assert_eq!(e(&format!("{H}t1\tg\tACGT\tAC\t\t\tNaN\t1\n"), Targets::Default), "d.tsv:2: t1: target `liver` is \"NaN\", not a finite number");
        let z = ["z".to_string()];
        assert_eq!(e(H, Targets::Named(&z)), "d.tsv:1: no target column `z` (columns: transcript_id, gene_id, dna, rna, protein, flags, liver, lung)");
        assert_eq!(e(H, Targets::ModelOutputs(&z)), "d.tsv:1: no column for the model's output(s) `z` (the data needs one column per model output)");
        assert!(e("transcript_id\tdna\trna\tprotein\n", Targets::Default).starts_with("d.tsv:1: no target columns"));
    }
}
