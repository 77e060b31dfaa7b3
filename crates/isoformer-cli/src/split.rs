//! `isoformer split`: gene-disjoint train/validation/test files.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::ValueEnum;
use isoformer_io::{Location, Outputs, open_input, tsv};
use isoformer_pipeline::columns::GENE_ID;

pub const HELP: &str = "EXAMPLE:\n  isoformer split --input data.tsv --by gene --fractions 0.8,0.1,0.1 --seed 1 -o data\n  \
→ data.train.tsv, data.valid.tsv, data.test.tsv\n\n\
Rows are copied field for field (header first; fields trimmed of surrounding spaces). Every gene_id goes to exactly one split, so no split holds an \
isoform of a gene seen in another. Genes are shuffled with --seed, then each is given to the split \
furthest below its share of rows: shares follow --fractions up to the size of the genes. The same input, \
fractions and seed always give the same split, whatever the row order. --gzip writes PREFIX.NAME.tsv.gz.";

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum By {
    /// Keep each gene_id's transcripts together.
    Gene,
}

#[derive(clap::Args)]
pub struct SplitArgs {
    /// Input TSV with a gene_id column (`prepare`'s output plus targets); `.gz` accepted.
    #[arg(short, long)]
    pub input: PathBuf,
    /// What must not be shared between splits.
    #[arg(long, value_enum, default_value_t = By::Gene)]
    pub by: By,
    /// Shares of rows, comma-separated, summing to 1.
    #[arg(long, value_delimiter = ',', default_value = "0.8,0.1,0.1")]
    pub fractions: Vec<f64>,
    /// Split names, one per fraction (default train,valid,test for three, train,test for two).
    #[arg(long, value_delimiter = ',')]
    pub names: Option<Vec<String>>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output prefix: PREFIX.NAME.tsv for each split.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Compress the outputs (PREFIX.NAME.tsv.gz).
    #[arg(long)]
    pub gzip: bool,
}

pub fn run(args: &SplitArgs) -> Result<()> {
    let names: Vec<String> = match &args.names {
        Some(n) => n.clone(),
        None => match args.fractions.len() {
            3 => vec!["train".into(), "valid".into(), "test".into()],
            2 => vec!["train".into(), "test".into()],
            k => (0..k).map(|i| format!("part{i}")).collect(),
        },
    };
    if let Some((k, name)) = names.iter().enumerate().find(|(k, n)| names[..*k].contains(n)) {
        bail!("--names: `{name}` given twice (name {} of {}): each part needs its own file", k + 1, names.len());
    }
    if names.len() != args.fractions.len() {
        bail!("--names has {} names for {} fractions", names.len(), args.fractions.len());
    }
    // Every part is claimed before the input is read, and all appear together at the end.
    let mut outputs = Outputs::new();
    outputs.input(&args.input)?;
    let prefix = args.output.to_string_lossy().into_owned();
    let mut parts = Vec::with_capacity(names.len());
    for name in &names {
        if name.is_empty() || name.contains('/') {
            bail!("--names: `{name}` cannot be part of a file name (PREFIX.NAME.tsv)");
        }
        let path = PathBuf::from(format!("{prefix}.{name}.tsv{}", if args.gzip { ".gz" } else { "" }));
        parts.push((outputs.file(&path)?, path));
    }
    let table = tsv::read(&args.input, open_input(&args.input)?, &[GENE_ID])?;
    let g = table.require(&[GENE_ID])?[0];
    let mut genes: Vec<String> = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        if row.fields[g].is_empty() {
            bail!("{}: empty gene_id", table.at(row));
        }
        genes.push(row.fields[g].clone());
    }
    if table.rows.is_empty() {
        bail!("{}: no rows after the header", Location::new(&table.path, table.header_line));
    }
    let head = table.names.join("\t");
    let rows: Vec<String> = table.rows.iter().map(|r| r.fields.join("\t")).collect();
    let of = isoformer_train::split::split_by_gene(&genes, &args.fractions, args.seed).map_err(|e| anyhow::anyhow!("--fractions: {e}"))?;
    let mut said = Vec::new();
    for (k, (out, path)) in parts.iter().enumerate() {
        let mut text = head.clone() + "\n";
        let mut n = 0;
        let mut g = std::collections::BTreeSet::new();
        for (row, (&s, gene)) in rows.iter().zip(of.iter().zip(&genes)) {
            if s == k {
                text += row;
                text.push('\n');
                n += 1;
                g.insert(gene);
            }
        }
        outputs.write_all(*out, text.as_bytes())?;
        said.push(format!("split: {} {n} rows, {} genes", path.display(), g.len()));
    }
    outputs.commit()?;
    for line in said {
        eprintln!("{line}");
    }
    Ok(())
}
