//! Fastly's `public-ip-list` (`https://api.fastly.com/public-ip-list`): `{"addresses": [...],
//! "ipv6_addresses": [...]}`.

use serde::Deserialize;

use super::{FormatError, checked_range, json};

#[derive(Deserialize)]
struct PublicIpList {
    addresses: Vec<String>,
    #[serde(default)]
    ipv6_addresses: Vec<String>,
}

/// The ranges, IPv4 then IPv6.
pub fn parse(body: &[u8]) -> Result<Vec<String>, FormatError> {
    let list: PublicIpList = json(body, "Fastly public-ip-list")?;
    let v4 = list
        .addresses
        .iter()
        .map(|range| checked_range("addresses[]", range));
    let v6 = list
        .ipv6_addresses
        .iter()
        .map(|range| checked_range("ipv6_addresses[]", range));
    v4.chain(v6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_published_sample() {
        let sample = include_bytes!("../../../../tests/fixtures/feeds/fastly-public-ip-list.json");
        let ranges = parse(sample).unwrap();
        assert_eq!(ranges.len(), 6);
        assert_eq!(ranges[0], "23.235.32.0/20");
        assert_eq!(ranges[5], "2a04:4e42::/32");
    }
}
