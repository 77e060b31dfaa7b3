#!/usr/bin/env bash
# Make a fresh Debian machine ready to run the main job, and put `isoformer` on the PATH (in
# cargo's bin directory, ${CARGO_HOME:-~/.cargo}/bin, where rustup puts cargo itself).
# Only what the CLI needs; the test suite's tools (Mesa's Vulkan, the wasm32 toolchain, Chromium,
# trunk) are installed by tools/setup-tests.sh. Idempotent: every step skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/apt.sh

# burn-ndarray links the system OpenBLAS (one of the CPU backends the benchmarks compare; the
# workspace builds one burn with one feature set, so the CLI links it too).
step "1/3 system packages: libopenblas-dev pkg-config"
apt_install libopenblas-dev pkg-config

# One release build of the workspace's binaries: the same build the test suite reuses (the
# crates resolve one burn feature set), ~15 min on 2 cores the first time.
step "2/3 cargo build --release --workspace --bins (first time ~15 min on 2 cores)"
cargo build --release --locked --workspace --bins

bin_dir="${CARGO_HOME:-$HOME/.cargo}/bin"
step "3/3 install isoformer into $bin_dir"
install -D -m 755 "${CARGO_TARGET_DIR:-target}/release/isoformer" "$bin_dir/isoformer"
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "setup: $bin_dir is not on your PATH: add it (export PATH=\"$bin_dir:\$PATH\") to run \`isoformer\`" ;;
esac
step "ready: $("$bin_dir/isoformer" --version) ($(rustc --version))"
