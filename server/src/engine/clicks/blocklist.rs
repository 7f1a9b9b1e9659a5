//! The blocklist renderer: turns the IPs the click engine wants excluded into a document a tenant
//! can download or paste elsewhere. Pure: no I/O, no clock (the caller passes `generated_ms`).
//!
//! Three formats:
//! - JSON ([`BlocklistFormat::Json`]), the shape ClickDefender's API uses:
//!   `{"blocklist":[{"ip":…,"score":…,"lastSeen":…,"reason":…}],"total":…,"generatedAt":…}`,
//!   with RFC 3339 UTC timestamps to the second (`2024-01-05T12:40:00Z`).
//! - CSV ([`BlocklistFormat::Csv`]) with the header `ip,score,last_seen,reason`, RFC 4180
//!   quoting, CRLF line ends, and a guard against spreadsheet formula injection in `reason`.
//! - Google Ads ([`BlocklistFormat::GoogleAds`]): one exclusion per line, ready to paste into a
//!   campaign's IP exclusions, worst first, at most [`GOOGLE_ADS_MAX_ENTRIES`] lines.
//!
//! Every format lists the entries worst first (see [`sort_worst_first`]).
//!
//! # What Google Ads accepts
//! The Google Ads API reference for `IpBlockInfo` (the criterion behind campaign IP exclusions)
//! allows IPv4 and IPv6 individual addresses (`192.168.0.1`, `2001:db8:a0b:12f0::1`), the same as
//! `/32` or `/128`, and CIDR blocks, giving `192.168.0.0/24` as the IPv4 block example (older
//! revisions of the same page: "masks for Class C networks"), one criterion per address or block,
//! "up to 500 IP addresses per campaign". The retired AdWords API added that a block's host bits
//! must be zero: `1.2.3.0/24` is accepted, `1.2.3.4/24` is malformed. Wildcards such as
//! `1.2.3.*` appear in third-party tools but in no Google reference we found, so they are never
//! emitted here.
//!
//! # Collapse rule
//! When at least [`GOOGLE_ADS_COLLAPSE_MIN`] distinct blocked IPv4 addresses fall in one `/24`,
//! that `/24` is emitted as a single `a.b.c.0/24` line in place of its addresses. A `/24` also
//! excludes up to 253 innocent neighbours, so one or two hits stay as single addresses; three or
//! more bad addresses in one small block is the usual sign of a datacenter, proxy pool or click
//! farm, where the neighbours are unlikely to be real customers. Collapsing also frees lines, so
//! more bad IPs fit under the 500 cap. A collapsed line sits where its worst address would have
//! been. IPv6 addresses are always emitted one per line: Google's documented block masks are the
//! IPv4 `/24`, and guessing a prefix for IPv6 (a `/64` may be one home or a whole hosting
//! segment) is not a call this renderer makes on its own. IPv4-mapped IPv6 addresses
//! (`::ffff:1.2.3.4`) are treated as the IPv4 address they carry.

use crate::time::rfc3339;
use std::{
    cmp::Ordering,
    collections::{HashMap, HashSet},
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr},
};

/// One IP to exclude.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedIp {
    /// The address to exclude.
    pub ip: IpAddr,
    /// The fraud score, 0 to 100; higher is worse.
    pub score: i32,
    /// When the address was last seen, in unix milliseconds.
    pub last_seen_ms: i64,
    /// Why the address is listed, for people (e.g. "Repeat clicks, datacenter IP").
    pub reason: String,
    /// `true` for a FRAUD verdict, `false` for SUSPICIOUS.
    pub fraud: bool,
}

/// The document to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlocklistFormat {
    /// A JSON object in ClickDefender's API shape.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// Plain text, one Google Ads IP exclusion per line.
    GoogleAds,
}

/// Google Ads accepts at most this many IP exclusions per campaign.
pub const GOOGLE_ADS_MAX_ENTRIES: usize = 500;

/// How many distinct blocked IPv4 addresses one `/24` must hold before the Google Ads list
/// excludes the whole `/24` instead of the addresses (see the module docs for the reasoning).
pub const GOOGLE_ADS_COLLAPSE_MIN: usize = 3;

// Below 2 every lone address would turn into its whole /24, which is never the intent.
const _: () = assert!(GOOGLE_ADS_COLLAPSE_MIN >= 2);

/// A rendered blocklist, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedBlocklist {
    /// The document itself.
    pub content: String,
    /// Its media type: `application/json`, `text/csv` or `text/plain`.
    pub content_type: &'static str,
    /// How many IPs are on the list, before any Google Ads limit or collapsing.
    pub total: usize,
    /// For [`BlocklistFormat::GoogleAds`], the exclusion lines (as in `content`); empty otherwise.
    pub lines: Vec<String>,
}

/// Orders worst first: FRAUD before SUSPICIOUS, higher score first, then most recent, then IP
/// (ascending), then reason, so the order is fully deterministic.
pub fn sort_worst_first(entries: &mut [BlockedIp]) {
    entries.sort_by(worst_first);
}

fn worst_first(a: &BlockedIp, b: &BlockedIp) -> Ordering {
    b.fraud
        .cmp(&a.fraud)
        .then_with(|| b.score.cmp(&a.score))
        .then_with(|| b.last_seen_ms.cmp(&a.last_seen_ms))
        .then_with(|| a.ip.cmp(&b.ip))
        .then_with(|| a.reason.cmp(&b.reason))
}

/// Renders `entries` (in any order; they are listed worst first) as `format`. `generated_ms` is
/// the generation time in unix milliseconds, shown by the JSON format.
pub fn render(
    entries: &[BlockedIp],
    format: BlocklistFormat,
    generated_ms: i64,
) -> RenderedBlocklist {
    let mut sorted = entries.to_vec();
    sort_worst_first(&mut sorted);
    let total = entries.len();
    match format {
        BlocklistFormat::Json => RenderedBlocklist {
            content: render_json(&sorted, total, generated_ms),
            content_type: "application/json",
            total,
            lines: Vec::new(),
        },
        BlocklistFormat::Csv => RenderedBlocklist {
            content: render_csv(&sorted),
            content_type: "text/csv",
            total,
            lines: Vec::new(),
        },
        BlocklistFormat::GoogleAds => {
            let lines = google_ads_lines(&sorted);
            let mut content = lines.join("\n");
            if !content.is_empty() {
                content.push('\n');
            }
            RenderedBlocklist {
                content,
                content_type: "text/plain",
                total,
                lines,
            }
        }
    }
}

// ---- JSON ----

fn render_json(sorted: &[BlockedIp], total: usize, generated_ms: i64) -> String {
    // Written by hand so the keys keep the documented order; serde_json escapes the strings
    // (`Value`'s `Display` cannot fail, so no `Result` to unwrap).
    let mut out = String::from("{\"blocklist\":[");
    for (i, e) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"ip\":{},\"score\":{},\"lastSeen\":{},\"reason\":{}}}",
            json_string(&e.ip.to_string()),
            e.score,
            json_string(&rfc3339(e.last_seen_ms)),
            json_string(&e.reason),
        );
    }
    let _ = write!(
        out,
        "],\"total\":{total},\"generatedAt\":{}}}",
        json_string(&rfc3339(generated_ms))
    );
    out
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

// ---- CSV ----

fn render_csv(sorted: &[BlockedIp]) -> String {
    // RFC 4180: CRLF after every record, the last included.
    let mut out = String::from("ip,score,last_seen,reason\r\n");
    for e in sorted {
        let _ = write!(
            out,
            "{},{},{},{}\r\n",
            csv_field(&e.ip.to_string()),
            e.score,
            rfc3339(e.last_seen_ms),
            csv_field(&defuse_formula(&e.reason)),
        );
    }
    out
}

/// Spreadsheets (Excel, LibreOffice, Google Sheets) run a cell that starts with `=`, `+`, `-` or
/// `@` as a formula, and some strip a leading tab or CR before deciding, so an attacker who can
/// shape the reason text (it may quote a user agent or a URL) could smuggle in something like
/// `=HYPERLINK(...)` or a DDE payload that runs when the tenant opens the export. A leading `'`
/// makes the cell plain text, following OWASP's CSV injection advice. Only `reason` is free text:
/// the IP, score and timestamp are produced here.
fn defuse_formula(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

/// RFC 4180: a field holding a comma, a double quote, CR or LF is enclosed in double quotes, and
/// each double quote inside is doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

// ---- Google Ads ----

fn google_ads_lines(sorted: &[BlockedIp]) -> Vec<String> {
    // Distinct blocked addresses per IPv4 /24.
    let mut per_net: HashMap<[u8; 3], HashSet<Ipv4Addr>> = HashMap::new();
    for e in sorted {
        if let IpAddr::V4(v4) = e.ip.to_canonical() {
            per_net.entry(net24(v4)).or_default().insert(v4);
        }
    }
    // Walk worst first; a line appears where its worst covered entry is, later ones it covers
    // (and duplicate addresses) are skipped.
    let mut seen: HashSet<String> = HashSet::new();
    let mut lines = Vec::new();
    for e in sorted {
        if lines.len() == GOOGLE_ADS_MAX_ENTRIES {
            break;
        }
        let line = match e.ip.to_canonical() {
            IpAddr::V4(v4) => {
                let net = net24(v4);
                let count = per_net.get(&net).map_or(0, HashSet::len);
                if count >= GOOGLE_ADS_COLLAPSE_MIN {
                    // Host bits zero, as Google requires for a CIDR block.
                    format!("{}.{}.{}.0/24", net[0], net[1], net[2])
                } else {
                    v4.to_string()
                }
            }
            IpAddr::V6(v6) => v6.to_string(),
        };
        if seen.insert(line.clone()) {
            lines.push(line);
        }
    }
    lines
}

fn net24(ip: Ipv4Addr) -> [u8; 3] {
    let [a, b, c, _] = ip.octets();
    [a, b, c]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::civil_from_days;
    use std::net::Ipv6Addr;

    fn entry(ip: &str, score: i32, last_seen_ms: i64, reason: &str, fraud: bool) -> BlockedIp {
        BlockedIp {
            ip: ip.parse().expect("test IP parses"),
            score,
            last_seen_ms,
            reason: reason.to_owned(),
            fraud,
        }
    }

    fn ips(entries: &[BlockedIp]) -> Vec<String> {
        entries.iter().map(|e| e.ip.to_string()).collect()
    }

    // ---- timestamps ----

    #[test]
    fn rfc3339_known_vectors() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (1_704_458_400_000, "2024-01-05T12:40:00Z"),
            (1_704_067_200_000, "2024-01-01T00:00:00Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (1_709_210_096_789, "2024-02-29T12:34:56Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (-1_000, "1969-12-31T23:59:59Z"),
            (-1_001, "1969-12-31T23:59:58Z"),
            (-62_135_596_800_000, "0001-01-01T00:00:00Z"),
        ];
        for (ms, want) in cases {
            assert_eq!(rfc3339(ms), want, "ms = {ms}");
        }
    }

    #[test]
    fn rfc3339_clamps_to_four_digit_years() {
        assert_eq!(rfc3339(i64::MIN), "0000-01-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799_999), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn civil_from_days_round_trips_every_day_over_800_years() {
        // Independent forward count: walk day by day from 1600-01-01 and compare.
        let is_leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_len = |y: i64, m: i64| match m {
            2 if is_leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let (mut y, mut m, mut d) = (1600, 1, 1);
        let start = -135_140; // days from 1970-01-01 back to 1600-01-01
        for days in start..start + 800 * 366 {
            assert_eq!(civil_from_days(days), (y, m, d), "days = {days}");
            d += 1;
            if d > month_len(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    // ---- ordering ----

    #[test]
    fn sort_worst_first_orders_by_verdict_score_recency_ip() {
        let mut v = vec![
            entry("10.0.0.1", 99, 5, "", false), // suspicious, even with the top score
            entry("10.0.0.2", 50, 9, "", true),
            entry("10.0.0.3", 80, 1, "", true),
            entry("10.0.0.5", 80, 7, "", true), // same score, more recent than .3
            entry("10.0.0.4", 80, 7, "", true), // ties with .5: lower IP first
            entry("10.0.0.6", 10, 1, "", false),
        ];
        sort_worst_first(&mut v);
        assert_eq!(
            ips(&v),
            [
                "10.0.0.4", "10.0.0.5", "10.0.0.3", "10.0.0.2", "10.0.0.1", "10.0.0.6"
            ]
        );
    }

    #[test]
    fn render_lists_worst_first_in_every_format() {
        let v = vec![
            entry("10.0.0.1", 40, 1, "low", false),
            entry("10.0.0.2", 90, 1, "high", true),
        ];
        let json = render(&v, BlocklistFormat::Json, 0).content;
        assert!(json.find("10.0.0.2") < json.find("10.0.0.1"));
        let csv = render(&v, BlocklistFormat::Csv, 0).content;
        assert!(csv.find("10.0.0.2") < csv.find("10.0.0.1"));
        let ads = render(&v, BlocklistFormat::GoogleAds, 0);
        assert_eq!(ads.lines, ["10.0.0.2", "10.0.0.1"]);
    }

    // ---- JSON ----

    #[test]
    fn json_matches_the_documented_shape() {
        let v = vec![entry(
            "192.168.1.100",
            85,
            1_704_456_000_000,
            "Repeat clicks, datacenter IP",
            true,
        )];
        let r = render(&v, BlocklistFormat::Json, 1_704_465_000_000);
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.total, 1);
        assert!(r.lines.is_empty());
        assert_eq!(
            r.content,
            r#"{"blocklist":[{"ip":"192.168.1.100","score":85,"lastSeen":"2024-01-05T12:00:00Z","reason":"Repeat clicks, datacenter IP"}],"total":1,"generatedAt":"2024-01-05T14:30:00Z"}"#
        );
    }

    #[test]
    fn json_escapes_reason_and_parses_back() {
        let v = vec![
            entry(
                "2001:db8::1",
                70,
                1_704_458_400_000,
                "quote \" back \\ nl \n tab \t ü",
                false,
            ),
            entry("203.0.113.9", 95, 0, "</script>", true),
        ];
        let r = render(&v, BlocklistFormat::Json, 1_704_458_400_000);
        let parsed: serde_json::Value = serde_json::from_str(&r.content).expect("valid JSON");
        assert_eq!(parsed["total"], 2);
        assert_eq!(parsed["generatedAt"], "2024-01-05T12:40:00Z");
        let list = parsed["blocklist"].as_array().expect("array");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["ip"], "203.0.113.9");
        assert_eq!(list[0]["lastSeen"], "1970-01-01T00:00:00Z");
        assert_eq!(list[1]["ip"], "2001:db8::1");
        assert_eq!(list[1]["score"], 70);
        assert_eq!(list[1]["reason"], "quote \" back \\ nl \n tab \t ü");
    }

    // ---- CSV ----

    #[test]
    fn csv_header_rows_and_plain_fields() {
        let v = vec![entry(
            "198.51.100.7",
            85,
            1_704_458_400_000,
            "Datacenter IP",
            true,
        )];
        let r = render(&v, BlocklistFormat::Csv, 0);
        assert_eq!(r.content_type, "text/csv");
        assert_eq!(r.total, 1);
        assert!(r.lines.is_empty());
        assert_eq!(
            r.content,
            "ip,score,last_seen,reason\r\n198.51.100.7,85,2024-01-05T12:40:00Z,Datacenter IP\r\n"
        );
    }

    #[test]
    fn csv_quotes_per_rfc_4180() {
        assert_eq!(csv_field("plain text"), "plain text");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_field("cr\rhere"), "\"cr\rhere\"");
        let v = vec![entry(
            "198.51.100.7",
            85,
            0,
            "Repeat clicks, \"bot\" UA",
            true,
        )];
        let r = render(&v, BlocklistFormat::Csv, 0);
        assert!(
            r.content
                .ends_with(",1970-01-01T00:00:00Z,\"Repeat clicks, \"\"bot\"\" UA\"\r\n"),
            "{:?}",
            r.content
        );
    }

    #[test]
    fn csv_defuses_formula_injection() {
        for bad in ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defuse_formula(bad), format!("'{bad}"), "{bad:?}");
        }
        for ok in ["Repeat clicks", "1=1", "", "'already"] {
            assert_eq!(defuse_formula(ok), ok, "{ok:?}");
        }
        // Guard first, then quoting: the quote stays inside the quoted field.
        let v = vec![entry(
            "198.51.100.7",
            85,
            0,
            "=HYPERLINK(\"http://x\",\"a\")",
            true,
        )];
        let r = render(&v, BlocklistFormat::Csv, 0);
        assert!(
            r.content
                .ends_with(",\"'=HYPERLINK(\"\"http://x\"\",\"\"a\"\")\"\r\n"),
            "{:?}",
            r.content
        );
        // A CR-led reason is both guarded and quoted.
        let v = vec![entry("198.51.100.7", 85, 0, "\r=1", true)];
        assert!(
            render(&v, BlocklistFormat::Csv, 0)
                .content
                .ends_with(",\"'\r=1\"\r\n")
        );
    }

    // ---- Google Ads ----

    #[test]
    fn ads_collapses_a_busy_24_and_keeps_isolated_ips_single() {
        let v = vec![
            entry("203.0.113.10", 90, 5, "", true),
            entry("198.51.100.1", 95, 5, "", true), // worst: its own line, first
            entry("203.0.113.11", 60, 5, "", false),
            entry("203.0.113.200", 70, 5, "", true),
            entry("192.0.2.1", 80, 5, "", true), // two in 192.0.2.0/24: below the threshold
            entry("192.0.2.2", 30, 5, "", false),
        ];
        let r = render(&v, BlocklistFormat::GoogleAds, 0);
        assert_eq!(r.content_type, "text/plain");
        assert_eq!(r.total, 6);
        // The /24 sits where its worst member (203.0.113.10, FRAUD 90) ranks.
        assert_eq!(
            r.lines,
            ["198.51.100.1", "203.0.113.0/24", "192.0.2.1", "192.0.2.2"]
        );
        assert_eq!(
            r.content,
            "198.51.100.1\n203.0.113.0/24\n192.0.2.1\n192.0.2.2\n"
        );
    }

    #[test]
    fn ads_counts_distinct_addresses_and_dedupes() {
        // The same address twice is one address: no collapse, one line.
        let v = vec![
            entry("203.0.113.10", 90, 5, "a", true),
            entry("203.0.113.10", 50, 5, "b", false),
            entry("203.0.113.11", 60, 5, "", false),
        ];
        let r = render(&v, BlocklistFormat::GoogleAds, 0);
        assert_eq!(r.lines, ["203.0.113.10", "203.0.113.11"]);
        assert_eq!(r.total, 3);
    }

    #[test]
    fn ads_keeps_ipv6_single_and_unmaps_ipv4_mapped() {
        let v = vec![
            entry("2001:db8::1", 90, 5, "", true),
            entry("2001:db8::2", 80, 5, "", true),
            entry("2001:db8::3", 70, 5, "", true),
            entry("::ffff:203.0.113.1", 60, 5, "", true),
            entry("203.0.113.2", 50, 5, "", true),
            entry("203.0.113.3", 40, 5, "", true),
            entry("::ffff:198.51.100.9", 30, 5, "", true),
        ];
        let r = render(&v, BlocklistFormat::GoogleAds, 0);
        assert_eq!(
            r.lines,
            [
                "2001:db8::1",
                "2001:db8::2",
                "2001:db8::3",
                "203.0.113.0/24",
                "198.51.100.9"
            ]
        );
    }

    #[test]
    fn ads_caps_700_inputs_at_500_lines_worst_first() {
        // 700 isolated addresses: one per /24, so nothing collapses.
        let v: Vec<BlockedIp> = (0..700u32)
            .map(|i| BlockedIp {
                ip: IpAddr::V4(Ipv4Addr::new(10, (i / 256) as u8, (i % 256) as u8, 1)),
                score: (i % 101) as i32,
                last_seen_ms: i64::from(i),
                reason: String::new(),
                fraud: i % 2 == 0,
            })
            .collect();
        let r = render(&v, BlocklistFormat::GoogleAds, 0);
        assert_eq!(r.total, 700);
        assert_eq!(r.lines.len(), GOOGLE_ADS_MAX_ENTRIES);
        assert_eq!(r.content.lines().count(), GOOGLE_ADS_MAX_ENTRIES);
        let mut sorted = v.clone();
        sort_worst_first(&mut sorted);
        let want: Vec<String> = ips(&sorted[..GOOGLE_ADS_MAX_ENTRIES]);
        assert_eq!(r.lines, want);
    }

    #[test]
    fn ads_collapsing_lets_more_bad_ips_fit() {
        // 700 addresses packed 7 per /24 collapse to 100 lines, well under the cap.
        let v: Vec<BlockedIp> = (0..700u32)
            .map(|i| BlockedIp {
                ip: IpAddr::V4(Ipv4Addr::new(10, 0, (i / 7) as u8, (i % 7) as u8 + 1)),
                score: 90,
                last_seen_ms: i64::from(i),
                reason: String::new(),
                fraud: true,
            })
            .collect();
        let r = render(&v, BlocklistFormat::GoogleAds, 0);
        assert_eq!(r.total, 700);
        assert_eq!(r.lines.len(), 100);
        assert!(r.lines.iter().all(|l| l.ends_with(".0/24")));
        // Most recent first: block 99 holds the newest addresses.
        assert_eq!(r.lines[0], "10.0.99.0/24");
    }

    #[test]
    fn ads_cap_applies_after_collapsing() {
        // 600 isolated IPv6 addresses plus one busy /24 whose members are the worst entries.
        let mut v: Vec<BlockedIp> = (0..600u16)
            .map(|i| BlockedIp {
                ip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i)),
                score: 50,
                last_seen_ms: 1,
                reason: String::new(),
                fraud: true,
            })
            .collect();
        for host in 1..=4 {
            v.push(entry(&format!("203.0.113.{host}"), 99, 1, "", true));
        }
        let r = render(&v, BlocklistFormat::GoogleAds, 0);
        assert_eq!(r.total, 604);
        assert_eq!(r.lines.len(), GOOGLE_ADS_MAX_ENTRIES);
        assert_eq!(r.lines[0], "203.0.113.0/24");
        assert_eq!(r.lines[1], "2001:db8::");
        assert_eq!(r.lines[499], "2001:db8::1f2"); // 499 IPv6 lines: ::0 ..= ::1f2
    }

    // ---- empty ----

    #[test]
    fn empty_list_in_every_format() {
        let json = render(&[], BlocklistFormat::Json, 1_704_458_400_000);
        assert_eq!(
            json.content,
            r#"{"blocklist":[],"total":0,"generatedAt":"2024-01-05T12:40:00Z"}"#
        );
        assert_eq!(json.total, 0);

        let csv = render(&[], BlocklistFormat::Csv, 0);
        assert_eq!(csv.content, "ip,score,last_seen,reason\r\n");
        assert_eq!(csv.total, 0);

        let ads = render(&[], BlocklistFormat::GoogleAds, 0);
        assert_eq!(ads.content, "");
        assert!(ads.lines.is_empty());
        assert_eq!(ads.total, 0);
        assert_eq!(ads.content_type, "text/plain");
    }
}
