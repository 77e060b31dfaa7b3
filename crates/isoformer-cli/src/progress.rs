//! Progress bars on stderr, drawn only when it is a terminal (and not silenced with `-q`).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `total` units in `template` (indicatif syntax); hidden when `quiet` or when stderr is
/// not a terminal.
pub fn bar(total: u64, template: &str, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    bar
}

/// A bar counting bytes with rate and ETA.
pub fn bytes_bar(total: u64, what: &str) -> ProgressBar {
    let b = bar(total, "{msg} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}", false);
    b.set_message(what.to_string());
    b
}
