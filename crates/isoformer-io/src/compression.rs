//! What compression a stream uses, from its first bytes.

/// How a file's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// gzip that is not BGZF (read as a stream only).
    Gzip,
    /// BGZF (bgzip): gzip members with a `BC` extra subfield, which allow random access with a
    /// `.gzi` index.
    Bgzf,
}

/// Sniff the compression from (at least) the first 14 bytes; fewer bytes can still say gzip.
/// BGZF is gzip with FEXTRA set and a `BC` subfield first (SAM/BAM specification, section 4.1).
pub fn sniff(magic: &[u8]) -> Compression {
    if magic.len() < 2 || magic[..2] != [0x1f, 0x8b] {
        Compression::None
    } else if magic.len() >= 14 && magic[3] & 4 != 0 && &magic[12..14] == b"BC" {
        Compression::Bgzf
    } else {
        Compression::Gzip
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn tells_plain_gzip_and_bgzf_apart() {
        assert_eq!(sniff(b">chr1\nACGT"), Compression::None);
        assert_eq!(sniff(&[]), Compression::None);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b">chr1\nACGT\n").unwrap();
        assert_eq!(sniff(&gz.finish().unwrap()), Compression::Gzip);
        // An empty BGZF block (the end-of-file marker every bgzip file ends with).
        let eof = [0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0, 0x1b, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(sniff(&eof), Compression::Bgzf);
    }
}
