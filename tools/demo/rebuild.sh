#!/usr/bin/env bash
# Rebuild models/demo from real registry data (docs/DATA.md): fetch augustus-doc (hg19
# fragments) and mmsplice 2.4.0 (GENCODE exons, GTEx exon PSI), build the dataset
# (tools/demo/make_data.py), split it by gene, train a small IsoFormer from seeded weights with
# `isoformer train`, evaluate it on the held-out genes with `isoformer eval` (and the
# training-mean baseline). Needs apt-get, pip and python3; ~85 MB of downloads.
#   bash tools/demo/rebuild.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-target/demo-work}
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ ! -f "$work/mmsplice/models/gtex_psi_map37_ranges.csv.gz" ]; then
  (cd "$work" && apt-get download augustus-doc && dpkg -x augustus-doc_*_all.deb root \
    && pip download --no-deps -d . mmsplice==2.4.0 \
    && python3 -m zipfile -e mmsplice-2.4.0-py2.py3-none-any.whl unpacked \
    && mkdir -p mmsplice && rm -rf mmsplice/models && mv unpacked/mmsplice/models mmsplice/models && rm -rf unpacked)
fi
python3 tools/demo/make_data.py "$work" "$work/demo.tsv" --window 1024
cargo build --release --locked -p isoformer-cli -p isoformer-train --examples --bins
# private copies: a target directory shared with other builds may relink them meanwhile
bin=$work/bin
mkdir -p "$bin/examples"
cp "${CARGO_TARGET_DIR:-target}/release/isoformer" "$bin/"
cp "${CARGO_TARGET_DIR:-target}/release/examples/init_model" "$bin/examples/"
"$bin/isoformer" split --input "$work/demo.tsv" --by gene --fractions 0.7,0.1,0.2 --seed 1 -o "$work/demo"
"$bin/examples/init_model" tools/demo/config.json models/tiny "$work/init" 64 30
rm -rf "$work/model"
"$bin/isoformer" train --model "$work/init" --train "$work/demo.train.tsv" --valid "$work/demo.valid.tsv" \
  --out "$work/model" --train-parts all --epochs 20 --batch-size 16 --lr 1e-3 --warmup-steps 20 \
  --weight-decay 0.01 --clip-grad-norm 1.0 --seed 1 --standardize -j 2
"$bin/isoformer" eval --model "$work/model" --data "$work/demo.test.tsv" --baseline "$work/demo.train.tsv" \
  -o "$work/test_metrics.tsv" --json "$work/test_metrics.json" --plot "$work/plots" --plot-target "exon_psi:Brain"
mkdir -p models/demo
for f in config.json model.safetensors dna_vocab_list.txt rna_vocab_list.txt protein_vocab_list.txt training.json training_log.tsv; do
  cp "$work/model/$f" models/demo/
done
cp "$work/test_metrics.tsv" "$work/test_metrics.json" models/demo/
cp "$work/plots/"*.svg models/demo/
cut -f1,2 "$work/demo.train.tsv" | tail -n +2 > models/demo/split_train.tsv
cut -f1,2 "$work/demo.valid.tsv" | tail -n +2 > models/demo/split_valid.tsv
cut -f1,2 "$work/demo.test.tsv" | tail -n +2 > models/demo/split_test.tsv
echo "models/demo rebuilt; test metrics:"; cat models/demo/test_metrics.tsv
