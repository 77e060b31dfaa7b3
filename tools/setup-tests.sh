#!/usr/bin/env bash
# What the test suite needs beyond tools/setup.sh: Mesa's software Vulkan driver (lavapipe) for
# the wgpu tests on machines without a GPU, the wasm32 standard library, and the browser tool
# chain (Chromium + chromedriver, wasm-bindgen-cli, trunk: tools/setup-wasm.sh). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/apt.sh

step "1/3 system packages: mesa-vulkan-drivers libvulkan1 libopenblas-dev pkg-config"
apt_install mesa-vulkan-drivers libvulkan1 libopenblas-dev pkg-config
step "2/3 wasm32 standard library"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown || echo "setup-tests: rustup cannot add wasm32 (tools/setup-wasm.sh falls back to Debian's rustc-web)"
fi
step "3/3 browser tool chain (Chromium, wasm-bindgen-cli, trunk; first time ~20 min)"
bash tools/setup-wasm.sh
step "ready"
