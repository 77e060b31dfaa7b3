//! Tab-separated tables with a header line, the format `prepare` writes and `predict`, `train`,
//! `eval` and `split` read: the first line that is neither blank nor a `#` comment is the header;
//! later blank and `#` lines are skipped; `\r\n` endings are accepted; fields are trimmed; every
//! row has the header's number of fields. Columns are found by name, in any order.

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use crate::location::{Location, cut, shown};

/// Why a table was refused. Display starts with `path:line`.
#[derive(Debug, thiserror::Error)]
pub enum TsvError {
    #[error("{at}: read failed")]
    Read { at: Location, source: io::Error },
    #[error("{}: starts with a UTF-8 byte-order mark (BOM); save it without one", shown(path).display())]
    ByteOrderMark { path: PathBuf },
    #[error("{}: empty file (expected a header with {expected})", shown(path).display())]
    Empty { path: PathBuf, expected: String },
    #[error("{at}: column `{name}` appears twice in the header (columns {first} and {second})")]
    DuplicateColumn { at: Location, name: String, first: usize, second: usize },
    #[error("{at}: header has no `{column}` column (found: {found}); expected tab-separated columns {expected}")]
    MissingColumn { at: Location, column: String, found: String, expected: String },
    #[error("{at}: {got} fields, but the header has {want}")]
    FieldCount { at: Location, got: usize, want: usize },
}

/// One data line.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line number in the file.
    pub line: u64,
    pub fields: Vec<String>,
}

/// A whole table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file (`-` for standard input), for messages.
    pub path: PathBuf,
    pub header_line: u64,
    pub names: Vec<String>,
    pub rows: Vec<Row>,
}

/// Read a table. `expected` names the columns the caller needs, for the messages of an empty file
/// (whether they are present is checked by [`Table::require`]).
pub fn read(path: &Path, reader: impl BufRead, expected: &[&str]) -> Result<Table, TsvError> {
    let mut lines = reader.lines().zip(1u64..);
    let (header_line, header) = loop {
        let Some((line, n)) = lines.next() else {
            return Err(TsvError::Empty { path: path.into(), expected: expected.join(", ") });
        };
        let line = line.map_err(|source| TsvError::Read { at: Location::new(path, n), source })?;
        if n == 1 && line.starts_with('\u{feff}') {
            return Err(TsvError::ByteOrderMark { path: path.into() });
        }
        if !line.trim().is_empty() && !line.starts_with('#') {
            break (n, line);
        }
    };
    let names: Vec<String> = header.trim_end_matches('\r').split('\t').map(|n| n.trim().to_string()).collect();
    for (second, name) in names.iter().enumerate() {
        let first = names.iter().position(|n| n == name).expect("name is in the list");
        if first != second && !name.is_empty() {
            let at = Location::new(path, header_line);
            return Err(TsvError::DuplicateColumn { at, name: cut(name), first: first + 1, second: second + 1 });
        }
    }
    let mut rows = Vec::new();
    for (line, n) in lines {
        let line = line.map_err(|source| TsvError::Read { at: Location::new(path, n), source })?;
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<String> = line.split('\t').map(|f| f.trim().to_string()).collect();
        if fields.len() != names.len() {
            return Err(TsvError::FieldCount { at: Location::new(path, n), got: fields.len(), want: names.len() });
        }
        rows.push(Row { line: n, fields });
    }
    Ok(Table { path: path.into(), header_line, names, rows })
}

impl Table {
    /// The index of a column, by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The indexes of `columns`, all required.
    pub fn require(&self, columns: &[&str]) -> Result<Vec<usize>, TsvError> {
        columns
            .iter()
            .map(|c| {
                self.column(c).ok_or_else(|| TsvError::MissingColumn {
                    at: Location::new(&self.path, self.header_line),
                    column: cut(c),
                    found: cut(&self.names.join(", ")),
                    expected: columns.join(", "),
                })
            })
            .collect()
    }

    /// Where a row is.
    pub fn at(&self, row: &Row) -> Location {
        Location::new(&self.path, row.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<Table, TsvError> {
        read(Path::new("in.tsv"), text.as_bytes(), &["id", "x"])
    }

    #[test]
    fn header_after_comments_crlf_trimmed_fields_any_order() {
        let t = table("# made by hand\r\n\r\nx\t id \r\n# skipped\n 1 \ta\r\n\n2\tb\n").unwrap();
        assert_eq!(t.header_line, 3);
        assert_eq!(t.require(&["id", "x"]).unwrap(), [1, 0]);
        assert_eq!(t.rows, [Row { line: 5, fields: vec!["1".into(), "a".into()] }, Row { line: 7, fields: vec!["2".into(), "b".into()] }]);
        assert_eq!(t.at(&t.rows[1]).to_string(), "in.tsv:7");
    }

    #[test]
    fn every_refusal_names_file_and_line() {
        let e = |text: &str| table(text).and_then(|t| t.require(&["id", "x"]).map(|_| t)).unwrap_err().to_string();
        assert_eq!(e(""), "in.tsv: empty file (expected a header with id, x)");
        assert_eq!(e("# only a comment\n"), "in.tsv: empty file (expected a header with id, x)");
        assert_eq!(e("id\ty\n"), "in.tsv:1: header has no `x` column (found: id, y); expected tab-separated columns id, x");
        assert_eq!(e("id\tx\n1\n"), "in.tsv:2: 1 fields, but the header has 2");
        assert_eq!(e("id\tx\tid\n"), "in.tsv:1: column `id` appears twice in the header (columns 1 and 3)");
    }

    #[test]
    fn standard_input_is_named_as_such() {
        let e = read(Path::new("-"), "a\n1\t2\n".as_bytes(), &["a"]).unwrap_err().to_string();
        assert_eq!(e, "<stdin>:2: 2 fields, but the header has 1");
    }
}
