//! The page's input and output tables: the same TSV conventions as `isoformer predict`
//! (crates/isoformer-cli/src/io.rs), read from text the browser already holds.

use std::collections::BTreeMap;

use isoformer_model::Example;

/// The columns an input TSV must have (any order, other columns ignored).
pub const COLUMNS: [&str; 4] = ["transcript_id", "dna", "rna", "protein"];

/// Why an input table was refused; Display prints `name:line: what`, the form editors jump to.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TsvError {
    #[error("{name}: empty file (expected a header with {})", COLUMNS.join(", "))]
    Empty { name: String },
    #[error("{name}:{line}: header has no `{column}` column (found: {found}); expected tab-separated columns {}", COLUMNS.join(", "))]
    MissingColumn { name: String, line: usize, column: &'static str, found: String },
    #[error("{name}:{line}: {got} fields, but the header has {want}")]
    FieldCount { name: String, line: usize, got: usize, want: usize },
    #[error("{name}:{line}: empty transcript_id")]
    EmptyId { name: String, line: usize },
    #[error("{name}:{line}: transcript_id {id} already on line {first}")]
    DuplicateId { name: String, line: usize, id: String, first: usize },
    #[error("{name}: no transcripts after the header")]
    NoRows { name: String },
}

/// One input row and the line it came from (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: usize,
    pub example: Example,
}

/// Read an input TSV: a header naming [`COLUMNS`], then one transcript per line; blank lines and
/// lines starting with `#` are skipped, `\r\n` endings accepted, fields trimmed.
pub fn parse(name: &str, text: &str) -> Result<Vec<Row>, TsvError> {
    let mut lines = text.split('\n').enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (header_line, header) = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .ok_or_else(|| TsvError::Empty { name: name.into() })?;
    let names: Vec<&str> = header.split('\t').collect();
    let mut index = [0usize; 4];
    for (k, c) in COLUMNS.iter().enumerate() {
        index[k] = names.iter().position(|n| n.trim() == *c).ok_or_else(|| TsvError::MissingColumn {
            name: name.into(),
            line: header_line,
            column: c,
            found: names.join(", "),
        })?;
    }
    let mut rows = Vec::new();
    let mut seen = BTreeMap::new();
    for (line, l) in lines {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = l.split('\t').collect();
        if fields.len() != names.len() {
            return Err(TsvError::FieldCount { name: name.into(), line, got: fields.len(), want: names.len() });
        }
        let f = |k: usize| fields[index[k]].trim().to_string();
        let example = Example { id: f(0), dna: f(1), rna: f(2), protein: f(3) };
        if example.id.is_empty() {
            return Err(TsvError::EmptyId { name: name.into(), line });
        }
        if let Some(first) = seen.insert(example.id.clone(), line) {
            return Err(TsvError::DuplicateId { name: name.into(), line, id: example.id, first });
        }
        rows.push(Row { line, example });
    }
    if rows.is_empty() {
        return Err(TsvError::NoRows { name: name.into() });
    }
    Ok(rows)
}

/// The output table, byte for byte what `isoformer predict` writes: `transcript_id` and the
/// output names, then one row per transcript with six decimals.
pub fn format(ids: &[String], outputs: &[String], values: &[f32]) -> String {
    let mut text = String::from("transcript_id");
    for n in outputs {
        text.push('\t');
        text.push_str(n);
    }
    text.push('\n');
    for (id, row) in ids.iter().zip(values.chunks(outputs.len().max(1))) {
        text.push_str(id);
        for v in row {
            text.push_str(&format!("\t{v:.6}"));
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../models/tiny/example.tsv");

    #[test]
    fn reads_the_bundled_example() {
        let rows = parse("example.tsv", EXAMPLE).unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.example.id.as_str()).collect();
        assert_eq!(ids, ["tiny_tx1", "tiny_tx2", "tiny_tx3"]);
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[1].example.protein, "");
        assert_eq!(rows[0].example.protein, "MKTAYIAKQRQISFVKSHFSRQ");
    }

    #[test]
    fn columns_in_any_order_with_crlf_comments_and_extra_columns() {
        let t = "# made by hand\r\nprotein\tnote\tdna\ttranscript_id\trna\r\n\r\nMK\tx\tACGT\tt1\tAC\r\n";
        let rows = parse("t.tsv", t).unwrap();
        assert_eq!(rows, vec![Row { line: 4, example: Example { id: "t1".into(), dna: "ACGT".into(), rna: "AC".into(), protein: "MK".into() } }]);
    }

    #[test]
    fn bad_tables_name_file_and_line() {
        let e = |t: &str| parse("in.tsv", t).unwrap_err().to_string();
        assert_eq!(e(""), "in.tsv: empty file (expected a header with transcript_id, dna, rna, protein)");
        assert_eq!(
            e("transcript_id\tdna\trna\n"),
            "in.tsv:1: header has no `protein` column (found: transcript_id, dna, rna); expected tab-separated columns transcript_id, dna, rna, protein"
        );
        assert_eq!(e("transcript_id\tdna\trna\tprotein\nt1\tACGT\tAC\n"), "in.tsv:2: 3 fields, but the header has 4");
        assert_eq!(e("transcript_id\tdna\trna\tprotein\n\tACGT\tAC\t\n"), "in.tsv:2: empty transcript_id");
        assert_eq!(e("transcript_id\tdna\trna\tprotein\nt\tA\tA\t\nt\tA\tA\t\n"), "in.tsv:3: transcript_id t already on line 2");
        assert_eq!(e("transcript_id\tdna\trna\tprotein\n# nothing\n"), "in.tsv: no transcripts after the header");
        // A FASTA file picked by mistake.
        assert!(e(">seq1\nACGT\n").starts_with("in.tsv:1: header has no `transcript_id` column"));
    }

    #[test]
    fn output_matches_the_cli_layout() {
        let t = format(&["a".into(), "b".into()], &["x".into(), "y".into()], &[1.0, -0.5, 0.1234567, 2.0]);
        assert_eq!(t, "transcript_id\tx\ty\na\t1.000000\t-0.500000\nb\t0.123457\t2.000000\n");
    }
}
