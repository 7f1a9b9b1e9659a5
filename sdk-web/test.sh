#!/usr/bin/env bash
# Builds and tests the web SDK from a fresh machine: npm packages, the wasm32 target, the
# wasm-bindgen CLI of the pinned version (cached in ~/.cache/gatehouse-tools), the WebAssembly
# core, the grpc-web client generated from proto/, the bundles (with their sizes), the gatehouse
# binary and Chromium; then the node tests (wasm vectors in Node, the browser end to end).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
TOOLS="${GATEHOUSE_TOOLS:-$HOME/.cache/gatehouse-tools}"
step() { printf '\n==> %s\n' "$*"; }

step "npm packages (buf at the root; the SDK's own)"
npm install --no-audit --no-fund --loglevel=error
(cd sdk-web && npm install --no-audit --no-fund --loglevel=error)

step "WebAssembly target and wasm-bindgen CLI"
rustup target add wasm32-unknown-unknown >/dev/null
# The CLI must be exactly the version of the wasm-bindgen crate the workspace pins.
version=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"$/\1/p' Cargo.toml)
[ -n "$version" ] || { echo "wasm-bindgen pin not found in Cargo.toml" >&2; exit 1; }
bindgen="$TOOLS/wasm-bindgen-$version/bin/wasm-bindgen"
if [ ! -x "$bindgen" ]; then
  cargo install --locked --quiet wasm-bindgen-cli --version "$version" --root "$TOOLS/wasm-bindgen-$version"
fi
"$bindgen" --version

step "WebAssembly core (gatehouse-sdk-wasm)"
cargo build --locked --quiet -p gatehouse-sdk-wasm --target wasm32-unknown-unknown --profile wasm-release
rm -rf sdk-web/pkg
# The SDK always passes the module's location itself, so the glue needs no import.meta default.
# Function names and the producers section are for debuggers only: a quarter of the module.
"$bindgen" --target web --omit-default-module-path --remove-name-section --remove-producers-section \
  --out-dir sdk-web/pkg \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/gatehouse_sdk_wasm.wasm"

step "grpc-web client from proto/, type check, bundles"
(cd sdk-web && npm run --silent generate && npm run --silent build && npm run --silent size)

step "gatehouse binary and Chromium for the end-to-end test"
cargo build --locked --quiet -p gatehouse-server
if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

step "node --test"
(cd sdk-web && node --test test/*.test.mjs)
