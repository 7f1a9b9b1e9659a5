//! Spamhaus DROP ("Don't Route Or Peer"): netblocks hijacked or leased by spam and cyber-crime
//! operations. EDROP was merged into DROP on 10 April 2024.
//!
//! - The classic text layout (`https://www.spamhaus.org/drop/drop.txt`, `edrop.txt`,
//!   `dropv6.txt`): a `; ` header (list name and copyright, URL, `Last-Modified`, `Expires`),
//!   then `1.10.16.0/20 ; SBL256894` lines.
//! - The JSON-lines layout (`drop_v4.json`, `drop_v6.json`): one `{"cidr", "sblid", "rir"}`
//!   object per line and a final `{"type":"metadata", "timestamp", "size", "records", ...}`
//!   line. The metadata line's `records` is checked against the lines read, which catches a
//!   download cut short.

use serde::Deserialize;

use super::{FormatError, checked_range, line_ranges};

/// The ranges of the text layout.
pub fn parse_text(text: &str) -> Result<Vec<String>, FormatError> {
    line_ranges(text, "Spamhaus DROP", |line| {
        line.split_whitespace().next().unwrap_or(line)
    })
}

#[derive(Deserialize)]
struct Line {
    cidr: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    records: Option<usize>,
}

/// The ranges of the JSON-lines layout.
pub fn parse_json(text: &str) -> Result<Vec<String>, FormatError> {
    let mut ranges = Vec::new();
    let mut announced = None;
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let record: Line = serde_json::from_str(line).map_err(|error| FormatError::Json {
            format: "Spamhaus DROP",
            detail: error.to_string(),
        })?;
        if record.kind.as_deref() == Some("metadata") {
            announced = Some(record.records);
            continue;
        }
        if let Some(cidr) = &record.cidr {
            ranges.push(checked_range("cidr", cidr)?);
        }
    }
    match announced {
        None => Err(FormatError::Json {
            format: "Spamhaus DROP",
            detail: "no metadata line: the download was cut short".into(),
        }),
        Some(Some(records)) if records != ranges.len() => Err(FormatError::Json {
            format: "Spamhaus DROP",
            detail: format!(
                "the metadata line announces {records} records but {} were read",
                ranges.len()
            ),
        }),
        Some(_) => Ok(ranges),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_text_layout() {
        let sample = include_str!("../../../../tests/fixtures/feeds/spamhaus-drop.txt");
        let ranges = parse_text(sample).unwrap();
        assert_eq!(
            ranges,
            [
                "1.10.16.0/20",
                "1.19.0.0/16",
                "1.32.128.0/18",
                "2.56.192.0/22"
            ]
        );
        let edrop = parse_text(include_str!(
            "../../../../tests/fixtures/feeds/spamhaus-edrop.txt"
        ))
        .unwrap();
        assert_eq!(edrop, ["27.126.160.0/20", "45.14.71.0/24"]);
    }

    #[test]
    fn reads_the_json_layout_and_checks_its_record_count() {
        let sample = include_str!("../../../../tests/fixtures/feeds/spamhaus-drop_v4.json");
        let ranges = parse_json(sample).unwrap();
        assert_eq!(ranges, ["1.10.16.0/20", "1.19.0.0/16", "1.32.128.0/18"]);
        let v6 = parse_json(include_str!(
            "../../../../tests/fixtures/feeds/spamhaus-drop_v6.json"
        ))
        .unwrap();
        assert_eq!(v6, ["2a06:e480::/29", "2a07:9b80::/29"]);
        // Cut after the second record: the metadata line is missing.
        let cut: String = sample
            .lines()
            .take(2)
            .map(|line| format!("{line}\n"))
            .collect();
        assert!(parse_json(&cut).is_err());
        // A record dropped: the count disagrees.
        let mut lines: Vec<&str> = sample.lines().collect();
        lines.remove(0);
        assert!(parse_json(&lines.join("\n")).is_err());
    }
}
