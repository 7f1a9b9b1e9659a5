#!/usr/bin/env bash
# Everything the Node SDK needs, from a fresh machine with Rust and Node.js 18+: npm installs,
# the addon build (napi) with the types generated from proto/, `npm pack` installed into a clean
# project and loaded from CommonJS, ESM and TypeScript (tsc checks the packed declarations with
# test/types, as `npm run typecheck` does in place), then the `node --test` suites of the SDK and
# of examples/node-express against a real `gatehouse` binary.
# scripts/check.sh runs it last.
set -euo pipefail
cd "$(dirname "$0")"
SDK="$PWD"
ROOT="$(cd .. && pwd)"
EXAMPLE="$ROOT/examples/node-express"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
NPM_INSTALL=(npm install --no-audit --no-fund --loglevel=error)

step() { printf '\n==> node sdk: %s\n' "$*"; }

step "node $(node --version), npm $(npm --version)"

step "npm install"
"${NPM_INSTALL[@]}"

step "build: types and services from proto/, the addon (napi, debug)"
npm run --silent build:debug

step "the gatehouse binary the tests start"
cargo build -p gatehouse-server --bin gatehouse --locked --quiet
export GATEHOUSE_BIN="$CARGO_TARGET_DIR/debug/gatehouse"

step "npm pack, install into a clean project, load it"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
echo "packed $tarball ($(du -h "$work/$tarball" | cut -f1))"
mkdir "$work/consumer"
cp test/types/consumer.cts test/types/consumer.mts test/types/tsconfig.json "$work/consumer/"
types_node="$(node -p 'require("./package.json").devDependencies["@types/node"]')"
(
  cd "$work/consumer"
  npm init -y >/dev/null
  "${NPM_INSTALL[@]}" --prefer-offline "$work/$tarball" "@types/node@$types_node"
  node -e '
    const gatehouse = require("gatehouse-sdk");
    const device = gatehouse.fingerprint({ platform: "web", userAgent: "Mozilla/5.0", canvasHash: "c0ffee" });
    if (!/^dev_[0-9a-f]{32}$/.test(device.deviceId)) throw new Error("require: fingerprint " + device.deviceId);
    const generated = Object.values(gatehouse.SERVICES).reduce((sum, s) => sum + Object.keys(s.methods).length, 0);
    if (generated !== gatehouse.methods().length) throw new Error("require: methods");
    console.log("require: ok", device.deviceId);
  '
  node --input-type=module -e '
    import { Gatehouse, InvalidRequestError, sign } from "gatehouse-sdk";
    try {
      sign({ keyId: "k1", secret: "short", path: "/" });
      throw new Error("import: sign accepted a bad secret");
    } catch (error) {
      if (!(error instanceof InvalidRequestError) || error.field !== "secret") throw error;
    }
    const gh = await Gatehouse.connect({ endpoint: "http://127.0.0.1:1", apiKey: "sk_x", lazy: true });
    if (typeof gh.signals.sendSignal !== "function") throw new Error("import: no sendSignal");
    console.log("import: ok");
  '
  "$SDK/node_modules/.bin/tsc" -p .
  echo "typescript: ok"
)

step "node --test (sdk-node)"
node --test test/*.test.mjs

step "examples/node-express: npm install, node --test"
cd "$EXAMPLE"
"${NPM_INSTALL[@]}"
node --test test/*.test.mjs
