#!/usr/bin/env bash
# The main job on the bundled examples: `prepare` turns the real example genome + annotation
# (examples/, three human genes, 59 isoforms) into model inputs, `predict` runs the bundled model
# on them and draws the isoform × tissue heatmap. Outputs go to out/ (or the folder given).
# models/tiny has RANDOM weights: the numbers exercise the pipeline, they are not biology.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
mkdir -p "$out"
cargo build --release --workspace --bins --locked
bin="${CARGO_TARGET_DIR:-target}/release/isoformer"
"$bin" prepare --genome examples/genome.fa.gz --annotation examples/genes.gtf --all \
  --model models/tiny --window 80 -o "$out/examples.tsv"
"$bin" predict --model models/tiny --input "$out/examples.tsv" --output "$out/predictions.tsv" \
  --plot "$out/heatmap.svg"
echo "demo: $(($(wc -l < "$out/predictions.tsv") - 1)) isoforms predicted -> $out/predictions.tsv, heatmap $out/heatmap.svg"
