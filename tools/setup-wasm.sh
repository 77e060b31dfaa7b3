#!/usr/bin/env bash
# The browser half's tools (see docs/WASM.md): a wasm32 standard library, wasm-bindgen-cli at
# exactly the wasm-bindgen version in Cargo.lock, Chromium + chromedriver from Debian, and trunk.
# Idempotent: every step skips what is already there. Called by tools/setup-tests.sh.
#
# wasm32 std: `rustup target add` first; when rustup cannot fetch it, Debian's signed rustc-web
# (bookworm-security) is linked as the rustup toolchain `debian-web` and std is rebuilt from
# rust-web-src with -Zbuild-std. tools/wasm-env.sh picks whichever route is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/apt.sh

# 1. The wasm32 standard library.
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup-wasm: wasm32 target present (rustup)"
elif rustup target add wasm32-unknown-unknown; then
  echo "setup-wasm: wasm32 target added (rustup)"
else
  echo "setup-wasm: rustup cannot fetch wasm32-unknown-unknown: falling back to Debian rustc-web + build-std"
  apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22
  v_rustc=$(dpkg-query -W -f='${Version}' rustc-web)
  v_src=$(dpkg-query -W -f='${Version}' rust-web-src)
  [ "$v_rustc" = "$v_src" ] || { echo "setup-wasm: rustc-web $v_rustc != rust-web-src $v_src" >&2; exit 1; }
  test -f /usr/lib/rustlib/src/rust/library/std/Cargo.toml
  test -x /usr/bin/rust-lld
  rustup toolchain list | grep -q '^debian-web' || rustup toolchain link debian-web /usr
  rustc +debian-web --version
fi

# 2. Chromium and its WebDriver, from Debian.
apt_install chromium chromium-driver

# 3. wasm-bindgen-cli (wasm-bindgen, wasm-bindgen-test-runner) at the Cargo.lock version.
WB=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
if wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $WB" \
   && wasm-bindgen-test-runner --version 2>/dev/null | grep -q " $WB\$"; then
  echo "setup-wasm: wasm-bindgen-cli $WB present"
else
  echo "setup-wasm: cargo install wasm-bindgen-cli $WB (~7 min)"
  # --locked can fail when a crate in the CLI's shipped lockfile was yanked (seen with 0.2.130).
  cargo install --locked wasm-bindgen-cli --version "$WB" || cargo install --force wasm-bindgen-cli --version "$WB"
fi

# 4. trunk, the page's bundler; Trunk.toml pins it to the wasm-bindgen above (no tool downloads).
TRUNK=0.21.14
if trunk --version 2>/dev/null | grep -qx "trunk $TRUNK"; then
  echo "setup-wasm: trunk $TRUNK present"
else
  echo "setup-wasm: cargo install trunk $TRUNK (~10 min)"
  cargo install --locked trunk --version "$TRUNK" || cargo install --force trunk --version "$TRUNK"
fi
echo "setup-wasm: ready ($(wasm-bindgen --version), $(trunk --version), $(chromium --version 2>/dev/null))"
