#!/usr/bin/env bash
# Fetch the small .mmdb test databases used by server/src/intel/geo.rs tests.
#
# Usage: scripts/fetch-test-mmdb.sh        (prints the folder holding the files)
#
# Where: ${GATEHOUSE_TEST_DATA:-$HOME/.cache/gatehouse-test-data}/mmdb
# (the tests look in the same place).
#
# What it does, idempotently (a second run with everything in place only prints the folder):
#  1. MaxMind's own test databases (GeoIP2-City-Test.mmdb, GeoLite2-ASN-Test.mmdb, ...),
#     with their source JSON and licence files, taken from the source distribution of the
#     `maxminddb` PyPI package (pinned version and sha256 below). These files are
#     Copyright MaxMind, Inc., dual licensed Apache-2.0 OR MIT; the data in them is fake.
#  2. Three small databases in the flat schema of the @ip-location-db/*-mmdb npm packages
#     (city split into -ipv4/-ipv6 files, plus an ASN file), written by MaxMind's Go writer
#     github.com/maxmind/mmdbwriter (pinned, fetched through the Go module proxy). The real
#     npm packages are 5-135 MB, too big for tests. The records are made up for tests.
#
# Needs: python3 with pip, tar, go (>= 1.24). Set GATEHOUSE_FORCE_FETCH=1 to rebuild.
set -euo pipefail

MAXMINDDB_PY_VERSION="3.2.0"
MAXMINDDB_PY_SHA256="d28e0073fd1dd637c8b95947bc864b5625eca9f8f2db1538145e33b2a1cd4b92"
MMDBWRITER_VERSION="v1.2.0"
# Bump when the set of files or the flat fixtures change, so old caches are rebuilt.
STAMP="maxminddb-py-${MAXMINDDB_PY_VERSION}+mmdbwriter-${MMDBWRITER_VERSION}+flat-1"

DEST="${GATEHOUSE_TEST_DATA:-$HOME/.cache/gatehouse-test-data}/mmdb"

MAXMIND_DBS=(
  GeoIP2-City-Test.mmdb
  GeoLite2-City-Test.mmdb
  GeoLite2-ASN-Test.mmdb
  GeoIP2-ISP-Test.mmdb
  GeoIP2-Enterprise-Test.mmdb
)
FLAT_DBS=(flat-city-ipv4.mmdb flat-city-ipv6.mmdb flat-asn.mmdb)

log() { echo "fetch-test-mmdb: $*" >&2; }

complete() {
  [[ -f "$DEST/STAMP" && "$(cat "$DEST/STAMP")" == "$STAMP" ]] || return 1
  local f
  for f in "${MAXMIND_DBS[@]}" "${FLAT_DBS[@]}"; do
    [[ -s "$DEST/$f" ]] || return 1
  done
}

if [[ "${GATEHOUSE_FORCE_FETCH:-0}" != "1" ]] && complete; then
  echo "$DEST"
  exit 0
fi

for tool in python3 tar go; do
  command -v "$tool" >/dev/null || { log "needs '$tool' on PATH"; exit 1; }
done

mkdir -p "$DEST"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-mmdb.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# --- 1. MaxMind test databases from the maxminddb sdist --------------------------------------
log "downloading maxminddb==${MAXMINDDB_PY_VERSION} sdist from PyPI"
echo "maxminddb==${MAXMINDDB_PY_VERSION} --hash=sha256:${MAXMINDDB_PY_SHA256}" >"$WORK/req.txt"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
  --require-hashes -r "$WORK/req.txt" -d "$WORK/dl" >&2
SDIST="$WORK/dl/maxminddb-${MAXMINDDB_PY_VERSION}.tar.gz"
[[ -f "$SDIST" ]] || { log "pip did not leave $SDIST"; exit 1; }

TOP="maxminddb-${MAXMINDDB_PY_VERSION}/tests/data"
members=("$TOP/LICENSE-MIT" "$TOP/LICENSE-APACHE" "$TOP/README.md" "$TOP/test-data/README.md")
for f in "${MAXMIND_DBS[@]}"; do
  members+=("$TOP/test-data/$f" "$TOP/source-data/${f%.mmdb}.json")
done
tar -xzf "$SDIST" -C "$WORK" "${members[@]}"
for f in "${MAXMIND_DBS[@]}"; do
  cp "$WORK/$TOP/test-data/$f" "$DEST/$f"
  cp "$WORK/$TOP/source-data/${f%.mmdb}.json" "$DEST/${f%.mmdb}.json"
done
cp "$WORK/$TOP/LICENSE-MIT" "$DEST/MAXMIND-TEST-DATA-LICENSE-MIT"
cp "$WORK/$TOP/LICENSE-APACHE" "$DEST/MAXMIND-TEST-DATA-LICENSE-APACHE"
cp "$WORK/$TOP/README.md" "$DEST/MAXMIND-TEST-DATA-README.md"

# --- 2. Flat-schema (@ip-location-db style) fixtures written with mmdbwriter ------------------
log "writing flat-schema fixtures with github.com/maxmind/mmdbwriter ${MMDBWRITER_VERSION}"
mkdir -p "$WORK/flatgen"
cat >"$WORK/flatgen/go.mod" <<EOF
module gatehouse.invalid/flatgen

go 1.24.0

require github.com/maxmind/mmdbwriter ${MMDBWRITER_VERSION}

require (
	github.com/oschwald/maxminddb-golang/v2 v2.1.1 // indirect
	go4.org/netipx v0.0.0-20231129151722-fdeea329fbba // indirect
	golang.org/x/sys v0.38.0 // indirect
)
EOF
cat >"$WORK/flatgen/main.go" <<'EOF'
// Writes small MaxMind DB files in the flat record layout used by the @ip-location-db/*-mmdb
// npm packages: city dbs carry country_code, state1, state2, city, postcode, latitude and
// longitude (float32, as in those packages) and timezone; asn dbs carry
// autonomous_system_number and autonomous_system_organization. The records are made up.
package main

import (
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

type rec struct {
	cidr string
	data mmdbtype.Map
}

func city(cc, state1, state2, name, postcode string, lat, lon float32, tz string) mmdbtype.Map {
	return mmdbtype.Map{
		"country_code": mmdbtype.String(cc),
		"state1":       mmdbtype.String(state1),
		"state2":       mmdbtype.String(state2),
		"city":         mmdbtype.String(name),
		"postcode":     mmdbtype.String(postcode),
		"latitude":     mmdbtype.Float32(lat),
		"longitude":    mmdbtype.Float32(lon),
		"timezone":     mmdbtype.String(tz),
	}
}

func asn(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(n),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

func write(dir, name, dbType string, ipVersion int, recs []rec) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		IPVersion:    ipVersion,
		RecordSize:   24,
		BuildEpoch:   1700000000,
		Description:  map[string]string{"en": "Gatehouse flat-schema test database (made-up data)"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		_, network, err := net.ParseCIDR(r.cidr)
		if err != nil {
			log.Fatal(err)
		}
		if err := tree.Insert(network, r.data); err != nil {
			log.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func main() {
	dir := os.Args[1]
	write(dir, "flat-city-ipv4.mmdb", "city", 4, []rec{
		{"81.2.69.160/27", city("GB", "England", "", "London", "", 51.5142, -0.0931, "")},
		{"2.125.160.216/29", city("GB", "England", "West Berkshire", "Boxford", "OX1", 51.75, -1.25, "Europe/London")},
	})
	write(dir, "flat-city-ipv6.mmdb", "city", 6, []rec{
		{"2a02:cf40::/29", city("NO", "", "", "", "", 62, 10, "Europe/Oslo")},
	})
	write(dir, "flat-asn.mmdb", "asn", 6, []rec{
		{"1.128.0.0/11", asn(1221, "Telstra Pty Ltd")},
		{"2600:6000::/20", asn(237, "Merit Network Inc.")},
	})
}
EOF
# go.sum pins the module contents (the same lines `go mod tidy` writes).
cat >"$WORK/flatgen/go.sum" <<'EOF'
github.com/davecgh/go-spew v1.1.1 h1:vj9j/u1bqnvCEfJOwUhtlOARqs3+rkHYY13jYWTU97c=
github.com/davecgh/go-spew v1.1.1/go.mod h1:J7Y8YcW2NihsgmVo/mv3lAwl/skON4iLHjSsI+c5H38=
github.com/maxmind/mmdbwriter v1.2.0 h1:hyvDopImmgvle3aR8AaddxXnT0iQH2KWJX3vNfkwzYM=
github.com/maxmind/mmdbwriter v1.2.0/go.mod h1:EQmKHhk2y9DRVvyNxwCLKC5FrkXZLx4snc5OlLY5XLE=
github.com/oschwald/maxminddb-golang/v2 v2.1.1 h1:lA8FH0oOrM4u7mLvowq8IT6a3Q/qEnqRzLQn9eH5ojc=
github.com/oschwald/maxminddb-golang/v2 v2.1.1/go.mod h1:PLdx6PR+siSIoXqqy7C7r3SB3KZnhxWr1Dp6g0Hacl8=
github.com/pmezard/go-difflib v1.0.0 h1:4DBwDE0NGyQoBHbLQYPwSUPoCMWR5BEzIk/f1lZbAQM=
github.com/pmezard/go-difflib v1.0.0/go.mod h1:iKH77koFhYxTK1pcRnkKkqfTogsbg7gZNVY4sRDYZ/4=
github.com/stretchr/testify v1.11.1 h1:7s2iGBzp5EwR7/aIZr8ao5+dra3wiQyKjjFuvgVKu7U=
github.com/stretchr/testify v1.11.1/go.mod h1:wZwfW3scLgRK+23gO65QZefKpKQRnfz6sD981Nm4B6U=
go4.org/netipx v0.0.0-20231129151722-fdeea329fbba h1:0b9z3AuHCjxk0x/opv64kcgZLBseWJUpBw5I82+2U4M=
go4.org/netipx v0.0.0-20231129151722-fdeea329fbba/go.mod h1:PLyyIXexvUFg3Owu6p/WfdlivPbZJsZdgWZlrGope/Y=
golang.org/x/sys v0.38.0 h1:3yZWxaJjBmCWXqhN1qh02AkOnCQ1poK6oF+a7xWL6Gc=
golang.org/x/sys v0.38.0/go.mod h1:OgkHotnGiDImocRcuBABYBEXf8A9a87e/uXjp9XT3ks=
gopkg.in/yaml.v3 v3.0.1 h1:fxVm/GzAzEWqLHuvctI91KS9hhNmmWOoWu0XTYJS7CA=
gopkg.in/yaml.v3 v3.0.1/go.mod h1:K4uyk7z7BCEPqu6E+C64Yfv1cQ7kz7rIZviUmN+EgEM=
EOF
(
  cd "$WORK/flatgen"
  GOTOOLCHAIN=local GOFLAGS=-mod=readonly go run . "$WORK" >&2
)
for f in "${FLAT_DBS[@]}"; do
  cp "$WORK/$f" "$DEST/$f"
done

echo "$STAMP" >"$DEST/STAMP"
log "ready"
echo "$DEST"
