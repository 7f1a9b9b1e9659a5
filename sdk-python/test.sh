#!/usr/bin/env bash
# The Python SDK from scratch: tools from PyPI, the generated surface checked against proto/, the
# wheel built with maturin and installed into a fresh virtualenv, then pytest against a real
# `gatehouse` server that the tests start themselves.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
work="$CARGO_TARGET_DIR/python"
mkdir -p "$work"

step() { printf '\n--> python: %s\n' "$*"; }
elapsed() { printf '    (%ss)\n' "$(( SECONDS - $1 ))"; }

step "tools: maturin from PyPI"
if [ ! -x "$work/tools/bin/pip" ] && ! python3 -m venv "$work/tools" >/dev/null 2>&1; then
  # Debian's python3 makes virtualenvs only with python3-venv
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  rm -rf "$work/tools"
  python3 -m venv "$work/tools"
fi
"$work/tools/bin/pip" install --quiet --disable-pip-version-check "maturin==1.16.0"

step "generated surface matches proto/"
bash generate.sh --check

step "server binary"
if [ -z "${GATEHOUSE_BIN:-}" ]; then
  cargo build --quiet --locked -p gatehouse-server
  export GATEHOUSE_BIN="$CARGO_TARGET_DIR/debug/gatehouse"
fi

step "wheel (maturin build)"
start=$SECONDS
rm -rf "$work/wheels"
"$work/tools/bin/maturin" build --locked --quiet --out "$work/wheels"
elapsed "$start"
wheel=$(ls "$work"/wheels/gatehouse_sdk-*.whl)

step "install the wheel into a fresh virtualenv"
rm -rf "$work/venv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" "pytest==9.2.0" "mypy==2.4.1"

step "pytest"
# From tests/, so `import gatehouse` is the installed wheel, not python/gatehouse.
cd tests
"$work/venv/bin/python" -m pytest -p no:cacheprovider "$@"
