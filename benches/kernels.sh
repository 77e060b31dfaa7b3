#!/usr/bin/env bash
# wgpu rows of the benchmarks (no PyTorch needed): every attention of the official geometry
# through the WGSL kernel, burn's own `attention` op and the unfused reference, each in its own
# process on a wgpu device limited to WebGPU's defaults (128 MiB per binding, 256 MiB per buffer;
# Mesa's lavapipe here); then the whole official forward with seeded weights, kernels on and off,
# against the CPU. Prints one JSON line per row and writes them to benches/results/kernels-DATE.jsonl.
#
#   bash benches/kernels.sh [--reps N] [--device wgpu|webgpu-limited] [--skip-forward] [--forward-off-too]
#
# Dispatches per pass are counted in a second run of each row, with cubecl's profiling log at its
# `minimal` level (one "Executing <kernel>" line per dispatch, no timing, no extra syncs), from a
# scratch directory holding that cubecl.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3 device=webgpu-limited forward=1 forward_kernels=on
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --skip-forward) forward=0; shift ;;
    --forward-off-too) forward_kernels="on off"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
bin="${CARGO_TARGET_DIR:-target}/release/isoformer-bench"
# The workspace build (not `-p isoformer-bench`, whose own feature resolution would rebuild burn).
[ -x "$bin" ] || cargo build --release --locked --workspace --bins
bin=$(realpath "$bin")
out="benches/results/kernels-$(date +%Y-%m-%d-%H%M).jsonl"
scratch=$(mktemp -d /tmp/isoformer-dispatch.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
printf '[profiling.logger]\nlevel = "minimal"\nfile = "%s/dispatch.log"\n' "$scratch" > "$scratch/cubecl.toml"
adapter=$(vulkaninfo --summary 2>/dev/null | grep -m1 deviceName | cut -d= -f2 | xargs || true)
flags=$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|avx512f|fma' | sort -u | xargs)
echo "{\"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\", \"flags\": \"$flags\", \"nproc\": $(nproc), \"adapter\": \"${adapter:-unknown (vulkaninfo absent)}\"}" | tee "$out"

dispatches() {  # the number of kernel launches of one pass of: $@
  rm -f "$scratch/dispatch.log"
  (cd "$scratch" && "$bin" "$@" >/dev/null 2>&1) || true
  grep -c '^Executing' "$scratch/dispatch.log" 2>/dev/null || echo 0
}

for shape in nt-self esm-self enformer-rel fusion-rna fusion-protein; do
  for path in kernel burn reference; do
    row=$("$bin" kernels --shape "$shape" --path "$path" --device "$device" --reps "$reps" 2>/dev/null | tail -1)
    n=$(dispatches kernels --shape "$shape" --path "$path" --device "$device" --reps 0)
    echo "${row%\}}, \"dispatches_per_pass\": $n}" | tee -a "$out"
  done
done
if [ "$forward" = 1 ]; then
  # One run (a pass is many minutes on lavapipe), counted as it goes: the minimal profiling log
  # adds no synchronisation. Kernels off, the same forward stops at the first attention whose
  # scores exceed the limits (NT's, 268 MB); that row only costs the time to get there.
  for kernels in $forward_kernels; do
    rm -f "$scratch/dispatch.log"
    row=$(cd "$scratch" && "$bin" limited-forward --device "$device" --kernels "$kernels" 2>/dev/null | tail -1)
    n=$(grep -c '^Executing' "$scratch/dispatch.log" 2>/dev/null || echo 0)
    echo "${row%\}}, \"dispatches_per_pass\": $n}" | tee -a "$out"
  done
fi
echo "written: $out" >&2
