#!/usr/bin/env bash
# Throughput of the write and decision RPCs over loopback against the server's own floor: the
# trivial unary gRPC health check, measured in the same run on the same server. Only the ratios
# are comparable across runs; the machine is shared and noisy.
#   - SendSignal: durable, secret key, a new user on every request
#   - TrackEvent: durable, secret key, 2000 visitors clicking in turn
#   - GetDecision: over the visitors TrackEvent made
#   - CheckVisitor: the visitor blocker, reverse DNS off
#
#   bench/rpc-throughput.sh [duration, default 10s] [concurrency, default 32]
#
# Installs ghz (the standard gRPC load tool) from the Go module proxy on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10s}"
concurrency="${2:-32}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
tools="${GATEHOUSE_TOOLS:-$HOME/.cache/gatehouse-tools}"
ghz="$tools/ghz"
if [ ! -x "$ghz" ]; then
  GOBIN="$tools" go install github.com/bojand/ghz/cmd/ghz@v0.120.0
fi
cargo build --release -p gatehouse-server --quiet
bin="$CARGO_TARGET_DIR/release/gatehouse"

work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
http_port=$(free_port)
export GATEHOUSE_ADMIN_TOKEN="bench-admin-token-$(date +%s%N)"
GATEHOUSE_RDNS_ENABLED=false "$bin" serve --listen "127.0.0.1:$port" --http-listen "127.0.0.1:$http_port" \
  --data-dir "$work/data" >"$work/server.log" 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.05
done
secret=$("$bin" tenant create --name bench --rate-limit 10000000 --server "http://127.0.0.1:$port" \
  | awk '/^secret_key:/ {print $2}')

run() { # name, call, data, extra args...
  local name=$1 call=$2 data=$3
  shift 3
  "$ghz" --insecure --call "$call" -d "$data" -c "$concurrency" -z "$duration" --connections 4 \
    --format json "$@" "127.0.0.1:$port" >"$work/$name.json"
}
run floor grpc.health.v1.Health/Check '{}'
key="{\"x-api-key\":\"$secret\"}"
run send_signal gatehouse.v1.SignalService/SendSignal \
  '{"type":"login","source":"SIGNAL_SOURCE_SERVER","identifiers":{"user_id":"user-{{.RequestNumber}}"},"ip":"192.0.2.7","user_agent":"Mozilla/5.0"}' \
  -m "$key"
run track_event gatehouse.v1.DecisionService/TrackEvent \
  '{"type":"CLICK_EVENT_TYPE_CLICK","url":"https://shop.example/landing","visitor_id":"vis-{{mod .RequestNumber 2000}}","gclid":"g-{{.RequestNumber}}","ip":"198.51.100.{{mod .RequestNumber 250}}","data":{"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36","time_on_page_ms":"12000","js_enabled":true}}' \
  -m "$key"
run get_decision gatehouse.v1.DecisionService/GetDecision '{"visitor_id":"vis-{{mod .RequestNumber 2000}}"}' -m "$key"
run check_visitor gatehouse.v1.BlockerService/CheckVisitor \
  '{"ip":"198.51.100.{{mod .RequestNumber 250}}","ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36","url":"/shop?item={{.RequestNumber}}"}' \
  -m "$key"

python3 - "$work" "$concurrency" "$duration" <<'PY'
import json, sys
work, concurrency, duration = sys.argv[1], sys.argv[2], sys.argv[3]
def load(name):
    r = json.load(open(f"{work}/{name}.json"))
    pct = {int(p["percentage"]): p["latency"] / 1e6 for p in r.get("latencyDistribution") or []}
    ok = r.get("statusCodeDistribution", {}).get("OK", 0)
    return r["rps"], pct.get(50, 0), pct.get(99, 0), ok, r["count"]
floor = load("floor")
print(f"concurrency {concurrency}, {duration} per RPC, one server, loopback")
print("| RPC | requests/s | p50 ms | p99 ms | OK / total | ratio to floor |")
print("|---|---|---|---|---|---|")
for name, label in [
    ("floor", "Health/Check (floor)"),
    ("send_signal", "SendSignal (durable)"),
    ("track_event", "TrackEvent (durable)"),
    ("get_decision", "GetDecision"),
    ("check_visitor", "CheckVisitor"),
]:
    rps, p50, p99, ok, count = load(name)
    print(f"| {label} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {ok} / {count} | {rps / floor[0]:.2f} |")
PY
