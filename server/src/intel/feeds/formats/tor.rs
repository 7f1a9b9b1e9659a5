//! The Tor Project's bulk exit list (`https://check.torproject.org/torbulkexitlist`): the exit
//! addresses the exit scanner saw in the last day, one address per line, no header.

use super::{FormatError, line_ranges};

/// The exit addresses.
pub fn parse(text: &str) -> Result<Vec<String>, FormatError> {
    line_ranges(text, "Tor bulk exit list", |line| line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_published_sample() {
        let sample = include_str!("../../../../tests/fixtures/feeds/torbulkexitlist");
        let exits = parse(sample).unwrap();
        assert_eq!(exits.len(), 6);
        assert_eq!(exits[0], "185.220.101.1");
    }
}
