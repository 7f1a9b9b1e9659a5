#!/usr/bin/env bash
# The Kotlin binding from scratch: generate it from the uniffi crate, then compile it and run the
# JUnit tests on the JVM with Maven (Kotlin compiler, JNA, coroutines from Maven Central); the
# tests start a real `gatehouse` server themselves.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"

step() { printf '\n--> kotlin: %s\n' "$*"; }

step "tools: a JDK and Maven"
if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends maven default-jdk-headless >/dev/null
fi
# Read the whole version text before cutting it: `mvn -v | head -n 1` closes the pipe early, and
# Maven's console then fails with a broken pipe, which pipefail turns into a failed run.
maven_version=$(mvn -B -v 2>&1)
printf '%s\n' "${maven_version%%$'\n'*}"

step "bindings (scripts/gen-bindings.sh kotlin)"
bash ../scripts/gen-bindings.sh kotlin

step "server binary"
if [ -z "${GATEHOUSE_BIN:-}" ]; then
  cargo build --quiet --locked -p gatehouse-server
  GATEHOUSE_BIN="$CARGO_TARGET_DIR/debug/gatehouse"
fi

step "mvn test"
start=$SECONDS
status=0
rm -rf target/surefire-reports
mvn -q -B -Dstyle.color=never test "-Dgatehouse.bin=$GATEHOUSE_BIN" || status=$?
# -q hides Surefire's summary; say it from its reports.
python3 - <<'PY'
import glob
import xml.etree.ElementTree as ET

tests = failed = skipped = 0
for report in glob.glob("target/surefire-reports/TEST-*.xml"):
    suite = ET.parse(report).getroot()
    tests += int(suite.get("tests", 0))
    failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped += int(suite.get("skipped", 0))
print(f"kotlin: {tests - failed - skipped} passed, {failed} failed, {skipped} skipped")
PY
echo "    ($(( SECONDS - start ))s)"
exit "$status"
