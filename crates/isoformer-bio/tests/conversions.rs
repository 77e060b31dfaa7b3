//! Every conversion against an independent computation: a synthetic genome whose bases the test
//! knows, written as FASTA (+ a `.fai` computed here), and transcripts whose expected window,
//! RNA and protein are sliced directly from the known string.

use std::io::Write;
use std::path::{Path, PathBuf};

use isoformer_bio::annotation::Annotation;
use isoformer_bio::genome::{ChromMap, Genome};
use isoformer_bio::transcript::{Limits, Transcript, crop_rna, prepare, translate_cds};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("isoformer-bio-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A deterministic pseudo-random genome (LCG), so expected values come from slicing it.
fn random_seq(len: usize, seed: u64) -> String {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            b"ACGT"[(x >> 62) as usize] as char
        })
        .collect()
}

/// Write a FASTA with `width` bases per line and its `.fai`.
fn write_fasta(path: &Path, seqs: &[(&str, &str)], width: usize) {
    let mut fa = Vec::new();
    let mut fai = String::new();
    for (name, seq) in seqs {
        fa.extend_from_slice(format!(">{name} some description\n").as_bytes());
        fai.push_str(&format!("{name}\t{}\t{}\t{width}\t{}\n", seq.len(), fa.len(), width + 1));
        for chunk in seq.as_bytes().chunks(width) {
            fa.extend_from_slice(chunk);
            fa.push(b'\n');
        }
    }
    std::fs::write(path, fa).unwrap();
    std::fs::write(format!("{}.fai", path.display()), fai).unwrap();
}

fn revcomp(s: &str) -> String {
    s.chars().rev().map(|c| match c {
        'A' => 'T',
        'C' => 'G',
        'G' => 'C',
        'T' => 'A',
        o => o,
    }).collect()
}

/// 1-based inclusive slice, like the annotation's coordinates.
fn slice(g: &str, start1: u64, end1: u64) -> &str {
    &g[start1 as usize - 1..end1 as usize]
}

fn translate(coding: &str) -> String {
    const AA: &[u8] = b"FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG";
    let idx = |c: u8| "TCAG".find(c as char).unwrap();
    coding.as_bytes().chunks_exact(3).map(|c| AA[idx(c[0]) * 16 + idx(c[1]) * 4 + idx(c[2])] as char).collect()
}

struct Fixture {
    dir: PathBuf,
    genome: PathBuf,
    gtf: PathBuf,
    chr1: String,
    chr2: String,
}

/// chr1: 3,000 bp; chr2: 500 bp. The GTF names them `1` and `2` (Ensembl style) while the FASTA
/// says `chr1`/`chr2`.
fn fixture(name: &str) -> Fixture {
    let dir = scratch(name);
    let mut chr1 = random_seq(3000, 7);
    // Plant a coding sequence on + (exons 101-160, 301-420; CDS 121-160 + 301-371 then stop).
    // Build it from codons so the expected protein is known independently of the genome letters.
    let cds_plus = "ATGGCTAAACCCGGGTTTCATGAAGGT".to_string() + &"GCA".repeat(20) + "TGGAAATAA";
    assert_eq!(cds_plus.len() % 3, 0);
    // 40 bases in exon 1 (121-160), the rest in exon 2 from 301.
    chr1.replace_range(120..160, &cds_plus[..40]);
    chr1.replace_range(300..300 + cds_plus.len() - 40, &cds_plus[40..]);
    let chr2 = random_seq(500, 11);
    let genome = dir.join("genome.fa");
    write_fasta(&genome, &[("chr1", &chr1), ("chr2", &chr2)], 7);
    let stop_end = 300 + (cds_plus.len() - 40) as u64;
    let gtf = dir.join("genes.gtf");
    let a = |chr: &str, kind: &str, s: u64, e: u64, strand: char, frame: &str, tid: &str| {
        format!("{chr}\ttest\t{kind}\t{s}\t{e}\t.\t{strand}\t{frame}\tgene_id \"G{tid}\"; transcript_id \"{tid}\"; gene_name \"N{tid}\";\n")
    };
    let mut text = String::from("#!genome-build test\n");
    text += &a("1", "exon", 101, 160, '+', ".", "TP");
    text += &a("1", "exon", 301, 420, '+', ".", "TP");
    text += &a("1", "CDS", 121, 160, '+', "0", "TP");
    text += &a("1", "CDS", 301, stop_end - 3, '+', "2", "TP");
    text += &a("1", "stop_codon", stop_end - 2, stop_end, '+', "0", "TP");
    // minus strand, TSS 30 bases from the end of chr2, three exons, non-coding
    text += &a("2", "exon", 471, 500, '-', ".", "TM");
    text += &a("2", "exon", 301, 350, '-', ".", "TM");
    text += &a("2", "exon", 101, 200, '-', ".", "TM");
    // plus strand, TSS 5 bases from the start of chr2
    text += &a("2", "exon", 6, 40, '+', ".", "TS");
    std::fs::write(&gtf, text).unwrap();
    Fixture { dir, genome, gtf, chr1, chr2 }
}

fn prepared(fx: &Fixture, genome_path: &Path, tid: &str, limits: Limits) -> isoformer_bio::transcript::Prepared {
    let mut genome = Genome::open(genome_path).unwrap();
    let ann = Annotation::read(&fx.gtf).unwrap();
    let rec = ann.transcripts.iter().find(|t| t.transcript_id == tid).unwrap();
    let t = Transcript::from_record(&fx.gtf, rec).unwrap();
    let seq = ChromMap::default().resolve(&genome, &t.seq).unwrap().to_string();
    prepare(&mut genome, &seq, &fx.gtf, &t, limits).unwrap()
}

const W: u64 = 80;
fn limits() -> Limits {
    Limits { window: W, ..Limits::OFFICIAL }
}

#[test]
fn plus_strand_window_rna_protein() {
    let fx = fixture("plus");
    let p = prepared(&fx, &fx.genome, "TP", limits());
    // window: TSS (1-based 101) at index 40: 1-based 61..140
    assert_eq!(p.dna, slice(&fx.chr1, 61, 140));
    assert_eq!(&p.dna[40..41], slice(&fx.chr1, 101, 101));
    assert_eq!(p.rna, format!("{}{}", slice(&fx.chr1, 101, 160), slice(&fx.chr1, 301, 420)));
    let coding = format!("{}{}", slice(&fx.chr1, 121, 160), slice(&fx.chr1, 301, 356));
    let expected = translate(&coding);
    assert!(expected.starts_with("MAKPGFHEG") && expected.ends_with("WK*"), "{expected}");
    assert_eq!(p.protein, expected.trim_end_matches('*'));
    assert!(p.flags.is_empty(), "{:?}", p.flags);
}

#[test]
fn minus_strand_near_chromosome_end() {
    let fx = fixture("minus");
    let p = prepared(&fx, &fx.genome, "TM", limits());
    // TSS = 1-based 500 (last base of chr2); window genome 1-based 461..540, revcomp; 540 > 500.
    let mut fwd = slice(&fx.chr2, 461, 500).to_string();
    fwd.push_str(&"N".repeat(40));
    assert_eq!(p.dna, revcomp(&fwd));
    assert_eq!(&p.dna[..40], "N".repeat(40));
    assert_eq!(&p.dna[40..41], revcomp(slice(&fx.chr2, 500, 500)));
    let rna = format!("{}{}{}", revcomp(slice(&fx.chr2, 471, 500)), revcomp(slice(&fx.chr2, 301, 350)), revcomp(slice(&fx.chr2, 101, 200)));
    assert_eq!(p.rna, rna);
    assert_eq!(p.dna.as_bytes()[40], p.rna.as_bytes()[0], "TSS base is window index W/2 and the first RNA base");
    assert_eq!(p.protein, "");
    assert_eq!(p.flags, vec!["dna_padded"]);
}

#[test]
fn plus_strand_near_chromosome_start() {
    let fx = fixture("start");
    let p = prepared(&fx, &fx.genome, "TS", limits());
    // TSS 1-based 6: window 1-based -34..45, 35 N then 1..45
    assert_eq!(p.dna, format!("{}{}", "N".repeat(35), slice(&fx.chr2, 1, 45)));
    assert_eq!(&p.dna[40..41], slice(&fx.chr2, 6, 6));
    assert_eq!(p.rna, slice(&fx.chr2, 6, 40));
}

#[test]
fn whole_gzip_bgzf_and_indexed_agree() {
    let fx = fixture("gz");
    let text = std::fs::read(&fx.genome).unwrap();
    let gz = fx.dir.join("genome.fa.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(&text).unwrap();
    enc.finish().unwrap();
    for tid in ["TP", "TM", "TS"] {
        assert_eq!(prepared(&fx, &gz, tid, limits()), prepared(&fx, &fx.genome, tid, limits()), "{tid}");
    }
    let g = Genome::open(&gz).unwrap();
    assert!(!g.is_indexed());
    assert!(Genome::open(&fx.genome).unwrap().is_indexed());
}

#[test]
fn examples_bgzf_random_access_matches_whole_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/genome.fa.gz");
    let mut indexed = Genome::open(&root).unwrap();
    assert!(indexed.is_indexed());
    let mut whole = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&root).unwrap()), &mut whole).unwrap();
    let mut whole = Genome::read_whole(&root, &whole[..]).unwrap();
    for (chrom, s, e) in [("chr22", 20_004_000u64, 20_004_600u64), ("chr22", 19_999_990, 20_000_010), ("chr3", 43_000_000, 43_070_000), ("chr3", 198_022_400, 198_022_430)] {
        assert_eq!(indexed.fetch(chrom, s, e).unwrap(), whole.fetch(chrom, s, e).unwrap(), "{chrom}:{s}-{e}");
    }
    assert_eq!(indexed.length("chr3"), Some(198_022_430));
}

#[test]
fn chromosome_names_reconciled() {
    let fx = fixture("names");
    let g = Genome::open(&fx.genome).unwrap();
    let m = ChromMap::default();
    assert_eq!(m.resolve(&g, "1"), Some("chr1"));
    assert_eq!(m.resolve(&g, "chr2"), Some("chr2"));
    assert_eq!(m.resolve(&g, "3"), None);
    let map = fx.dir.join("map.tsv");
    std::fs::write(&map, "# annotation\tgenome\nNC_000001.11\tchr1\n").unwrap();
    assert_eq!(ChromMap::read(&map).unwrap().resolve(&g, "NC_000001.11"), Some("chr1"));
}

/// Brute-force NT-v2 token count (CLS included), independent of `crop_rna`'s token starts.
fn nt_tokens(s: &[u8]) -> usize {
    let mut n = 1;
    let mut run = 0;
    for &b in s {
        if b"ACGT".contains(&b) {
            run += 1;
            if run == 6 {
                n += 1;
                run = 0;
            }
        } else {
            n += run + 1;
            run = 0;
        }
    }
    n + run
}

#[test]
fn rna_crop_keeps_three_prime_end_within_the_limit() {
    let seq = random_seq(100, 3).into_bytes();
    let mut with_n = seq.clone();
    with_n[50] = b'N';
    with_n[7] = b'N';
    for s in [&seq, &with_n] {
        for max in [2usize, 3, 5, 10, 17, 40] {
            let c = crop_rna(s, max);
            assert!(nt_tokens(c) <= max, "max {max}: {} tokens", nt_tokens(c));
            assert!(s.ends_with(c));
            // dropping whole tokens: the crop's tokens are the original's last ones
            if nt_tokens(s) > max {
                assert!(nt_tokens(c) >= max - 1, "max {max}: crop too short ({})", nt_tokens(c));
            } else {
                assert_eq!(c, &s[..]);
            }
        }
    }
    // 6-mer aligned: 100 bases = 16 six-mers + 4 singles = 20 tokens + CLS; limit 11 keeps the last 10
    // tokens: the 4 singles and 6 six-mers = 40 bases.
    assert_eq!(crop_rna(&seq, 11).len(), 40);
}

#[test]
fn translation_flags() {
    assert_eq!(translate_cds(b"ATGAAATAA", 0), ("MK".to_string(), vec![]));
    assert_eq!(translate_cds(b"ATGAAA", 0), ("MK".to_string(), vec!["cds_end_incomplete"]));
    assert_eq!(translate_cds(b"CATGAAATAG", 1), ("MK".to_string(), vec!["cds_start_incomplete"]));
    assert_eq!(translate_cds(b"GCCAAATGA", 0), ("AK".to_string(), vec!["cds_start_incomplete"]));
    let (p, f) = translate_cds(b"ATGTAAAAATAA", 0);
    assert_eq!((p.as_str(), f), ("", vec!["cds_internal_stop"]));
    let (p, f) = translate_cds(b"ATGAAAATAA", 0);
    assert_eq!(p, "");
    assert!(f.contains(&"cds_frame_broken"), "{f:?}");
    assert_eq!(translate_cds(b"ATGNNNTAA", 0).0, "MX");
}

#[test]
fn protein_crop_keeps_n_terminus() {
    let fx = fixture("pcrop");
    let p = prepared(&fx, &fx.genome, "TP", Limits { window: W, rna_tokens: 2048, protein_tokens: 7 });
    assert_eq!(p.protein, "MAKPG");
    assert_eq!(p.flags, vec!["protein_cropped"]);
    let p = prepared(&fx, &fx.genome, "TP", Limits { window: W, rna_tokens: 4, protein_tokens: 1024 });
    assert_eq!(p.rna, slice(&fx.chr1, 403, 420));
    assert_eq!(p.flags, vec!["rna_cropped"]);
}

#[test]
fn gff3_gives_what_gtf_gives() {
    let fx = fixture("gff3");
    // Ensembl GFF3 layout: gene → mRNA → exon/CDS; the CDS includes the stop codon; %-escapes.
    let gff = fx.dir.join("genes.gff3.gz");
    let text = "##gff-version 3\n\
        1\tt\tgene\t101\t420\t.\t+\t.\tID=gene:GTP;Name=NTP;gene_id=GTP\n\
        1\tt\tmRNA\t101\t420\t.\t+\t.\tID=transcript:TP;Parent=gene:GTP;transcript_id=TP;note=a%3Bb\n\
        1\tt\texon\t101\t160\t.\t+\t.\tParent=transcript:TP\n\
        1\tt\texon\t301\t420\t.\t+\t.\tParent=transcript:TP\n\
        1\tt\tCDS\t121\t160\t.\t+\t0\tID=cds1;Parent=transcript:TP\n\
        1\tt\tCDS\t301\t356\t.\t+\t2\tID=cds1;Parent=transcript:TP\n";
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gff).unwrap(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    let ann = Annotation::read(&gff).unwrap();
    assert_eq!(ann.format, isoformer_bio::annotation::Format::Gff3);
    assert_eq!(ann.transcripts.len(), 1);
    let rec = &ann.transcripts[0];
    assert_eq!((rec.transcript_id.as_str(), rec.gene_id.as_str(), rec.gene_name.as_str()), ("TP", "GTP", "NTP"));
    let t = Transcript::from_record(&gff, rec).unwrap();
    let mut genome = Genome::open(&fx.genome).unwrap();
    let p = prepare(&mut genome, "chr1", &gff, &t, limits()).unwrap();
    assert_eq!(p, prepared(&fx, &fx.genome, "TP", limits()));
}
