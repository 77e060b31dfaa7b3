//! A checked transcript model and the three model inputs built from it.
//!
//! **TSS-centre convention.** For a window of `W` bases, the TSS base sits at 0-based window
//! index `W / 2` (integer division) on both strands, in the transcript's own orientation:
//! - `+` strand: the TSS is the first base of the lowest exon (0-based genomic `t`); the window is
//!   the genome's `t - W/2 .. t - W/2 + W` as is (`W/2` bases upstream, `W - W/2 - 1` downstream
//!   of the TSS).
//! - `-` strand: the TSS is the last base of the highest exon (0-based `t`); the window is the
//!   reverse complement of `t - (W - W/2) + 1 .. t + W/2 + 1`, so that, read 5′→3′ on the
//!   transcript's strand, again `W/2` bases lie upstream of the TSS and `W - W/2 - 1` downstream.
//!
//! Positions past either end of the chromosome are `N`. For the official 196,608 bp window the
//! TSS is index 98,304, with 98,304 bases upstream and 98,303 downstream.

use crate::annotation::{AnnotationError, FeatureKind, TranscriptRecord};
use crate::genome::{Genome, GenomeError};
use crate::{Location, Strand, reverse_complement};
use std::path::Path;

/// A transcript whose exons are on one sequence and strand, do not overlap, and hold its CDS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub transcript_id: String,
    pub gene_id: String,
    pub gene_name: String,
    /// The annotation's sequence name.
    pub seq: String,
    pub strand: Strand,
    /// `(start, end, line)`, 0-based half-open, in genomic order (lowest first).
    pub exons: Vec<(u64, u64, u64)>,
    /// `(start, end, line)` of the CDS (and GTF stop codon) pieces, genomic order.
    pub cds: Vec<(u64, u64, u64)>,
    /// Phase of the 5′-most CDS piece (in transcription order).
    pub cds_phase: u8,
}

impl Transcript {
    /// Check a transcript's records: one sequence and strand, exons disjoint, CDS inside exons.
    pub fn from_record(path: &Path, rec: &TranscriptRecord) -> Result<Self, AnnotationError> {
        let first = rec.features.iter().find(|f| f.kind == FeatureKind::Exon);
        let Some(first) = first else {
            let line = rec.features.first().map_or(0, |f| f.line);
            return Err(AnnotationError::CdsWithoutExons { at: Location::new(path, line), id: rec.transcript_id.clone() });
        };
        for f in &rec.features {
            if f.seq != first.seq || f.strand != first.strand {
                return Err(AnnotationError::Mixed {
                    at: Location::new(path, f.line),
                    id: rec.transcript_id.clone(),
                    seq: f.seq.clone(),
                    strand: f.strand.symbol(),
                    first_seq: first.seq.clone(),
                    first_strand: first.strand.symbol(),
                    first_line: first.line,
                });
            }
        }
        let mut exons: Vec<(u64, u64, u64)> = rec.features.iter().filter(|f| f.kind == FeatureKind::Exon).map(|f| (f.start, f.end, f.line)).collect();
        exons.sort_unstable();
        for w in exons.windows(2) {
            if w[1].0 < w[0].1 {
                let (late, early) = if w[1].2 > w[0].2 { (w[1], w[0]) } else { (w[0], w[1]) };
                return Err(AnnotationError::Overlap { at: Location::new(path, late.2), id: rec.transcript_id.clone(), start: late.0 + 1, end: late.1, other_line: early.2 });
            }
        }
        let mut cds: Vec<(u64, u64, u64)> = Vec::new();
        let mut phases: Vec<(u64, u8)> = Vec::new();
        for f in rec.features.iter().filter(|f| f.kind == FeatureKind::Cds) {
            if !exons.iter().any(|&(s, e, _)| s <= f.start && f.end <= e) {
                return Err(AnnotationError::CdsOutsideExons { at: Location::new(path, f.line), id: rec.transcript_id.clone(), start: f.start + 1, end: f.end });
            }
            cds.push((f.start, f.end, f.line));
            phases.push((f.start, f.phase));
        }
        cds.sort_unstable();
        // A GTF stop codon may repeat bases already in a CDS line (some files include it in both):
        // merge touching or overlapping pieces.
        let mut merged: Vec<(u64, u64, u64)> = Vec::new();
        for c in cds {
            match merged.last_mut() {
                Some(last) if c.0 <= last.1 => last.1 = last.1.max(c.1),
                _ => merged.push(c),
            }
        }
        let cds_phase = match first.strand {
            Strand::Forward => phases.iter().min_by_key(|p| p.0).map_or(0, |p| p.1),
            Strand::Reverse => phases.iter().max_by_key(|p| p.0).map_or(0, |p| p.1),
        };
        Ok(Self {
            transcript_id: rec.transcript_id.clone(),
            gene_id: rec.gene_id.clone(),
            gene_name: rec.gene_name.clone(),
            seq: first.seq.clone(),
            strand: first.strand,
            exons,
            cds: merged,
            cds_phase,
        })
    }

    /// 0-based genomic position of the TSS base.
    pub fn tss(&self) -> u64 {
        match self.strand {
            Strand::Forward => self.exons[0].0,
            Strand::Reverse => self.exons[self.exons.len() - 1].1 - 1,
        }
    }

    /// 0-based genomic `start..end` of the window of `w` bases (may extend past either end of the
    /// chromosome: negative starts are returned as `i64`).
    pub fn window_span(&self, w: u64) -> (i64, i64) {
        window_span(self.tss(), self.strand, w)
    }

    /// 0-based genomic `start..end` of the transcribed span (first to last exon base).
    pub fn span(&self) -> (u64, u64) {
        (self.exons[0].0, self.exons[self.exons.len() - 1].1)
    }
}

/// 0-based `start..end` of the window of `w` bases with the TSS base `tss` at index `w / 2` of
/// the window read on `strand` (see the module docs); may extend past either end of the sequence.
pub fn window_span(tss: u64, strand: Strand, w: u64) -> (i64, i64) {
    let t = tss as i64;
    let (w, half) = (w as i64, (w / 2) as i64);
    match strand {
        Strand::Forward => (t - half, t - half + w),
        Strand::Reverse => (t - (w - half) + 1, t + half + 1),
    }
}

/// The DNA window of `w` bases around `tss` on `strand`, read 5′→3′ on that strand (reverse
/// complement on `-`), from a sequence of `length` bases whose `start..end` bases `fetch` gives;
/// `N` past either end. Returns the window and whether it was padded. `prepare` cuts the
/// reference's windows with it, `score-variants` an alternate haplotype's.
pub fn cut_window<E>(tss: u64, strand: Strand, w: u64, length: u64, mut fetch: impl FnMut(u64, u64) -> Result<Vec<u8>, E>) -> Result<(Vec<u8>, bool), E> {
    let (lo, hi) = window_span(tss, strand, w);
    let (clo, chi) = ((lo.max(0) as u64).min(length), (hi.max(0) as u64).min(length));
    let padded = lo < 0 || hi as u64 > length;
    let mut dna = Vec::with_capacity(w as usize);
    dna.resize((clo as i64 - lo).clamp(0, w as i64) as usize, b'N');
    if clo < chi {
        dna.extend(fetch(clo, chi)?);
    }
    dna.resize(w as usize, b'N');
    if strand == Strand::Reverse {
        dna = reverse_complement(&dna);
    }
    Ok((dna, padded))
}

/// Keep the first `protein_tokens - 2` residues (the model adds `<cls>` and `<eos>`), as the
/// model's own crop does; returns whether anything was dropped.
pub fn crop_protein(protein: &mut String, protein_tokens: usize) -> bool {
    let max_residues = protein_tokens.saturating_sub(2);
    if protein.len() > max_residues {
        protein.truncate(max_residues);
        return true;
    }
    false
}

/// Token limits of the model the examples are for.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// DNA window length.
    pub window: u64,
    /// RNA tokens including CLS (NT-v2 6-mer tokenizer).
    pub rna_tokens: usize,
    /// Protein tokens including `<cls>` and `<eos>`.
    pub protein_tokens: usize,
}

impl Limits {
    /// The official model's limits: 196,608 bp, 2,048 RNA tokens, 1,024 protein tokens.
    pub const OFFICIAL: Limits = Limits { window: 196_608, rna_tokens: 2048, protein_tokens: 1024 };
}

/// What can go wrong turning a checked transcript into sequences.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Genome(#[from] GenomeError),
    #[error("{at}: exon {start}-{end} of transcript {id} lies outside {seq} (length {length})")]
    OutsideSequence { at: Location, id: String, seq: String, start: u64, end: u64, length: u64 },
}

/// The three inputs and their flags for one transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub dna: String,
    pub rna: String,
    pub protein: String,
    /// Sorted, from: `dna_padded`, `rna_cropped`, `protein_cropped`, `cds_start_incomplete`,
    /// `cds_end_incomplete`, `cds_frame_broken`, `cds_internal_stop`.
    pub flags: Vec<&'static str>,
}

/// Build the DNA window, spliced RNA and protein of `t` from `genome` (`seq` is the genome's name
/// for the transcript's sequence).
///
/// Protein: the CDS pieces joined in transcription order, the first piece's phase skipped, then
/// translated with the standard code; `X` for codons with non-ACGT letters. A CDS whose length
/// is not a multiple of 3 or that has a stop codon before its end is frame-broken: flagged, and
/// its protein left empty (never translated into something the annotation does not say). A CDS
/// not starting with ATG (or with phase ≠ 0) or not ending on a stop is incomplete: translated
/// and flagged. The final stop codon is dropped.
pub fn prepare(genome: &mut Genome, seq: &str, annotation: &Path, t: &Transcript, limits: Limits) -> Result<Prepared, PrepareError> {
    let length = genome.length(seq).ok_or_else(|| GenomeError::UnknownSequence { path: genome.path().into(), name: seq.into() })?;
    for &(s, e, line) in &t.exons {
        if e > length {
            return Err(PrepareError::OutsideSequence { at: Location::new(annotation, line), id: t.transcript_id.clone(), seq: seq.into(), start: s + 1, end: e, length });
        }
    }
    let mut flags = Vec::new();
    let (dna, padded) = cut_window(t.tss(), t.strand, limits.window, length, |a, b| genome.fetch(seq, a, b))?;
    if padded {
        flags.push("dna_padded");
    }
    let mut rna = Vec::new();
    for &(s, e, _) in &t.exons {
        rna.extend(genome.fetch(seq, s, e)?);
    }
    let mut coding = Vec::new();
    for &(s, e, _) in &t.cds {
        coding.extend(genome.fetch(seq, s, e)?);
    }
    if t.strand == Strand::Reverse {
        rna = reverse_complement(&rna);
        coding = reverse_complement(&coding);
    }
    let mut protein = String::new();
    if !coding.is_empty() {
        let (p, f) = translate_cds(&coding, t.cds_phase);
        protein = p;
        flags.extend(f);
    }
    let full = rna.len();
    let rna = crop_rna(&rna, limits.rna_tokens);
    if rna.len() < full {
        flags.push("rna_cropped");
    }
    if crop_protein(&mut protein, limits.protein_tokens) {
        flags.push("protein_cropped");
    }
    flags.sort_unstable();
    Ok(Prepared { dna: String::from_utf8(dna).expect("ascii"), rna: String::from_utf8(rna.to_vec()).expect("ascii"), protein, flags })
}

/// Translate a coding sequence (5′→3′, upper case). Returns the protein (empty when
/// frame-broken) and the flags.
pub fn translate_cds(coding: &[u8], phase: u8) -> (String, Vec<&'static str>) {
    let mut flags = Vec::new();
    let body = &coding[(phase as usize).min(coding.len())..];
    if phase != 0 || !body.starts_with(b"ATG") {
        flags.push("cds_start_incomplete");
    }
    if !body.len().is_multiple_of(3) {
        flags.push("cds_frame_broken");
    }
    let mut protein: Vec<u8> = body.chunks_exact(3).map(codon).collect();
    let ends_on_stop = protein.last() == Some(&b'*') && body.len().is_multiple_of(3);
    if ends_on_stop {
        protein.pop();
    } else {
        flags.push("cds_end_incomplete");
    }
    if protein.contains(&b'*') {
        flags.push("cds_internal_stop");
    }
    if flags.contains(&"cds_frame_broken") || flags.contains(&"cds_internal_stop") {
        return (String::new(), flags);
    }
    (String::from_utf8(protein).expect("ascii"), flags)
}

/// Translate `rna` (5′→3′, DNA letters) from `start` in frame up to the first stop codon, which
/// is not included; without a stop before the RNA ends, up to the last whole codon, and the
/// second value is `true` (`no_stop`). `X` for codons with other letters than ACGT.
pub fn translate_until_stop(rna: &[u8], start: usize) -> (String, bool) {
    let mut protein = Vec::new();
    for c in rna[start.min(rna.len())..].chunks_exact(3) {
        match codon(c) {
            b'*' => return (String::from_utf8(protein).expect("ascii"), false),
            aa => protein.push(aa),
        }
    }
    (String::from_utf8(protein).expect("ascii"), true)
}

/// The standard genetic code (NCBI table 1); `*` for stops, `X` for codons with other letters.
pub fn codon(c: &[u8]) -> u8 {
    const AA: &[u8; 64] = b"KNKNTTTTRSRSIIMIQHQHPPPPRRRRLLLLEDEDAAAAGGGGVVVV*Y*YSSSS*CWCLFLF";
    let mut i = 0;
    for &b in c {
        let v = match b {
            b'A' => 0,
            b'C' => 1,
            b'G' => 2,
            b'T' => 3,
            _ => return b'X',
        };
        i = i * 4 + v;
    }
    AA[i]
}

/// Keep the 3′ end of `rna` so that it tokenizes into at most `max_tokens` NT-v2 tokens (CLS
/// included), dropping whole tokens from the 5′ end exactly as the model's own crop does
/// (`Predictor::encode`): runs of ACGT make 6-mers, a run's leftover bases and every other letter
/// are single tokens.
pub fn crop_rna(rna: &[u8], max_tokens: usize) -> &[u8] {
    let mut starts = Vec::with_capacity(rna.len() / 6 + 8);
    let mut run = 0usize;
    let mut run_start = 0usize;
    for (i, &b) in rna.iter().enumerate() {
        if matches!(b, b'A' | b'C' | b'G' | b'T') {
            if run == 0 {
                run_start = i;
            }
            run += 1;
            if run == 6 {
                starts.push(run_start);
                run = 0;
            }
        } else {
            starts.extend(run_start..run_start + run);
            run = 0;
            starts.push(i);
        }
    }
    starts.extend(run_start..run_start + run);
    let room = max_tokens.saturating_sub(1);
    if starts.len() <= room {
        return rna;
    }
    &rna[starts[starts.len() - room]..]
}
