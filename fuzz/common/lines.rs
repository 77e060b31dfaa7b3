//! What every parser target checks of an error: the `path:line` it names is a line of the input.

/// Lines in `data` (a final line without `\n` counts).
pub fn count(data: &[u8]) -> u64 {
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(!data.is_empty() && data.last() != Some(&b'\n'))
}

/// If `message` starts `{path}:{line}:`, the line must be within `1..=lines`.
pub fn assert_names_a_line(message: &str, path: &str, lines: u64) {
    let Some(rest) = message.strip_prefix(path).and_then(|r| r.strip_prefix(':')) else { return };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return;
    }
    let line: u64 = digits.parse().expect("line number");
    assert!((1..=lines).contains(&line), "error names line {line} of a {lines}-line input: {message}");
}
