//! GitHub's `meta` API (`https://api.github.com/meta`): an object whose arrays of CIDRs name the
//! ranges of each service (`hooks`, `web`, `api`, `git`, `packages`, `pages`, `importer`,
//! `actions`, `actions_macos`, `codespaces`, `copilot`, `dependabot`, ...); other members
//! (`verifiable_password_authentication`, `ssh_key_fingerprints`, `ssh_keys`, `domains`) are not
//! ranges and are skipped. The API asks for a `User-Agent` header, which every request sends.

use serde_json::Value;

use super::{FormatError, canonical_range, json};

/// Members whose arrays hold strings that are not ranges.
const NOT_RANGES: &[&str] = &["ssh_keys", "domains", "ssh_key_fingerprints"];

/// Every service's ranges, duplicates removed, in member order.
pub fn parse(body: &[u8]) -> Result<Vec<String>, FormatError> {
    let meta: Value = json(body, "GitHub meta")?;
    let Value::Object(members) = meta else {
        return Err(FormatError::Json {
            format: "GitHub meta",
            detail: "not an object".into(),
        });
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (name, value) in &members {
        if NOT_RANGES.contains(&name.as_str()) {
            continue;
        }
        let Value::Array(items) = value else {
            continue;
        };
        for item in items {
            let Some(text) = item.as_str() else {
                continue;
            };
            let Some(range) = canonical_range(text) else {
                return Err(FormatError::BadRange {
                    field: "meta arrays",
                    value: text.to_string(),
                });
            };
            if seen.insert(range.clone()) {
                out.push(range);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_published_sample() {
        let sample = include_bytes!("../../../../tests/fixtures/feeds/github-meta.json");
        let ranges = parse(sample).unwrap();
        assert!(ranges.contains(&"192.30.252.0/22".to_string()));
        assert!(ranges.contains(&"2a0a:a440::/29".to_string()));
        assert!(ranges.contains(&"4.148.0.0/16".to_string()), "actions");
        // hooks and web share 192.30.252.0/22: kept once.
        assert_eq!(
            ranges
                .iter()
                .filter(|range| *range == "192.30.252.0/22")
                .count(),
            1
        );
        assert_eq!(ranges.len(), 7, "{ranges:?}");
    }
}
