#!/usr/bin/env bash
# Regenerates the Python client's typed surface (python/gatehouse/types.py and _services.py) from
# proto/gatehouse/v1; `generate.sh --check` fails instead when the committed files are stale.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

descriptor="$CARGO_TARGET_DIR/python/gatehouse.binpb"
mkdir -p "$(dirname "$descriptor")"
cargo run --quiet --locked -p gatehouse-uniffi --features cli --bin descriptor-set -- "$descriptor"
python3 codegen/generate.py "$descriptor" "$@"
