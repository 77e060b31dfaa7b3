//! `isoformer prepare`: the example data against an independent computation, and a catalogue of
//! bad inputs, each of which must fail with one `error:` line naming the file and the line or
//! record, a non-zero exit, and no output file (not even a temporary one).

use std::io::Write;

mod common;
use common::{isoformer, root, scratch};

fn read_tsv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split('\t').map(str::to_string).collect();
    (header, lines.map(|l| l.split('\t').map(str::to_string).collect()).collect())
}

#[test]
fn examples_match_the_independent_computation_and_feed_predict() {
    let dir = scratch("examples");
    let r = root();
    let out = dir.join("examples.tsv.gz");
    let o = isoformer(
        &[
            "prepare",
            "--genome",
            r.join("examples/genome.fa.gz").to_str().unwrap(),
            "--annotation",
            r.join("examples/genes.gtf").to_str().unwrap(),
            "--all",
            "--model",
            r.join("models/tiny").to_str().unwrap(),
            "--window",
            "80",
            "-o",
            out.to_str().unwrap(),
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&out).unwrap()), &mut text).unwrap();
    let (header, rows) = read_tsv(&text);
    assert_eq!(header, ["transcript_id", "gene_id", "gene_name", "chrom", "strand", "tss", "dna", "rna", "protein", "flags"]);
    let (_, expected) = read_tsv(&std::fs::read_to_string(r.join("examples/expected_w80.tsv")).unwrap());
    assert_eq!(rows.len(), 59);
    assert_eq!(rows.len(), expected.len());
    for (got, want) in rows.iter().zip(&expected) {
        assert_eq!(got[0], want[0]);
        assert_eq!((&got[6], &got[7], &got[8]), (&want[1], &want[2], &want[3]), "{}", got[0]);
        assert_eq!(got[6].len(), 80);
    }
    let coding = rows.iter().filter(|r| !r[8].is_empty()).count();
    assert_eq!(coding, 13, "TANGO2 isoforms with a clean CDS");
    assert!(rows.iter().any(|r| r[4] == "-") && rows.iter().any(|r| r[4] == "+"));
    assert!(rows.iter().all(|r| r[3] == "22" || r[3] == "chr3"));

    let pred = dir.join("pred.tsv");
    let o = isoformer(&["predict", "--model", r.join("models/tiny").to_str().unwrap(), "--input", out.to_str().unwrap(), "--output", pred.to_str().unwrap()], &dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (header, preds) = read_tsv(&std::fs::read_to_string(&pred).unwrap());
    assert_eq!(preds.len(), 59);
    assert_eq!(header.len(), 32);
    assert_eq!((header[0].as_str(), header[1].as_str(), header[2].as_str()), ("transcript_id", "gene_id", "Adipose Tissue"));
    assert!(preds.iter().zip(&rows).all(|(p, r)| p[0] == r[0] && p[1] == r[1]));

    // Enformer runs once per distinct window: batched (shared inside a batch) and batch 1
    // (shared across batches) must give what each transcript alone gives.
    let windows: std::collections::HashSet<&String> = rows.iter().map(|r| &r[6]).collect();
    assert!(windows.len() < rows.len(), "the examples have isoforms sharing a TSS");
    let alone = |row: &Vec<String>| -> Vec<f64> {
        let one = dir.join("one.tsv");
        std::fs::write(&one, format!("transcript_id\tdna\trna\tprotein\n{}\t{}\t{}\t{}\n", row[0], row[6], row[7], row[8])).unwrap();
        let o = isoformer(&["predict", "--model", r.join("models/tiny").to_str().unwrap(), "--input", one.to_str().unwrap(), "--output", "-"], &dir);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (_, p) = read_tsv(&String::from_utf8(o.stdout).unwrap());
        p[0][1..].iter().map(|v| v.parse().unwrap()).collect()
    };
    let batched = dir.join("pred7.tsv");
    let svg = dir.join("heatmap.svg");
    let o = isoformer(&["predict", "-q", "-j", "2", "--batch-size", "7", "--model", r.join("models/tiny").to_str().unwrap(), "--input", out.to_str().unwrap(), "--output", batched.to_str().unwrap(), "--plot", svg.to_str().unwrap()], &dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<rect").count(), 59 * 30 + 2, "one cell per isoform and tissue, two legend swatches");
    assert_eq!(svg.matches("<line").count(), 2, "three genes, two separators");
    let (_, preds7) = read_tsv(&std::fs::read_to_string(&batched).unwrap());
    let mut shared_checked = 0;
    for (i, row) in rows.iter().enumerate() {
        if rows.iter().filter(|r2| r2[6] == row[6]).count() < 2 || shared_checked >= 4 {
            continue;
        }
        shared_checked += 1;
        let want = alone(row);
        for got in [&preds[i], &preds7[i]] {
            let got: Vec<f64> = got[2..].iter().map(|v| v.parse().unwrap()).collect();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 2e-6, "{}: {g} vs {w} alone", row[0]);
            }
        }
    }
    assert_eq!(shared_checked, 4);
}

// ---------------------------------------------------------------------------------------------
// The catalogue.

const CHR1: &str = "ACGTTGCAACGGTACCTTAGGCATGCATGCAAACCCGGGTTTACGATCGATCGTAGCTAGCTAGGATCCGATCGATGCATGCTAGCTAGCATCGATCGATCGACTGACTGACTAGCTAGCATGCATCGACTGACTAGTCGATCGATGCTAGCTACGACTGACTAGCTAGCTAGCATCGATCGATCGACGACTAGCTAGCTAGCTGACTGATCGATCGATGCTAGCTAGCTAGCTAGCTAGCTGACTGATCGATCGATCGATGCATGCATGCTAGCTAGCTAGCTAGCTAGCTAGCTAGCTAGCTAGCTACGAT";
const GOOD_GTF: &str = "chr1\tt\texon\t11\t50\t.\t+\t.\tgene_id \"G1\"; transcript_id \"T1\"; gene_name \"ONE\";\n\
chr1\tt\texon\t101\t150\t.\t+\t.\tgene_id \"G1\"; transcript_id \"T1\"; gene_name \"ONE\";\n\
chr1\tt\tCDS\t21\t50\t.\t+\t0\tgene_id \"G1\"; transcript_id \"T1\"; gene_name \"ONE\";\n";

/// FASTA text with 10 bases a line, and its `.fai`.
fn fasta(seqs: &[(&str, &str)]) -> (String, String) {
    let mut fa = String::new();
    let mut fai = String::new();
    for (name, seq) in seqs {
        fa += &format!(">{name}\n");
        fai += &format!("{name}\t{}\t{}\t10\t11\n", seq.len(), fa.len());
        for chunk in seq.as_bytes().chunks(10) {
            fa += std::str::from_utf8(chunk).unwrap();
            fa.push('\n');
        }
    }
    (fa, fai)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// One bad input: files to write (name, bytes), extra arguments, and what the error must say.
struct Case {
    name: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    args: Vec<&'static str>,
    expect: &'static [&'static str],
}

fn good_files() -> Vec<(&'static str, Vec<u8>)> {
    let (fa, fai) = fasta(&[("chr1", &CHR1[..300])]);
    vec![("genome.fa", fa.into_bytes()), ("genome.fa.fai", fai.into_bytes()), ("genes.gtf", GOOD_GTF.as_bytes().to_vec())]
}

fn with(mut files: Vec<(&'static str, Vec<u8>)>, name: &'static str, bytes: Vec<u8>) -> Vec<(&'static str, Vec<u8>)> {
    files.retain(|(n, _)| *n != name);
    files.push((name, bytes));
    files
}

fn without(mut files: Vec<(&'static str, Vec<u8>)>, name: &str) -> Vec<(&'static str, Vec<u8>)> {
    files.retain(|(n, _)| *n != name);
    files
}

fn gtf_line(chr: &str, kind: &str, s: u64, e: u64, strand: &str, frame: &str, attrs: &str) -> String {
    format!("{chr}\tt\t{kind}\t{s}\t{e}\t.\t{strand}\t{frame}\t{attrs}\n")
}

const A1: &str = "gene_id \"G1\"; transcript_id \"T1\";";

fn gtf(lines: &[String]) -> Vec<u8> {
    lines.concat().into_bytes()
}

fn catalogue() -> Vec<Case> {
    let good = good_files;
    let (fa, fai) = fasta(&[("chr1", &CHR1[..300])]);
    let mut bad_letter = CHR1[..300].to_string();
    bad_letter.replace_range(30..31, "X");
    let (fa_x, _) = fasta(&[("chr1", &bad_letter)]);
    let (fa_dup, _) = fasta(&[("chr1", &CHR1[..300]), ("chr1", &CHR1[..300])]);
    let (fa2, fai2) = fasta(&[("chr0", "ACGTACGTAC"), ("chr1", &CHR1[..300])]);
    let gz_full = gzip(fa.as_bytes());
    let truncated_gz = gz_full[..gz_full.len() / 2].to_vec();
    let gtf_gz = gzip(GOOD_GTF.repeat(200).as_bytes());
    let ex = |s, e| gtf_line("chr1", "exon", s, e, "+", ".", A1);
    vec![
        Case { name: "fasta letter not a nucleotide", files: with(good(), "genome.fa", fa_x.into_bytes()), args: vec![], expect: &["genome.fa:", "'X'", "record chr1, position 31"] },
        Case {
            name: "fasta duplicate names (gzip, read whole)",
            files: with(without(good(), "genome.fa"), "genome.fa.gz", gzip(fa_dup.as_bytes())),
            args: vec!["--genome", "genome.fa.gz"],
            expect: &["genome.fa.gz:32:", "duplicate sequence name `chr1` (first at line 1)"],
        },
        Case { name: "fasta without .fai", files: without(good(), "genome.fa.fai"), args: vec![], expect: &["genome.fa: no index genome.fa.fai"] },
        Case {
            name: "stale .fai (length)",
            files: with(good(), "genome.fa.fai", fai.replace("\t300\t", "\t280\t").into_bytes()),
            args: vec![],
            expect: &["genome.fa.fai: stale index for genome.fa"],
        },
        Case {
            name: "stale .fai (offset)",
            files: with(with(good(), "genome.fa", fa2.into_bytes()), "genome.fa.fai", fai2.replace("\t23\t10\t11", "\t24\t10\t11").into_bytes()),
            args: vec![],
            expect: &["genome.fa.fai: stale index for genome.fa", "chr1"],
        },
        Case { name: ".fai with 4 fields", files: with(good(), "genome.fa.fai", b"chr1\t300\t6\t10\n".to_vec()), args: vec![], expect: &["genome.fa.fai:1: 4 fields"] },
        Case { name: ".fai with a non-number", files: with(good(), "genome.fa.fai", b"chr1\t3x0\t6\t10\t11\n".to_vec()), args: vec![], expect: &["genome.fa.fai:1: length \"3x0\""] },
        Case { name: "empty genome", files: with(good(), "genome.fa", Vec::new()), args: vec![], expect: &["genome.fa: empty file"] },
        Case {
            name: "genome sequence before any header",
            files: with(without(good(), "genome.fa"), "genome.fa.gz", gzip(b"ACGT\n>chr1\nACGT\n")),
            args: vec!["--genome", "genome.fa.gz"],
            expect: &["genome.fa.gz:1: expected a `>name` header"],
        },
        Case {
            name: "truncated gzip genome",
            files: with(without(good(), "genome.fa"), "genome.fa.gz", truncated_gz),
            args: vec!["--genome", "genome.fa.gz"],
            expect: &["genome.fa.gz:", "gzip data ends early or is corrupt (record chr1)"],
        },
        Case {
            name: "truncated bgzip genome (with .fai and .gzi)",
            files: {
                let ex = root().join("examples");
                let bgz = std::fs::read(ex.join("genome.fa.gz")).unwrap();
                // Cut inside the block holding TANGO2's TSS (chr22, compressed offset 1,429,953).
                vec![
                    ("genome.fa.gz", bgz[..1_435_000].to_vec()),
                    ("genome.fa.gz.fai", std::fs::read(ex.join("genome.fa.gz.fai")).unwrap()),
                    ("genome.fa.gz.gzi", std::fs::read(ex.join("genome.fa.gz.gzi")).unwrap()),
                    ("genes.gtf", std::fs::read(ex.join("genes.gtf")).unwrap()),
                ]
            },
            args: vec!["--genome", "genome.fa.gz"],
            expect: &["genome.fa.gz: bgzip data ends early or is corrupt reading record chr22"],
        },
        Case {
            name: "gtf unterminated quote",
            files: with(good(), "genes.gtf", gtf(&[ex(11, 50), gtf_line("chr1", "exon", 101, 150, "+", ".", "gene_id \"G1\"; transcript_id \"T1;")])),
            args: vec![],
            expect: &["genes.gtf:2: malformed attribute field", "unterminated quote"],
        },
        Case {
            name: "gtf attribute without value",
            files: with(good(), "genes.gtf", gtf(&[gtf_line("chr1", "exon", 11, 50, "+", ".", "gene_id; transcript_id \"T1\";")])),
            args: vec![],
            expect: &["genes.gtf:1: malformed attribute field", "`gene_id` has no value"],
        },
        Case {
            name: "gtf exon without transcript_id",
            files: with(good(), "genes.gtf", gtf(&[ex(11, 50), gtf_line("chr1", "exon", 101, 150, "+", ".", "gene_id \"G1\";")])),
            args: vec![],
            expect: &["genes.gtf:2: exon record has no transcript_id attribute"],
        },
        Case {
            name: "gtf line with 8 fields",
            files: with(good(), "genes.gtf", format!("{}chr1\tt\texon\t101\t150\t.\t+\t.\n", ex(11, 50)).into_bytes()),
            args: vec![],
            expect: &["genes.gtf:2: 8 tab-separated fields, expected 9"],
        },
        Case { name: "gtf start not a number", files: with(good(), "genes.gtf", gtf(&[gtf_line("chr1", "exon", 0, 50, "+", ".", A1)])), args: vec![], expect: &["genes.gtf:1: start \"0\" is not a positive integer"] },
        Case { name: "gtf start after end", files: with(good(), "genes.gtf", gtf(&[ex(11, 50), ex(150, 101)])), args: vec![], expect: &["genes.gtf:2: start 150 is after end 101"] },
        Case { name: "gtf exon without strand", files: with(good(), "genes.gtf", gtf(&[gtf_line("chr1", "exon", 11, 50, ".", ".", A1)])), args: vec![], expect: &["genes.gtf:1: strand \".\" must be + or -"] },
        Case {
            name: "gtf CDS phase 3",
            files: with(good(), "genes.gtf", gtf(&[ex(11, 50), gtf_line("chr1", "CDS", 21, 50, "+", "3", A1)])),
            args: vec![],
            expect: &["genes.gtf:2: phase \"3\""],
        },
        Case {
            name: "exon outside its chromosome",
            files: with(good(), "genes.gtf", gtf(&[ex(11, 50), ex(281, 320)])),
            args: vec![],
            expect: &["genes.gtf:2: exon 281-320 of transcript T1 lies outside chr1 (length 300)"],
        },
        Case {
            name: "exons on two chromosomes",
            files: with(good(), "genes.gtf", gtf(&[ex(11, 50), gtf_line("chr2", "exon", 101, 150, "+", ".", A1)])),
            args: vec![],
            expect: &["genes.gtf:2: transcript T1 is on chr2+ here but on chr1+ at line 1"],
        },
        Case {
            name: "exons on two strands",
            files: with(good(), "genes.gtf", gtf(&[ex(11, 50), gtf_line("chr1", "exon", 101, 150, "-", ".", A1)])),
            args: vec![],
            expect: &["genes.gtf:2: transcript T1 is on chr1- here but on chr1+ at line 1"],
        },
        Case { name: "overlapping exons", files: with(good(), "genes.gtf", gtf(&[ex(11, 50), ex(40, 80)])), args: vec![], expect: &["genes.gtf:2: exon 40-80 of transcript T1 overlaps the exon at line 1"] },
        Case {
            name: "CDS outside exons",
            files: with(good(), "genes.gtf", gtf(&[ex(11, 50), ex(101, 150), gtf_line("chr1", "CDS", 41, 110, "+", "0", A1)])),
            args: vec![],
            expect: &["genes.gtf:3: CDS 41-110 of transcript T1 is not inside one of its exons"],
        },
        Case {
            name: "CDS without exons",
            files: with(good(), "genes.gtf", format!("{}{}", GOOD_GTF, gtf_line("chr1", "CDS", 21, 50, "+", "0", "gene_id \"G2\"; transcript_id \"T2\";")).into_bytes()),
            args: vec!["--transcripts", "T2"],
            expect: &["genes.gtf:4: transcript T2 has CDS records but no exons"],
        },
        Case {
            name: "unknown chromosome",
            files: with(good(), "genes.gtf", gtf(&[gtf_line("chrZ", "exon", 11, 50, "+", ".", A1)])),
            args: vec![],
            expect: &["genes.gtf:1: sequence `chrZ` of transcript T1 is not in genome.fa (it has chr1)"],
        },
        Case { name: "unknown transcript id", files: good(), args: vec!["--transcripts", "T1,NOPE"], expect: &["genes.gtf: no transcript `NOPE`"] },
        Case { name: "unknown gene", files: good(), args: vec!["--genes", "NOPE"], expect: &["genes.gtf: no gene `NOPE`"] },
        Case { name: "empty annotation", files: with(good(), "genes.gtf", Vec::new()), args: vec![], expect: &["genes.gtf: empty file"] },
        Case {
            name: "annotation without exons",
            files: with(good(), "genes.gtf", gtf(&[gtf_line("chr1", "gene", 11, 150, "+", ".", "gene_id \"G1\";")])),
            args: vec![],
            expect: &["genes.gtf: no exon records"],
        },
        Case {
            name: "truncated gzip annotation",
            files: with(without(good(), "genes.gtf"), "genes.gtf.gz", gtf_gz[..gtf_gz.len() - 20].to_vec()),
            args: vec!["--annotation", "genes.gtf.gz"],
            expect: &["genes.gtf.gz:", "read failed"],
        },
        Case {
            name: "gff3 Parent that is no ID",
            files: with(without(good(), "genes.gtf"), "genes.gff3", b"##gff-version 3\nchr1\tt\tmRNA\t11\t150\t.\t+\t.\tID=T1\nchr1\tt\texon\t11\t50\t.\t+\t.\tParent=T9\n".to_vec()),
            args: vec!["--annotation", "genes.gff3"],
            expect: &["genes.gff3:3: Parent \"T9\" is not the ID of any record"],
        },
        Case {
            name: "gff3 attribute not key=value",
            files: with(without(good(), "genes.gtf"), "genes.gff3", b"##gff-version 3\nchr1\tt\tmRNA\t11\t150\t.\t+\t.\tID=T1;oops\n".to_vec()),
            args: vec!["--annotation", "genes.gff3"],
            expect: &["genes.gff3:2: malformed attribute field: `oops` is not key=value"],
        },
        Case {
            name: "chrom map with one column",
            files: { let mut f = good(); f.push(("map.tsv", b"chr1\n".to_vec())); f },
            args: vec!["--chrom-map", "map.tsv"],
            expect: &["map.tsv:1: expected two tab-separated names"],
        },
        Case { name: "window that does not suit the model", files: good(), args: vec!["--model", "MODEL", "--window", "84"], expect: &["--window 84 does not suit"] },
    ]
}

#[test]
fn bad_inputs_catalogue() {
    let tiny = root().join("models/tiny");
    let cases = catalogue();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let dir = scratch(&format!("case{i}"));
        for (name, bytes) in &case.files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let mut args = vec!["prepare", "--genome", "genome.fa", "--annotation", "genes.gtf", "--all", "-o", "out.tsv"];
        // later options override earlier ones; --transcripts/--genes replace --all
        if case.args.iter().any(|a| *a == "--transcripts" || *a == "--genes") {
            args.retain(|a| *a != "--all");
        }
        let tiny_str = tiny.to_str().unwrap().to_string();
        let extra: Vec<&str> = case.args.iter().map(|a| if *a == "MODEL" { tiny_str.as_str() } else { a }).collect();
        let mut all: Vec<&str> = Vec::new();
        let mut k = 0;
        while k < args.len() {
            // drop a default option the case overrides
            if extra.contains(&args[k]) && args[k].starts_with("--") && args[k] != "--all" {
                k += 2;
                continue;
            }
            all.push(args[k]);
            k += 1;
        }
        all.extend(&extra);
        let o = isoformer(&all, &dir);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let first = stderr.lines().next().unwrap_or("");
        let leftovers: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.contains("out.tsv")).collect();
        let ok = !o.status.success()
            && first.starts_with("error: ")
            && case.expect.iter().all(|e| first.contains(e))
            && leftovers.is_empty();
        if !ok {
            failures.push(format!("{}: exit {:?}, leftovers {leftovers:?}, stderr:\n{stderr}", case.name, o.status.code()));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
