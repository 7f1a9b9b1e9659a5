#!/usr/bin/env bash
# Measures the real server's memory with full-size IP lists: writes 1,000,000 generated CIDR
# entries over the five list kinds (IPv4 and IPv6), starts the release binary on them, waits for
# its health check, and prints its resident memory and start-up time.
#
#   bench/list-memory.sh [entries]
set -euo pipefail
cd "$(dirname "$0")/.."
entries="${1:-1000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
cargo build --release -p gatehouse-server --quiet
bin="$CARGO_TARGET_DIR/release/gatehouse"

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/lists"
python3 - "$work/lists" "$entries" <<'PY'
import random, sys, os
folder, total = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
kinds = ["tor", "vpn", "proxy", "datacenter", "reputation"]
files = {k: open(os.path.join(folder, f"{k}-generated.txt"), "w") for k in kinds}
for n in range(total):
    f = files[kinds[n % 5]]
    if n % 10 == 9:
        f.write("2001:db8:%x:%x::/64\n" % (rng.getrandbits(16), rng.getrandbits(16)))
    elif n % 3 == 0:
        ip = rng.getrandbits(32)
        f.write("%d.%d.%d.%d\n" % (ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255))
    else:
        ip = rng.getrandbits(24)
        f.write("%d.%d.%d.0/24\n" % (ip >> 16, (ip >> 8) & 255, ip & 255))
for f in files.values():
    f.close()
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s.%N)
GATEHOUSE_ADMIN_TOKEN=bench-admin-token-0123456789 GATEHOUSE_RDNS_ENABLED=false \
  "$bin" serve --listen "127.0.0.1:$port" --http-listen "127.0.0.1:$http_port" \
  --data-dir "$work/data" --ip-lists-dir "$work/lists" >"$work/log" 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }
  sleep 0.05
done
ready=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
printf 'entries: %s\nstart-up to ready: %.2f s\nresident memory: %d MiB (peak %d MiB)\n' \
  "$entries" "$(echo "$ready - $start" | bc)" $((rss / 1024)) $((hwm / 1024))
grep -o 'ranges=[0-9]*' "$work/log" | head -1
