#!/usr/bin/env bash
# Planted-signal benchmark: synthetic transcripts with motifs planted in DNA, RNA and
# protein, a small IsoFormer trained end to end on CPU, held-out-gene R² and single-modality
# ablations. Source: crates/isoformer-train/examples/planted.rs. Exits non-zero on failure.
#   bash tools/planted.sh [OUT_DIR] [--epochs N] [--genes N]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/planted}
shift || true
cargo run --release --locked -p isoformer-train --example planted -- "$out" "$@"
