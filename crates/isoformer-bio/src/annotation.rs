//! GTF (GENCODE/Ensembl style, GTF 2.2) and GFF3 into transcripts.
//!
//! Hand-written rather than noodles-gtf/noodles-gff: every error here must name the file and
//! line and say which attribute is wrong, and only four things are needed from each line
//! (sequence, type, span, strand/phase, a few attributes).
//!
//! What is read: `exon` and `CDS` lines, plus GTF `stop_codon` (GTF's CDS excludes the stop
//! codon, GFF3's includes it: adding GTF's `stop_codon` makes both mean "the coding sequence with
//! its stop"). GTF groups by `transcript_id` and `gene_id`; GFF3 by `Parent` → transcript
//! feature → its `Parent` gene. Every other line is checked for its 9 columns and skipped.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use isoformer_io::{Compression, cut};

use crate::{Location, Strand};

#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{at}: read failed: {source}")]
    Read { at: Location, source: io::Error },
    #[error("{}: starts with a UTF-8 byte-order mark (BOM); save it without one", path.display())]
    ByteOrderMark { path: PathBuf },
    #[error("{at}: transcript {id} is in gene {gene} here but in gene {first_gene} at line {first_line}: one transcript id under two genes")]
    TwoGenes { at: Location, id: String, gene: String, first_gene: String, first_line: u64 },
    #[error("{path}: empty file (no annotation records)")]
    Empty { path: PathBuf },
    #[error("{path}: no exon records")]
    NoExons { path: PathBuf },
    #[error("{at}: {found} tab-separated fields, expected 9")]
    Fields { at: Location, found: usize },
    #[error("{at}: {what} {found:?} is not a positive integer")]
    Coordinate { at: Location, what: &'static str, found: String },
    #[error("{at}: start {start} is after end {end}")]
    Span { at: Location, start: u64, end: u64 },
    #[error("{at}: strand {found:?} must be + or - for {kind} records")]
    Strand { at: Location, found: String, kind: String },
    #[error("{at}: phase {found:?} must be 0, 1 or 2 for CDS records")]
    Phase { at: Location, found: String },
    #[error("{at}: malformed attribute field: {source}")]
    Attribute { at: Location, source: AttributeError },
    #[error("{at}: empty sequence name (column 1)")]
    EmptySequenceName { at: Location },
    #[error("{at}: {kind} record has no {key} attribute")]
    MissingAttribute { at: Location, kind: String, key: &'static str },
    #[error("{at}: Parent {parent:?} is not the ID of any record in the file")]
    UnknownParent { at: Location, parent: String },
    #[error("{at}: transcript {id} is on {seq}{strand} here but on {first_seq}{first_strand} at line {first_line}")]
    Mixed { at: Location, id: String, seq: String, strand: char, first_seq: String, first_strand: char, first_line: u64 },
    #[error("{at}: exon {start}-{end} of transcript {id} overlaps the exon at line {other_line}")]
    Overlap { at: Location, id: String, start: u64, end: u64, other_line: u64 },
    #[error("{at}: CDS {start}-{end} of transcript {id} is not inside one of its exons")]
    CdsOutsideExons { at: Location, id: String, start: u64, end: u64 },
    #[error("{at}: transcript {id} has CDS records but no exons")]
    CdsWithoutExons { at: Location, id: String },
}

/// A malformed attribute column (column 9), GTF or GFF3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("attribute `{key}` has no value (expected `key \"value\";`)")]
    NoValue { key: String },
    #[error("attribute `{key}`: unterminated quote")]
    UnterminatedQuote { key: String },
    #[error("attribute `{key}` has no value")]
    EmptyValue { key: String },
    #[error("attribute `{key}`: expected `;` after its value, found {found:?}")]
    NoSemicolon { key: String, found: String },
    #[error("`{part}` is not key=value")]
    NotKeyValue { part: String },
    #[error("`{part}` has an empty key")]
    EmptyKey { part: String },
    #[error("`{part}`: bad percent escape")]
    BadEscape { part: String },
}

/// Which annotation dialect a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gtf,
    Gff3,
}

impl Format {
    /// The dialect a file name says (`.gtf`, `.gff3`, `.gff`, optionally `.gz`), if any.
    pub fn of(path: &Path) -> Option<Self> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".gtf") {
            Some(Format::Gtf)
        } else if name.ends_with(".gff3") || name.ends_with(".gff") {
            Some(Format::Gff3)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    Exon,
    /// CDS, or GTF `stop_codon` (both part of the coding sequence).
    Cds,
}

/// One exon or CDS line. `start..end` is 0-based half-open (the file's `start-1 .. end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub kind: FeatureKind,
    pub seq: String,
    pub start: u64,
    pub end: u64,
    pub strand: Strand,
    /// GTF frame / GFF3 phase (bases to skip to reach the first whole codon); 0 when `.`.
    pub phase: u8,
    pub line: u64,
}

/// All the lines of one transcript, in file order, before any structural check.
#[derive(Debug, Clone, Default)]
pub struct TranscriptRecord {
    pub transcript_id: String,
    pub gene_id: String,
    pub gene_name: String,
    pub features: Vec<Feature>,
}

/// A parsed annotation: transcripts in order of first appearance.
#[derive(Debug, Clone)]
pub struct Annotation {
    pub path: PathBuf,
    pub format: Format,
    pub transcripts: Vec<TranscriptRecord>,
}

impl Annotation {
    /// Read a GTF or GFF3 file (gzip detected from its bytes). The dialect comes from the name
    /// (`.gtf`, `.gff3`, `.gff`, optionally `.gz`), else from the content.
    pub fn read(path: &Path) -> Result<Self, AnnotationError> {
        let file = File::open(path).map_err(|source| AnnotationError::Open { path: path.into(), source })?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let magic = reader.fill_buf().map_err(|source| AnnotationError::Read { at: Location::new(path, 1), source })?;
        if magic.is_empty() {
            return Err(AnnotationError::Empty { path: path.into() });
        }
        let reader: Box<dyn BufRead> = if isoformer_io::sniff(magic) != Compression::None {
            Box::new(BufReader::with_capacity(1 << 16, flate2::bufread::MultiGzDecoder::new(reader)))
        } else {
            Box::new(reader)
        };
        Self::parse(path, reader, Format::of(path))
    }

    /// Parse from a stream; `format` `None` sniffs (`##gff-version 3`, or `key=value` attributes).
    pub fn parse(path: &Path, reader: impl BufRead, format: Option<Format>) -> Result<Self, AnnotationError> {
        let mut lines = Lines { path, format, any_line: false, gtf: Vec::new(), gff3: Gff3Lines::default() };
        let mut n = 0u64;
        for line in reader.lines() {
            n += 1;
            let line = line.map_err(|source| AnnotationError::Read { at: Location::new(path, n), source })?;
            if n == 1 && line.starts_with('\u{feff}') {
                return Err(AnnotationError::ByteOrderMark { path: path.into() });
            }
            if !lines.add(n, line.trim_end_matches('\r'))? {
                break;
            }
        }
        if !lines.any_line {
            return Err(AnnotationError::Empty { path: path.into() });
        }
        let format = lines.format.unwrap_or(Format::Gtf);
        let transcripts = match format {
            Format::Gtf => group_gtf(path, lines.gtf)?,
            Format::Gff3 => group_gff3(path, lines.gff3)?,
        };
        if !transcripts.iter().any(|t| t.features.iter().any(|f| f.kind == FeatureKind::Exon)) {
            return Err(AnnotationError::NoExons { path: path.into() });
        }
        Ok(Self { path: path.into(), format, transcripts })
    }
}

/// A GTF exon or CDS line with its transcript id, gene id and gene name.
struct GtfLine {
    feature: Feature,
    transcript_id: String,
    gene_id: String,
    gene_name: String,
}

/// What GFF3 lines say, kept until the whole file is read (a Parent may come after its child).
#[derive(Default)]
struct Gff3Lines {
    /// Exon and CDS lines with their Parent IDs.
    features: Vec<(Feature, Vec<String>)>,
    /// Every other line with an ID (the first line of each ID).
    ids: HashMap<String, Gff3Parent>,
}

/// A GFF3 line that exon and CDS lines may name as Parent (a transcript, or its gene).
struct Gff3Parent {
    parent: Option<String>,
    attributes: Vec<(String, String)>,
}

/// The line-by-line pass of [`Annotation::parse`].
struct Lines<'a> {
    path: &'a Path,
    format: Option<Format>,
    any_line: bool,
    gtf: Vec<GtfLine>,
    gff3: Gff3Lines,
}

fn attribute<'v>(attrs: &'v [(String, String)], key: &str) -> Option<&'v str> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

impl Lines<'_> {
    /// Take line `n`; `false` at `##FASTA`, where the annotation ends.
    fn add(&mut self, n: u64, line: &str) -> Result<bool, AnnotationError> {
        if line.trim().is_empty() {
            return Ok(true);
        }
        self.any_line = true;
        if line.starts_with("##FASTA") {
            return Ok(false);
        }
        if line.starts_with('#') {
            if self.format.is_none() && line.starts_with("##gff-version 3") {
                self.format = Some(Format::Gff3);
            }
            return Ok(true);
        }
        let at = Location::new(self.path, n);
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 9 {
            return Err(AnnotationError::Fields { at, found: f.len() });
        }
        let format = *self.format.get_or_insert_with(|| if f[8].contains('=') && !f[8].contains('"') { Format::Gff3 } else { Format::Gtf });
        let kind = match (format, f[2]) {
            (_, "exon") => Some(FeatureKind::Exon),
            (_, "CDS") => Some(FeatureKind::Cds),
            (Format::Gtf, "stop_codon") => Some(FeatureKind::Cds),
            _ => None,
        };
        match format {
            Format::Gtf => self.add_gtf(&f, kind, at)?,
            Format::Gff3 => self.add_gff3(&f, kind, at)?,
        }
        Ok(true)
    }

    fn add_gtf(&mut self, f: &[&str], kind: Option<FeatureKind>, at: Location) -> Result<(), AnnotationError> {
        let attrs = gtf_attributes(f[8]).map_err(|source| AnnotationError::Attribute { at: at.clone(), source })?;
        let Some(kind) = kind else { return Ok(()) };
        let required = |key: &'static str| {
            attribute(&attrs, key).map(str::to_string).ok_or_else(|| AnnotationError::MissingAttribute { at: at.clone(), kind: cut(f[2]), key })
        };
        let transcript_id = required("transcript_id")?;
        let gene_id = required("gene_id")?;
        let gene_name = attribute(&attrs, "gene_name").unwrap_or_default().to_string();
        self.gtf.push(GtfLine { feature: feature(f, kind, at)?, transcript_id, gene_id, gene_name });
        Ok(())
    }

    fn add_gff3(&mut self, f: &[&str], kind: Option<FeatureKind>, at: Location) -> Result<(), AnnotationError> {
        let attrs = gff3_attributes(f[8]).map_err(|source| AnnotationError::Attribute { at: at.clone(), source })?;
        let parent = attribute(&attrs, "Parent").map(str::to_string);
        let Some(kind) = kind else {
            if let Some(id) = attribute(&attrs, "ID") {
                self.gff3.ids.entry(id.to_string()).or_insert(Gff3Parent { parent, attributes: attrs });
            }
            return Ok(());
        };
        let feature = feature(f, kind, at.clone())?;
        let parents = parent.ok_or_else(|| AnnotationError::MissingAttribute { at, kind: cut(f[2]), key: "Parent" })?;
        self.gff3.features.push((feature, parents.split(',').map(str::to_string).collect()));
        Ok(())
    }
}

/// Transcripts in order of first appearance, their features in file order.
#[derive(Default)]
struct Transcripts {
    list: Vec<TranscriptRecord>,
    index: HashMap<String, usize>,
}

impl Transcripts {
    /// A transcript keeps one gene id: a line giving another is refused (its exons would be
    /// merged across genes); a gene name fills in when first given.
    fn add(&mut self, path: &Path, transcript_id: &str, gene_id: &str, gene_name: &str, feature: Feature) -> Result<(), AnnotationError> {
        let i = *self.index.entry(transcript_id.to_string()).or_insert_with(|| {
            self.list.push(TranscriptRecord { transcript_id: transcript_id.into(), gene_id: gene_id.into(), gene_name: gene_name.into(), features: Vec::new() });
            self.list.len() - 1
        });
        let t = &mut self.list[i];
        if t.gene_id != gene_id {
            return Err(AnnotationError::TwoGenes {
                at: Location::new(path, feature.line),
                id: transcript_id.into(),
                gene: gene_id.into(),
                first_gene: t.gene_id.clone(),
                first_line: t.features.first().map_or(0, |f| f.line),
            });
        }
        if t.gene_name.is_empty() && !gene_name.is_empty() {
            t.gene_name = gene_name.into();
        }
        t.features.push(feature);
        Ok(())
    }
}

fn group_gtf(path: &Path, lines: Vec<GtfLine>) -> Result<Vec<TranscriptRecord>, AnnotationError> {
    let mut transcripts = Transcripts::default();
    for l in lines {
        transcripts.add(path, &l.transcript_id, &l.gene_id, &l.gene_name, l.feature)?;
    }
    Ok(transcripts.list)
}

/// GFF3: each exon or CDS joins every transcript its Parent names; the transcript's id is its
/// `transcript_id` attribute (else its ID without an Ensembl type prefix); the gene is the
/// transcript's first Parent (its `gene_id` and `Name`), else the transcript's own attributes.
fn group_gff3(path: &Path, lines: Gff3Lines) -> Result<Vec<TranscriptRecord>, AnnotationError> {
    let mut transcripts = Transcripts::default();
    for (feature, parents) in lines.features {
        for parent in parents {
            let Some(Gff3Parent { parent: gene, attributes: attrs }) = lines.ids.get(&parent) else {
                return Err(AnnotationError::UnknownParent { at: Location::new(path, feature.line), parent });
            };
            let tid = attribute(attrs, "transcript_id").unwrap_or_else(|| strip_type(&parent));
            let (gid, gname) = match gene {
                Some(g) => {
                    let g = g.split(',').next().unwrap_or(g);
                    let gattrs = lines.ids.get(g).map(|p| p.attributes.as_slice()).unwrap_or(&[]);
                    (attribute(gattrs, "gene_id").unwrap_or_else(|| strip_type(g)), attribute(gattrs, "Name").or_else(|| attribute(attrs, "gene_name")).unwrap_or_default())
                }
                None => (attribute(attrs, "gene_id").unwrap_or_default(), attribute(attrs, "gene_name").unwrap_or_default()),
            };
            transcripts.add(path, tid, gid, gname, feature.clone())?;
        }
    }
    Ok(transcripts.list)
}

/// Ensembl GFF3 IDs carry their type: `transcript:ENST...`, `gene:ENSG...`.
fn strip_type(id: &str) -> &str {
    for prefix in ["transcript:", "gene:"] {
        if let Some(rest) = id.strip_prefix(prefix) {
            return rest;
        }
    }
    id
}

fn feature(f: &[&str], kind: FeatureKind, at: Location) -> Result<Feature, AnnotationError> {
    let num = |k: usize, what: &'static str| -> Result<u64, AnnotationError> {
        match f[k].parse::<u64>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(AnnotationError::Coordinate { at: at.clone(), what, found: cut(f[k]) }),
        }
    };
    let start = num(3, "start")?;
    let end = num(4, "end")?;
    if start > end {
        return Err(AnnotationError::Span { at, start, end });
    }
    let strand = match f[6] {
        "+" => Strand::Forward,
        "-" => Strand::Reverse,
        other => return Err(AnnotationError::Strand { at, found: cut(other), kind: cut(f[2]) }),
    };
    let phase = match (kind, f[7]) {
        (FeatureKind::Exon, _) | (_, ".") => 0,
        (_, "0") => 0,
        (_, "1") => 1,
        (_, "2") => 2,
        (_, other) => return Err(AnnotationError::Phase { at, found: cut(other) }),
    };
    if f[0].is_empty() {
        return Err(AnnotationError::EmptySequenceName { at });
    }
    Ok(Feature { kind, seq: f[0].into(), start: start - 1, end, strand, phase, line: at.line })
}

/// GTF attributes: `key "value"; key value;` (GTF 2.2). Quoted values may hold `;` and spaces.
pub fn gtf_attributes(field: &str) -> Result<Vec<(String, String)>, AttributeError> {
    let mut out = Vec::new();
    let b = field.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b';') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let key_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b';' && b[i] != b'"' {
            i += 1;
        }
        let key = &field[key_start..i];
        if i >= b.len() || b[i] != b' ' {
            return Err(AttributeError::NoValue { key: key.into() });
        }
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            let close = field[i + 1..].find('"').ok_or_else(|| AttributeError::UnterminatedQuote { key: key.into() })?;
            let v = &field[i + 1..i + 1 + close];
            i += close + 2;
            v
        } else {
            let s = i;
            while i < b.len() && b[i] != b';' && b[i] != b' ' {
                i += 1;
            }
            &field[s..i]
        };
        if value.is_empty() && !field[..i].ends_with("\"\"") {
            return Err(AttributeError::EmptyValue { key: key.into() });
        }
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i < b.len() && b[i] != b';' {
            return Err(AttributeError::NoSemicolon { key: key.into(), found: cut(&field[i..]) });
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// GFF3 attributes: `key=value;key=value`, values percent-decoded.
pub fn gff3_attributes(field: &str) -> Result<Vec<(String, String)>, AttributeError> {
    let mut out = Vec::new();
    if field == "." {
        return Ok(out);
    }
    for part in field.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').ok_or_else(|| AttributeError::NotKeyValue { part: cut(part) })?;
        if k.is_empty() {
            return Err(AttributeError::EmptyKey { part: cut(part) });
        }
        out.push((k.to_string(), percent_decode(v).ok_or_else(|| AttributeError::BadEscape { part: cut(part) })?));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> String {
        k.into()
    }

    fn parse_gtf(text: &str) -> Result<Annotation, AnnotationError> {
        Annotation::parse(Path::new("a.gtf"), text.as_bytes(), Some(Format::Gtf))
    }

    #[test]
    fn one_transcript_under_two_genes_names_both_lines() {
        let text = "1\tx\texon\t1\t10\t.\t+\t.\tgene_id \"G1\"; transcript_id \"T1\";\n\
                    1\tx\texon\t20\t30\t.\t+\t.\tgene_id \"G2\"; transcript_id \"T1\";\n";
        let e = parse_gtf(text).unwrap_err().to_string();
        assert_eq!(e, "a.gtf:2: transcript T1 is in gene G2 here but in gene G1 at line 1: one transcript id under two genes");
    }

    #[test]
    fn a_byte_order_mark_and_long_fields_are_named_briefly() {
        let e = parse_gtf("\u{feff}1\tx\texon\t1\t10\t.\t+\t.\tgene_id \"G1\"; transcript_id \"T1\";\n").unwrap_err().to_string();
        assert_eq!(e, "a.gtf: starts with a UTF-8 byte-order mark (BOM); save it without one");
        let long = "9".repeat(100_000) + "x";
        let e = parse_gtf(&format!("1\tx\texon\t{long}\t10\t.\t+\t.\tgene_id \"G1\"; transcript_id \"T1\";\n")).unwrap_err().to_string();
        assert!(e.len() < 200 && e.contains('…'), "{e}");
    }

    #[test]
    fn gtf_attribute_errors_each_have_their_variant() {
        assert_eq!(gtf_attributes(r#"gene_id "G1"; transcript_id T1;"#).unwrap(), [(key("gene_id"), key("G1")), (key("transcript_id"), key("T1"))]);
        assert_eq!(gtf_attributes(r#"note "a; b""#).unwrap(), [(key("note"), key("a; b"))]);
        assert_eq!(gtf_attributes("gene_id; transcript_id \"T1\";"), Err(AttributeError::NoValue { key: key("gene_id") }));
        assert_eq!(gtf_attributes(r#"gene_id "G1"; transcript_id "T1;"#), Err(AttributeError::UnterminatedQuote { key: key("transcript_id") }));
        assert_eq!(gtf_attributes("gene_id  ;"), Err(AttributeError::EmptyValue { key: key("gene_id") }));
        let e = gtf_attributes(r#"gene_id "G1" x;"#).unwrap_err();
        assert_eq!(e, AttributeError::NoSemicolon { key: key("gene_id"), found: key("x;") });
        assert_eq!(e.to_string(), "attribute `gene_id`: expected `;` after its value, found \"x;\"");
    }

    #[test]
    fn gff3_attribute_errors_each_have_their_variant() {
        assert_eq!(gff3_attributes("ID=a%3Bb;Parent=g").unwrap(), [(key("ID"), key("a;b")), (key("Parent"), key("g"))]);
        assert_eq!(gff3_attributes(".").unwrap(), []);
        assert_eq!(gff3_attributes("ID=T1;oops"), Err(AttributeError::NotKeyValue { part: key("oops") }));
        assert_eq!(gff3_attributes("=x"), Err(AttributeError::EmptyKey { part: key("=x") }));
        assert_eq!(gff3_attributes("ID=a%zz"), Err(AttributeError::BadEscape { part: key("ID=a%zz") }));
        assert_eq!(gff3_attributes("ID=a%"), Err(AttributeError::BadEscape { part: key("ID=a%") }));
    }

    #[test]
    fn line_errors_name_the_line() {
        let parse = |text: &str, format| Annotation::parse(Path::new("a.gtf"), text.as_bytes(), Some(format));
        let e = parse("chr1\tt\texon\t1\t5\t.\t+\t.\tgene_id \"G\"; transcript_id \"T\";\n\tt\texon\t1\t5\t.\t+\t.\tgene_id \"G\"; transcript_id \"T\";\n", Format::Gtf).unwrap_err();
        assert!(matches!(&e, AnnotationError::EmptySequenceName { at } if at.line == 2), "{e}");
        let e = parse("##gff-version 3\nchr1\tt\tmRNA\t1\t9\t.\t+\t.\tID=T1;oops\n", Format::Gff3).unwrap_err();
        assert!(matches!(&e, AnnotationError::Attribute { source: AttributeError::NotKeyValue { .. }, at } if at.line == 2), "{e}");
        assert_eq!(e.to_string(), "a.gtf:2: malformed attribute field: `oops` is not key=value");
        let e = parse("chr1\tt\texon\t1\t5\t.\t+\t.\tParent=T9\n", Format::Gff3).unwrap_err();
        assert!(matches!(&e, AnnotationError::UnknownParent { at, parent } if at.line == 1 && parent == "T9"), "{e}");
    }
}
