#!/usr/bin/env bash
# The sizing note's counts (README, "Genome-wide runs"): GENCODE transcripts and their distinct
# TSS windows (chromosome, strand, TSS: one Enformer pass each) from the genome-wide GRCh38
# GENCODE exon table in the mmsplice 2.4.0 wheel (docs/DATA.md, source G4: MIT; exon
# coordinates include splice-site overhangs, removed here). Downloads 62 MB into a temporary
# directory and removes it.
set -euo pipefail
tmp=$(mktemp -d /tmp/isoformer-gencode.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pip download -q --no-deps -d "$tmp" mmsplice==2.4.0
unzip -q -d "$tmp" "$tmp"/mmsplice-2.4.0-py2.py3-none-any.whl 'mmsplice/models/grch38_exons.csv.gz'
python3 - "$tmp/mmsplice/models/grch38_exons.csv.gz" <<'PY'
import csv, gzip, sys
spans = {}
with gzip.open(sys.argv[1], "rt") as f:
    for row in csv.DictReader(f):
        start = int(row["Start"]) + int(row["left_overhang"])
        end = int(row["End"]) - int(row["right_overhang"])
        key = row["transcript_id"]
        chrom, strand, lo, hi, gene = spans.get(key, (row["Chromosome"], row["Strand"], start, end, row["gene_id"]))
        spans[key] = (chrom, strand, min(lo, start), max(hi, end), gene)
windows = {(c, s, lo if s == "+" else hi) for c, s, lo, hi, _ in spans.values()}
genes = {g for *_, g in spans.values()}
print(f"GENCODE (GRCh38, mmsplice 2.4.0): {len(spans)} transcripts, {len(genes)} genes, {len(windows)} distinct TSS windows ({len(spans) / len(windows):.2f} transcripts per window)")
PY
