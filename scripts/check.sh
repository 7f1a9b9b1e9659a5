#!/usr/bin/env bash
# The one local entry point that mirrors CI: installs what the checks need, then runs proto lint,
# fmt, clippy, docs and every test. `.ci/run` runs exactly this.
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

step "proto lint (buf, from the npm registry)"
# `npm ci` trips over buf's per-platform optional packages with npm 11; install honours the lock.
npm install --no-audit --no-fund --loglevel=error
npx --no-install buf lint

step "cargo fmt"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "cargo test"
cargo test --workspace --locked
