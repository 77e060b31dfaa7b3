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

use crate::{Location, Strand};

#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{at}: read failed: {source}")]
    Read { at: Location, source: io::Error },
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
    #[error("{at}: malformed attribute field: {message}")]
    Attribute { at: Location, message: String },
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

/// Which annotation dialect a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gtf,
    Gff3,
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
        let reader: Box<dyn BufRead> = if magic.starts_with(&[0x1f, 0x8b]) {
            Box::new(BufReader::with_capacity(1 << 16, flate2::bufread::MultiGzDecoder::new(reader)))
        } else {
            Box::new(reader)
        };
        let name = path.to_string_lossy().to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let format = if name.ends_with(".gtf") {
            Some(Format::Gtf)
        } else if name.ends_with(".gff3") || name.ends_with(".gff") {
            Some(Format::Gff3)
        } else {
            None
        };
        Self::parse(path, reader, format)
    }

    /// Parse from a stream; `format` `None` sniffs (`##gff-version 3`, or `key=value` attributes).
    pub fn parse(path: &Path, reader: impl BufRead, format: Option<Format>) -> Result<Self, AnnotationError> {
        let mut format = format;
        let mut gtf: Vec<(Feature, String, String, String)> = Vec::new();
        let mut gff_features: Vec<(Feature, Vec<String>)> = Vec::new();
        // GFF3 ID → (Parent, attributes, line)
        let mut gff_ids: HashMap<String, (Option<String>, Vec<(String, String)>, u64)> = HashMap::new();
        let mut any_line = false;
        let mut n = 0u64;
        for line in reader.lines() {
            n += 1;
            let at = || Location::new(path, n);
            let line = line.map_err(|source| AnnotationError::Read { at: at(), source })?;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            any_line = true;
            if line.starts_with("##FASTA") {
                break;
            }
            if line.starts_with('#') {
                if format.is_none() && line.starts_with("##gff-version 3") {
                    format = Some(Format::Gff3);
                }
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 9 {
                return Err(AnnotationError::Fields { at: at(), found: f.len() });
            }
            let format = *format.get_or_insert_with(|| if f[8].contains('=') && !f[8].contains('"') { Format::Gff3 } else { Format::Gtf });
            let kind = match (format, f[2]) {
                (_, "exon") => Some(FeatureKind::Exon),
                (_, "CDS") => Some(FeatureKind::Cds),
                (Format::Gtf, "stop_codon") => Some(FeatureKind::Cds),
                _ => None,
            };
            if format == Format::Gff3 {
                let attrs = gff3_attributes(f[8]).map_err(|message| AnnotationError::Attribute { at: at(), message })?;
                let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
                if let Some(id) = get("ID")
                    && kind.is_none()
                {
                    gff_ids.entry(id).or_insert((get("Parent"), attrs.clone(), n));
                }
                if let Some(kind) = kind {
                    let feature = feature(&f, kind, at())?;
                    let parents = get("Parent").ok_or_else(|| AnnotationError::MissingAttribute { at: at(), kind: f[2].into(), key: "Parent" })?;
                    gff_features.push((feature, parents.split(',').map(str::to_string).collect()));
                }
            } else {
                let attrs = gtf_attributes(f[8]).map_err(|message| AnnotationError::Attribute { at: at(), message })?;
                let Some(kind) = kind else { continue };
                let get = |k: &'static str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
                let tid = get("transcript_id").ok_or_else(|| AnnotationError::MissingAttribute { at: at(), kind: f[2].into(), key: "transcript_id" })?;
                let gid = get("gene_id").ok_or_else(|| AnnotationError::MissingAttribute { at: at(), kind: f[2].into(), key: "gene_id" })?;
                let gname = get("gene_name").unwrap_or_default();
                gtf.push((feature(&f, kind, at())?, tid, gid, gname));
            }
        }
        if !any_line {
            return Err(AnnotationError::Empty { path: path.into() });
        }
        let format = format.unwrap_or(Format::Gtf);
        let mut transcripts: Vec<TranscriptRecord> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut add = |tid: &str, gid: &str, gname: &str, feature: Feature| {
            let i = *index.entry(tid.to_string()).or_insert_with(|| {
                transcripts.push(TranscriptRecord { transcript_id: tid.into(), gene_id: gid.into(), gene_name: gname.into(), features: Vec::new() });
                transcripts.len() - 1
            });
            if transcripts[i].gene_name.is_empty() && !gname.is_empty() {
                transcripts[i].gene_name = gname.into();
            }
            transcripts[i].features.push(feature);
        };
        if format == Format::Gtf {
            for (feature, tid, gid, gname) in gtf {
                add(&tid, &gid, &gname, feature);
            }
        } else {
            for (feature, parents) in gff_features {
                for parent in parents {
                    let Some((gene, attrs, _)) = gff_ids.get(&parent) else {
                        return Err(AnnotationError::UnknownParent { at: Location::new(path, feature.line), parent });
                    };
                    let get = |a: &[(String, String)], k: &str| a.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
                    let tid = get(attrs, "transcript_id").unwrap_or_else(|| strip_type(&parent).to_string());
                    let (gid, gname) = match gene {
                        Some(g) => {
                            let g = g.split(',').next().unwrap_or(g);
                            let gattrs = gff_ids.get(g).map(|(_, a, _)| a.as_slice()).unwrap_or(&[]);
                            (
                                get(gattrs, "gene_id").unwrap_or_else(|| strip_type(g).to_string()),
                                get(gattrs, "Name").or_else(|| get(attrs, "gene_name")).unwrap_or_default(),
                            )
                        }
                        None => (get(attrs, "gene_id").unwrap_or_default(), get(attrs, "gene_name").unwrap_or_default()),
                    };
                    add(&tid, &gid, &gname, feature.clone());
                }
            }
        }
        if !transcripts.iter().any(|t| t.features.iter().any(|f| f.kind == FeatureKind::Exon)) {
            return Err(AnnotationError::NoExons { path: path.into() });
        }
        Ok(Self { path: path.into(), format, transcripts })
    }
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
            _ => Err(AnnotationError::Coordinate { at: at.clone(), what, found: f[k].into() }),
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
        other => return Err(AnnotationError::Strand { at, found: other.into(), kind: f[2].into() }),
    };
    let phase = match (kind, f[7]) {
        (FeatureKind::Exon, _) | (_, ".") => 0,
        (_, "0") => 0,
        (_, "1") => 1,
        (_, "2") => 2,
        (_, other) => return Err(AnnotationError::Phase { at, found: other.into() }),
    };
    if f[0].is_empty() {
        return Err(AnnotationError::Attribute { at, message: "empty sequence name (column 1)".into() });
    }
    Ok(Feature { kind, seq: f[0].into(), start: start - 1, end, strand, phase, line: at.line })
}

/// GTF attributes: `key "value"; key value;` (GTF 2.2). Quoted values may hold `;` and spaces.
pub fn gtf_attributes(field: &str) -> Result<Vec<(String, String)>, String> {
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
            return Err(format!("attribute `{key}` has no value (expected `key \"value\";`)"));
        }
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            let close = field[i + 1..].find('"').ok_or_else(|| format!("attribute `{key}`: unterminated quote"))?;
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
            return Err(format!("attribute `{key}` has no value"));
        }
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i < b.len() && b[i] != b';' {
            return Err(format!("attribute `{key}`: expected `;` after its value, found {:?}", &field[i..]));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// GFF3 attributes: `key=value;key=value`, values percent-decoded.
pub fn gff3_attributes(field: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    if field == "." {
        return Ok(out);
    }
    for part in field.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').ok_or_else(|| format!("`{part}` is not key=value"))?;
        if k.is_empty() {
            return Err(format!("`{part}` has an empty key"));
        }
        out.push((k.to_string(), percent_decode(v).ok_or_else(|| format!("`{part}`: bad percent escape"))?));
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
