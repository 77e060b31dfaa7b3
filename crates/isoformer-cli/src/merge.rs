//! `isoformer merge`: shard outputs of one run back into the unsharded output, in its order
//! (each shard's provenance says which rows of the run it holds), byte for byte what the
//! unsharded command writes. Refuses shards of different runs, missing, duplicate or
//! overlapping shards, and a sidecar that does not describe its file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use isoformer_io::{open_input, shown, write_output};
use isoformer_pipeline::provenance::{PARQUET_KEY, Provenance};
use isoformer_pipeline::shard::{ShardRows, merge_plan};

use crate::provenance::{read_sidecar, sha256_hex, sidecar, write_sidecar};

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The merged output: a TSV (`.gz` compresses; OUTPUT.json beside it) or, for Parquet shards,
    /// `.parquet`. Written under a temporary name and renamed at the end.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Every shard of one run, in any order: TSVs (`predict --shard K/N`, `predict` on a
    /// `prepare --shard` part, `prepare --shard` parts themselves, `score-variants --shard K/N`),
    /// each with its SHARD.json, or Parquet files from `predict --shard` or `score-variants
    /// --shard` (provenance in their metadata).
    #[arg(required = true, value_name = "SHARD")]
    pub shards: Vec<PathBuf>,
}

pub const HELP: &str = "EXAMPLE:\n  for k in 1 2 3; do isoformer predict -m MODEL -i prepared.tsv --shard $k/3 -o pred.$k.tsv; done\n  \
    isoformer merge -o predictions.tsv pred.1.tsv pred.2.tsv pred.3.tsv\n  \
    (the same for `isoformer score-variants --shard K/N` outputs)\n\n\
    The merged file is the unsharded run's output byte for byte (rows in its order, the same header), and \
    its OUTPUT.json is that run's provenance. Refused, with nothing written: shards of different runs \
    (another model, genome, annotation, parameter or isoformer version: the first differing field is named), \
    a missing, duplicate or overlapping shard, a shard without provenance, a TSV whose SHARD.json describes \
    other content (a file rewritten after its sidecar), different headers.";

struct Part {
    name: String,
    provenance: Provenance,
    rows: ShardRows,
}

fn is_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "parquet")
}

pub fn run(args: &MergeArgs) -> Result<()> {
    let parquet = is_parquet(&args.shards[0]);
    for s in &args.shards {
        ensure!(is_parquet(s) == parquet, "{} and {}: one format per merge (all .parquet or all TSV)", args.shards[0].display(), s.display());
    }
    ensure!(is_parquet(&args.output) == parquet, "--output {}: the shards are {}: name the output like them", args.output.display(), if parquet { "Parquet" } else { "TSV" });
    ensure!(args.output.as_os_str() != "-" || !parquet, "--output -: give a .parquet file name for Parquet shards");
    if parquet { merge_parquet(args) } else { merge_tsv(args) }
}

/// Check every part's shard record and that all are one run; the merge plan.
fn plan(parts: &[Part]) -> Result<Vec<(usize, usize)>> {
    let first = &parts[0];
    for p in parts {
        if let Some((field, a, b)) = first.provenance.first_difference(&p.provenance) {
            bail!("{} is not from the run of {}: {field} is {b} there, {a} in {}", p.name, first.name, first.name);
        }
    }
    let named: Vec<(String, ShardRows)> = parts.iter().map(|p| (p.name.clone(), p.rows.clone())).collect();
    Ok(merge_plan(&named)?)
}

fn shard_rows(name: &str, provenance: &Provenance) -> Result<ShardRows> {
    let record = provenance.shard.as_ref().with_context(|| format!("{name}: not a shard (its provenance has no shard)"))?;
    Ok(record.rows())
}

fn merge_tsv(args: &MergeArgs) -> Result<()> {
    let mut parts = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    for path in &args.shards {
        let name = shown(path).display().to_string();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut open_input(path)?, &mut text).with_context(|| format!("{name}: cannot read"))?;
        let side = sidecar(path);
        let provenance = read_sidecar(path)?.with_context(|| format!("{name}: no {} beside it (merge needs each shard's provenance)", side.display()))?;
        let lines = text.lines().count().saturating_sub(1);
        let described = provenance.output.as_ref().is_some_and(|o| o.rows == lines && o.sha256 == sha256_hex(text.as_bytes()));
        ensure!(described, "{}: does not describe {name} (another run's rows or sha256): the shard was rewritten after its provenance, rerun it", side.display());
        let rows = shard_rows(&name, &provenance)?;
        ensure!(rows.rows.len() == lines, "{name}: {lines} rows, but its provenance lists {}", rows.rows.len());
        parts.push(Part { name, provenance, rows });
        texts.push(text);
    }
    let order = plan(&parts)?;
    let lines: Vec<Vec<&str>> = texts.iter().map(|t| t.lines().collect()).collect();
    let header = lines[0].first().copied().unwrap_or_default();
    for (p, l) in parts.iter().zip(&lines) {
        ensure!(l.first().copied().unwrap_or_default() == header, "{}: another header than {}", p.name, parts[0].name);
    }
    let mut out = String::with_capacity(texts.iter().map(String::len).sum());
    out.push_str(header);
    out.push('\n');
    for &(s, j) in &order {
        out.push_str(lines[s][j + 1]);
        out.push('\n');
    }
    write_output(&args.output, out.as_bytes())?;
    write_sidecar(&args.output, &parts[0].provenance.run(), order.len(), sha256_hex(out.as_bytes()))?;
    log::info!("merge: {} rows from {} shards into {}", order.len(), parts.len(), shown(&args.output).display());
    Ok(())
}

fn merge_parquet(args: &MergeArgs) -> Result<()> {
    use isoformer_pipeline::table::parquet::{Table, Values, read_columns, write_columns};

    let mut parts = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    for path in &args.shards {
        let name = shown(path).display().to_string();
        let file = std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?;
        let table = read_columns(file).with_context(|| format!("{name}: not a Parquet table isoformer writes"))?;
        let json = table.metadata.iter().find(|(k, _)| k == PARQUET_KEY).and_then(|(_, v)| v.clone());
        let json = json.with_context(|| format!("{name}: no `{PARQUET_KEY}` metadata (not written by isoformer predict or score-variants)"))?;
        let provenance = Provenance::from_json(&name, &json)?;
        let shard = shard_rows(&name, &provenance)?;
        ensure!(shard.rows.len() == table.rows, "{name}: {} rows, but its provenance lists {}", table.rows, shard.rows.len());
        parts.push(Part { name, provenance, rows: shard });
        tables.push(table);
    }
    let order = plan(&parts)?;
    for (p, t) in parts.iter().zip(&tables) {
        ensure!(t.schema == tables[0].schema && t.layout() == tables[0].layout(), "{}: other columns than {}", p.name, parts[0].name);
    }
    let columns = (0..tables[0].columns.len())
        .map(|c| {
            let parts: Vec<&Values> = tables.iter().map(|t| &t.columns[c].1).collect();
            Values::gather(&tables[0].columns[c].0, &parts, &order)
        })
        .collect();
    let bytes = write_columns(&tables[0].schema, columns, &[(PARQUET_KEY, parts[0].provenance.run().to_json_line())]).context("writing Parquet")?;
    write_output(&args.output, &bytes)?;
    Ok(())
}
