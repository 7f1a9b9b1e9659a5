//! The published formats of the feeds, one module per format. Each parser takes the bytes a
//! publisher serves and gives what Gatehouse keeps: IP ranges for a list file, an `.mmdb`
//! database, or a list of hosting ASNs. A parser refuses a body that is not in its format
//! (HTML error pages, truncated JSON, an empty list) rather than giving an empty result, so a
//! bad download can never replace good data.

pub mod asn_list;
pub mod aws;
pub mod azure;
pub mod fastly;
pub mod geofeed;
pub mod github;
pub mod google;
pub mod mmdb;
pub mod oracle;
pub mod plain;
pub mod spamhaus;
pub mod tor;

use serde::{Deserialize, Serialize};

use crate::intel::ip_lists::{IpRange, parse_range};

/// A feed's published format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// The Tor Project's bulk exit list: one IPv4 or IPv6 address per line.
    TorBulkExitList,
    /// AWS `ip-ranges.json`: `prefixes[].ip_prefix`, `ipv6_prefixes[].ipv6_prefix`.
    AwsIpRanges,
    /// Google's `cloud.json` / `goog.json`: `prefixes[].ipv4Prefix | ipv6Prefix`.
    GoogleIpRanges,
    /// Azure service tags JSON: `values[].properties.addressPrefixes[]`; the download page that
    /// links the weekly file is followed too.
    AzureServiceTags,
    /// Oracle Cloud `public_ip_ranges.json`: `regions[].cidrs[].cidr`.
    OracleIpRanges,
    /// One range per line, `#` or `;` comments: Cloudflare `ips-v4` / `ips-v6`, FireHOL
    /// `.netset` files, any CIDR list.
    PlainCidr,
    /// An RFC 8805 geofeed CSV (`prefix,country,region,city,postal`): DigitalOcean, Linode.
    Geofeed,
    /// Fastly `public-ip-list`: `addresses[]`, `ipv6_addresses[]`.
    FastlyIpList,
    /// GitHub's `meta` API: every top-level array of CIDRs (`hooks`, `web`, `api`, `actions`, ...).
    GithubMeta,
    /// Spamhaus DROP / EDROP in the classic text layout: `1.10.16.0/20 ; SBL256894`.
    SpamhausDropText,
    /// Spamhaus DROP in the JSON-lines layout (`drop_v4.json`, `drop_v6.json`).
    SpamhausDropJson,
    /// A MaxMind DB file (`.mmdb`), plain.
    Mmdb,
    /// A gzip-compressed MaxMind DB file (`.mmdb.gz`): DB-IP Lite.
    MmdbGzip,
    /// A `.tar.gz` archive holding one `.mmdb` file: MaxMind GeoLite2 downloads.
    MmdbTarGz,
    /// A list of hosting ASNs: `ASN,Entity` CSV (brianhama/bad-asn-list) or `AS123 name` lines.
    AsnList,
}

impl FeedFormat {
    /// True for the formats that give a database rather than IP ranges.
    pub fn is_database(self) -> bool {
        matches!(
            self,
            FeedFormat::Mmdb | FeedFormat::MmdbGzip | FeedFormat::MmdbTarGz
        )
    }
}

/// What a parsed download holds.
#[derive(Debug)]
pub enum FeedData {
    /// IP ranges, as canonical CIDR or range text, in the published order.
    Ranges(Vec<String>),
    /// A validated MaxMind DB file.
    Database(Vec<u8>),
    /// Hosting ASNs with their organisation names.
    Asns(Vec<(u32, String)>),
}

impl FeedData {
    /// Entries held: ranges, ASNs, or the networks of a database's search tree.
    pub fn entries(&self) -> usize {
        match self {
            FeedData::Ranges(ranges) => ranges.len(),
            FeedData::Database(bytes) => mmdb::node_count(bytes).unwrap_or(1),
            FeedData::Asns(asns) => asns.len(),
        }
    }
}

/// Why a download is not in its feed's format.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The body is not the JSON the format is.
    #[error("not valid {format} JSON: {detail}")]
    Json {
        /// The format expected.
        format: &'static str,
        /// The parser's reason.
        detail: String,
    },
    /// The body is not text.
    #[error("not UTF-8 text")]
    NotText,
    /// The body parsed but held no entry at all.
    #[error("no entries: the download is empty or not a {0} file")]
    Empty(&'static str),
    /// Too many lines that are neither comments nor ranges: not this format.
    #[error("{bad} of {total} lines are not ranges: not a {format} file")]
    Malformed {
        /// The format expected.
        format: &'static str,
        /// Lines that did not parse.
        bad: usize,
        /// Lines that were not comments.
        total: usize,
    },
    /// A range in a JSON field did not parse.
    #[error("{field} holds {value:?}, which is not an IP range")]
    BadRange {
        /// The field.
        field: &'static str,
        /// What it held.
        value: String,
    },
    /// The database is not a usable MaxMind DB.
    #[error("not a MaxMind DB: {0}")]
    Database(String),
    /// The archive could not be unpacked.
    #[error("cannot unpack: {0}")]
    Archive(String),
}

/// Parses `body` as `format`. `max_unpacked` bounds what a compressed download may unpack to.
pub fn parse(format: FeedFormat, body: &[u8], max_unpacked: u64) -> Result<FeedData, FormatError> {
    let ranges = |parsed: Result<Vec<String>, FormatError>, name| {
        let ranges = parsed?;
        if ranges.is_empty() {
            return Err(FormatError::Empty(name));
        }
        Ok(FeedData::Ranges(ranges))
    };
    match format {
        FeedFormat::TorBulkExitList => ranges(tor::parse(text(body)?), "Tor exit list"),
        FeedFormat::AwsIpRanges => ranges(aws::parse(body), "AWS ip-ranges.json"),
        FeedFormat::GoogleIpRanges => ranges(google::parse(body), "Google ip ranges"),
        FeedFormat::AzureServiceTags => ranges(azure::parse(body), "Azure service tags"),
        FeedFormat::OracleIpRanges => ranges(oracle::parse(body), "Oracle public_ip_ranges"),
        FeedFormat::PlainCidr => ranges(plain::parse(text(body)?), "CIDR list"),
        FeedFormat::Geofeed => ranges(geofeed::parse(text(body)?), "geofeed CSV"),
        FeedFormat::FastlyIpList => ranges(fastly::parse(body), "Fastly public-ip-list"),
        FeedFormat::GithubMeta => ranges(github::parse(body), "GitHub meta"),
        FeedFormat::SpamhausDropText => ranges(spamhaus::parse_text(text(body)?), "Spamhaus DROP"),
        FeedFormat::SpamhausDropJson => {
            ranges(spamhaus::parse_json(text(body)?), "Spamhaus DROP JSON")
        }
        FeedFormat::Mmdb => mmdb::validate(body.to_vec()).map(FeedData::Database),
        FeedFormat::MmdbGzip => mmdb::gunzip(body, max_unpacked)
            .and_then(mmdb::validate)
            .map(FeedData::Database),
        FeedFormat::MmdbTarGz => mmdb::untar(body, max_unpacked)
            .and_then(mmdb::validate)
            .map(FeedData::Database),
        FeedFormat::AsnList => {
            let asns = asn_list::parse(text(body)?)?;
            if asns.is_empty() {
                return Err(FormatError::Empty("ASN list"));
            }
            Ok(FeedData::Asns(asns))
        }
    }
}

fn text(body: &[u8]) -> Result<&str, FormatError> {
    let text = std::str::from_utf8(body).map_err(|_| FormatError::NotText)?;
    // A byte-order mark is not part of the first line.
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// `value` as canonical range text, or the error naming `field`.
pub(crate) fn checked_range(field: &'static str, value: &str) -> Result<String, FormatError> {
    canonical_range(value).ok_or_else(|| FormatError::BadRange {
        field,
        value: value.to_string(),
    })
}

/// `text` as a canonical CIDR (network address, shortest form) or `a - b` range, if it is one.
pub(crate) fn canonical_range(text: &str) -> Option<String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Some(net.trunc().to_string());
    }
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Some(crate::intel::ip_lists::canonical(ip).to_string());
    }
    match parse_range(text)? {
        IpRange::V4(start, end) => Some(format!(
            "{} - {}",
            std::net::Ipv4Addr::from(start),
            std::net::Ipv4Addr::from(end)
        )),
        IpRange::V6(start, end) => Some(format!(
            "{} - {}",
            std::net::Ipv6Addr::from(start),
            std::net::Ipv6Addr::from(end)
        )),
    }
}

/// The ranges of a line-per-entry text list: each line's text before a `#` or `;` comment,
/// first word only. More than a tenth of bad lines (and at least one) means the body is not
/// this format at all (an HTML page, say), not a list with a few typos.
pub(crate) fn line_ranges(
    text: &str,
    format: &'static str,
    first_field: impl Fn(&str) -> &str,
) -> Result<Vec<String>, FormatError> {
    let mut ranges = Vec::new();
    let mut bad = 0;
    let mut total = 0;
    for line in text.lines() {
        let content = match line.find(['#', ';']) {
            Some(comment) => &line[..comment],
            None => line,
        }
        .trim();
        if content.is_empty() {
            continue;
        }
        total += 1;
        match canonical_range(first_field(content)) {
            Some(range) => ranges.push(range),
            None => bad += 1,
        }
    }
    if bad > 0 && bad * 10 > total {
        return Err(FormatError::Malformed { format, bad, total });
    }
    Ok(ranges)
}

/// Parses JSON, naming the format in the error.
pub(crate) fn json<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    format: &'static str,
) -> Result<T, FormatError> {
    serde_json::from_slice(body).map_err(|error| FormatError::Json {
        format,
        detail: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_canonical() {
        assert_eq!(canonical_range("10.1.2.3/8").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(
            canonical_range("2001:0db8:0000::/32").as_deref(),
            Some("2001:db8::/32")
        );
        assert_eq!(
            canonical_range("::ffff:1.2.3.4").as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(
            canonical_range("1.2.3.4 - 1.2.3.9").as_deref(),
            Some("1.2.3.4 - 1.2.3.9")
        );
        assert_eq!(canonical_range("<html>"), None);
    }

    #[test]
    fn an_html_page_is_not_a_list() {
        let page = "<!DOCTYPE html>\n<html><head><title>502</title></head>\n<body>Bad gateway</body>\n</html>\n";
        assert!(matches!(
            parse(FeedFormat::PlainCidr, page.as_bytes(), 1 << 20),
            Err(FormatError::Malformed { .. })
        ));
        assert!(matches!(
            parse(FeedFormat::AwsIpRanges, page.as_bytes(), 1 << 20),
            Err(FormatError::Json { .. })
        ));
        assert!(matches!(
            parse(FeedFormat::PlainCidr, b"# only a comment\n", 1 << 20),
            Err(FormatError::Empty(_))
        ));
    }
}
