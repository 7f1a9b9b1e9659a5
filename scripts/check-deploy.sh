#!/usr/bin/env bash
# Checks the files in deploy/ with the programs that will read them: systemd-analyze (verify and
# the sandbox exposure score) for the unit, `nginx -t` for the nginx config, and `caddy validate`
# for the Caddyfile when Debian has a caddy package. Installs what is missing from Debian.
# Runs as root on Debian 12, without prompts; prints one line per check, the tool's own output
# only when a check fails, and exits non-zero on the first failure.
#
#   scripts/check-deploy.sh [GATEHOUSE_BIN]
#
# GATEHOUSE_BIN (argument, else environment, else target/release/gatehouse) is the binary the unit
# is verified with: systemd-analyze refuses a unit whose ExecStart binary does not exist, so the
# unit is checked in a copy whose ExecStart points there. Any executable file does; the binary is
# not run.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-${GATEHOUSE_BIN:-${CARGO_TARGET_DIR:-target}/release/gatehouse}}"
if [ ! -x "$bin" ]; then
  echo "check-deploy: $bin is not an executable file: build the server (cargo build --release -p gatehouse-server) or pass its path" >&2
  exit 2
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

if [ "$(id -u)" -ne 0 ]; then
  echo "check-deploy: run as root (it installs packages with apt-get)" >&2
  exit 2
fi

work="$(mktemp -d)"
policy_rc_d_added=""
cleanup() {
  # The temp files, and a policy-rc.d only if this script added it (never one already there).
  rm -rf "$work"
  if [ -n "$policy_rc_d_added" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $1" >&2
  if [ -s "$work/out" ]; then sed 's/^/  /' "$work/out" >&2; fi
  exit 1
}

# --- packages ------------------------------------------------------------------------------------
missing=()
command -v systemd-analyze >/dev/null || missing+=(systemd)
# The unit's ExecReload runs /bin/kill, and systemd-analyze verify wants it to exist.
[ -x /bin/kill ] || missing+=(procps)
command -v nginx >/dev/null || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
want_caddy=""
command -v caddy >/dev/null || want_caddy=yes

if [ "${#missing[@]}" -gt 0 ] || [ -n "$want_caddy" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$work/out" 2>&1 || fail "apt-get update"
  if [ -n "$want_caddy" ]; then
    # Debian 12 has caddy in main; check rather than assume, for other releases and mirrors.
    # (Read into a variable first: with pipefail, `grep -q` closing the pipe early would fail.)
    caddy_policy="$(apt-cache policy caddy 2>/dev/null)"
    if grep -q '^ *Candidate: [0-9]' <<<"$caddy_policy"; then
      missing+=(caddy)
    else
      echo "skip: caddy validate (no caddy package in this machine's Debian sources)"
    fi
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    # Only the programs are needed: a policy-rc.d that refuses everything keeps the packages'
    # scripts from starting nginx and caddy on this machine (port 80 and friends).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 0755 /usr/sbin/policy-rc.d
      policy_rc_d_added=yes
    fi
    apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" \
      >"$work/out" 2>&1 || fail "apt-get install ${missing[*]}"
    echo "installed: ${missing[*]}"
  fi
fi

# --- systemd unit --------------------------------------------------------------------------------
mkdir "$work/unit"
unit="$work/unit/gatehouse.service"
# '|' as the sed separator: the binary path has slashes. A unit whose ExecStart no longer starts
# with /usr/local/bin/gatehouse is caught below, because the binary there then does not exist.
sed "s|^ExecStart=/usr/local/bin/gatehouse |ExecStart=$bin |" deploy/gatehouse.service >"$unit"
# verify exits 0 on many mistakes (an unknown key, an unparsable value: "ignoring"), so any line
# it prints about the unit fails the check too. Lines about other units on the machine do not.
: >"$work/out"
systemd-analyze verify "$unit" >"$work/out" 2>&1 || fail "systemd-analyze verify deploy/gatehouse.service"
if grep -q 'gatehouse\.service' "$work/out"; then
  fail "systemd-analyze verify deploy/gatehouse.service (warnings)"
fi
echo "ok: systemd-analyze verify deploy/gatehouse.service"

# A ratchet on the sandbox: exposure runs from 0.0 (locked down) to 10.0 (none), given here on a
# 0-100 scale. The unit scores 1.2 with Debian 12's systemd 252, and any setting lost raises it (a
# newer systemd may score differently). Loosening the sandbox on purpose means raising this too.
if ! systemd-analyze security --offline=true --threshold=12 "$unit" >"$work/out" 2>&1; then
  # Only the settings that cost exposure (their lines end in a score) and the total.
  grep -E '[0-9]\.[0-9]$|Overall' "$work/out" >"$work/out.short" || true
  mv "$work/out.short" "$work/out"
  fail "systemd-analyze security deploy/gatehouse.service: exposure above 1.2"
fi
echo "ok: systemd-analyze security deploy/gatehouse.service ($(grep -o 'exposure level for [^:]*: [0-9.]*' "$work/out" | sed 's/.*: //'))"

# --- nginx ---------------------------------------------------------------------------------------
mkdir "$work/nginx"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=gatehouse.example.com -keyout "$work/nginx/key.pem" -out "$work/nginx/cert.pem" \
  >"$work/out" 2>&1 || fail "openssl req (throw-away certificate)"
sed -E \
  -e "s|^([[:space:]]*ssl_certificate[[:space:]]+).*;|\1$work/nginx/cert.pem;|" \
  -e "s|^([[:space:]]*ssl_certificate_key[[:space:]]+).*;|\1$work/nginx/key.pem;|" \
  deploy/nginx.conf >"$work/nginx/gatehouse.conf"
# The conf is a conf.d file (http context): wrap it in a minimal main config whose every path is
# in the temp dir, so the check reads and writes nothing of the machine's nginx.
cat >"$work/nginx/nginx.conf" <<EOF
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    include $work/nginx/gatehouse.conf;
}
EOF
nginx -t -q -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" \
  >"$work/out" 2>&1 || fail "nginx -t deploy/nginx.conf"
# -q leaves only warnings and errors: a warning (a conflicting server name, say) fails too.
if [ -s "$work/out" ]; then fail "nginx -t deploy/nginx.conf (warnings)"; fi
echo "ok: nginx -t deploy/nginx.conf"

# --- Caddy ---------------------------------------------------------------------------------------
if command -v caddy >/dev/null; then
  # Caddy keeps certificates and state under XDG folders: keep them in the temp dir.
  if XDG_DATA_HOME="$work/caddy-data" XDG_CONFIG_HOME="$work/caddy-config" \
    caddy validate --adapter caddyfile --config deploy/Caddyfile >"$work/out" 2>&1; then
    # Caddy logs JSON lines; a warning (an unformatted file, a deprecated option) fails too.
    if grep -q '"level":"\(warn\|error\)"' "$work/out"; then
      fail "caddy validate deploy/Caddyfile (warnings)"
    fi
    echo "ok: caddy validate deploy/Caddyfile"
  else
    fail "caddy validate deploy/Caddyfile"
  fi
fi
