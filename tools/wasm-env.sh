# Sourced by tools/test.sh before wasm builds: the environment for whichever wasm32 route
# tools/setup-wasm.sh installed, and for wasm-bindgen-test-runner in headless Chromium.
# Never source it before host builds (RUSTC_BOOTSTRAP and build-std would rebuild std for the host).

# wasm artifacts in their own target directory beside the host one: host builds never wait on
# the wasm build's lock, and the wasm-only flags never touch host artifacts.
export CARGO_TARGET_DIR="${WASM_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}-wasm}"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  # Debian rustc-web route (see tools/setup-wasm.sh): std rebuilt from rust-web-src.
  export RUSTUP_TOOLCHAIN=debian-web
  export RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
fi

# wasm-bindgen-test-runner: Chromium through chromedriver, a fresh profile, no background traffic,
# WebGPU on (SwiftShader in headless Chromium; it only appears with --enable-unsafe-webgpu).
WASM_PROFILE=$(mktemp -d /tmp/isoformer-chromium.XXXXXX)
mkdir -p "$CARGO_TARGET_DIR"
cat > "$CARGO_TARGET_DIR/webdriver.json" <<JSON
{ "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": [
  "--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--user-data-dir=$WASM_PROFILE", "--enable-unsafe-webgpu" ] } }
JSON
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$CARGO_TARGET_DIR/webdriver.json"
export CHROMEDRIVER=/usr/bin/chromedriver
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# trunk asks crates.io for a newer version unless told not to.
export TRUNK_SKIP_VERSION_CHECK=true
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-600}
