//! Google's IP range files: `cloud.json` (`https://www.gstatic.com/ipranges/cloud.json`, Google
//! Cloud customers' external ranges) and `goog.json`: `syncToken`, `creationTime`, `prefixes[]`
//! each with `ipv4Prefix` or `ipv6Prefix` (and in `cloud.json` `service` and `scope`).

use serde::Deserialize;

use super::{FormatError, checked_range, json};

#[derive(Deserialize)]
struct IpRanges {
    #[serde(rename = "creationTime")]
    _creation_time: String,
    prefixes: Vec<Prefix>,
}

#[derive(Deserialize)]
struct Prefix {
    #[serde(rename = "ipv4Prefix")]
    ipv4_prefix: Option<String>,
    #[serde(rename = "ipv6Prefix")]
    ipv6_prefix: Option<String>,
}

/// The prefixes, in file order.
pub fn parse(body: &[u8]) -> Result<Vec<String>, FormatError> {
    let ranges: IpRanges = json(body, "Google ip ranges")?;
    let mut out = Vec::new();
    for prefix in &ranges.prefixes {
        if let Some(v4) = &prefix.ipv4_prefix {
            out.push(checked_range("prefixes[].ipv4Prefix", v4)?);
        }
        if let Some(v6) = &prefix.ipv6_prefix {
            out.push(checked_range("prefixes[].ipv6Prefix", v6)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_published_sample() {
        let sample = include_bytes!("../../../../tests/fixtures/feeds/google-cloud.json");
        let ranges = parse(sample).unwrap();
        assert_eq!(ranges.len(), 5);
        assert_eq!(ranges[0], "34.1.208.0/20");
        assert!(ranges.contains(&"2600:1900:4010::/44".to_string()));
    }
}
