// Writes two MaxMind DB files of realistic size for the benchmarks, with made-up but
// realistically shaped records:
//
//   - bench-city.mmdb: the nested GeoLite2-City layout (continent, country, registered
//     country, city, subdivisions, postal code, location; names in the eight languages that
//     GeoLite2 carries), covering the public IPv4 space in about 600 000 networks plus IPv6
//     networks under 2000::/3;
//   - bench-asn.mmdb: the GeoLite2-ASN layout (autonomous_system_number and
//     autonomous_system_organization), about 700 000 networks.
//
// The real GeoLite2-City has about 3.5 million networks and 140 000 distinct records; what a
// lookup costs depends on the tree depth (bounded by the address length) and on the size of the
// record it decodes, both of which these files match. The output depends only on the seed.
//
//	go run . -out DIR [-seed 1]
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// The languages GeoLite2 names places in.
var languages = []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"}

type country struct {
	iso, name, continent, continentName, tz string
	lat, lon                                float64
}

var countries = []country{
	{"US", "United States", "NA", "North America", "America/New_York", 38, -97},
	{"DE", "Germany", "EU", "Europe", "Europe/Berlin", 51, 9},
	{"GB", "United Kingdom", "EU", "Europe", "Europe/London", 54, -2},
	{"FR", "France", "EU", "Europe", "Europe/Paris", 46, 2},
	{"JP", "Japan", "AS", "Asia", "Asia/Tokyo", 36, 138},
	{"BR", "Brazil", "SA", "South America", "America/Sao_Paulo", -10, -55},
	{"IN", "India", "AS", "Asia", "Asia/Kolkata", 20, 77},
	{"CN", "China", "AS", "Asia", "Asia/Shanghai", 35, 105},
	{"RU", "Russia", "EU", "Europe", "Europe/Moscow", 60, 100},
	{"CA", "Canada", "NA", "North America", "America/Toronto", 60, -95},
	{"AU", "Australia", "OC", "Oceania", "Australia/Sydney", -27, 133},
	{"NL", "Netherlands", "EU", "Europe", "Europe/Amsterdam", 52.5, 5.75},
	{"ES", "Spain", "EU", "Europe", "Europe/Madrid", 40, -4},
	{"IT", "Italy", "EU", "Europe", "Europe/Rome", 42.8, 12.8},
	{"KR", "South Korea", "AS", "Asia", "Asia/Seoul", 37, 127.5},
	{"MX", "Mexico", "NA", "North America", "America/Mexico_City", 23, -102},
	{"PL", "Poland", "EU", "Europe", "Europe/Warsaw", 52, 20},
	{"SE", "Sweden", "EU", "Europe", "Europe/Stockholm", 62, 15},
	{"ZA", "South Africa", "AF", "Africa", "Africa/Johannesburg", -29, 24},
	{"NG", "Nigeria", "AF", "Africa", "Africa/Lagos", 10, 8},
	{"VN", "Vietnam", "AS", "Asia", "Asia/Ho_Chi_Minh", 16, 106},
	{"ID", "Indonesia", "AS", "Asia", "Asia/Jakarta", -5, 120},
	{"TR", "Turkey", "AS", "Asia", "Europe/Istanbul", 39, 35},
	{"AR", "Argentina", "SA", "South America", "America/Argentina/Buenos_Aires", -34, -64},
	{"UA", "Ukraine", "EU", "Europe", "Europe/Kyiv", 49, 32},
}

var syllables = []string{"an", "ber", "ca", "dor", "el", "fen", "gra", "hal", "is", "jor",
	"ka", "lin", "mar", "nor", "os", "pra", "quin", "ros", "sal", "tor", "ul", "ven", "wes", "yor", "zel"}

func placeName(rng *rand.Rand) string {
	parts := 2 + rng.IntN(2)
	var b strings.Builder
	for i := 0; i < parts; i++ {
		b.WriteString(syllables[rng.IntN(len(syllables))])
	}
	s := b.String()
	return strings.ToUpper(s[:1]) + s[1:]
}

// names gives a place a name in every language, as GeoLite2 does (here spelled alike, with the
// scripts that need it marked, so each record has the real number of strings).
func names(name string) mmdbtype.Map {
	m := mmdbtype.Map{}
	for _, lang := range languages {
		switch lang {
		case "ja", "ru", "zh-CN":
			m[mmdbtype.String(lang)] = mmdbtype.String(name + " (" + lang + ")")
		default:
			m[mmdbtype.String(lang)] = mmdbtype.String(name)
		}
	}
	return m
}

func cityRecords(rng *rand.Rand, count int) []mmdbtype.Map {
	records := make([]mmdbtype.Map, 0, count)
	for i := 0; i < count; i++ {
		c := countries[rng.IntN(len(countries))]
		geo := func(id int) mmdbtype.Uint32 { return mmdbtype.Uint32(uint32(id)) }
		countryMap := mmdbtype.Map{
			"geoname_id": geo(6000000 + int(c.iso[0])*100 + int(c.iso[1])),
			"iso_code":   mmdbtype.String(c.iso),
			"names":      names(c.name),
		}
		region := placeName(rng)
		records = append(records, mmdbtype.Map{
			"continent": mmdbtype.Map{
				"code":       mmdbtype.String(c.continent),
				"geoname_id": geo(6255000 + int(c.continent[0])),
				"names":      names(c.continentName),
			},
			"country":            countryMap,
			"registered_country": countryMap,
			"city": mmdbtype.Map{
				"geoname_id": geo(1000000 + i),
				"names":      names(placeName(rng)),
			},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{
				"geoname_id": geo(2000000 + rng.IntN(50000)),
				"iso_code":   mmdbtype.String(strings.ToUpper(region[:2])),
				"names":      names(region),
			}},
			"postal": mmdbtype.Map{"code": mmdbtype.String(fmt.Sprintf("%05d", rng.IntN(100000)))},
			"location": mmdbtype.Map{
				"accuracy_radius": mmdbtype.Uint16(uint16(5 + rng.IntN(500))),
				"latitude":        mmdbtype.Float64(c.lat + rng.Float64()*8 - 4),
				"longitude":       mmdbtype.Float64(c.lon + rng.Float64()*8 - 4),
				"time_zone":       mmdbtype.String(c.tz),
			},
		})
	}
	return records
}

func asnRecords(rng *rand.Rand, count int) []mmdbtype.Map {
	suffixes := []string{"Telecom", "Networks", "Internet", "Broadband", "Hosting", "Cloud", "Communications", "ISP"}
	records := make([]mmdbtype.Map, 0, count)
	for i := 0; i < count; i++ {
		org := placeName(rng) + " " + suffixes[rng.IntN(len(suffixes))]
		if rng.IntN(3) == 0 {
			org += " Ltd"
		}
		records = append(records, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(uint32(1000 + i)),
			"autonomous_system_organization": mmdbtype.String(org),
		})
	}
	return records
}

// Networks that are not on the public internet; real databases leave them out.
var reserved = mustNets("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3")

func mustNets(cidrs ...string) [][2]uint32 {
	out := make([][2]uint32, 0, len(cidrs))
	for _, cidr := range cidrs {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			log.Fatal(err)
		}
		start := ip4(n.IP)
		ones, _ := n.Mask.Size()
		out = append(out, [2]uint32{start, start + uint32((uint64(1)<<(32-ones))-1)})
	}
	return out
}

func ip4(ip net.IP) uint32 {
	v := ip.To4()
	return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
}

// prefixes are the network sizes to draw from, with weights.
type prefixes []struct{ bits, weight int }

func (p prefixes) draw(rng *rand.Rand) int {
	total := 0
	for _, e := range p {
		total += e.weight
	}
	n := rng.IntN(total)
	for _, e := range p {
		if n < e.weight {
			return e.bits
		}
		n -= e.weight
	}
	return p[len(p)-1].bits
}

// walkIPv4 cuts the public IPv4 space into aligned networks drawn from sizes and gives each to
// visit; about one in twenty is left out (unallocated).
func walkIPv4(rng *rand.Rand, sizes prefixes, visit func(*net.IPNet)) int {
	count := 0
	cursor := uint64(1 << 24)
	for cursor < 1<<32 {
		bits := sizes.draw(rng)
		size := uint64(1) << (32 - bits)
		start := (cursor + size - 1) / size * size
		end := start + size - 1
		if end >= 1<<32 {
			break
		}
		skipTo := uint64(0)
		for _, r := range reserved {
			if start <= uint64(r[1]) && end >= uint64(r[0]) {
				skipTo = uint64(r[1]) + 1
			}
		}
		if skipTo != 0 {
			cursor = skipTo
			continue
		}
		cursor = end + 1
		if rng.IntN(20) == 0 {
			continue
		}
		ip := net.IPv4(byte(start>>24), byte(start>>16), byte(start>>8), byte(start)).To4()
		visit(&net.IPNet{IP: ip, Mask: net.CIDRMask(bits, 32)})
		count++
	}
	return count
}

// walkIPv6 gives visit `count` networks (/32 to /48) spread over 2000::/4, outside the
// networks that alias IPv4.
func walkIPv6(rng *rand.Rand, count int, visit func(*net.IPNet)) {
	for i := 0; i < count; i++ {
		ip := make(net.IP, 16)
		ip[0] = 0x20 | byte(rng.IntN(16))
		ip[1] = byte(rng.IntN(256))
		ip[2] = byte(rng.IntN(256))
		ip[3] = byte(rng.IntN(256))
		if (ip[0] == 0x20 && ip[1] == 0x02) || (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0 && ip[3] == 0) {
			// 2002::/16 and 2001::/32 alias IPv4 space (6to4, Teredo).
			i--
			continue
		}
		bits := []int{32, 36, 40, 44, 48}[rng.IntN(5)]
		if bits > 32 {
			ip[4] = byte(rng.IntN(256))
			ip[5] = byte(rng.IntN(256))
		}
		mask := net.CIDRMask(bits, 128)
		visit(&net.IPNet{IP: ip.Mask(mask), Mask: mask})
	}
}

func newTree(dbType, description string) *mmdbwriter.Tree {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		IPVersion:    6,
		RecordSize:   28,
		BuildEpoch:   1700000000,
		Languages:    languages,
		Description:  map[string]string{"en": description},
	})
	if err != nil {
		log.Fatal(err)
	}
	return tree
}

func write(tree *mmdbwriter.Tree, path string) {
	f, err := os.Create(path)
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
	out := flag.String("out", ".", "folder to write bench-city.mmdb and bench-asn.mmdb into")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	started := time.Now()

	rng := rand.New(rand.NewPCG(*seed, 11))
	cities := cityRecords(rng, 40000)
	city := newTree("GeoLite2-City", "Gatehouse benchmark City database (made-up records, GeoLite2 layout)")
	insert := func(tree *mmdbwriter.Tree, n *net.IPNet, record mmdbtype.Map) {
		if err := tree.Insert(n, record); err != nil {
			log.Fatalf("%s: %v", n, err)
		}
	}
	cityV4 := walkIPv4(rng, prefixes{{16, 3}, {18, 7}, {20, 20}, {22, 30}, {24, 40}}, func(n *net.IPNet) {
		insert(city, n, cities[rng.IntN(len(cities))])
	})
	walkIPv6(rng, 60000, func(n *net.IPNet) { insert(city, n, cities[rng.IntN(len(cities))]) })
	write(city, filepath.Join(*out, "bench-city.mmdb"))

	asns := asnRecords(rng, 70000)
	asn := newTree("GeoLite2-ASN", "Gatehouse benchmark ASN database (made-up records, GeoLite2 layout)")
	asnV4 := walkIPv4(rng, prefixes{{16, 4}, {19, 10}, {20, 16}, {22, 20}, {24, 50}}, func(n *net.IPNet) {
		insert(asn, n, asns[rng.IntN(len(asns))])
	})
	walkIPv6(rng, 40000, func(n *net.IPNet) { insert(asn, n, asns[rng.IntN(len(asns))]) })
	write(asn, filepath.Join(*out, "bench-asn.mmdb"))

	fmt.Fprintf(os.Stderr, "mmdbgen: city %d IPv4 + 60000 IPv6 networks, asn %d IPv4 + 40000 IPv6 networks, %.1fs\n",
		cityV4, asnV4, time.Since(started).Seconds())
}
