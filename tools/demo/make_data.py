#!/usr/bin/env python3
"""Build the demo model's dataset from real registry data (docs/DATA.md), no network beyond
the two package downloads, standard library only.

Sources (fetched by tools/demo/rebuild.sh with `apt-get download` and `pip download`):
  G2  Debian augustus-doc: hg19 chr3:42,000,000-44,000,000, chr4:103-105 Mb, chr5:124-126 Mb
  G4  PyPI mmsplice 2.4.0 mmsplice/models/grch37_exons.csv.gz: GENCODE exon -> transcript -> gene
  E2  PyPI mmsplice 2.4.0 mmsplice/models/gtex_psi_map37_ranges.csv.gz: GTEx v8 exon PSI, 53 tissues

One row per GENCODE transcript lying inside a region with at least one exon that E2 measures:
  dna      WINDOW bp around the TSS, 5'->3' on the transcript's strand, the TSS base at index WINDOW/2
  rna      exons joined in transcription order
  protein  the longest ATG..stop ORF of the spliced RNA if >= 100 aa (G4 has no CDS), else empty
  targets  `exon_psi:<group>` for each of IsoFormer's 30 tissue groups: the mean, over the
           transcript's exons that E2 measures, of the exon's PSI averaged over the GTEx tissues of
           that group (tools/demo/gtex_tissue_groups.tsv). These are exon-inclusion levels, NOT
           transcript expression (TPM).

Coordinates: G4's Start/End include the overhangs; the exon is [Start+left, End-right]. Whether
that is 0-based half-open or 1-based is decided from the data (splice sites must be GT..AG), and the
same convention is used to join E2 by exact coordinates.

usage: make_data.py WORK_DIR OUT.tsv [--window N]
"""
import csv
import gzip
import os
import sys
from collections import defaultdict

REGIONS = {"3": "chr3.42M.fa", "4": "chr4.103M.fa", "5": "chr5.124M.fa"}
COMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")
CODON = {}
bases = "TCAG"
aas = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
for i, a in enumerate(bases):
    for j, b in enumerate(bases):
        for k, c in enumerate(bases):
            CODON[a + b + c] = aas[16 * i + 4 * j + k]


def revcomp(s):
    return s.translate(COMP)[::-1]


def read_fragment(path):
    with open(path) as f:
        header = f.readline().split()
        start = int(header[1])  # 1-based position of the first base
        seq = "".join(l.strip() for l in f).upper()
    return start, seq


def longest_orf(rna):
    best = ""
    for frame in range(3):
        i = frame
        while i + 3 <= len(rna):
            if rna[i:i + 3] == "ATG":
                j = i
                prot = []
                while j + 3 <= len(rna):
                    aa = CODON.get(rna[j:j + 3], "X")
                    if aa == "*":
                        break
                    prot.append(aa)
                    j += 3
                else:
                    prot = []  # no stop codon: not a complete ORF
                if len(prot) > len(best):
                    best = "".join(prot)
                i = j + 3 if prot else i + 3
            else:
                i += 3
    return best if len(best) >= 100 else ""


def main():
    work, out = sys.argv[1], sys.argv[2]
    window = int(sys.argv[sys.argv.index("--window") + 1]) if "--window" in sys.argv else 1024
    here = os.path.dirname(os.path.abspath(__file__))
    groups = {}
    with open(os.path.join(here, "gtex_tissue_groups.tsv")) as f:
        for line in f:
            if line.startswith("#") or line.startswith("gtex_tissue\t"):
                continue
            t, g = line.rstrip("\n").split("\t")
            groups[t] = g
    sys.path.insert(0, os.path.join(here, "..", ".."))
    tissues30 = [l.strip().strip('",') for l in open(os.path.join(here, "..", "..", "crates/isoformer-model/src/lib.rs")) if l.strip().startswith('"')]
    assert len(tissues30) == 30, tissues30
    assert set(groups.values()) == set(tissues30), set(tissues30) ^ set(groups.values())

    frags = {}
    for chrom, name in REGIONS.items():
        frags[chrom] = read_fragment(os.path.join(work, "root/usr/share/doc/augustus/tutorial/data", name))

    def base_at(chrom, pos1):  # 1-based genomic position -> base or N
        start, seq = frags[chrom]
        i = pos1 - start
        return seq[i] if 0 <= i < len(seq) else "N"

    def span(chrom, a1, b1):  # 1-based inclusive
        start, seq = frags[chrom]
        return "".join(seq[p - start] if 0 <= p - start < len(seq) else "N" for p in range(a1, b1 + 1))

    # G4 exons in the regions.
    tx = defaultdict(list)
    with gzip.open(os.path.join(work, "mmsplice/models/grch37_exons.csv.gz"), "rt") as f:
        for r in csv.DictReader(f):
            chrom = r["Chromosome"].removeprefix("chr")
            if chrom not in frags:
                continue
            s = int(r["Start"]) + int(r["left_overhang"])
            e = int(r["End"]) - int(r["right_overhang"])
            fs, fseq = frags[chrom]
            if s < fs or e > fs + len(fseq):
                continue
            tx[r["transcript_id"]].append((chrom, s, e, r["Strand"], r["gene_id"], r["gene_name"]))

    # Coordinate convention: which one makes introns GT..AG?
    def gtag(offset):
        good = total = 0
        for exons in tx.values():
            ex = sorted(exons, key=lambda x: x[1])
            for a, b in zip(ex, ex[1:]):
                chrom, strand = a[0], a[3]
                # intron in 1-based inclusive coords: (a.end_1 + 1 .. b.start_1 - 1)
                a_end1 = a[2] + (0 if offset == 0 else 0)
                b_start1 = b[1] + offset
                donor = span(chrom, a_end1 + 1, a_end1 + 2)
                acceptor = span(chrom, b_start1 - 2, b_start1 - 1)
                if strand == "-":
                    donor, acceptor = revcomp(acceptor), revcomp(donor)
                total += 1
                good += donor == "GT" and acceptor == "AG"
        return good / max(total, 1)

    # offset 1: Start is 0-based (first exon base is Start+1 in 1-based terms), End 1-based inclusive
    rates = {off: gtag(off) for off in (0, 1)}
    off = max(rates, key=rates.get)
    print(f"GT-AG rate: Start as 1-based {rates[0]:.3f}, as 0-based {rates[1]:.3f}; using {'0' if off else '1'}-based", file=sys.stderr)
    assert rates[off] > 0.9, rates

    # E2 PSI by exact exon coordinates (same convention), averaged into the 30 groups.
    psi = {}
    with gzip.open(os.path.join(work, "mmsplice/models/gtex_psi_map37_ranges.csv.gz"), "rt") as f:
        rd = csv.reader(f)
        head = rd.__next__()
        cols = head[6:]
        missing = [c for c in cols if c not in groups and c != "Cells - Leukemia cell line (CML)"]
        assert not missing, missing
        idx = defaultdict(list)
        for j, c in enumerate(cols):
            if c in groups:
                idx[groups[c]].append(j)
        for r in rd:
            chrom = r[0].removeprefix("chr")
            if chrom not in frags:
                continue
            vals = r[6:]
            row = {}
            for g, js in idx.items():
                v = [float(vals[j]) for j in js if vals[j] not in ("", "nan", "NaN")]
                if v:
                    row[g] = sum(v) / len(v)
            if len(row) == 30:
                psi[(chrom, int(r[1]), int(r[2]), r[3])] = row

    rows = []
    for tid, exons in sorted(tx.items()):
        strand = exons[0][3]
        ex = sorted(exons, key=lambda x: x[1], reverse=(strand == "-"))
        measured = [psi[(c, s, e, st)] for (c, s, e, st, _, _) in ex if (c, s, e, st) in psi]
        if not measured:
            continue
        chrom = ex[0][0]
        rna = "".join(span(c, s + off, e) for (c, s, e, _, _, _) in sorted(exons, key=lambda x: x[1]))
        if strand == "-":
            rna = revcomp(rna)
            tss = ex[0][2]  # highest base of the first exon in transcription order
            dna = revcomp(span(chrom, tss - window // 2 + 1, tss + window // 2))
        else:
            tss = ex[0][1] + off
            dna = span(chrom, tss - window // 2, tss + window // 2 - 1)
        assert len(dna) == window and dna[window // 2] == (base_at(chrom, tss) if strand == "+" else revcomp(base_at(chrom, tss)))
        if "N" in dna or "N" in rna:
            continue
        protein = longest_orf(rna)
        targets = [sum(m[g] for m in measured) / len(measured) for g in tissues30]
        gene = ex[0][4].split("_")[0]
        rows.append((tid.split("_")[0], gene, ex[0][5], "chr" + chrom, strand, tss, dna, rna, protein, targets))

    with open(out, "w") as f:
        f.write("transcript_id\tgene_id\tgene_name\tchrom\tstrand\ttss\tdna\trna\tprotein\t")
        f.write("\t".join(f"exon_psi:{g}" for g in tissues30) + "\n")
        for r in rows:
            f.write("\t".join(str(x) for x in r[:9]) + "\t" + "\t".join(f"{v:.5f}" for v in r[9]) + "\n")
    genes = len({r[1] for r in rows})
    coding = sum(1 for r in rows if r[8])
    print(f"{len(rows)} transcripts of {genes} genes ({coding} with an ORF >= 100 aa) -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
