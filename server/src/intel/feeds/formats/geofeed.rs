//! RFC 8805 geofeeds: CSV lines `ip_prefix,alpha2code,region,city,postal_code`, `#` comments.
//! DigitalOcean publishes its ranges this way (`https://digitalocean.com/geo/google.csv`, no
//! header) and so does Linode / Akamai Cloud (`https://geoip.linode.com/`, a `#` header).

use super::{FormatError, line_ranges};

/// The prefixes (the first column).
pub fn parse(text: &str) -> Result<Vec<String>, FormatError> {
    line_ranges(text, "geofeed CSV", |line| {
        line.split(',').next().unwrap_or(line).trim()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_digitaloceans_feed() {
        let sample = include_str!("../../../../tests/fixtures/feeds/digitalocean-google.csv");
        let ranges = parse(sample).unwrap();
        assert_eq!(ranges.len(), 5);
        assert_eq!(ranges[0], "5.101.96.0/21");
        assert!(ranges.contains(&"2604:a880::/32".to_string()));
    }

    #[test]
    fn reads_linodes_feed_with_its_comment_header() {
        let sample = include_str!("../../../../tests/fixtures/feeds/linode-geoip.csv");
        let ranges = parse(sample).unwrap();
        assert_eq!(ranges.len(), 5);
        assert_eq!(ranges[0], "2600:3c00::/32");
    }
}
