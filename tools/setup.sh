#!/usr/bin/env bash
# Make a fresh Debian machine ready to build, run and test isoformer. Idempotent: every step
# skips what is already there. Called by .ci/run; run it yourself once on a new machine.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/apt.sh

# wgpu without a GPU: Mesa's software Vulkan driver (lavapipe) gives an adapter for the wgpu tests.
apt_install mesa-vulkan-drivers libvulkan1
# burn-ndarray links the system OpenBLAS (one of the native CPU backends the benchmarks compare).
apt_install libopenblas-dev pkg-config

# The model crate must build for the browser: the wasm32 standard library.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
echo "setup: ready ($(rustc --version))"
bash tools/setup-wasm.sh
