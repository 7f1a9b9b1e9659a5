//! Oracle Cloud Infrastructure's `public_ip_ranges.json`
//! (`https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json`): `last_updated_timestamp`
//! and `regions[]`, each with `region` and `cidrs[]` of `{cidr, tags}` (`OCI`, `OSN`, `OBJECT_STORAGE`).

use serde::Deserialize;

use super::{FormatError, checked_range, json};

#[derive(Deserialize)]
struct PublicIpRanges {
    #[serde(rename = "last_updated_timestamp")]
    _last_updated_timestamp: String,
    regions: Vec<Region>,
}

#[derive(Deserialize)]
struct Region {
    cidrs: Vec<Cidr>,
}

#[derive(Deserialize)]
struct Cidr {
    cidr: String,
}

/// Every region's ranges.
pub fn parse(body: &[u8]) -> Result<Vec<String>, FormatError> {
    let ranges: PublicIpRanges = json(body, "Oracle public_ip_ranges")?;
    ranges
        .regions
        .iter()
        .flat_map(|region| &region.cidrs)
        .map(|cidr| checked_range("regions[].cidrs[].cidr", &cidr.cidr))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_published_sample() {
        let sample =
            include_bytes!("../../../../tests/fixtures/feeds/oracle-public_ip_ranges.json");
        let ranges = parse(sample).unwrap();
        assert_eq!(
            ranges,
            [
                "129.146.0.0/21",
                "134.70.24.0/21",
                "138.1.0.0/20",
                "140.91.10.0/23"
            ]
        );
    }
}
