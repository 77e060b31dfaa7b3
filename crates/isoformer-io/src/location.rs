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
}
