#!/usr/bin/env bash
# The one local entry point that mirrors CI: installs what the checks need, then runs proto lint,
# fmt, clippy, docs and every test, then the Node SDK's. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# A cargo target folder outside the clone keeps repeated runs fast; an empty one works too.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
# rust-toolchain.toml pins the compiler; make sure its fmt and clippy components are there.
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo --version

step "npm tools and corpora (buf; user-agent corpora for the quality tests)"
# `npm ci` trips over buf's per-platform optional packages with npm 11; install honours the lock.
npm install --no-audit --no-fund --loglevel=error

step "proto lint"
npx --no-install buf lint

step "test data"
# MaxMind's test databases (from the maxminddb PyPI sdist) and small flat-schema fixtures.
bash scripts/fetch-test-mmdb.sh
# From Debian: attack word lists for the threat-URL test (wfuzz, dirb); Chromium, which runs
# the smart URL confirmation page (also over https) in the end-to-end tests; nginx, the reverse
# proxy the edge tests put in front of the server; and prometheus for `promtool check metrics`.
missing=""
[ -d /usr/share/wfuzz/wordlist ] || missing="$missing wfuzz"
[ -d /usr/share/dirb/wordlists ] || missing="$missing dirb"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -x /usr/sbin/nginx ] || missing="$missing nginx"
[ -x /usr/bin/promtool ] || missing="$missing prometheus"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ -n "$missing" ]; then
  $sudo apt-get update -qq
  # shellcheck disable=SC2086 # the list is meant to split
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

step "cargo fmt"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "cargo test"
cargo test --workspace --locked

step "deploy files (scripts/check-deploy.sh: systemd-analyze verify, nginx -t, caddy validate)"
$sudo bash scripts/check-deploy.sh "$CARGO_TARGET_DIR/debug/gatehouse"

step "Node SDK: npm installs, napi build, npm pack install check, node --test (sdk-node/test.sh)"
bash sdk-node/test.sh

step "web SDK (sdk-web/test.sh: WebAssembly core, grpc-web client, bundles, Chromium end to end)"
bash sdk-web/test.sh

step "Python SDK (sdk-python/test.sh: wheel built with maturin, installed into a fresh venv, pytest)"
bash sdk-python/test.sh -q

step "Kotlin SDK (sdk-kotlin/test.sh: bindings generated with uniffi, mvn test on the JVM)"
bash sdk-kotlin/test.sh

step "Swift bindings (generated; compiled where a Swift toolchain exists)"
bash scripts/gen-bindings.sh swift
