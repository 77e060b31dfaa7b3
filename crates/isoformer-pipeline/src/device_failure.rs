//! A batch the GPU could not run, said on one line: which transcripts, what the device needed
//! and what it allows. burn reports a failed execution when the results are read back, as a
//! chain of `Caused by:` blocks with the root cause last (for a buffer over the adapter's limit,
//! cubecl's "can't allocate buffer of size: N"); the CLI and the page both turn that text into
//! this.

use std::fmt;

/// What went wrong on the device for one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFailure {
    /// The batch's transcripts, in order.
    pub transcripts: Vec<String>,
    /// Bytes of the buffer the device could not allocate, when the failure says.
    pub needed: Option<u64>,
    /// The device's largest buffer (the smaller of its storage-binding and buffer limits), when
    /// the caller knows it.
    pub limit: Option<u64>,
    /// The root cause, as the device reported it.
    pub cause: String,
}

impl DeviceFailure {
    /// From burn's error text for the batch of `transcripts`, on a device allowing `limit` bytes
    /// per buffer.
    pub fn from_report(transcripts: Vec<String>, report: &str, limit: Option<u64>) -> Self {
        let cause = root_cause(report).to_string();
        let needed = report.lines().find_map(|l| {
            let (_, size) = l.split_once("can't allocate buffer of size:")?;
            size.trim().parse().ok()
        });
        Self { transcripts, needed, limit, cause }
    }
}

/// The last line of burn's report that says something: its root cause.
pub fn root_cause(report: &str) -> &str {
    let noise = ["No backtrace available", "Asked at:", "Caused by:"];
    report.lines().map(str::trim).rfind(|l| !l.is_empty() && !noise.contains(l)).unwrap_or("the device failed without a reason")
}

/// `12.5 MiB`, `1.0 GiB`.
fn bytes(n: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    let n = n as f64;
    if n >= 1024.0 * MIB { format!("{:.1} GiB", n / (1024.0 * MIB)) } else { format!("{:.1} MiB", n / MIB) }
}

impl fmt::Display for DeviceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.transcripts.as_slice() {
            [] => write!(f, "the GPU could not run a batch")?,
            [one] => write!(f, "transcript {one}: the GPU could not run it")?,
            [first, rest @ ..] => write!(f, "transcript {first} (and {} more in its batch): the GPU could not run it", rest.len())?,
        }
        match (self.needed, self.limit) {
            (Some(n), Some(l)) => write!(f, ": it needed a {} buffer, over the {} per buffer this GPU allows", bytes(n), bytes(l)),
            (Some(n), None) => write!(f, ": it needed a {} buffer, more than this GPU could allocate", bytes(n)),
            (None, _) => write!(f, ": {}", self.cause),
        }
    }
}

impl std::error::Error for DeviceFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of burn 0.22's report for a buffer over wgpu's limit (abridged from a real one).
    const REPORT: &str = "An error happened during execution\nCaused by:\n  Several failures at once\nCaused by:\n  The bytes were never written (failure #4580, still claiming 6 buffer(s))\n  skipped `MatmulEntry`: it needed memory ManagedMemoryId { value: 4314 }, which carried the failure\nCaused by:\n  An IO error happened\nCaused by:\n  can't allocate buffer of size: 536870912\nNo backtrace available\nAsked at:\nNo backtrace available\n";

    #[test]
    fn an_oversized_buffer_names_the_transcript_the_size_and_the_limit() {
        let f = DeviceFailure::from_report(vec!["ENST01".into(), "ENST02".into()], REPORT, Some(128 << 20));
        assert_eq!(f.needed, Some(536_870_912));
        assert_eq!(f.cause, "can't allocate buffer of size: 536870912");
        assert_eq!(
            f.to_string(),
            "transcript ENST01 (and 1 more in its batch): the GPU could not run it: it needed a 512.0 MiB buffer, over the 128.0 MiB per buffer this GPU allows"
        );
        assert!(!f.to_string().contains('\n'));
    }

    #[test]
    fn another_failure_gives_its_root_cause() {
        let f = DeviceFailure::from_report(vec!["T1".into()], "An error happened during execution\nCaused by:\n  Device lost\n", None);
        assert_eq!(f.to_string(), "transcript T1: the GPU could not run it: Device lost");
    }
}
