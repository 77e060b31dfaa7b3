#!/usr/bin/env bash
# The test suite: every crate's tests in release mode (they do real numerical work, and share
# the release build of burn), printing each parity comparison's max |Δ|; then the model crate's
# wasm32 build check.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --workspace --locked -- --nocapture --test-threads 2 2>&1 | tee target-test.log
grep -h "^max |Δ|" target-test.log | sort -u || true
grep -h "^SKIPPED" target-test.log | sort -u || true
rm -f target-test.log
# The shared core compiles for the browser.
cargo check --locked --target wasm32-unknown-unknown -p isoformer-model
echo "wasm32 check: isoformer-model builds for wasm32-unknown-unknown"
