#!/usr/bin/env bash
# One command that measures every RPC against the server's own floor.
#
#   bench/run.sh
#
# 1. Installs what it needs on first use: ghz (the standard gRPC load tool, from the Go module
#    proxy) and matplotlib (from PyPI, in a venv), both under ~/.cache/gatehouse-tools, and makes
#    a GeoLite2-layout City and ASN database of real size (bench/mmdbgen, cached under
#    ~/.cache/gatehouse-bench-data). All of this runs in the background while step 2 builds.
# 2. Builds the release server and the benchmark helpers (`gatehouse-bench`, bench/src).
# 3. Makes realistic data: ~850 000 IP list entries, and a data dir seeded through the real engine
#    with a tenant, 100 000 identities and 1 000 000 click events.
# 4. Starts the server on it once (the first start after a bulk load, when sled replays its whole
#    log), stops it, and starts it again (a restart: the start-up target). On that server it
#    creates a smart URL and a signing key through AdminService, and drives each RPC with ghz at fixed concurrency levels:
#    grpc.health.v1.Health/Check first (the floor), then CheckVisitor, SmartUrl Check,
#    SendSignal (durable), TrackEvent (durable), GetDecision, GetStats and Verify; then
#    CheckVisitor at 10/50/90% of its highest rate. It records the server's CPU time
#    (/proc/<pid>/stat) and peak RSS (VmHWM) around every run.
#    Last, it restarts the server once more, to time a restart after the benchmark's writes.
# 5. Writes bench/results/latest.md and latest.png, and keeps a dated copy of both.
#
# Knobs (environment): BENCH_DURATION (10s per run at the top level), BENCH_SHORT_DURATION (5s
# per run at the other levels), BENCH_CONCURRENCY ("1 32"; the last is the one the targets are
# checked at), BENCH_IDENTITIES (100000), BENCH_CLICKS (1000000),
# BENCH_LIST_SCALE (1.0), BENCH_SWEEP_CONCURRENCY (64), BENCH_EDGE_ROUNDS (3) and
# BENCH_EDGE_DURATION (3s) for the TLS/metrics variants, BENCH_KEEP=1 keeps the work folder.
# BENCH_PROFILE=1 also records the slowest RPC with `perf` into bench/results/profile-<rpc>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started_at=$(date +%s)

duration="${BENCH_DURATION:-10s}"
# Runs below the top level only inform (latency with one client); they are shorter.
short_duration="${BENCH_SHORT_DURATION:-5s}"
levels="${BENCH_CONCURRENCY:-1 32}"
identities="${BENCH_IDENTITIES:-100000}"
clicks="${BENCH_CLICKS:-1000000}"
list_scale="${BENCH_LIST_SCALE:-1.0}"
sweep_concurrency="${BENCH_SWEEP_CONCURRENCY:-64}"
# The edge variants run at a fixed rate: a few seconds each give a steady CPU per request.
edge_duration="${BENCH_EDGE_DURATION:-3s}"
seed=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
tools="${GATEHOUSE_TOOLS:-$HOME/.cache/gatehouse-tools}"
data_cache="${GATEHOUSE_BENCH_DATA:-$HOME/.cache/gatehouse-bench-data}"
log() { echo "bench: $*" >&2; }
phase_times=()
phase() { phase_times+=("$1=$(($(date +%s) - started_at))"); log "$1 ($(($(date +%s) - started_at)) s)"; }

# --- 1. tools and data, in the background while the server builds ------------------------------
# Installing ghz and matplotlib and generating the GeoIP databases mostly wait on the network or
# on Go; on a fresh machine they overlap the Rust build instead of adding to it.
mkdir -p "$tools"
ghz="$tools/ghz"
venv="$tools/bench-venv"
mmdb_key=$(cat bench/mmdbgen/main.go bench/mmdbgen/go.mod bench/mmdbgen/go.sum | sha256sum | cut -c1-16)
mmdb="$data_cache/mmdb-$mmdb_key"
prepare() {
  if [ ! -x "$ghz" ]; then
    log "installing ghz v0.120.0 from the Go module proxy"
    GOBIN="$tools" go install github.com/bojand/ghz/cmd/ghz@v0.120.0
  fi
  if [ ! -s "$mmdb/bench-city.mmdb" ] || [ ! -s "$mmdb/bench-asn.mmdb" ]; then
    log "generating the City and ASN databases (once; cached in $mmdb)"
    rm -rf "$mmdb.tmp" && mkdir -p "$mmdb.tmp"
    (cd bench/mmdbgen && GOFLAGS=-mod=readonly go run . -out "$mmdb.tmp" -seed "$seed")
    rm -rf "$mmdb" && mv "$mmdb.tmp" "$mmdb"
  fi
  if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
    log "installing matplotlib into $venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
      # Debian splits venv support out of python3.
      if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null;
      else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv >/dev/null; fi
      rm -rf "$venv"
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'matplotlib==3.9.2'
  fi
}
work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
pid=""
prepare_pid=""
cleanup() {
  if [ -n "$prepare_pid" ]; then kill "$prepare_pid" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
prepare &
prepare_pid=$!

# --- 2. build ---------------------------------------------------------------------------------
# Without line tables the release build is quicker (most of a fresh machine's time); a profile
# (BENCH_PROFILE=1) needs them for perf's symbols.
if [ "${BENCH_PROFILE:-0}" = 1 ]; then
  cargo build --release --quiet -p gatehouse-server -p gatehouse-bench
else
  cargo build --release --quiet --config 'profile.release.debug="none"' \
    -p gatehouse-server -p gatehouse-bench
fi
bin="$CARGO_TARGET_DIR/release/gatehouse"
helper="$CARGO_TARGET_DIR/release/gatehouse-bench"
phase build
wait "$prepare_pid" || { log "installing the tools or generating the databases failed"; exit 1; }
prepare_pid=""
phase tools

# --- 3. data ----------------------------------------------------------------------------------
"$helper" lists --dir "$work/lists" --seed "$seed" --list-scale "$list_scale" >"$work/lists.txt"
phase data

log "seeding $identities identities and $clicks click events through the engine"
"$helper" seed --data-dir "$work/data" --ip-lists-dir "$work/lists" \
  --geoip-city-db "$mmdb/bench-city.mmdb" --geoip-asn-db "$mmdb/bench-asn.mmdb" \
  --identities "$identities" --clicks "$clicks" --seed "$seed" --list-scale "$list_scale" \
  >"$work/seed.txt"
value() { awk -v k="$1:" '$1 == k {print $2}' "$2"; }
tenant=$(value tenant_id "$work/seed.txt")
secret=$(value secret_key "$work/seed.txt")
visitors=$(( clicks / 10 > 0 ? clicks / 10 : 1 ))
phase seed

# --- 4. serve ---------------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
http_port=$(free_port)
export GATEHOUSE_ADMIN_TOKEN="bench-admin-$(date +%s%N)"
# start_server: starts the server on the seeded data, waits until it answers, sets $pid and
# $ready_ms (launch to ready).
# $server_extra (flags) and $server_env (VAR=value words) change the edge for the variants runs;
# $scheme follows TLS.
server_extra=()
server_env=()
scheme=http
start_server() {
  local launch
  launch=$(date +%s%N)
  env GATEHOUSE_RDNS_ENABLED=false "${server_env[@]}" "$bin" serve --listen "127.0.0.1:$port" \
    --http-listen "127.0.0.1:$http_port" \
    --data-dir "$work/data" --ip-lists-dir "$work/lists" \
    --geoip-city-db "$mmdb/bench-city.mmdb" --geoip-asn-db "$mmdb/bench-asn.mmdb" \
    "${server_extra[@]}" >>"$work/server.log" 2>&1 &
  pid=$!
  until curl -sfk "$scheme://127.0.0.1:$http_port/healthz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
  ready_ms=$(( ($(date +%s%N) - launch) / 1000000 ))
}
# stop_server: a graceful stop (SIGTERM), as a deploy would do.
stop_server() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}
# sled replays the log written since the store was last opened: the first start after the bulk
# load replays all of it (and then records a snapshot). It is measured on its own; the figures
# the targets are checked against are restarts, the second of them after the benchmark's writes.
start_server
first_ready_ms=$ready_ms
first_rss_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
log "first start after the bulk load: ready in $first_ready_ms ms"
stop_server
start_server
log "restart: ready in $ready_ms ms"
server="127.0.0.1:$port"
"$helper" smart-url --server "http://$server" --tenant "$tenant" --keyname bench-landing >/dev/null
for c in $levels; do
  "$helper" requests --out-dir "$work/requests-c$c" --tag "c$c-$(date +%s)" --count 50000 \
    --identities "$identities" --visitors "$visitors" --seed "$seed" --list-scale "$list_scale" >/dev/null
done
phase serve

# CPU ticks (user + system) and peak RSS (kB) of the server so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$pid/status"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
mkdir -p "$work/runs" "$repo/bench/results"
# How ghz reaches the server: plaintext, or TLS without checking the throw-away certificate.
ghz_transport=(--insecure)
# run NAME CONCURRENCY CALL DATA-FILE [ghz args...]: one measured run and its server figures.
run() {
  local name=$1 c=$2 call=$3 data=$4
  shift 4
  local connections=$(( c < 4 ? c : 4 ))
  local before after
  before=$(cpu_ticks)
  local t0 t1
  t0=$(date +%s%N)
  # ghz shares the cores with the server: its own CPU time (bash's `time`: user and system
  # seconds of the child) says how much of the machine the load generator took.
  local TIMEFORMAT='%3U %3S'
  if ! { time "$ghz" "${ghz_transport[@]}" --call "$call" -D "$data" -c "$c" --connections "$connections" \
    --format json "$@" "$server" >"$work/runs/$name.json" 2>"$work/runs/$name.ghz.log"; } \
    2>"$work/runs/$name.ghz-time"; then
    cat "$work/runs/$name.ghz.log" >&2
    exit 1
  fi
  t1=$(date +%s%N)
  after=$(cpu_ticks)
  local ghz_cpu
  ghz_cpu=$(awk '{print $1 + $2}' "$work/runs/$name.ghz-time")
  printf '{"cpu_ticks": %s, "wall_ns": %s, "peak_rss_kb": %s, "rss_kb": %s, "clk_tck": %s, "ghz_cpu_s": %s}\n' \
    "$((after - before))" "$((t1 - t0))" "$(peak_rss_kb)" "$(rss_kb)" "$(getconf CLK_TCK)" \
    "$ghz_cpu" >"$work/runs/$name.server.json"
}
key_header="{\"x-api-key\":\"$secret\"}"
echo '{}' >"$work/health.json"
# The RPCs in the order they are measured: name, call, request file (in requests-c<N>/).
rpcs=(
  "health|grpc.health.v1.Health/Check|@health"
  "check_visitor|gatehouse.v1.BlockerService/CheckVisitor|check_visitor.json"
  "smart_url_check|gatehouse.v1.SmartUrlService/Check|smart_url.json"
  "send_signal|gatehouse.v1.SignalService/SendSignal|send_signal.json"
  "track_event|gatehouse.v1.DecisionService/TrackEvent|track_event.json"
  "get_decision|gatehouse.v1.DecisionService/GetDecision|get_decision.json"
  "get_stats|gatehouse.v1.DecisionService/GetStats|get_stats.json"
  "verify|gatehouse.v1.VerifyService/Verify|@verify"
)
verify_available=1
for entry in "${rpcs[@]}"; do
  IFS='|' read -r name call file <<<"$entry"
  for c in $levels; do
    data="$work/requests-c$c/$file"
    auth=(-m "$key_header")
    case "$file" in
      @health) data="$work/health.json"; auth=() ;;
      @verify)
        [ "$verify_available" = 1 ] || continue
        data="$work/requests-c$c/verify.json"
        "$helper" verify-requests --server "http://$server" --tenant "$tenant" --count 50000 \
          --out "$data" --seed "$seed" >/dev/null
        # A server without VerifyService answers UNIMPLEMENTED: record it, do not fail.
        "$ghz" --insecure --call "$call" -D "$data" -n 1 -c 1 --format json -m "$key_header" \
          "$server" >"$work/verify-probe.json" || true
        if grep -q '"Unimplemented"' "$work/verify-probe.json"; then
          log "VerifyService is not registered in this server: recorded as not available"
          verify_available=0
          echo '{"available": false}' >"$work/runs/verify.unavailable.json"
          continue
        fi ;;
    esac
    # A short unmeasured warm-up at the first level, so caches and connections are set up.
    if [ "$c" = "${levels%% *}" ]; then
      "$ghz" --insecure --call "$call" -D "$data" -c 8 --connections 2 -z 1s --format json \
        "${auth[@]}" "$server" >/dev/null
    fi
    log "$name at concurrency $c"
    length=$duration
    [ "$c" = "${levels##* }" ] || length=$short_duration
    run "$name-c$c" "$c" "$call" "$data" -z "$length" "${auth[@]}"
  done
done

# CheckVisitor at 10, 50 and 90% of the highest rate it reached.
top=${levels##* }
max_rps=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["rps"]))' \
  "$work/runs/check_visitor-c$top.json")
for share in 10 50 90; do
  rate=$(( max_rps * share / 100 ))
  [ "$rate" -ge 1 ] || rate=1
  log "check_visitor at $share% of $max_rps requests/s"
  run "sweep-$share" "$sweep_concurrency" gatehouse.v1.BlockerService/CheckVisitor \
    "$work/requests-c$top/check_visitor.json" -z "$duration" --rps "$rate" -m "$key_header"
done
phase measure

# What the edge costs on the read path: the floor and CheckVisitor with metrics off, and over TLS,
# each against the default (plaintext, metrics on) measured in the same rounds. The load is a fixed
# rate (half of CheckVisitor's top rate), so the server is not saturated and its CPU per request
# does not swing with how ghz and the server share the cores; the variants alternate, three rounds
# each, so a change in the machine's load hits all of them alike. The per-request cost of the
# observer alone is measured without this noise by `cargo bench -p gatehouse-server --bench
# telemetry`.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
  -keyout "$work/tls-key.pem" -out "$work/tls-cert.pem" >/dev/null 2>&1
edge_rounds=${BENCH_EDGE_ROUNDS:-3}
edge_rate=$(( max_rps / 2 > 0 ? max_rps / 2 : 1 ))
for round in $(seq 1 "$edge_rounds"); do
  for variant in default metrics_off tls; do
    stop_server
    server_extra=()
    server_env=()
    scheme=http
    ghz_transport=(--insecure)
    case "$variant" in
      metrics_off) server_env=(GATEHOUSE_METRICS_ENABLED=false) ;;
      tls)
        server_extra=(--tls-cert "$work/tls-cert.pem" --tls-key "$work/tls-key.pem")
        scheme=https
        ghz_transport=(--skipTLS) ;;
    esac
    start_server
    "$ghz" "${ghz_transport[@]}" --call grpc.health.v1.Health/Check -D "$work/health.json" -c 8 \
      --connections 2 -z 1s --format json "$server" >/dev/null
    log "edge: $variant, round $round"
    run "edge-$variant-health-r$round" "$top" grpc.health.v1.Health/Check "$work/health.json" \
      -z "$edge_duration" --rps "$edge_rate"
    run "edge-$variant-check_visitor-r$round" "$top" gatehouse.v1.BlockerService/CheckVisitor \
      "$work/requests-c$top/check_visitor.json" -z "$edge_duration" --rps "$edge_rate" \
      -m "$key_header"
  done
done
server_extra=()
server_env=()
scheme=http
ghz_transport=(--insecure)
stop_server
start_server
phase edge

if [ "${BENCH_PROFILE:-0}" = 1 ]; then
  # The gatehouse RPC with the fewest requests/s at the top level, recorded with perf while ghz
  # drives it again.
  slowest=$(python3 - "$work/runs" "$top" <<'PY'
import json, os, sys
runs, top = sys.argv[1], sys.argv[2]
rates = {}
for file in os.listdir(runs):
    if file.endswith(f"-c{top}.json") and not file.startswith("health"):
        rates[file[: -len(f"-c{top}.json")]] = json.load(open(os.path.join(runs, file)))["rps"]
print(min(rates, key=rates.get))
PY
)
  for entry in "${rpcs[@]}"; do
    IFS='|' read -r name call file <<<"$entry"
    [ "$name" = "$slowest" ] || continue
    data="$work/requests-c$top/$file"
    [ "$file" = @verify ] && data="$work/requests-c$top/verify.json"
    log "profiling $name (the slowest) at concurrency $top with perf"
    perf record -F 999 -g -p "$pid" -o "$work/perf.data" -- sleep 8 >/dev/null 2>&1 &
    perf_pid=$!
    "$ghz" --insecure --call "$call" -D "$data" -c "$top" --connections 4 -z 8s \
      -m "$key_header" --format json "$server" >/dev/null
    wait "$perf_pid" || true
    perf report -i "$work/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | head -60 >"$repo/bench/results/profile-$name.txt" || true
    log "profile: bench/results/profile-$name.txt"
  done
fi

stop_server
restart_ready_ms=$ready_ms
start_server
after_ready_ms=$ready_ms
log "restart after the benchmark's writes: ready in $after_ready_ms ms"
stop_server
cat >"$work/meta.json" <<EOF
{
  "ready_ms": $restart_ready_ms,
  "ready_after_writes_ms": $after_ready_ms,
  "first_start_ms": $first_ready_ms,
  "first_start_rss_mb": $(( first_rss_kb / 1024 )),
  "duration": "$duration",
  "short_duration": "$short_duration",
  "levels": [$(echo "$levels" | sed 's/ /, /g')],
  "sweep_concurrency": $sweep_concurrency,
  "edge_rounds": $edge_rounds,
  "edge_rate": $edge_rate,
  "identities": $identities,
  "clicks": $clicks,
  "seed_report": $(python3 -c 'import json,sys; print(json.dumps(dict(l.split(": ",1) for l in open(sys.argv[1]).read().splitlines() if not l.startswith(("secret_key","publishable_key")))))' "$work/seed.txt"),
  "lists": $(python3 -c 'import json,sys; print(json.dumps(dict(l.split(": ",1) for l in open(sys.argv[1]).read().splitlines())))' "$work/lists.txt"),
  "mmdb": "$(basename "$mmdb")",
  "data_dir_mb": $(du -sm "$work/data" | cut -f1),
  "load_average_at_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "cpus": $(nproc),
  "commit": "$(git describe --always --dirty 2>/dev/null || echo unknown)",
  "phases": "$(IFS=' '; echo "${phase_times[*]}")",
  "total_seconds": $(( $(date +%s) - started_at ))
}
EOF
"$venv/bin/python" bench/report.py "$work" bench/results
log "done in $(( $(date +%s) - started_at )) s: bench/results/latest.md"
