#!/usr/bin/env bash
# Fuzz the checkpoint reader and the safetensors header check with libFuzzer (cargo fuzz).
#   bash tools/fuzz.sh [SECONDS]      # default 600 s per target, both targets side by side
# Stable Rust: no sanitizer (-s none), RUSTC_BOOTSTRAP=1 for cargo-fuzz's -Z flags; the corpus
# is seeded with the project's own checkpoints and kept in fuzz/corpus/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/checkpoint_reader fuzz/corpus/safetensors_header
cp tests/fixtures/hub/*.bin tests/fixtures/hub/*.pkl fuzz/corpus/checkpoint_reader/
cp tests/fixtures/tokenizers.safetensors fuzz/corpus/safetensors_header/
export RUSTC_BOOTSTRAP=1
for t in checkpoint_reader safetensors_header; do
  (cd fuzz && cargo fuzz build -s none --release "$t")
done
for t in checkpoint_reader safetensors_header; do
  (cd fuzz && cargo fuzz run -s none --release "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 \
     > "../target-fuzz-$t.log" 2>&1; echo "$t exit $?" >> "../target-fuzz-$t.log") &
done
wait
for t in checkpoint_reader safetensors_header; do
  echo "== $t"; grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs|exit|panicked|ERROR" "target-fuzz-$t.log" | tail -4
done
