//! Variants from a VCF onto transcripts: the contract `isoformer score-variants` and the page's
//! Variants section share, from a VCF record to the reference and alternate model inputs of
//! every transcript it touches, with one consequence class per pair.
//!
//! Coordinates are the VCF's: 1-based `POS`, `REF` spanning `POS..POS+len(REF)-1` on the
//! genome's forward strand; in here 0-based half-open `s..e`, as everywhere in this crate.
//!
//! 1. **Records** ([`read_vcf`], noodles-vcf): a record with k ALT alleles gives k [`Variant`]s.
//!    ALT must be `[ACGTNacgtn]+`; symbolic alleles (`<DEL>`, `<*>`), `*`, breakends and a
//!    missing ALT (`.`) are skipped and counted ([`Skipped`]). REF must be `[ACGTNacgtn]+` and
//!    equal the genome there (case-insensitive), else an error naming the VCF line and the
//!    genome's bases, or, with [`RefMismatch::Skip`], a counted skip. The VCF need not be sorted;
//!    the same CHROM/POS/REF/ALT twice is an error naming both lines.
//! 2. **Transcripts**: every transcript whose reference DNA window (the `L` bases `prepare` cuts)
//!    or transcribed span (first to last exon base) shares a base with `s..e`.
//! 3. **DNA**: the window cut by `prepare`'s rule ([`cut_window`]) from the alternate haplotype
//!    (the genome with REF replaced by ALT), centred on the TSS base's position there: it moves
//!    by `len(ALT) - len(REF)` when `s..e` lies wholly before it, not when wholly after; an indel
//!    whose REF contains the TSS base is skipped (`tss_indel`).
//! 4. **RNA**: REF inside one exon edits that exon and the RNA is re-spliced; REF crossing an
//!    exon edge (`exon_boundary`) or touching the 2 intronic bases next to an exon edge that is
//!    an intron boundary (`splice_site`) leaves RNA and protein as the reference; elsewhere the
//!    RNA is unchanged.
//! 5. **Protein** (RNA changed, transcript coding: its reference protein is not empty): from the
//!    reference CDS start (plus its phase) mapped onto the edited RNA, codons read in frame up to
//!    the first stop ([`translate_until_stop`]); no stop before the RNA ends: `no_stop`; a start
//!    codon that was ATG and is no longer: empty protein, `start_lost`.
//! 6. **Crops**: as `prepare` and `predict` crop ([`crop_rna`], [`crop_protein`]).

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::genome::{ChromMap, Genome, GenomeError};
use crate::transcript::{Limits, PrepareError, Prepared, Transcript, crop_protein, crop_rna, cut_window, prepare, translate_until_stop};
use crate::{Location, Strand, reverse_complement};

/// What can go wrong reading a VCF or placing its variants.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    #[error("{at}: read failed: {source}")]
    Read { at: Location, source: io::Error },
    #[error("{}: empty file (not a VCF)", isoformer_io::shown(path).display())]
    Empty { path: PathBuf },
    #[error("{at}: not a VCF: the first line must be `##fileformat=VCFv4.x`")]
    NotVcf { at: Location },
    #[error("{at}: record before the `#CHROM` column header line")]
    NoColumnHeader { at: Location },
    #[error("{}: no `#CHROM` column header line", isoformer_io::shown(path).display())]
    NoRecordsHeader { path: PathBuf },
    #[error("{}: invalid VCF header: {source}", isoformer_io::shown(path).display())]
    Header { path: PathBuf, source: noodles_vcf::header::ParseError },
    #[error("{at}: empty line")]
    EmptyLine { at: Location },
    #[error("{at}: {found} tab-separated fields, a VCF record has at least 8 (CHROM POS ID REF ALT QUAL FILTER INFO)")]
    Fields { at: Location, found: usize },
    #[error("{at}: malformed record: {source}")]
    Malformed { at: Location, source: io::Error },
    #[error("{at}: empty CHROM")]
    EmptyChrom { at: Location },
    #[error("{at}: POS 0 (VCF positions are 1-based; telomere records are not scored)")]
    PositionZero { at: Location },
    #[error("{at}: POS {found:?} is not a positive integer")]
    Position { at: Location, found: String },
    #[error("{at}: REF {found:?} must be one or more of A, C, G, T, N")]
    BadRef { at: Location, found: String },
    #[error("{at}: ALT {found:?} must be one or more of A, C, G, T, N (symbolic alleles, `*` and breakends are skipped)")]
    BadAlt { at: Location, found: String },
    #[error("{at}: variant {id} repeats line {first}")]
    Duplicate { at: Location, id: String, first: u64 },
    #[error("{at}: contig `{chrom}` is not in {} (it has {names})", genome.display())]
    UnknownContig { at: Location, chrom: String, genome: PathBuf, names: String },
    #[error("{at}: REF {chrom}:{pos}-{end} lies past the end of {seq} ({length} bp in {})", genome.display())]
    PastEnd { at: Location, chrom: String, pos: u64, end: u64, seq: String, length: u64, genome: PathBuf },
    #[error("{at}: contig {chrom} has length {length} here but {genome_length} in {} (another assembly?)", genome.display())]
    ContigLength { at: Location, chrom: String, length: u64, genome_length: u64, genome: PathBuf },
    #[error("{at}: REF {found} at {chrom}:{pos} does not match the genome, which has {genome_bases} there ({})", genome.display())]
    RefMismatch { at: Location, chrom: String, pos: u64, found: String, genome_bases: String, genome: PathBuf },
    #[error(transparent)]
    Genome(#[from] GenomeError),
    #[error(transparent)]
    Prepare(#[from] PrepareError),
}

/// One alternate allele of one VCF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The VCF file and line.
    pub at: Location,
    /// CHROM as written.
    pub chrom: String,
    /// 1-based POS.
    pub pos: u64,
    /// ID as written (`.` when missing).
    pub vcf_id: String,
    /// REF and ALT as written.
    pub reference: String,
    pub alt: String,
}

impl Variant {
    /// `CHROM:POS:REF:ALT`.
    pub fn id(&self) -> String {
        format!("{}:{}:{}:{}", self.chrom, self.pos, self.reference, self.alt)
    }

    /// 0-based `s..e` of REF.
    pub fn span(&self) -> (u64, u64) {
        (self.pos - 1, self.pos - 1 + self.reference.len() as u64)
    }
}

/// Alleles and pairs not scored, by reason; printed in the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// `<DEL>`, `<*>`, … alleles.
    pub symbolic: usize,
    /// `*` (an allele missing because of an overlapping deletion).
    pub star: usize,
    /// Breakends (`G]17:198982]`, `.A`, …).
    pub breakend: usize,
    /// ALT `.` (no alternate allele).
    pub missing_alt: usize,
    /// REF not as in the genome, with `--ref-mismatch skip`.
    pub ref_mismatch: usize,
    /// (variant, transcript) pairs: an indel whose REF holds the TSS base.
    pub tss_indel: usize,
}

impl Skipped {
    /// `reason: count` for every non-zero count, comma-separated (empty when nothing was skipped).
    pub fn summary(&self) -> String {
        let parts = [
            ("symbolic ALT", self.symbolic),
            ("`*` ALT", self.star),
            ("breakend ALT", self.breakend),
            ("missing ALT `.`", self.missing_alt),
            ("ref_mismatch", self.ref_mismatch),
            ("tss_indel pairs", self.tss_indel),
        ];
        parts.iter().filter(|p| p.1 > 0).map(|(n, c)| format!("{n}: {c}")).collect::<Vec<_>>().join(", ")
    }
}

/// A VCF's variants in file order, and the alleles skipped on reading.
#[derive(Debug, Clone)]
pub struct Vcf {
    pub path: PathBuf,
    pub header: noodles_vcf::Header,
    pub records: usize,
    pub variants: Vec<Variant>,
    pub skipped: Skipped,
    /// The header line of each `##contig` (by ID).
    pub contig_lines: HashMap<String, u64>,
}

fn is_acgtn(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b.to_ascii_uppercase(), b'A' | b'C' | b'G' | b'T' | b'N'))
}

/// Read a whole VCF 4.x (already decompressed: `isoformer_io::open_input` handles gzip, bgzip
/// and `-`): its header through noodles-vcf, then every record (see the module docs for what is
/// checked and what is skipped). Genotype columns are not read.
pub fn read_vcf(path: &Path, reader: impl BufRead) -> Result<Vcf, VariantError> {
    let at = |line: u64| Location::new(path, line);
    let mut header_text = String::new();
    let mut header: Option<noodles_vcf::Header> = None;
    let mut variants = Vec::new();
    let mut skipped = Skipped::default();
    let mut records = 0;
    let mut seen: HashMap<(String, u64, String, String), u64> = HashMap::new();
    let mut contig_lines = HashMap::new();
    let mut n = 0u64;
    for line in reader.lines() {
        n += 1;
        let line = line.map_err(|source| VariantError::Read { at: at(n), source })?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if n == 1 && !line.starts_with("##fileformat=VCF") {
            return Err(VariantError::NotVcf { at: at(1) });
        }
        if header.is_none() {
            if line.starts_with('#') {
                if let Some(rest) = line.strip_prefix("##contig=<ID=") {
                    let id: String = rest.chars().take_while(|&c| c != ',' && c != '>').collect();
                    contig_lines.insert(id, n);
                }
                header_text.push_str(line);
                header_text.push('\n');
                if line.starts_with("#CHROM") {
                    let h = noodles_vcf::Header::from_str(&header_text).map_err(|source| VariantError::Header { path: path.into(), source })?;
                    header = Some(h);
                }
                continue;
            }
            return Err(VariantError::NoColumnHeader { at: at(n) });
        }
        if line.is_empty() {
            return Err(VariantError::EmptyLine { at: at(n) });
        }
        let fields = line.split('\t').count();
        if fields < 8 {
            return Err(VariantError::Fields { at: at(n), found: fields });
        }
        let record = noodles_vcf::Record::try_from(line.as_bytes()).map_err(|source| VariantError::Malformed { at: at(n), source })?;
        records += 1;
        let chrom = record.reference_sequence_name();
        if chrom.is_empty() || chrom == "." {
            return Err(VariantError::EmptyChrom { at: at(n) });
        }
        let pos = match record.variant_start() {
            None => return Err(VariantError::PositionZero { at: at(n) }),
            Some(Ok(p)) => usize::from(p) as u64,
            Some(Err(_)) => return Err(VariantError::Position { at: at(n), found: line.split('\t').nth(1).unwrap_or("").to_string() }),
        };
        let reference = record.reference_bases();
        if !is_acgtn(reference) {
            return Err(VariantError::BadRef { at: at(n), found: reference.to_string() });
        }
        let ids = record.ids();
        let ids: &str = ids.as_ref();
        let vcf_id = if ids.is_empty() { ".".to_string() } else { ids.to_string() };
        let alts = record.alternate_bases();
        let alts: &str = alts.as_ref();
        if alts.is_empty() {
            skipped.missing_alt += 1;
            continue;
        }
        for alt in alts.split(',') {
            if alt == "*" {
                skipped.star += 1;
            } else if alt.starts_with('<') && alt.ends_with('>') {
                skipped.symbolic += 1;
            } else if alt.contains('[') || alt.contains(']') || (alt.len() > 1 && (alt.starts_with('.') || alt.ends_with('.'))) {
                skipped.breakend += 1;
            } else if !is_acgtn(alt) {
                return Err(VariantError::BadAlt { at: at(n), found: alt.to_string() });
            } else {
                let key = (chrom.to_string(), pos, reference.to_ascii_uppercase(), alt.to_ascii_uppercase());
                let v = Variant { at: at(n), chrom: chrom.into(), pos, vcf_id: vcf_id.clone(), reference: reference.into(), alt: alt.into() };
                if let Some(&first) = seen.get(&key) {
                    return Err(VariantError::Duplicate { at: at(n), id: v.id(), first });
                }
                seen.insert(key, n);
                variants.push(v);
            }
        }
    }
    let Some(header) = header else {
        if n == 0 {
            return Err(VariantError::Empty { path: path.into() });
        }
        return Err(VariantError::NoRecordsHeader { path: path.into() });
    };
    Ok(Vcf { path: path.into(), header, records, variants, skipped, contig_lines })
}

/// A `##contig` whose declared length differs from the genome's sequence of that name (after
/// `prepare`'s name reconciliation) means another assembly: refused, naming its header line.
/// Contigs without a length, that the genome lacks, or of which it holds a region, are not
/// checked here.
pub fn check_contigs(vcf: &Vcf, genome: &Genome, chrom_map: &ChromMap) -> Result<(), VariantError> {
    for (name, contig) in vcf.header.contigs() {
        let (Some(length), Some(seq)) = (contig.length(), chrom_map.resolve(genome, name)) else { continue };
        if genome.is_region(seq) {
            continue;
        }
        let genome_length = genome.length(seq).expect("resolved");
        if length as u64 != genome_length {
            let line = vcf.contig_lines.get(name.as_str()).copied().unwrap_or(1);
            return Err(VariantError::ContigLength { at: Location::new(&vcf.path, line), chrom: name.to_string(), length: length as u64, genome_length, genome: genome.path().into() });
        }
    }
    Ok(())
}

/// What to do when a VCF's REF is not the genome's sequence there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefMismatch {
    /// Stop with an error naming the line and the genome's bases.
    #[default]
    Error,
    /// Skip the variant and count it.
    Skip,
}

/// A pair's consequence class, in the order the first that applies is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consequence {
    ExonBoundary,
    SpliceSite,
    StartLost,
    Frameshift,
    InframeIndel,
    StopGained,
    StopLost,
    Missense,
    Synonymous,
    FivePrimeUtr,
    ThreePrimeUtr,
    NoncodingExon,
    Intron,
    Upstream,
    Downstream,
}

impl Consequence {
    pub fn name(self) -> &'static str {
        match self {
            Consequence::ExonBoundary => "exon_boundary",
            Consequence::SpliceSite => "splice_site",
            Consequence::StartLost => "start_lost",
            Consequence::Frameshift => "frameshift",
            Consequence::InframeIndel => "inframe_indel",
            Consequence::StopGained => "stop_gained",
            Consequence::StopLost => "stop_lost",
            Consequence::Missense => "missense",
            Consequence::Synonymous => "synonymous",
            Consequence::FivePrimeUtr => "5_prime_utr",
            Consequence::ThreePrimeUtr => "3_prime_utr",
            Consequence::NoncodingExon => "noncoding_exon",
            Consequence::Intron => "intron",
            Consequence::Upstream => "upstream",
            Consequence::Downstream => "downstream",
        }
    }
}

/// Which of the three model inputs an alternate allele changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Changed {
    pub dna: bool,
    pub rna: bool,
    pub protein: bool,
}

impl Changed {
    /// The `changed` column: a comma-separated subset of `dna,rna,protein` (empty for none).
    pub fn column(self) -> String {
        let parts = [("dna", self.dna), ("rna", self.rna), ("protein", self.protein)];
        parts.iter().filter(|p| p.1).map(|p| p.0).collect::<Vec<_>>().join(",")
    }
}

/// A transcript with its reference inputs (what `prepare` writes for it).
#[derive(Debug, Clone)]
pub struct Reference {
    pub transcript: Transcript,
    /// The genome's name for its sequence.
    pub seq: String,
    pub inputs: Prepared,
}

/// One scored (variant, transcript) pair.
#[derive(Debug, Clone)]
pub struct Pair {
    /// Index into the variants given to [`Planner::pairs`].
    pub variant: usize,
    /// Index into [`Planner::transcripts`].
    pub transcript: usize,
    pub consequence: Consequence,
    pub changed: Changed,
    /// The alternate allele's inputs; flags as `prepare`'s plus `no_stop` and `start_lost`.
    pub alt: Prepared,
}

/// Options of a scoring run.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    pub limits: Limits,
    pub ref_mismatch: RefMismatch,
}

/// Transcripts indexed for overlap queries; turns variants into pairs (see the module docs).
pub struct Planner {
    annotation: PathBuf,
    transcripts: Vec<Transcript>,
    /// Genome sequence name per transcript (`None`: not in the genome, never scored).
    seqs: Vec<Option<String>>,
    /// Per genome sequence: `(lo, hi, transcript)` of window ∪ transcribed span, sorted by `lo`,
    /// and the longest such interval.
    index: HashMap<String, (Vec<(u64, u64, usize)>, u64)>,
    references: HashMap<usize, (Prepared, Vec<u8>)>,
    options: PlanOptions,
    /// Per transcript, whether its pairs are scored (all but a shard's others: [`Planner::only`]).
    scored: Vec<bool>,
    /// Alleles and pairs skipped so far.
    pub skipped: Skipped,
}

impl Planner {
    /// Index `transcripts` (checked, from `annotation`) on the genome's sequence names, reconciled
    /// as `prepare` does. Transcripts on sequences the genome lacks are never scored; see
    /// [`Planner::absent`].
    pub fn new(genome: &Genome, chrom_map: &ChromMap, annotation: &Path, transcripts: Vec<Transcript>, options: PlanOptions) -> Self {
        let seqs: Vec<Option<String>> = transcripts.iter().map(|t| chrom_map.resolve(genome, &t.seq).map(str::to_string)).collect();
        let mut index: HashMap<String, (Vec<(u64, u64, usize)>, u64)> = HashMap::new();
        for (i, (t, seq)) in transcripts.iter().zip(&seqs).enumerate() {
            let Some(seq) = seq else { continue };
            let (wlo, whi) = t.window_span(options.limits.window);
            let (slo, shi) = t.span();
            let lo = (wlo.max(0) as u64).min(slo);
            let hi = (whi.max(0) as u64).max(shi);
            let entry = index.entry(seq.clone()).or_default();
            entry.0.push((lo, hi, i));
            entry.1 = entry.1.max(hi - lo);
        }
        for (list, _) in index.values_mut() {
            list.sort_unstable();
        }
        let scored = vec![true; transcripts.len()];
        Self { annotation: annotation.into(), transcripts, seqs, index, references: HashMap::new(), options, scored, skipped: Skipped::default() }
    }

    /// The annotation file the transcripts come from.
    pub fn annotation(&self) -> &Path {
        &self.annotation
    }

    pub fn transcripts(&self) -> &[Transcript] {
        &self.transcripts
    }

    /// Transcripts on sequences the genome does not have.
    pub fn absent(&self) -> usize {
        self.seqs.iter().filter(|s| s.is_none()).count()
    }

    /// The genome sequence of transcript `i` (`None` when the genome lacks it).
    pub fn seq(&self, i: usize) -> Option<&str> {
        self.seqs[i].as_deref()
    }

    /// Transcript `i`'s reference inputs, as `prepare` writes them (built once, then kept).
    pub fn reference(&mut self, genome: &mut Genome, i: usize) -> Result<Reference, VariantError> {
        let seq = self.seqs[i].clone().expect("only transcripts on the genome's sequences are scored");
        let inputs = self.reference_parts(genome, i)?.0.clone();
        Ok(Reference { transcript: self.transcripts[i].clone(), seq, inputs })
    }

    fn reference_parts(&mut self, genome: &mut Genome, i: usize) -> Result<&(Prepared, Vec<u8>), VariantError> {
        if !self.references.contains_key(&i) {
            let t = &self.transcripts[i];
            let seq = self.seqs[i].as_deref().expect("on the genome");
            let inputs = prepare(genome, seq, &self.annotation, t, self.options.limits)?;
            let mut rna = Vec::new();
            for &(s, e, _) in &t.exons {
                rna.extend(genome.fetch(seq, s, e)?);
            }
            if t.strand == Strand::Reverse {
                rna = reverse_complement(&rna);
            }
            self.references.insert(i, (inputs, rna));
        }
        Ok(&self.references[&i])
    }

    /// Forget the reference inputs kept so far (their predictions are kept by the caller).
    pub fn forget_references(&mut self) {
        self.references.clear();
    }

    /// Check variant `v` against the genome: its contig (reconciled as `prepare` does), its span
    /// and its REF. `Ok(None)`: a REF mismatch skipped under [`RefMismatch::Skip`] (counted).
    pub fn check(&mut self, genome: &mut Genome, chrom_map: &ChromMap, v: &Variant) -> Result<Option<String>, VariantError> {
        let Some(seq) = chrom_map.resolve(genome, &v.chrom).map(str::to_string) else {
            let names = genome.names();
            let shown = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            let names = if names.len() > 5 { format!("{shown}, ...") } else { shown };
            return Err(VariantError::UnknownContig { at: v.at.clone(), chrom: v.chrom.clone(), genome: genome.path().into(), names });
        };
        let length = genome.length(&seq).expect("resolved");
        let (s, e) = v.span();
        if e > length {
            return Err(VariantError::PastEnd { at: v.at.clone(), chrom: v.chrom.clone(), pos: v.pos, end: e, seq, length, genome: genome.path().into() });
        }
        let bases = genome.fetch(&seq, s, e)?;
        if !bases.eq_ignore_ascii_case(v.reference.as_bytes()) {
            if self.options.ref_mismatch == RefMismatch::Skip {
                self.skipped.ref_mismatch += 1;
                return Ok(None);
            }
            let genome_bases = String::from_utf8_lossy(&bases).into_owned();
            return Err(VariantError::RefMismatch { at: v.at.clone(), chrom: v.chrom.clone(), pos: v.pos, found: v.reference.clone(), genome_bases, genome: genome.path().into() });
        }
        Ok(Some(seq))
    }

    /// Indexes of the transcripts on `seq` whose window or transcribed span shares a base with
    /// `s..e`, in annotation order.
    pub fn overlapping(&self, seq: &str, s: u64, e: u64) -> Vec<usize> {
        let Some((list, longest)) = self.index.get(seq) else { return Vec::new() };
        let end = list.partition_point(|&(lo, _, _)| lo < e);
        let mut hits: Vec<usize> = list[..end].iter().rev().take_while(|&&(lo, _, _)| lo + longest > s).filter(|&&(_, hi, _)| hi > s).map(|&(_, _, i)| i).collect();
        hits.sort_unstable();
        hits
    }

    /// Score only the pairs of the transcripts where `scored` is true (one shard of a run;
    /// every transcript by default). References of the others can still be asked for.
    pub fn only(&mut self, scored: Vec<bool>) {
        assert_eq!(scored.len(), self.transcripts.len(), "one flag per transcript");
        self.scored = scored;
    }

    /// The transcripts variant `v` (checked onto `seq`) is scored against, in annotation order,
    /// whether or not [`Planner::only`] leaves them out: [`Planner::pairs`]' transcripts without
    /// building any input (a run's row numbers, cheaply). `tss_indel` pairs are left out, not
    /// counted.
    pub fn pair_transcripts(&self, seq: &str, v: &Variant) -> Vec<usize> {
        let (s, e) = v.span();
        self.overlapping(seq, s, e).into_iter().filter(|&i| !tss_indel(&self.transcripts[i], v)).collect()
    }

    /// Every scored pair of variant `v` (number `index` for [`Pair::variant`]), checked by
    /// [`Planner::check`] onto genome sequence `seq`; `tss_indel` pairs are counted, not returned.
    pub fn pairs(&mut self, genome: &mut Genome, index: usize, seq: &str, v: &Variant) -> Result<Vec<Pair>, VariantError> {
        let (s, e) = v.span();
        let mut out = Vec::new();
        let scored: Vec<usize> = self.overlapping(seq, s, e).into_iter().filter(|&i| self.scored[i]).collect();
        for i in scored {
            let length = genome.length(seq).expect("indexed on the genome");
            let limits = self.options.limits;
            let (reference, rna) = self.reference_parts(genome, i)?.clone();
            let t = &self.transcripts[i];
            match alternate(genome, seq, length, t, &reference, &rna, v, limits)? {
                None => self.skipped.tss_indel += 1,
                Some((consequence, alt)) => {
                    let changed = Changed { dna: alt.dna != reference.dna, rna: alt.rna != reference.rna, protein: alt.protein != reference.protein };
                    out.push(Pair { variant: index, transcript: i, consequence, changed, alt });
                }
            }
        }
        Ok(out)
    }
}

/// Where REF `s..e` lies relative to a transcript's exons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    /// Inside exon `i` (genomic order).
    Exon(usize),
    ExonBoundary,
    SpliceSite,
    Intron,
    Upstream,
    Downstream,
}

fn region(t: &Transcript, s: u64, e: u64) -> Region {
    if let Some(i) = t.exons.iter().position(|&(a, b, _)| a <= s && e <= b) {
        return Region::Exon(i);
    }
    if t.exons.iter().any(|&(a, b, _)| s < b && a < e) {
        return Region::ExonBoundary;
    }
    let n = t.exons.len();
    let touches = |lo: u64, hi: u64| s < hi && lo < e;
    for (i, &(a, b, _)) in t.exons.iter().enumerate() {
        if (i > 0 && touches(a.saturating_sub(2), a)) || (i + 1 < n && touches(b, b + 2)) {
            return Region::SpliceSite;
        }
    }
    let (lo, hi) = t.span();
    if lo <= s && e <= hi {
        return Region::Intron;
    }
    let before = match t.strand {
        Strand::Forward => e <= lo,
        Strand::Reverse => s >= hi,
    };
    if before { Region::Upstream } else { Region::Downstream }
}

/// Bases `a..b` of the alternate haplotype of `seq` (REF `s..s+lr` replaced by `alt`).
fn alt_fetch(genome: &mut Genome, seq: &str, s: u64, lr: u64, alt: &[u8], a: u64, b: u64) -> Result<Vec<u8>, GenomeError> {
    let la = alt.len() as u64;
    let mut out = Vec::with_capacity((b - a) as usize);
    if a < s {
        out.extend(genome.fetch(seq, a, b.min(s))?);
    }
    let (x, y) = (a.max(s), b.min(s + la));
    if x < y {
        out.extend_from_slice(&alt[(x - s) as usize..(y - s) as usize]);
    }
    let from = a.max(s + la);
    if from < b {
        out.extend(genome.fetch(seq, from - la + lr, b - la + lr)?);
    }
    Ok(out)
}

/// Offset of genomic base `g` (inside an exon) in the exons joined in genomic order.
fn plus_offset(t: &Transcript, g: u64) -> u64 {
    let mut before = 0;
    for &(a, b, _) in &t.exons {
        if a <= g && g < b {
            return before + (g - a);
        }
        before += b - a;
    }
    unreachable!("base {g} is not in an exon of {}", t.transcript_id)
}

/// `start..end` of REF `s..e` (inside one exon) in RNA coordinates (5′→3′ on the transcript).
fn rna_span(t: &Transcript, total: u64, s: u64, e: u64) -> (usize, usize) {
    let a = plus_offset(t, s);
    let b = a + (e - s);
    let (x, y) = match t.strand {
        Strand::Forward => (a, b),
        Strand::Reverse => (total - b, total - a),
    };
    (x as usize, y as usize)
}

/// RNA coordinates of the reference CDS: its first base after the phase, and its end (stop
/// codon included).
fn cds_span(t: &Transcript, total: u64) -> (usize, usize) {
    let (first, last) = (t.cds[0], t.cds[t.cds.len() - 1]);
    let (start, end) = match t.strand {
        Strand::Forward => (plus_offset(t, first.0), plus_offset(t, last.1 - 1) + 1),
        Strand::Reverse => (total - 1 - plus_offset(t, last.1 - 1), total - plus_offset(t, first.0)),
    };
    ((start + t.cds_phase as u64) as usize, end as usize)
}

/// Whether `v` is an indel whose REF holds `t`'s TSS base (its alternate window has no defined
/// centre: skipped as `tss_indel`).
fn tss_indel(t: &Transcript, v: &Variant) -> bool {
    let (s, e) = v.span();
    let tss = t.tss();
    s <= tss && tss < e && (e - s) != v.alt.len() as u64
}

/// The alternate inputs and consequence of variant `v` on transcript `t` (reference inputs
/// `reference`, its uncropped RNA `rna`); `None` for a `tss_indel`.
#[allow(clippy::too_many_arguments)]
fn alternate(genome: &mut Genome, seq: &str, length: u64, t: &Transcript, reference: &Prepared, rna: &[u8], v: &Variant, limits: Limits) -> Result<Option<(Consequence, Prepared)>, VariantError> {
    let (s, e) = v.span();
    let alt = v.alt.to_ascii_uppercase().into_bytes();
    let (lr, la) = (e - s, alt.len() as u64);
    let delta = la as i64 - lr as i64;
    let tss = t.tss();
    if tss_indel(t, v) {
        return Ok(None);
    }
    let tss_alt = if e <= tss { (tss as i64 + delta) as u64 } else { tss };
    let alt_length = (length as i64 + delta) as u64;
    let (dna, padded) = cut_window(tss_alt, t.strand, limits.window, alt_length, |a, b| alt_fetch(genome, seq, s, lr, &alt, a, b))?;
    let mut flags: Vec<&'static str> = Vec::new();
    if padded {
        flags.push("dna_padded");
    }
    let coding = !reference.protein.is_empty();
    let region = region(t, s, e);
    let (consequence, rna_out, protein) = match region {
        Region::Exon(_) => {
            let total = rna.len() as u64;
            let (ra, rb) = rna_span(t, total, s, e);
            let oriented = if t.strand == Strand::Reverse { reverse_complement(&alt) } else { alt.clone() };
            let mut edited = Vec::with_capacity(rna.len() + la as usize);
            edited.extend_from_slice(&rna[..ra]);
            edited.extend_from_slice(&oriented);
            edited.extend_from_slice(&rna[rb..]);
            if coding {
                let (cs, ce) = cds_span(t, total);
                let (ref_protein, ref_no_stop) = translate_until_stop(rna, cs);
                let cs_alt = if rb <= cs { (cs as i64 + delta) as usize } else { ra.min(cs) };
                let atg = |r: &[u8], at: usize| r.get(at..at + 3) == Some(b"ATG".as_slice());
                let start_lost = atg(rna, cs) && !atg(&edited, cs_alt);
                let (protein, no_stop) = if start_lost { (String::new(), false) } else { translate_until_stop(&edited, cs_alt) };
                if start_lost {
                    flags.push("start_lost");
                }
                if no_stop {
                    flags.push("no_stop");
                }
                let in_cds = ra < ce && rb > cs;
                let c = if start_lost {
                    Consequence::StartLost
                } else if in_cds && delta % 3 != 0 {
                    Consequence::Frameshift
                } else if in_cds && delta != 0 {
                    Consequence::InframeIndel
                } else if in_cds && protein.len() < ref_protein.len() {
                    Consequence::StopGained
                } else if in_cds && (protein.len() > ref_protein.len() || (no_stop && !ref_no_stop)) {
                    Consequence::StopLost
                } else if in_cds && protein != ref_protein {
                    Consequence::Missense
                } else if in_cds {
                    Consequence::Synonymous
                } else if rb <= cs {
                    Consequence::FivePrimeUtr
                } else {
                    Consequence::ThreePrimeUtr
                };
                (c, edited, protein)
            } else {
                (Consequence::NoncodingExon, edited, String::new())
            }
        }
        other => {
            flags.extend(reference.flags.iter().filter(|f| f.starts_with("cds_")));
            let c = match other {
                Region::ExonBoundary => Consequence::ExonBoundary,
                Region::SpliceSite => Consequence::SpliceSite,
                Region::Intron => Consequence::Intron,
                Region::Upstream => Consequence::Upstream,
                _ => Consequence::Downstream,
            };
            (c, rna.to_vec(), reference.protein.clone())
        }
    };
    let mut protein = protein;
    let cropped = crop_rna(&rna_out, limits.rna_tokens);
    if cropped.len() < rna_out.len() {
        flags.push("rna_cropped");
    }
    // Outside an exon the protein is the reference's, cropped already.
    let protein_cropped = match region {
        Region::Exon(_) => crop_protein(&mut protein, limits.protein_tokens),
        _ => reference.flags.contains(&"protein_cropped"),
    };
    if protein_cropped {
        flags.push("protein_cropped");
    }
    flags.sort_unstable();
    flags.dedup();
    let alt_inputs = Prepared { dna: String::from_utf8(dna).expect("ascii"), rna: String::from_utf8(cropped.to_vec()).expect("ascii"), protein, flags };
    Ok(Some((consequence, alt_inputs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::{Annotation, Format};

    const HEADER: &str = "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";

    fn vcf(records: &str) -> Result<Vcf, VariantError> {
        read_vcf(Path::new("v.vcf"), format!("{HEADER}{records}").as_bytes())
    }

    #[test]
    fn records_split_into_alleles_and_skips_are_counted() {
        let v = vcf("1\t5\trs1;rs2\tac\tG,<DEL>,*,A[2:3[,.A,T\t.\t.\t.\n1\t9\t.\tA\t.\t.\t.\t.\n").unwrap();
        assert_eq!(v.records, 2);
        let ids: Vec<String> = v.variants.iter().map(Variant::id).collect();
        assert_eq!(ids, ["1:5:ac:G", "1:5:ac:T"]);
        assert_eq!((v.variants[0].vcf_id.as_str(), v.variants[1].at.line), ("rs1;rs2", 3));
        assert_eq!(v.skipped, Skipped { symbolic: 1, star: 1, breakend: 2, missing_alt: 1, ..Skipped::default() });
        assert_eq!(v.variants[0].span(), (4, 6));
        assert_eq!(vcf("1\t5\tx\tA\tC,c\t.\t.\t.\n").unwrap_err().to_string(), "v.vcf:3: variant 1:5:A:c repeats line 3");
    }

    /// chr1, 42 bases: C×5 G×5 | CATGAA (exon 1 of T1, +) | GTAG (intron) | AAAATTTTAAGC (exon 2) |
    /// CCCTT AAAAA. T1's CDS is ATG AAA AAA TTT TAA (12-16, 21-30); T2 (−, non-coding) has exons
    /// 6-10 and 33-37.
    fn setup(window: u64) -> (Genome, Planner) {
        let genome = Genome::read_whole(Path::new("g.fa"), &b">chr1\nCCCCCGGGGGCATGAAGTAGAAAATTTTAAGCCCCTTAAAAA\n"[..]).unwrap();
        let gtf = "chr1\tt\texon\t11\t16\t.\t+\t.\tgene_id \"G\"; transcript_id \"T1\";\n\
                   chr1\tt\texon\t21\t32\t.\t+\t.\tgene_id \"G\"; transcript_id \"T1\";\n\
                   chr1\tt\tCDS\t12\t16\t.\t+\t0\tgene_id \"G\"; transcript_id \"T1\";\n\
                   chr1\tt\tCDS\t21\t30\t.\t+\t1\tgene_id \"G\"; transcript_id \"T1\";\n\
                   chr1\tt\texon\t6\t10\t.\t-\t.\tgene_id \"H\"; transcript_id \"T2\";\n\
                   chr1\tt\texon\t33\t37\t.\t-\t.\tgene_id \"H\"; transcript_id \"T2\";\n";
        let a = Annotation::parse(Path::new("a.gtf"), gtf.as_bytes(), Some(Format::Gtf)).unwrap();
        let ts = a.transcripts.iter().map(|r| Transcript::from_record(&a.path, r).unwrap()).collect();
        let limits = Limits { window, rna_tokens: 2048, protein_tokens: 1024 };
        let planner = Planner::new(&genome, &ChromMap::default(), Path::new("a.gtf"), ts, PlanOptions { limits, ref_mismatch: RefMismatch::Error });
        (genome, planner)
    }

    /// (transcript, consequence, alternate inputs, whether the DNA changed) of every pair.
    fn pairs(window: u64, records: &str) -> Vec<(String, &'static str, Prepared, bool)> {
        let (mut genome, mut planner) = setup(window);
        let v = vcf(records).unwrap();
        let mut out = Vec::new();
        for (i, variant) in v.variants.iter().enumerate() {
            let seq = planner.check(&mut genome, &ChromMap::default(), variant).unwrap().unwrap();
            for p in planner.pairs(&mut genome, i, &seq, variant).unwrap() {
                out.push((planner.transcripts()[p.transcript].transcript_id.clone(), p.consequence.name(), p.alt, p.changed.dna));
            }
        }
        out
    }

    fn t1(records: &str) -> (&'static str, Prepared) {
        let p = pairs(8, records).into_iter().find(|p| p.0 == "T1").expect("a T1 pair");
        (p.1, p.2)
    }

    #[test]
    fn the_tss_moves_with_an_indel_before_it_and_not_after() {
        // T1's reference window: 8 bases, TSS (11) at index 4: chr1 7-14.
        let (mut genome, mut planner) = setup(8);
        assert_eq!(planner.reference(&mut genome, 0).unwrap().inputs.dna, "GGGGCATG");
        // Deleting 8-9, before the TSS: the TSS is base 9 of the haplotype, still at index 4.
        let (c, alt) = t1("chr1\t7\t.\tGGG\tG\t.\t.\t.\n");
        assert_eq!((c, alt.dna.as_str()), ("upstream", "CGGGCATG"));
        // T2 (−): the same deletion lies in its exon 6-10 and after its TSS (37) on its strand,
        // at smaller coordinates: its window (34-41) moves with it and keeps its bases.
        let t2 = pairs(8, "chr1\t7\t.\tGGG\tG\t.\t.\t.\n").into_iter().find(|p| p.0 == "T2").unwrap();
        assert_eq!((t2.1, t2.2.rna.as_str(), t2.3), ("noncoding_exon", "AAGGGCCC", false));
        // An insertion after the TSS (at 12): the window's end moves out; ATG becomes ATT.
        let (c, alt) = t1("chr1\t12\t.\tA\tATT\t.\t.\t.\n");
        assert_eq!((c, alt.dna.as_str(), alt.protein.as_str(), alt.flags.as_slice()), ("start_lost", "GGGGCATT", "", &["start_lost"][..]));
        // A deletion holding T1's TSS: skipped; T2 (exon 6-10 crossed at its edge) scored.
        let (mut genome, mut planner) = setup(8);
        let v = vcf("chr1\t10\t.\tGC\tG\t.\t.\t.\n").unwrap();
        let seq = planner.check(&mut genome, &ChromMap::default(), &v.variants[0]).unwrap().unwrap();
        let got = planner.pairs(&mut genome, 0, &seq, &v.variants[0]).unwrap();
        assert_eq!((got.len(), got[0].consequence, planner.skipped.tss_indel), (1, Consequence::ExonBoundary, 1));
    }

    #[test]
    fn pair_transcripts_are_the_pairs_and_only_keeps_a_shards_transcripts() {
        let (mut genome, mut planner) = setup(8);
        // A SNV in both transcripts' windows, a deletion holding T1's TSS (T2 only), one in T2's
        // exon 33-37 alone.
        let v = vcf("chr1\t9\t.\tG\tA\t.\t.\t.\nchr1\t10\t.\tGC\tG\t.\t.\t.\nchr1\t35\t.\tC\tA\t.\t.\t.\n").unwrap();
        let mut listed = Vec::new();
        let mut built = Vec::new();
        for (i, variant) in v.variants.iter().enumerate() {
            let seq = planner.check(&mut genome, &ChromMap::default(), variant).unwrap().unwrap();
            listed.push(planner.pair_transcripts(&seq, variant));
            built.push(planner.pairs(&mut genome, i, &seq, variant).unwrap().iter().map(|p| p.transcript).collect::<Vec<_>>());
        }
        assert_eq!(listed, [vec![0, 1], vec![1], vec![1]]);
        assert_eq!(built, listed);
        planner.only(vec![false, true]);
        let seq = planner.check(&mut genome, &ChromMap::default(), &v.variants[0]).unwrap().unwrap();
        let shard: Vec<usize> = planner.pairs(&mut genome, 0, &seq, &v.variants[0]).unwrap().iter().map(|p| p.transcript).collect();
        assert_eq!((shard, planner.pair_transcripts(&seq, &v.variants[0])), (vec![1], vec![0, 1]));
    }

    #[test]
    fn rna_edits_splice_sites_and_proteins() {
        let (mut genome, mut planner) = setup(8);
        let r = planner.reference(&mut genome, 0).unwrap().inputs;
        assert_eq!((r.rna.as_str(), r.protein.as_str()), ("CATGAAAAAATTTTAAGC", "MKKF"));
        assert_eq!(t1("chr1\t13\t.\tT\tC\t.\t.\t.\n").0, "start_lost");
        let (c, alt) = t1("chr1\t15\t.\tA\tT\t.\t.\t.\n");
        assert_eq!((c, alt.protein.as_str()), ("stop_gained", "M"));
        let (c, alt) = t1("chr1\t22\t.\tA\tG\t.\t.\t.\n");
        assert_eq!((c, alt.rna.as_str(), alt.protein.as_str()), ("missense", "CATGAAAGAATTTTAAGC", "MKEF"));
        let (c, alt) = t1("chr1\t24\t.\tA\tG\t.\t.\t.\n");
        assert_eq!((c, alt.protein.as_str()), ("synonymous", "MKKF"));
        let (c, alt) = t1("chr1\t16\t.\tA\tAC\t.\t.\t.\n");
        assert_eq!((c, alt.protein.as_str(), alt.flags.as_slice()), ("frameshift", "MNKILS", &["no_stop"][..]), "ATG AAC AAA ATT TTA AGC and no stop");
        let (c, alt) = t1("chr1\t22\t.\tAAAT\tA\t.\t.\t.\n");
        assert_eq!((c, alt.protein.as_str()), ("inframe_indel", "MKI"), "23-25 (AAT) deleted: ATG AAA ATT TAA");
        let (c, alt) = t1("chr1\t29\t.\tA\tC\t.\t.\t.\n");
        assert_eq!((c, alt.protein.as_str(), alt.flags.as_slice()), ("stop_lost", "MKKFS", &["no_stop"][..]));
        assert_eq!(t1("chr1\t11\t.\tC\tG\t.\t.\t.\n").0, "5_prime_utr");
        let (c, alt) = t1("chr1\t31\t.\tG\tA\t.\t.\t.\n");
        assert_eq!((c, alt.protein.as_str(), alt.flags.as_slice()), ("3_prime_utr", "MKKF", &[][..]));
        assert_eq!(t1("chr1\t17\t.\tG\tA\t.\t.\t.\n").0, "splice_site");
        assert_eq!(t1("chr1\t20\t.\tG\tC\t.\t.\t.\n").0, "splice_site");
        assert_eq!(t1("chr1\t16\t.\tAG\tA\t.\t.\t.\n").0, "exon_boundary");
        assert_eq!(t1("chr1\t8\t.\tG\tA\t.\t.\t.\n").0, "upstream");
        // T2 (−, non-coding): RNA = revcomp(33-37) + revcomp(6-10) = AAGGG CCCCC; 34 C>A is RNA index 3.
        let t2 = pairs(8, "chr1\t34\t.\tC\tA\t.\t.\t.\n").into_iter().find(|p| p.0 == "T2").unwrap();
        assert_eq!((t2.1, t2.2.rna.as_str(), t2.2.protein.as_str()), ("noncoding_exon", "AAGTGCCCCC", ""));
    }
}
