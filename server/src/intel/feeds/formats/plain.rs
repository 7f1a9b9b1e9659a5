//! Plain CIDR lists: one range per line, with `#` or `;` comments. Cloudflare's `ips-v4` and
//! `ips-v6` (no comments, no final newline) and FireHOL's `.netset` files (a `#` header that
//! names the source, licence and update interval) are in this format.

use super::{FormatError, line_ranges};

/// The ranges.
pub fn parse(text: &str) -> Result<Vec<String>, FormatError> {
    line_ranges(text, "CIDR list", |line| {
        line.split_whitespace().next().unwrap_or(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cloudflares_lists_without_a_final_newline() {
        let v4 = include_str!("../../../../tests/fixtures/feeds/cloudflare-ips-v4");
        assert!(!v4.ends_with('\n'));
        let ranges = parse(v4).unwrap();
        assert_eq!(ranges.first().map(String::as_str), Some("173.245.48.0/20"));
        assert_eq!(ranges.len(), 15);
        let v6 = parse(include_str!(
            "../../../../tests/fixtures/feeds/cloudflare-ips-v6"
        ))
        .unwrap();
        assert_eq!(v6.len(), 7);
    }

    #[test]
    fn reads_a_firehol_netset_with_its_header() {
        let netset = include_str!("../../../../tests/fixtures/feeds/firehol_level1.netset");
        let ranges = parse(netset).unwrap();
        assert_eq!(ranges.len(), 10);
        assert_eq!(ranges[0], "0.0.0.0/8");
        assert!(ranges.contains(&"1.10.16.0/20".to_string()));
    }
}
