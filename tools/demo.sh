#!/usr/bin/env bash
# The main job on the bundled examples: `prepare` turns the real example genome + annotation
# (examples/, three human genes, 59 isoforms) into model inputs, `predict` runs the bundled model
# on them and draws the isoform × tissue heatmap. Outputs go to out/ (or the folder given).
# models/demo is a small IsoFormer trained by `isoformer train` on real data (GENCODE transcripts,
# GTEx exon-inclusion levels: see models/demo/README.md): it takes 1,024-bp DNA windows and its 30
# outputs are exon PSI per tissue group, not expression. ABHD5 and ANO10 lie in its chr3 training
# region and were in its training split; TANGO2 (chr22) was not in its data (models/demo/split_*.tsv).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
mkdir -p "$out"
# `isoformer` as tools/setup.sh installed it (cargo's bin directory), else this checkout's build.
bin=$(command -v isoformer || echo "${CARGO_TARGET_DIR:-target}/release/isoformer")
"$bin" prepare --genome examples/genome.fa.gz --annotation examples/genes.gtf --all \
  --model models/demo --window 1024 -o "$out/examples.tsv"
"$bin" predict --model models/demo --input "$out/examples.tsv" --output "$out/predictions.tsv" \
  --plot "$out/heatmap.svg"
"$bin" predict --model models/demo --input "$out/examples.tsv" --output "$out/predictions.parquet" \
  --plot "$out/heatmap.png" -q
# Variant effects on every isoform, through DNA, RNA and protein (examples/variants.vcf).
"$bin" score-variants --model models/demo --window 1024 --genome examples/genome.fa.gz \
  --annotation examples/genes.gtf --vcf examples/variants.vcf -o "$out/variant_scores.tsv" \
  --dump-inputs "$out/variant_inputs.tsv" --plot "$out/variant_plots" -q
echo "demo: $(($(wc -l < "$out/variant_scores.tsv") - 1)) (variant, isoform) pairs scored -> $out/variant_scores.tsv, heatmaps in $out/variant_plots/"
echo "demo: $(($(wc -l < "$out/predictions.tsv") - 1)) isoforms predicted -> $out/predictions.tsv, heatmap $out/heatmap.svg (and .png), Parquet $out/predictions.parquet"
