//! The hostname database: reverse-DNS name patterns of cloud providers, hosting companies and
//! internet scanners. A visitor whose hostname matches is not a person at home.
//!
//! The built-in list covers the largest providers and scanners; operators add their own patterns
//! in a file (`hostname_patterns_file`), one per line: a domain (`example.net` matches it and
//! every subdomain) or a regular expression prefixed with `re:`.

use regex::RegexSet;

/// Built-in patterns: domain suffixes of cloud/hosting reverse DNS and of scanner operators.
pub const BUILT_IN_PATTERNS: &[&str] = &[
    // cloud and hosting
    "amazonaws.com",
    "compute.internal",
    "googleusercontent.com",
    "cloudapp.net",
    "cloudapp.azure.com",
    "linode.com",
    "linodeusercontent.com",
    "ip.linodeusercontent.com",
    "digitalocean.com",
    "vultrusercontent.com",
    "vultr.com",
    "your-server.de",
    "hetzner.com",
    "clients.your-server.de",
    "ovh.net",
    "ip-ovh.net",
    "contaboserver.net",
    "leaseweb.com",
    "leaseweb.net",
    "hosted-by-worldstream.net",
    "choopa.net",
    "scaleway.com",
    "poneytelecom.eu",
    "oraclecloud.com",
    "alicloud.com",
    "aliyun.com",
    "tencentcloud.com",
    "m247.com",
    "datacamp.co.uk",
    "colocrossing.com",
    "servers.com",
    "hostwindsdns.com",
    "ionos.com",
    "static.upcloud.com",
    // internet scanners and crawler infrastructure
    "shodan.io",
    "censys-scanner.com",
    "censys.io",
    "binaryedge.ninja",
    "shadowserver.org",
    "rapid7.com",
    "stretchoid.com",
    "internet-measurement.com",
    "internettl.org",
    "security.ipip.net",
    "onyphe.net",
    "criminalip.com",
    "recyber.net",
    "leakix.org",
    "alphastrike.io",
    "probe.onyphe.net",
    "scan.bufferover.run",
    "netsystemsresearch.com",
    "ampereinnotech.com",
];

/// Compiled hostname patterns.
pub struct HostnamePatterns {
    set: RegexSet,
    sources: Vec<String>,
}

/// A pattern that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("hostname pattern {pattern:?}: {detail}")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What the regex compiler said.
    pub detail: String,
}

impl HostnamePatterns {
    /// The built-in patterns plus `extra` (domains, or `re:` regular expressions).
    pub fn new<'a>(extra: impl IntoIterator<Item = &'a str>) -> Result<Self, PatternError> {
        let mut sources: Vec<String> = BUILT_IN_PATTERNS.iter().map(|p| p.to_string()).collect();
        for line in extra {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                sources.push(line.to_string());
            }
        }
        let regexes: Vec<String> = sources.iter().map(|source| to_regex(source)).collect();
        let set = RegexSet::new(&regexes).map_err(|error| {
            // Name the first pattern that fails on its own.
            let pattern = sources
                .iter()
                .zip(&regexes)
                .find(|(_, regex)| regex::Regex::new(regex).is_err())
                .map(|(source, _)| source.clone())
                .unwrap_or_default();
            PatternError {
                pattern,
                detail: error.to_string(),
            }
        })?;
        Ok(Self { set, sources })
    }

    /// The pattern `hostname` matches first, if any.
    pub fn matching(&self, hostname: &str) -> Option<&str> {
        let hostname = hostname.trim_end_matches('.').to_ascii_lowercase();
        self.set
            .matches(&hostname)
            .iter()
            .next()
            .and_then(|index| self.sources.get(index))
            .map(String::as_str)
    }
}

fn to_regex(source: &str) -> String {
    match source.strip_prefix("re:") {
        Some(regex) => regex.to_string(),
        None => {
            let domain = source.trim_start_matches("*.").trim_start_matches('.');
            format!("(^|\\.){}$", regex::escape(&domain.to_ascii_lowercase()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_match_themselves_and_subdomains_only() {
        let patterns = HostnamePatterns::new(["example-hosting.net", "re:^scan\\d+\\."]).unwrap();
        assert_eq!(
            patterns.matching("ec2-3-4-5-6.compute-1.amazonaws.com."),
            Some("amazonaws.com")
        );
        assert_eq!(patterns.matching("census12.shodan.io"), Some("shodan.io"));
        assert_eq!(
            patterns.matching("a.b.example-hosting.net"),
            Some("example-hosting.net")
        );
        assert_eq!(
            patterns.matching("scan7.anything.org"),
            Some("re:^scan\\d+\\.")
        );
        for clean in [
            "notamazonaws.com",
            "dsl-1-2-3-4.telekom.de",
            "crawl-66-249-66-1.googlebot.com",
        ] {
            assert_eq!(patterns.matching(clean), None, "{clean}");
        }
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let error = HostnamePatterns::new(["re:(unclosed"]).err().unwrap();
        assert_eq!(error.pattern, "re:(unclosed");
    }
}
