//! AWS `ip-ranges.json` (`https://ip-ranges.amazonaws.com/ip-ranges.json`): `syncToken`,
//! `createDate`, `prefixes[]` with `ip_prefix`, `region`, `service`, `network_border_group`, and
//! `ipv6_prefixes[]` with `ipv6_prefix`. Every prefix is taken: the `AMAZON` service is the
//! superset, and all of them are AWS's own network.

use serde::Deserialize;

use super::{FormatError, checked_range, json};

#[derive(Deserialize)]
struct IpRanges {
    #[serde(rename = "syncToken")]
    _sync_token: String,
    prefixes: Vec<V4Prefix>,
    #[serde(default)]
    ipv6_prefixes: Vec<V6Prefix>,
}

#[derive(Deserialize)]
struct V4Prefix {
    ip_prefix: String,
}

#[derive(Deserialize)]
struct V6Prefix {
    ipv6_prefix: String,
}

/// The prefixes, IPv4 then IPv6, duplicates (one prefix in several services) removed.
pub fn parse(body: &[u8]) -> Result<Vec<String>, FormatError> {
    let ranges: IpRanges = json(body, "AWS ip-ranges")?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for prefix in &ranges.prefixes {
        let range = checked_range("prefixes[].ip_prefix", &prefix.ip_prefix)?;
        if seen.insert(range.clone()) {
            out.push(range);
        }
    }
    for prefix in &ranges.ipv6_prefixes {
        let range = checked_range("ipv6_prefixes[].ipv6_prefix", &prefix.ipv6_prefix)?;
        if seen.insert(range.clone()) {
            out.push(range);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_published_sample() {
        let sample = include_bytes!("../../../../tests/fixtures/feeds/aws-ip-ranges.json");
        let ranges = parse(sample).unwrap();
        // 3.5.140.0/22 is listed under AMAZON and S3: kept once.
        assert_eq!(ranges.len(), 5, "{ranges:?}");
        assert_eq!(ranges[0], "3.5.140.0/22");
        assert!(ranges.contains(&"2600:1f18::/33".to_string()));
    }

    #[test]
    fn truncated_json_is_refused() {
        let sample = include_bytes!("../../../../tests/fixtures/feeds/aws-ip-ranges.json");
        assert!(parse(&sample[..sample.len() / 2]).is_err());
    }
}
