#!/usr/bin/env bash
# The test suite: every crate's tests in release mode (they do real numerical work, and share
# the release build of burn), printing each parity comparison's max |Δ|; then the model crate's
# wasm32 build check.
set -euo pipefail
cd "$(dirname "$0")/.."
# The wgpu tests (WGSL kernels against their references, the WebGPU-limits test, GPU failures in
# the CLI) must run, not skip: tools/setup-tests.sh installs Mesa's lavapipe for them. Mesa wants a
# runtime directory and complains on every start without one.
export ISOFORMER_REQUIRE_WGPU=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/isoformer-xdg.XXXXXX)}"
cargo test --release --workspace --locked -- --nocapture --test-threads 2 2>&1 | tee target-test.log
grep -h "^max |Δ|" target-test.log | sort -u || true
grep -h "^SKIPPED" target-test.log | sort -u || true
rm -f target-test.log
# The Snakemake workflow: 3 shards merged = the unsharded run, and a kill-and-resume run.
bash tools/workflow-test.sh "${CARGO_TARGET_DIR:-target}/release/isoformer"

# The shared core compiles for the browser.
cargo check --locked --target wasm32-unknown-unknown -p isoformer-model -p isoformer-pipeline
echo "wasm32 check: isoformer-model and isoformer-pipeline build for wasm32-unknown-unknown"

# The browser half (crates/isoformer-web): the parity cases and the page's path in headless
# Chromium, on WebGPU (SwiftShader) and on burn's CPU backend. wasm builds use their own target
# directory and environment (tools/wasm-env.sh), in a subshell so nothing leaks into host builds.
(
  source tools/wasm-env.sh
  t0=$(date +%s)
  cargo test --release --locked --target wasm32-unknown-unknown -p isoformer-web --no-run
  echo "wasm32 test build: $(( $(date +%s) - t0 )) s"
  t0=$(date +%s)
  cargo test --release --locked --target wasm32-unknown-unknown -p isoformer-web -- --nocapture 2>&1 | tee target-test-wasm.log
  grep -h "max |Δ|" target-test-wasm.log | sed 's/^ *//' | sort -u || true
  grep -h "SKIPPED" target-test-wasm.log | sort -u || true
  rm -f target-test-wasm.log
  echo "browser tests (headless Chromium): $(( $(date +%s) - t0 )) s"
)

# The page end to end: `trunk build`, served on 127.0.0.1, driven in headless Chromium
# (tools/e2e_page.py). Its bundled example is the int8 demo model (models/demo-int8) and the
# examples prepared for it (models/demo/example.tsv): first check both are what `prepare` and
# `quantize` make today. The page's tables (the bundled example as TSV and as a FASTA triplet on
# the CPU backend, two transcripts on WebGPU, the fp32 demo model picked as the user's own files)
# must be the native CLI's for the same files, bad inputs must give messages, and no request may
# follow the model's load.
work=$(mktemp -d /tmp/isoformer-e2e-inputs.XXXXXX)
# The binary `cargo test --workspace` built above (no second host build with other features).
bin="${CARGO_TARGET_DIR:-target}/release/isoformer"
"$bin" prepare --genome examples/genome.fa.gz --annotation examples/genes.gtf --all --model models/demo \
  --window 1024 -o "$work/example.tsv"
cmp "$work/example.tsv" models/demo/example.tsv || { echo "models/demo/example.tsv is not what prepare writes now: rerun the command in models/demo-int8/README.md" >&2; exit 1; }
"$bin" quantize --model models/demo --calibration models/demo/example.tsv -o "$work/demo-int8"
for f in config.json model.safetensors; do
  cmp "$work/demo-int8/$f" "models/demo-int8/$f" || { echo "models/demo-int8/$f is not what quantize writes now: rerun the command in models/demo-int8/README.md" >&2; exit 1; }
done
(
  source tools/wasm-env.sh
  t0=$(date +%s)
  trunk build --locked
  echo "trunk build: $(( $(date +%s) - t0 )) s; dist/isoformer-web_bg.wasm $(stat -c %s dist/isoformer-web_bg.wasm) bytes"
  t0=$(date +%s)
  python3 tools/e2e_page.py dist "$bin" artifacts/page.png
  echo "page test: $(( $(date +%s) - t0 )) s"
)
rm -rf "$work"
