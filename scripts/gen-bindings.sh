#!/usr/bin/env bash
# Regenerates the Kotlin and Swift bindings from the uniffi crate (sdk-python/), the same library
# the Python package is built from.
#
#   scripts/gen-bindings.sh [kotlin|swift|all] [--release]
#
# kotlin: sdk-kotlin/src/main/kotlin/dev/gatehouse/sdk/gatehouse_uniffi.kt, and the library for
#         this machine under sdk-kotlin/src/main/resources/<jna platform>/, where JNA finds it on
#         the class path (so the jar carries it).
# swift:  sdk-swift/Sources/Gatehouse/Gatehouse.swift and sdk-swift/Sources/GatehouseFFI/
#         (GatehouseFFI.h, module.modulemap), then a compile check when `swiftc` is installed
#         (the generated module map names Darwin: the check is meant for macOS).
#         sdk-swift/README.md builds the xcframework an iOS app links.
# Everything written is generated: git ignores it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

languages="all"
profile="debug"
for arg in "$@"; do
  case "$arg" in
    kotlin | swift | all) languages="$arg" ;;
    --release) profile="release" ;;
    *) echo "usage: $0 [kotlin|swift|all] [--release]" >&2; exit 2 ;;
  esac
done

cargo_profile=()
[ "$profile" = "release" ] && cargo_profile=(--release)
# the library, and the bindgen tool in debug whatever the library's profile (it only reads it)
cargo build --quiet --locked -p gatehouse-uniffi "${cargo_profile[@]}"
cargo build --quiet --locked -p gatehouse-uniffi --features cli --bin uniffi-bindgen
case "$(uname -s)" in
  Darwin) library="$CARGO_TARGET_DIR/$profile/libgatehouse_uniffi.dylib" os="darwin" ;;
  *) library="$CARGO_TARGET_DIR/$profile/libgatehouse_uniffi.so" os="linux" ;;
esac
bindgen="$CARGO_TARGET_DIR/debug/uniffi-bindgen"

generate() {
  local language="$1" out="$2"
  "$bindgen" generate --library "$library" --language "$language" --no-format --out-dir "$out" >/dev/null
}

if [ "$languages" = "kotlin" ] || [ "$languages" = "all" ]; then
  rm -rf sdk-kotlin/src/main/kotlin sdk-kotlin/src/main/resources
  generate kotlin sdk-kotlin/src/main/kotlin
  # JNA's resource prefix for this machine
  case "$(uname -m)" in
    x86_64) platform="$os-x86-64" ;;
    aarch64 | arm64) platform="$os-aarch64" ;;
    *) platform="$os-$(uname -m)" ;;
  esac
  mkdir -p "sdk-kotlin/src/main/resources/$platform"
  cp "$library" "sdk-kotlin/src/main/resources/$platform/"
  echo "kotlin: sdk-kotlin/src/main/kotlin (package dev.gatehouse.sdk), library for $platform"
fi

if [ "$languages" = "swift" ] || [ "$languages" = "all" ]; then
  rm -rf sdk-swift/Sources
  staging="$(mktemp -d)"
  trap 'rm -rf "$staging"' EXIT
  generate swift "$staging"
  mkdir -p sdk-swift/Sources/Gatehouse sdk-swift/Sources/GatehouseFFI
  mv "$staging/Gatehouse.swift" sdk-swift/Sources/Gatehouse/
  mv "$staging/GatehouseFFI.h" sdk-swift/Sources/GatehouseFFI/
  # Clang and SwiftPM look for a module map by this name next to the header.
  mv "$staging/GatehouseFFI.modulemap" sdk-swift/Sources/GatehouseFFI/module.modulemap
  echo "swift: sdk-swift/Sources (module Gatehouse over the C module GatehouseFFI)"
  if command -v swiftc >/dev/null 2>&1; then
    # Type-check the bindings against the header, and link them against this machine's library.
    swiftc -module-name Gatehouse -emit-library -o "$staging/libGatehouse" \
      -I sdk-swift/Sources/GatehouseFFI \
      -L "$(dirname "$library")" -lgatehouse_uniffi \
      sdk-swift/Sources/Gatehouse/Gatehouse.swift
    echo "swift: compiled and linked with $(swiftc --version 2>&1 | head -n 1)"
  else
    echo "swift: swiftc not found, so the Swift bindings were generated but not compiled;" \
      "on a machine with a Swift toolchain this script compiles and links them"
  fi
fi
