//! Lists of hosting ASNs: the `ASN,Entity` CSV of brianhama/bad-asn-list (MIT; "ASNs known to
//! belong to cloud, managed hosting, and colo facilities"; quoted or unquoted fields), or lines
//! `AS16509 Amazon` / `16509,Amazon`. `#` starts a comment; a header line is skipped. A line
//! `-AS15169` (or `-15169`) takes an ASN off the list, for operators who know better.

use super::FormatError;

/// The `(asn, organisation)` pairs in file order, without removals (see
/// [`parse_with_removals`]).
pub fn parse(text: &str) -> Result<Vec<(u32, String)>, FormatError> {
    Ok(parse_with_removals(text)?.0)
}

/// The additions `(asn, organisation)` and removals of a list.
pub type AsnChanges = (Vec<(u32, String)>, Vec<u32>);

/// Additions `(asn, organisation)` and removals (ASNs), in file order.
pub fn parse_with_removals(text: &str) -> Result<AsnChanges, FormatError> {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut bad = 0;
    let mut total = 0;
    for (number, line) in text.lines().enumerate() {
        let content = match line.find('#') {
            Some(comment) => &line[..comment],
            None => line,
        }
        .trim();
        if content.is_empty() {
            continue;
        }
        let (first, rest) = match content.find([',', ' ', '\t']) {
            Some(split) => (&content[..split], content[split + 1..].trim()),
            None => (content, ""),
        };
        let first = first.trim().trim_matches('"');
        let (removal, first) = match first.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, first),
        };
        let digits = first
            .strip_prefix("AS")
            .or_else(|| first.strip_prefix("as"))
            .unwrap_or(first);
        let Ok(asn) = digits.parse::<u32>() else {
            // The CSV's `ASN,Entity` header.
            if number > 0 {
                total += 1;
                bad += 1;
            }
            continue;
        };
        total += 1;
        if removal {
            removed.push(asn);
        } else {
            let name = rest.trim_matches('"').replace("\"\"", "\"");
            added.push((asn, name));
        }
    }
    if bad > 0 && bad * 10 > total {
        return Err(FormatError::Malformed {
            format: "ASN list",
            bad,
            total,
        });
    }
    Ok((added, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bad_asn_list_csv() {
        let sample = include_str!("../../../../tests/fixtures/feeds/bad-asn-list.csv");
        let asns = parse(sample).unwrap();
        assert_eq!(asns.len(), 6);
        assert_eq!(
            asns[0],
            (
                14061,
                "DIGITALOCEAN-ASN - Digital Ocean, Inc., US".to_string()
            )
        );
        assert!(asns.contains(&(20248, "Take 2 Hosting, Inc.".to_string())));
    }

    #[test]
    fn reads_operator_lines_with_removals() {
        let (added, removed) =
            parse_with_removals("# mine\nAS64500 Example Hosting\n64501\n-AS15169\n").unwrap();
        assert_eq!(
            added,
            [
                (64500, "Example Hosting".to_string()),
                (64501, String::new())
            ]
        );
        assert_eq!(removed, [15169]);
    }
}
