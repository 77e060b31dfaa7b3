//! Where an input line is.

use std::fmt;
use std::path::{Path, PathBuf};

/// `genes.gtf:1204`, the form editors jump to; standard input (`-`) shows as `<stdin>:1204`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: u64,
}

impl Location {
    pub fn new(path: impl Into<PathBuf>, line: u64) -> Self {
        Self { path: path.into(), line }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", shown(&self.path).display(), self.line)
    }
}

/// Input text quoted in a message, cut to its first 80 characters and `…` (a 200 kB header
/// line must not be echoed whole).
pub fn cut(text: &str) -> String {
    const KEEP: usize = 80;
    match text.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The name a path goes by in messages: `<stdin>` for `-`.
pub fn shown(path: &Path) -> &Path {
    if path == Path::new("-") { Path::new("<stdin>") } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_path_and_line_and_names_stdin() {
        assert_eq!(Location::new("genes.gtf", 12).to_string(), "genes.gtf:12");
        assert_eq!(Location::new("-", 3).to_string(), "<stdin>:3");
    }

    #[test]
    fn long_quotes_are_cut_at_80_characters() {
        assert_eq!(cut("short"), "short");
        let long = "é".repeat(200_000);
        assert_eq!(cut(&long), "é".repeat(80) + "…");
        assert_eq!(cut(&"x".repeat(80)), "x".repeat(80));
    }
}
