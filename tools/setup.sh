#!/usr/bin/env bash
# Make a fresh Debian machine ready to build, run and test isoformer. Idempotent: every step
# skips what is already there. Called by .ci/run; run it yourself once on a new machine.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {        # install the Debian packages that are missing (apt may be locked: retry)
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local i
  for i in $(seq 1 20); do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; then return 0; fi
    echo "setup: apt-get failed (lock?), retry $i in 15 s" >&2; sleep 15
  done
  return 1
}

# wgpu without a GPU: Mesa's software Vulkan driver (lavapipe) gives an adapter for the wgpu tests.
apt_install mesa-vulkan-drivers libvulkan1

# The model crate must build for the browser: the wasm32 standard library.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
echo "setup: ready ($(rustc --version))"
bash tools/setup-wasm.sh
