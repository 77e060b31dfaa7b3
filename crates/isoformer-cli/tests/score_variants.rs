//! `isoformer score-variants` on the bundled example genome (real hg19 sequence) with the
//! demo model: every consequence class on both strands, the built inputs checked against
//! sequences written out here, Δ checked against `predict` on the dumped inputs; then the
//! bad-input catalogue.
//!
//! Transcripts: ENST00000327374 (TANGO2, + strand, coding, from examples/genes.gtf);
//! ENST00000413397.5_2 (ANO10, − strand) with a CDS added here (the bundled ANO10 lines have
//! none): its real start codon at chr3:43,647,344 (RNA index 89) read 140 codons to RNA index 508,
//! no stop in the isoform; ENST00000428831.1_2 (ANO10, − strand, non-coding); and two
//! single-exon transcripts written here on real sequence (TESTPLUS, TESTMINUS), short enough for
//! a 1,024-bp window to reach past their 3′ ends (downstream).

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{isoformer, root, scratch};

const WINDOW: &str = "1024";

fn annotation() -> String {
    let gtf = std::fs::read_to_string(root().join("examples/genes.gtf")).unwrap();
    let keep = ["transcript_id ENST00000327374;", "transcript_id \"ENST00000413397.5_2\"", "transcript_id \"ENST00000428831.1_2\""];
    let mut out: String = gtf.lines().filter(|l| keep.iter().any(|k| l.contains(k))).map(|l| format!("{l}\n")).collect();
    let ano10 = "gene_id \"ENSG00000160746.12_4\"; transcript_id \"ENST00000413397.5_2\"; gene_name \"ANO10\";";
    for (s, e, phase) in [(43647206, 43647344, 0), (43641876, 43642073, 2), (43640076, 43640158, 2)] {
        out += &format!("chr3\ttest\tCDS\t{s}\t{e}\t.\t-\t{phase}\t{ano10}\n");
    }
    out += "22\ttest\texon\t20015001\t20015100\t.\t+\t.\tgene_id \"TESTP\"; transcript_id \"TESTPLUS\"; gene_name \"TESTP\";\n";
    out += "chr3\ttest\texon\t43700001\t43700100\t.\t-\t.\tgene_id \"TESTM\"; transcript_id \"TESTMINUS\"; gene_name \"TESTM\";\n";
    assert_eq!(out.lines().filter(|l| l.contains("ENST00000327374")).count(), 19, "the example GTF's lines of ENST00000327374");
    out
}

const HEADER: &str = "##fileformat=VCFv4.2\n##contig=<ID=22>\n##contig=<ID=chr3>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";

/// One record per case (ID names it); positions 1-based on hg19.
const RECORDS: &str = "\
22\t20024323\tp_start_lost\tT\tC\t.\tPASS\t.
22\t20024326\tp_missense\tG\tA\t.\tPASS\t.
22\t20024327\tp_syn_stop\tC\tT,A\t.\tPASS\t.
22\t20024328\tp_frameshift\tA\tAT\t.\tPASS\t.
22\t20024327\tp_inframe\tCATC\tC\t.\tPASS\t.
22\t20052184\tp_stop_lost\tA\tC\t.\tPASS\t.
22\t20024318\tp_utr5\tC\tT\t.\tPASS\t.
22\t20052190\tp_utr3\tA\tG\t.\tPASS\t.
chr22\t20024281\tp_boundary\tAGA\tA\t.\tPASS\t.
22\t20024282\tp_splice\tG\tT\t.\tPASS\t.
22\t20008900\tp_intron\tG\tA\t.\tPASS\t.
22\t20008900\tp_intron_ins\tG\tGTT\t.\tPASS\t.
22\t20008500\tp_upstream\tG\tA\t.\tPASS\t.
22\t20008500\tp_upstream_del\tGCG\tG\t.\tPASS\t.
22\t20008630\tp_tss_indel\tCC\tC\t.\tPASS\t.
22\t20015050\tx_exon\tG\tT\t.\tPASS\t.
22\t20015300\tx_down\tT\tG\t.\tPASS\t.
chr3\t43647343\tm_start_lost\tA\tG\t.\tPASS\t.
chr3\t43647341\tm_mis_stop\tT\tC,A\t.\tPASS\t.
chr3\t43647339\tm_syn\tT\tC\t.\tPASS\t.
chr3\t43647339\tm_frameshift\tTT\tT\t.\tPASS\t.
chr3\t43647335\tm_inframe\tTCAC\tT\t.\tPASS\t.
chr3\t43647353\tm_utr5\tA\tG\t.\tPASS\t.
chr3\t43647354\tm_boundary\tATC\tA\t.\tPASS\t.
chr3\t43647357\tm_splice\tT\tA\t.\tPASS\t.
chr3\t43732900\tm_intron\tC\tT\t.\tPASS\t.
chr3\t43732900\tm_intron_del\tCC\tC\t.\tPASS\t.
chr3\t43733300\tm_upstream\tT\tC\t.\tPASS\t.
chr3\t43733300\tm_upstream_del\tTTG\tT\t.\tPASS\t.
chr3\t43733085\tm_tss_indel\tAT\tA\t.\tPASS\t.
chr3\t43732200\tm_exon\tC\tG\t.\tPASS\t.
chr3\t43699800\tx_down_m\tA\tC\t.\tPASS\t.
chr3\t43700300\tx_up_m\tG\tA\t.\tPASS\t.
";

const TP: &str = "ENST00000327374";
const TM: &str = "ENST00000413397.5_2";
const NM: &str = "ENST00000428831.1_2";

/// (vcf_id, alt, transcript, consequence, changed), in output order.
const EXPECTED: &[(&str, &str, &str, &str, &str)] = &[
    // The + strand CDS lies far from the TSS window: its variants change RNA and protein only,
    // and the RNA keeps its 3' end (the demo model's 256 tokens), so 5' edits show in the protein
    // alone; the protein keeps its first 254 residues, so a stop lost shows in the RNA alone.
    ("p_start_lost", "C", TP, "start_lost", "protein"),
    ("p_missense", "A", TP, "missense", "protein"),
    ("p_syn_stop", "T", TP, "synonymous", ""),
    ("p_syn_stop", "A", TP, "stop_gained", "protein"),
    ("p_frameshift", "AT", TP, "frameshift", "rna,protein"),
    ("p_inframe", "C", TP, "inframe_indel", "rna,protein"),
    ("p_stop_lost", "C", TP, "stop_lost", "rna"),
    ("p_utr5", "T", TP, "5_prime_utr", ""),
    ("p_utr3", "G", TP, "3_prime_utr", "rna"),
    ("p_boundary", "A", TP, "exon_boundary", ""),
    ("p_splice", "T", TP, "splice_site", ""),
    ("p_intron", "A", TP, "intron", "dna"),
    ("p_intron_ins", "GTT", TP, "intron", "dna"),
    ("p_upstream", "A", TP, "upstream", "dna"),
    ("p_upstream_del", "G", TP, "upstream", "dna"),
    // p_tss_indel: skipped (tss_indel).
    ("x_exon", "T", TP, "intron", ""),
    ("x_exon", "T", "TESTPLUS", "noncoding_exon", "dna,rna"),
    ("x_down", "G", TP, "intron", ""),
    ("x_down", "G", "TESTPLUS", "downstream", "dna"),
    ("m_start_lost", "G", TM, "start_lost", "rna,protein"),
    ("m_start_lost", "G", NM, "noncoding_exon", "rna"),
    ("m_mis_stop", "C", TM, "missense", "rna,protein"),
    ("m_mis_stop", "C", NM, "noncoding_exon", "rna"),
    ("m_mis_stop", "A", TM, "stop_gained", "rna,protein"),
    ("m_mis_stop", "A", NM, "noncoding_exon", "rna"),
    ("m_syn", "C", TM, "synonymous", "rna"),
    ("m_syn", "C", NM, "noncoding_exon", "rna"),
    ("m_frameshift", "T", TM, "frameshift", "rna,protein"),
    ("m_frameshift", "T", NM, "noncoding_exon", "rna"),
    ("m_inframe", "T", TM, "inframe_indel", "rna,protein"),
    ("m_inframe", "T", NM, "noncoding_exon", "rna"),
    ("m_utr5", "G", TM, "5_prime_utr", "rna"),
    ("m_utr5", "G", NM, "noncoding_exon", "rna"),
    ("m_boundary", "A", TM, "exon_boundary", ""),
    ("m_boundary", "A", NM, "exon_boundary", ""),
    ("m_splice", "A", TM, "splice_site", ""),
    ("m_splice", "A", NM, "splice_site", ""),
    ("m_intron", "T", TM, "intron", "dna"),
    ("m_intron_del", "C", TM, "intron", "dna"),
    ("m_upstream", "C", TM, "upstream", "dna"),
    ("m_upstream_del", "T", TM, "upstream", "dna"),
    // m_tss_indel: skipped (tss_indel).
    ("m_exon", "G", TM, "intron", ""),
    ("m_exon", "G", NM, "noncoding_exon", "dna,rna"),
    ("x_down_m", "C", TM, "intron", ""),
    ("x_down_m", "C", NM, "intron", ""),
    ("x_down_m", "C", "TESTMINUS", "downstream", "dna"),
    ("x_up_m", "A", TM, "intron", ""),
    ("x_up_m", "A", NM, "intron", ""),
    ("x_up_m", "A", "TESTMINUS", "upstream", "dna"),
];

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Header and rows of a TSV.
fn tsv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split('\t').map(String::from).collect();
    (header, lines.map(|l| l.split('\t').map(String::from).collect()).collect())
}

fn score(dir: &Path, vcf: &str, extra: &[&str]) -> std::process::Output {
    let model = root().join("models/demo");
    let genome = root().join("examples/genome.fa.gz");
    let mut args = vec!["score-variants", "-m", model.to_str().unwrap(), "-g", genome.to_str().unwrap(), "-a", "genes.gtf", "--vcf", vcf];
    if !extra.contains(&"-w") {
        args.extend(["-w", WINDOW]);
    }
    args.extend(extra);
    isoformer(&args, dir)
}

fn setup(name: &str) -> PathBuf {
    let dir = scratch(name);
    write(&dir, "genes.gtf", annotation().as_bytes());
    dir
}

fn complement(s: &str) -> String {
    s.chars().map(|c| match c {
        'A' => 'T',
        'C' => 'G',
        'G' => 'C',
        'T' => 'A',
        o => o,
    })
    .collect()
}

/// Reference protein of ENST00000413397.5_2 with the CDS above (RNA 89..509, no stop).
const ANO10_PROTEIN: &str = "MKVTLSALDTSESSFTPLVVIELAQDVKEETKEWLKNRIIAKKKDGGAQLLFRPLLNKYEQETLENQNLYLVGASKIRMLLGAEAVGLVKECNDNTMRAFTYRTRQNFKGFDDNNDDFLTMAECQFIIKHELENLRAKDE";

#[test]
fn every_consequence_on_both_strands_inputs_by_hand_and_deltas_equal_predict() {
    let dir = setup("classes");
    write(&dir, "v.vcf", format!("{HEADER}{RECORDS}").as_bytes());
    let out = score(&dir, "v.vcf", &["-o", "scores.tsv", "--dump-inputs", "inputs.tsv", "--plot", "plots"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("tss_indel pairs: 2"), "{stderr}");
    assert!(stderr.contains("no share_delta columns"), "{stderr}");

    let (header, rows) = tsv(&dir.join("scores.tsv"));
    assert_eq!(&header[..11], ["variant_id", "vcf_id", "chrom", "pos", "ref", "alt", "transcript_id", "gene_id", "gene_name", "consequence", "changed"]);
    assert_eq!(header[11], "delta:exon_psi:Adipose Tissue");
    assert_eq!(header.len(), 11 + 30);
    let got: Vec<(&str, &str, &str, &str, &str)> = rows.iter().map(|r| (r[1].as_str(), r[5].as_str(), r[6].as_str(), r[9].as_str(), r[10].as_str())).collect();
    assert_eq!(got, EXPECTED);
    assert_eq!(rows[0][0], "22:20024323:T:C");
    assert_eq!(rows.iter().find(|r| r[1] == "p_boundary").unwrap()[0], "chr22:20024281:AGA:A", "variant_id keeps the VCF's CHROM");

    // The dumped inputs, two rows a pair, read by `predict` as they are.
    let (dh, dump) = tsv(&dir.join("inputs.tsv"));
    assert_eq!(dh, ["transcript_id", "variant_id", "source_transcript_id", "allele", "gene_id", "dna", "rna", "protein", "flags"]);
    assert_eq!(dump.len(), 2 * rows.len());
    let mut inputs: HashMap<(String, String, String), (String, String, String, String)> = HashMap::new();
    for (k, d) in dump.iter().enumerate() {
        assert_eq!(d[3], if k % 2 == 0 { "ref" } else { "alt" });
        assert_eq!(d[0], format!("{}|{}|{}", d[1], d[2], d[3]));
        inputs.insert((d[1].clone(), d[2].clone(), d[3].clone()), (d[5].clone(), d[6].clone(), d[7].clone(), d[8].clone()));
    }
    let id_of = |vcf_id: &str, alt: &str| rows.iter().find(|r| r[1] == vcf_id && r[5] == alt).unwrap()[0].clone();
    let get = |vcf_id: &str, alt: &str, t: &str, allele: &str| inputs[&(id_of(vcf_id, alt), t.to_string(), allele.to_string())].clone();
    let pair = |vcf_id: &str, alt: &str, t: &str| (get(vcf_id, alt, t, "ref"), get(vcf_id, alt, t, "alt"));

    // + strand coding: the reference protein, then each allele's, written out.
    let (r, a) = pair("p_missense", "A", TP);
    assert!(r.2.starts_with("MCIIFFKFDPRPVSKNAYRLILAANRDEFYSRP"), "{}", r.2);
    assert_eq!(r.2.len(), 254, "the demo model's 256 protein tokens");
    assert_eq!(a.2, format!("MY{}", &r.2[2..]), "TGC>TAC at codon 2");
    assert_eq!((&a.0, &a.1), (&r.0, &r.1), "DNA and (cropped) RNA unchanged");
    let (_, a) = pair("p_syn_stop", "T", TP);
    assert_eq!(a.2, r.2, "TGC>TGT");
    let (_, a) = pair("p_syn_stop", "A", TP);
    assert_eq!(a.2, "M", "TGC>TGA: the protein ends after M");
    let (_, a) = pair("p_start_lost", "C", TP);
    assert_eq!((a.2.as_str(), a.3.as_str()), ("", "rna_cropped,start_lost"));
    let (_, a) = pair("p_frameshift", "AT", TP);
    assert_eq!(a.2, "MCIHLL", "ATG TGC ATC ATC TTC TTT AAG (MCIIFFK) with a T after codon 3's A: ATG TGC ATT CAT CTT CTT TAA");
    let (_, a) = pair("p_inframe", "C", TP);
    assert_eq!(&a.2[..10], "MCIFFKFDPR", "ATC of codon 3 deleted: ATG TGC ATC TTC TTT AAG TTT GAT CCT CGC");
    let (r, a) = pair("p_utr3", "G", TP);
    assert_eq!(a.1.len(), r.1.len());
    let k = r.1.len() - (20053449 - 20052190) - 1;
    assert_eq!((&r.1[k - 2..k + 3], &a.1[k - 2..k + 3]), ("CCACC", "CCGCC"), "3' UTR base, index from the RNA's 3' end");
    let (r, a) = pair("p_stop_lost", "C", TP);
    let k = r.1.len() - (20053449 - 20052184) - 1;
    assert_eq!((&r.1[k - 1..k + 2], &a.1[k - 1..k + 2]), ("TAA", "TCA"));

    // + strand DNA: the window starts at 20,008,119 (TSS 20,008,631 at index 512).
    let (r, a) = pair("p_intron", "A", TP);
    assert_eq!(&r.0[512..516], "CGGA", "TSS base C at index 512");
    assert_eq!((&r.0[779..784], &a.0[779..784]), ("TGGAA", "TGAAA"), "20,008,900 at index 781");
    assert_eq!(format!("{}A{}", &r.0[..781], &r.0[782..]), a.0);
    let (r, a) = pair("p_intron_ins", "GTT", TP);
    assert_eq!(a.0, format!("{}TT{}", &r.0[..782], &r.0[782..1022]), "after the TSS: the TSS stays, the window's end drops");
    let (r, a) = pair("p_upstream", "A", TP);
    assert_eq!(format!("{}A{}", &r.0[..381], &r.0[382..]), a.0, "20,008,500 at index 381");
    let (r, a) = pair("p_upstream_del", "G", TP);
    assert_eq!(a.0, format!("TG{}{}", &r.0[..382], &r.0[384..]), "before the TSS: it moves 2 bases left; 20,008,117-118 are TG");
    assert_eq!(&a.0[512..516], "CGGA", "the TSS base still at index 512");
    let (r, a) = pair("x_exon", "T", "TESTPLUS");
    assert_eq!((&r.1[47..52], &a.1[47..52]), ("CAGCA", "CATCA"), "20,015,050: RNA index 49");
    assert_eq!(format!("{}T{}", &r.0[..561], &r.0[562..]), a.0);
    let (r, a) = pair("x_down", "G", "TESTPLUS");
    assert_eq!(format!("{}G{}", &r.0[..811], &r.0[812..]), a.0, "20,015,300 at index 811, past the 3' end (20,015,100)");
    assert_eq!(a.1, r.1);

    // − strand coding (RNA 511 bases, not cropped): index 89 is the A of ATG.
    let (r, a) = pair("m_syn", "C", TM);
    assert_eq!(r.1.len(), 511);
    assert_eq!(&r.1[86..101], "AAGATGAAAGTGACC");
    assert_eq!(r.2, ANO10_PROTEIN);
    assert_eq!(r.3, "cds_end_incomplete");
    assert_eq!(&a.1[86..101], "AAGATGAAGGTGACC", "AAA>AAG");
    assert_eq!((a.2.as_str(), a.3.as_str()), (ANO10_PROTEIN, "no_stop"));
    let (_, a) = pair("m_mis_stop", "C", TM);
    assert_eq!((&a.1[86..101], a.2.as_str()), ("AAGATGGAAGTGACC", format!("ME{}", &ANO10_PROTEIN[2..]).as_str()));
    let (_, a) = pair("m_mis_stop", "A", TM);
    assert_eq!((&a.1[86..101], a.2.as_str(), a.3.as_str()), ("AAGATGTAAGTGACC", "M", ""));
    let (_, a) = pair("m_start_lost", "G", TM);
    assert_eq!((&a.1[86..101], a.2.as_str(), a.3.as_str()), ("AAGACGAAAGTGACC", "", "start_lost"));
    let (_, a) = pair("m_frameshift", "T", TM);
    assert_eq!((&a.1[86..100], a.2.as_str()), ("AAGATGAAGTGACC", "MK"), "ATG AAG TGA");
    let (_, a) = pair("m_inframe", "T", TM);
    assert_eq!((&a.1[86..98], a.2.as_str()), ("AAGATGAAAACC", format!("MK{}", &ANO10_PROTEIN[3..]).as_str()), "GTG deleted");
    let (r, a) = pair("m_utr5", "G", TM);
    assert_eq!((&r.1[78..83], &a.1[78..83]), ("ATTTG", "ATCTG"), "43,647,351-355 CAAAT reversed and complemented; 43,647,353 A>G is RNA index 80");
    assert_eq!(a.2, ANO10_PROTEIN);
    let (r, a) = pair("m_utr5", "G", NM);
    assert_eq!((r.2.as_str(), a.2.as_str()), ("", ""), "a non-coding transcript stays non-coding");

    // − strand DNA: the window is the reverse complement of 43,732,575-43,733,598 (1-based), so
    // index i holds the complement of 43,733,598 - i.
    let (r, a) = pair("m_intron", "T", TM);
    assert_eq!(&r.0[512..516], "ATCC", "TSS base A (43,733,086 T) at index 512");
    assert_eq!(format!("{}A{}", &r.0[..698], &r.0[699..]), a.0, "43,732,900 C>T at index 698: G>A");
    let (r, a) = pair("m_intron_del", "C", TM);
    assert_eq!(a.0, format!("{}{}{}", &r.0[..697], &r.0[698..], complement("A")), "after the TSS on −: deletion of 43,732,901 (index 697); the window shifts by one, 43,732,574 (A) enters at its end");
    let (r, a) = pair("m_upstream", "C", TM);
    assert_eq!(format!("{}G{}", &r.0[..298], &r.0[299..]), a.0, "43,733,300 T>C at index 298: A>G");
    let (r, a) = pair("m_upstream_del", "T", TM);
    assert_eq!(a.0, format!("{}{}{}", complement("AT"), &r.0[..296], &r.0[298..]), "before the TSS on − (larger coordinates): 43,733,301-302 deleted, 43,733,599-600 (TA) enter at the start");
    assert_eq!(&a.0[512..516], "ATCC");
    let (r, a) = pair("m_exon", "G", NM);
    assert_eq!((&r.1[103..108], &a.1[103..108]), ("CCGAA", "CCCAA"), "43,732,198-202 TTCGG reversed and complemented; 43,732,200 C>G is RNA index 105");
    let (r, a) = pair("x_down_m", "C", "TESTMINUS");
    assert_eq!(format!("{}G{}", &r.0[..812], &r.0[813..]), a.0, "43,699,800 A>C at index 812, past the 3' end");

    // Δ = predict(alt) - predict(ref) on the dumped inputs, every pair and output.
    let model = root().join("models/demo");
    let p = isoformer(&["predict", "-m", model.to_str().unwrap(), "-i", "inputs.tsv", "-o", "predicted.tsv", "-q"], &dir);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let (_, predicted) = tsv(&dir.join("predicted.tsv"));
    let values: HashMap<&str, Vec<f64>> = predicted.iter().map(|r| (r[0].as_str(), r[2..].iter().map(|v| v.parse().unwrap()).collect())).collect();
    let mut largest = 0f64;
    for r in &rows {
        let key = |allele: &str| format!("{}|{}|{allele}", r[0], r[6]);
        let (alt, reference) = (&values[key("alt").as_str()], &values[key("ref").as_str()]);
        for (j, d) in r[11..].iter().enumerate() {
            let d: f64 = d.parse().unwrap();
            assert!((d - (alt[j] - reference[j])).abs() <= 1e-5, "{} {}: {d} vs {}", r[0], r[6], alt[j] - reference[j]);
            largest = largest.max(d.abs());
            if r[10].is_empty() {
                assert_eq!(d, 0.0, "unchanged inputs, no change");
            }
        }
    }
    assert!(largest > 0.01, "the model sees the changes: largest |Δ| {largest}");

    // Batches of 5 (padded token rows, kept RNA and protein embeddings mixed with fresh ones):
    // the same Δs.
    let out = score(&dir, "v.vcf", &["-o", "batched.tsv", "-b", "5", "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, batched) = tsv(&dir.join("batched.tsv"));
    assert_eq!(batched.len(), rows.len());
    for (a, b) in rows.iter().zip(&batched) {
        assert_eq!(a[..11], b[..11]);
        for (x, y) in a[11..].iter().zip(&b[11..]) {
            let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
            assert!((x - y).abs() <= 1e-5, "{}: {x} vs {y} with -b 5", a[0]);
        }
    }

    // One heatmap per variant with rows, SVG and PNG.
    let mut plots: Vec<String> = std::fs::read_dir(dir.join("plots")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    plots.sort();
    let variants = rows.iter().map(|r| &r[0]).collect::<std::collections::BTreeSet<_>>().len();
    assert_eq!(plots.len(), 2 * variants);
    assert_eq!(plots[0], "0001_22_20024323_T_C.png");
    let svg = std::fs::read_to_string(dir.join("plots/0001_22_20024323_T_C.svg")).unwrap();
    assert!(svg.contains("C22orf25 ENST00000327374 start_lost") && svg.contains("22:20024323:T:C (p_start_lost)"), "{svg}");
    assert!(std::fs::read(dir.join("plots").join(&plots[0])).unwrap().starts_with(b"\x89PNG"));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn bgzip(bytes: &[u8]) -> Vec<u8> {
    let mut w = noodles_bgzf::io::Writer::new(Vec::new());
    w.write_all(bytes).unwrap();
    w.finish().unwrap()
}

const FEW: &str = "22\t20024326\tp_missense\tG\tA\t.\tPASS\t.\nchr3\t43647341\tm_mis_stop\tT\tC,A\t.\tPASS\t.\n";

#[test]
fn compressed_stdin_unsorted_and_header_only_vcfs_and_parquet() {
    let dir = setup("forms");
    let plain = format!("{HEADER}{FEW}");
    write(&dir, "v.vcf", plain.as_bytes());
    write(&dir, "v.vcf.gz", &gzip(plain.as_bytes()));
    write(&dir, "v.bgz.vcf.gz", &bgzip(plain.as_bytes()));
    assert!(score(&dir, "v.vcf", &["-o", "plain.tsv"]).status.success());
    let expected = std::fs::read_to_string(dir.join("plain.tsv")).unwrap();
    assert_eq!(expected.lines().count(), 1 + 5, "one + strand row, two ALTs on two − strand transcripts");
    for (vcf, name) in [("v.vcf.gz", "gzip"), ("v.bgz.vcf.gz", "bgzip")] {
        let out = score(&dir, vcf, &["-o", "-", "-q"]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected, "{name}");
    }
    let model = root().join("models/demo");
    let genome = root().join("examples/genome.fa.gz");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_isoformer"))
        .args(["score-variants", "-m", model.to_str().unwrap(), "-w", WINDOW, "-g", genome.to_str().unwrap(), "-a", "genes.gtf", "--vcf", "-", "-q"])
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&gzip(plain.as_bytes())).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected, "gzip on standard input");

    // Unsorted: rows follow the VCF.
    let swapped: String = FEW.lines().rev().map(|l| format!("{l}\n")).collect();
    write(&dir, "u.vcf", format!("{HEADER}{swapped}").as_bytes());
    let out = score(&dir, "u.vcf", &["-o", "-", "-q"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut want: Vec<&str> = expected.lines().collect();
    want[1..].rotate_left(1);
    assert_eq!(lines, want);

    // Header only: a header-only output, exit 0.
    write(&dir, "h.vcf", HEADER.as_bytes());
    let out = score(&dir, "h.vcf", &["-o", "h.tsv"]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(dir.join("h.tsv")).unwrap(), expected.lines().next().unwrap().to_string() + "\n");

    // Parquet: the same columns, unrounded.
    let out = score(&dir, "v.vcf", &["-o", "s.parquet"]);
    assert!(out.status.success());
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(dir.join("s.parquet")).unwrap()).unwrap();
    let schema = reader.metadata().file_metadata().schema_descr();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, expected.lines().next().unwrap().split('\t').collect::<Vec<_>>());
    assert_eq!(reader.metadata().file_metadata().num_rows(), 5);

    // Lower-case alleles are read as upper case.
    write(&dir, "l.vcf", format!("{HEADER}22\t20024326\tp_missense\tg\ta\t.\tPASS\t.\n").as_bytes());
    let out = score(&dir, "l.vcf", &["-o", "-", "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().nth(1).unwrap().split('\t').skip(10).collect::<Vec<_>>(), expected.lines().nth(1).unwrap().split('\t').skip(10).collect::<Vec<_>>());
}

#[test]
fn skipped_alleles_are_counted_not_errors() {
    let dir = setup("skips");
    let records = "22\t20024326\tsym\tG\t<DEL>,A\t.\tPASS\t.\n22\t20024327\tstar\tC\t*\t.\tPASS\t.\n22\t20024328\tbnd\tA\tA[22:20030000[\t.\tPASS\t.\n22\t20024329\tnone\tT\t.\t.\tPASS\t.\n22\t20024330\tbad\tA\tG\t.\tPASS\t.\n22\t20008630\ttss\tCC\tC\t.\tPASS\t.\n";
    write(&dir, "v.vcf", format!("{HEADER}{records}").as_bytes());
    let out = score(&dir, "v.vcf", &["-o", "s.tsv", "--ref-mismatch", "skip"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("skipped: symbolic ALT: 1, `*` ALT: 1, breakend ALT: 1, missing ALT `.`: 1, ref_mismatch: 1, tss_indel pairs: 1"), "{stderr}");
    let (_, rows) = tsv(&dir.join("s.tsv"));
    assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["22:20024326:G:A"]);
}

/// One bad input: the VCF's records (after the header, unless `raw`), extra arguments, and what
/// the one-line error must say.
struct Case {
    name: &'static str,
    vcf: Vec<u8>,
    args: Vec<&'static str>,
    expect: &'static str,
}

fn case(name: &'static str, records: &str, expect: &'static str) -> Case {
    Case { name, vcf: format!("{HEADER}{records}").into_bytes(), args: vec![], expect }
}

fn catalogue() -> Vec<Case> {
    let good = "22\t20024326\tok\tG\tA\t.\tPASS\t.\n";
    let mut cut = gzip(format!("{HEADER}{}", good.repeat(200)).as_bytes());
    cut.truncate(cut.len() / 2);
    vec![
        Case { name: "not a VCF", vcf: b"#CHROM\tPOS\n".to_vec(), args: vec![], expect: "v.vcf:1: not a VCF: the first line must be `##fileformat=VCFv4.x`" },
        Case { name: "empty file", vcf: Vec::new(), args: vec![], expect: "v.vcf: empty file (not a VCF)" },
        Case { name: "no #CHROM line", vcf: b"##fileformat=VCFv4.2\n22\t1\t.\tA\tC\t.\t.\t.\n".to_vec(), args: vec![], expect: "v.vcf:2: record before the `#CHROM` column header line" },
        Case { name: "header never ends", vcf: b"##fileformat=VCFv4.2\n##contig=<ID=22>\n".to_vec(), args: vec![], expect: "v.vcf: no `#CHROM` column header line" },
        Case { name: "bad header line", vcf: b"##fileformat=VCFv4.2\n##INFO=<ID=DP,Number=1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n".to_vec(), args: vec![], expect: "v.vcf: invalid VCF header" },
        case("7 fields", "22\t20024326\tx\tG\tA\t.\tPASS\n", "v.vcf:5: 7 tab-separated fields, a VCF record has at least 8"),
        case("space-separated", "22 20024326 x G A . PASS .\n", "v.vcf:5: 1 tab-separated fields"),
        case("empty line", &format!("{good}\n{good}"), "v.vcf:6: empty line"),
        case("POS 0", "22\t0\tx\tG\tA\t.\tPASS\t.\n", "v.vcf:5: POS 0 (VCF positions are 1-based"),
        case("POS not a number", "22\t12x\tx\tG\tA\t.\tPASS\t.\n", "v.vcf:5: POS \"12x\" is not a positive integer"),
        case("POS negative", "22\t-5\tx\tG\tA\t.\tPASS\t.\n", "v.vcf:5: POS \"-5\" is not a positive integer"),
        case("POS past the chromosome", "22\t51304567\tx\tN\tA\t.\tPASS\t.\n", "v.vcf:5: REF 22:51304567-51304567 lies past the end of chr22 (51304566 bp"),
        case("REF runs past the end", "22\t51304566\tx\tNN\tA\t.\tPASS\t.\n", "v.vcf:5: REF 22:51304566-51304567 lies past the end of chr22"),
        case("unknown contig", "chrZ\t100\tx\tA\tC\t.\tPASS\t.\n", "v.vcf:5: contig `chrZ` is not in"),
        case("empty CHROM", ".\t100\tx\tA\tC\t.\tPASS\t.\n", "v.vcf:5: empty CHROM"),
        case("REF mismatch", "22\t20024326\tx\tT\tA\t.\tPASS\t.\n", "examples/genome.fa.gz); --ref-mismatch skip skips such variants"),
        case("REF mismatch later in the file", &format!("{good}22\t20024330\tx\tA\tG\t.\tPASS\t.\n"), "v.vcf:6: REF A at 22:20024330 does not match the genome, which has C there"),
        case("ALT with U", "22\t20024326\tx\tG\tU\t.\tPASS\t.\n", "v.vcf:5: ALT \"U\" must be one or more of A, C, G, T, N"),
        case("ALT IUPAC", "22\t20024326\tx\tG\tR\t.\tPASS\t.\n", "v.vcf:5: ALT \"R\""),
        case("second ALT bad", "22\t20024326\tx\tG\tA,X\t.\tPASS\t.\n", "v.vcf:5: ALT \"X\""),
        case("REF IUPAC", "22\t20024326\tx\tR\tA\t.\tPASS\t.\n", "v.vcf:5: REF \"R\" must be one or more of A, C, G, T, N"),
        case("REF missing", "22\t20024326\tx\t.\tA\t.\tPASS\t.\n", "v.vcf:5: REF \".\""),
        case("duplicate record", &format!("{good}{good}"), "v.vcf:6: variant 22:20024326:G:A repeats line 5"),
        case("duplicate through multi-ALT", &format!("{good}22\t20024326\ty\tG\tC,a\t.\tPASS\t.\n"), "v.vcf:6: variant 22:20024326:G:a repeats line 5"),
        Case { name: "another assembly", vcf: format!("##fileformat=VCFv4.2\n##contig=<ID=chr3,length=198022430>\n##contig=<ID=22,length=50818468>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n{good}").into_bytes(), args: vec![], expect: "v.vcf:3: contig 22 has length 50818468 here but 51304566 in" },
        Case { name: "truncated gzip", vcf: cut, args: vec![], expect: "read failed: incomplete deflate stream" },
        Case { name: "window the model cannot take", vcf: format!("{HEADER}{good}").into_bytes(), args: vec!["-w", "1000"], expect: "--window 1000 does not suit" },
        Case { name: "two outputs on stdout", vcf: format!("{HEADER}{good}").into_bytes(), args: vec!["-o", "-", "--dump-inputs", "-"], expect: "only one of --output, --dump-inputs can be `-`" },
        Case { name: "unknown transcript filter", vcf: format!("{HEADER}{good}").into_bytes(), args: vec!["--transcripts", "ENST99"], expect: "no transcript `ENST99`" },
        Case { name: "parquet.gz", vcf: format!("{HEADER}{good}").into_bytes(), args: vec!["-o", "x.parquet.gz", "--format", "parquet"], expect: "Parquet is not gzip-compressed" },
    ]
}

#[test]
fn bad_inputs_fail_on_one_line_naming_file_and_line_and_leave_nothing() {
    let cases = catalogue();
    assert!(cases.len() >= 25, "{} cases", cases.len());
    for c in cases {
        let dir = setup("bad");
        write(&dir, "v.vcf", &c.vcf);
        let mut args = vec!["-o", "out.tsv", "--dump-inputs", "inputs.tsv", "--plot", "plots"];
        if c.args.contains(&"-o") {
            args.clear();
        }
        args.extend(c.args.iter().copied());
        let out = score(&dir, "v.vcf", &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: succeeded", c.name);
        let first = stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("error: ") && first.contains(c.expect), "{}: {stderr}", c.name);
        assert!(stderr.lines().filter(|l| !l.starts_with("  caused by")).count() == 1, "{}: one line: {stderr}", c.name);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n != "v.vcf" && n != "genes.gtf").collect();
        assert!(left.is_empty(), "{}: left {left:?}", c.name);
        assert!(out.stdout.is_empty(), "{}: wrote to stdout", c.name);
    }
}

#[test]
fn a_missing_vcf_is_named() {
    let dir = setup("missing");
    let out = score(&dir, "nope.vcf", &["-o", "out.tsv"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.vcf"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.join("out.tsv").exists());
}

/// With a model whose outputs are the 30 GTEx tissues (log(TPM+1)), `share_delta:<tissue>`
/// columns: each isoform's share of its gene's expression e^y - 1, alt minus ref, computed here
/// from `predict` on the dumped inputs.
#[test]
fn share_delta_for_expression_models() {
    let dir = scratch("share");
    let vcf = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n22\t20024326\tm\tG\tA\t.\tPASS\t.\n22\t20008700\tu\tC\tT\t.\tPASS\t.\n";
    write(&dir, "v.vcf", vcf.as_bytes());
    let (model, genome, gtf) = (root().join("models/tiny"), root().join("examples/genome.fa.gz"), root().join("examples/genes.gtf"));
    let out = isoformer(
        &["score-variants", "-m", model.to_str().unwrap(), "-w", "80", "-g", genome.to_str().unwrap(), "-a", gtf.to_str().unwrap(), "--transcripts", "ENST00000327374,ENST00000432883", "--vcf", "v.vcf", "-o", "s.tsv", "--dump-inputs", "d.tsv"],
        &dir,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("no share_delta"), "{stderr}");
    let (header, rows) = tsv(&dir.join("s.tsv"));
    assert_eq!(header.len(), 11 + 30 + 30);
    assert_eq!((header[11].as_str(), header[41].as_str()), ("delta:Adipose Tissue", "share_delta:Adipose Tissue"));
    assert_eq!(rows.len(), 4, "two variants on two isoforms of one gene");
    let p = isoformer(&["predict", "-m", model.to_str().unwrap(), "-i", "d.tsv", "-o", "p.tsv", "-q"], &dir);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let (_, predicted) = tsv(&dir.join("p.tsv"));
    let y: HashMap<&str, Vec<f64>> = predicted.iter().map(|r| (r[0].as_str(), r[2..].iter().map(|v| v.parse().unwrap()).collect())).collect();
    let e = |v: f64| (v.exp() - 1.0).max(0.0);
    for variant in ["22:20024326:G:A", "22:20008700:C:T"] {
        let mine: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == variant).collect();
        assert_eq!(mine.len(), 2);
        for t in 0..30 {
            let total = |allele: &str| mine.iter().map(|r| e(y[format!("{variant}|{}|{allele}", r[6]).as_str()][t])).sum::<f64>();
            let (ref_total, alt_total) = (total("ref"), total("alt"));
            let mut sum = 0.0;
            for r in &mine {
                // A gene predicted at no expression (every e^y - 1 <= 0) gives every isoform share 0.
                let share = |allele: &str, total: f64| if total > 0.0 { e(y[format!("{variant}|{}|{allele}", r[6]).as_str()][t]) / total } else { 0.0 };
                let want = share("alt", alt_total) - share("ref", ref_total);
                let got: f64 = r[41 + t].parse().unwrap();
                assert!((got - want).abs() <= 2e-5, "{variant} {} tissue {t}: {got} vs {want}", r[6]);
                sum += got;
            }
            assert!(sum.abs() <= 2e-6, "shares of one gene move together: {sum}");
        }
        assert!(mine.iter().any(|r| r[41..].iter().any(|v| v.parse::<f64>().unwrap().abs() > 1e-4)), "{variant}: shares change");
    }
}

/// `--shard K/N` outputs, merged, are the unsharded output byte for byte (TSV and its provenance,
/// Parquet), whatever N; a gene's isoforms and a window's transcripts stay in one shard.
#[test]
fn shards_merge_to_the_unsharded_scores() {
    let dir = setup("score-variants-shards");
    write(&dir, "v.vcf", format!("{HEADER}{RECORDS}").as_bytes());
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["-o", out, "-q"];
        args.extend(extra);
        let o = score(&dir, "v.vcf", &args);
        assert!(o.status.success(), "{out}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let json = |name: &str| serde_json::from_slice::<serde_json::Value>(&read(name)).unwrap();
    run("full.tsv", &[]);
    run("full.parquet", &[]);
    let p = json("full.tsv.json");
    assert_eq!((p["command"].as_str(), p["parameters"]["window"].as_str()), (Some("score-variants"), Some(WINDOW)));
    assert_eq!(p["files"]["vcf"]["sha256"].as_str().unwrap().len(), 64);
    let (_, full) = tsv(&dir.join("full.tsv"));
    for n in [2usize, 3, 7] {
        let mut parts = Vec::new();
        let mut genes_seen: HashMap<String, usize> = HashMap::new();
        for k in 1..=n {
            let name = format!("s{k}of{n}.tsv");
            run(&name, &["--shard", &format!("{k}/{n}"), "-j", if k % 2 == 0 { "1" } else { "2" }]);
            let s = json(&format!("{name}.json"));
            assert_eq!((s["shard"]["index"].as_u64(), s["shard"]["total"].as_u64()), (Some(k as u64), Some(full.len() as u64)));
            for row in tsv(&dir.join(&name)).1 {
                let shard = *genes_seen.entry(row[7].clone()).or_insert(k);
                assert_eq!(shard, k, "{n} shards: gene {} in shards {shard} and {k}", row[7]);
            }
            parts.push(name);
        }
        assert!(genes_seen.len() >= 3, "the run's genes: {genes_seen:?}");
        parts.reverse();
        let mut args = vec!["merge", "-o", "merged.tsv"];
        args.extend(parts.iter().map(String::as_str));
        let o = isoformer(&args, &dir);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(read("merged.tsv") == read("full.tsv"), "{n} shards: merged scores differ from the unsharded run");
        assert_eq!(json("merged.tsv.json"), json("full.tsv.json"), "{n} shards: provenance");
    }
    let parquet: Vec<String> = (1..=3).map(|k| format!("s{k}.parquet")).collect();
    for (k, name) in parquet.iter().enumerate() {
        run(name, &["--shard", &format!("{}/3", k + 1)]);
    }
    let mut args = vec!["merge", "-o", "merged.parquet"];
    args.extend(parquet.iter().map(String::as_str));
    let o = isoformer(&args, &dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(read("merged.parquet") == read("full.parquet"), "merged Parquet scores differ from the unsharded run");
    // A shard run with another parameter is another run.
    run("skip2of2.tsv", &["--shard", "2/2", "--ref-mismatch", "skip"]);
    let o = isoformer(&["merge", "-o", "mixed.tsv", "s1of2.tsv", "skip2of2.tsv"], &dir);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.starts_with("error: skip2of2.tsv is not from the run of s1of2.tsv: parameters.ref_mismatch is \"skip\" there"), "{e}");
    assert!(!dir.join("mixed.tsv").exists());
    // The VCF from standard input is identified by its content.
    let model = root().join("models/demo");
    let genome = root().join("examples/genome.fa.gz");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_isoformer"))
        .args(["score-variants", "-m", model.to_str().unwrap(), "-w", WINDOW, "-g", genome.to_str().unwrap(), "-a", "genes.gtf", "--vcf", "-", "-q", "-o", "stdin.tsv"])
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&read("v.vcf")).unwrap();
    assert!(child.wait().unwrap().success());
    let s = json("stdin.tsv.json");
    assert_eq!((s["files"]["vcf"]["name"].as_str(), s["files"]["vcf"]["sha256"].as_str()), (Some("-"), p["files"]["vcf"]["sha256"].as_str()));
    assert!(read("stdin.tsv") == read("full.tsv"));
}
