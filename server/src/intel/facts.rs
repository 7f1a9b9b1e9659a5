//! The network-origin facts every face asks about an IP, each defined once: "Tor", "VPN or
//! proxy", "datacenter" (a datacenter range list, or an ASN the hosting classification names)
//! and "reputation" mean the same to the visitor check, the identity face and the click face. The faces' rules word their evidence their own way; what counts does not
//! differ between them.

use super::{IpFacts, ip_lists::ListKind};

/// What hides the person behind an IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anonymizer {
    /// A Tor exit.
    Tor,
    /// A VPN endpoint.
    Vpn,
    /// An open or commercial proxy.
    Proxy,
    /// An anonymous proxy by the GeoIP database's own flag (on no list).
    GeoIpAnonymousProxy,
}

/// An IP that hides who is behind it, and where that is known from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anonymity {
    /// What it is.
    pub kind: Anonymizer,
    /// The list's label, or `GeoIP` for the database's flag.
    pub source: String,
}

impl Anonymity {
    /// True for a Tor exit.
    pub fn is_tor(&self) -> bool {
        self.kind == Anonymizer::Tor
    }
}

/// Where the fact that an IP is a datacenter address comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatacenterSource {
    /// A datacenter range list, by its label (`AWS`).
    List(String),
    /// The hosting-ASN classification.
    HostingAsn,
}

/// An IP is a datacenter, cloud or hosting address, not a consumer ISP's: the one definition
/// every face uses (the Blocker's `BLOCK BY IP NON-ISP`, the click rule `datacenter_ip`, the
/// identity face).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datacenter {
    /// What says so.
    pub source: DatacenterSource,
    /// The IP's ASN; 0 when unknown.
    pub asn: u32,
    /// The network's operator: the ASN database's organisation, else the classification's
    /// name; empty when unknown.
    pub organisation: String,
}

impl Datacenter {
    /// The evidence as reasons show it: `datacenter range (AWS), AS16509 Amazon.com, Inc.` or
    /// `hosting network AS24940 (Hetzner Online GmbH)`.
    pub fn evidence(&self) -> String {
        match &self.source {
            DatacenterSource::List(label) => {
                let mut text = format!("datacenter range ({label})");
                if self.asn != 0 {
                    text.push_str(&format!(", AS{}", self.asn));
                    if !self.organisation.is_empty() {
                        text.push(' ');
                        text.push_str(&self.organisation);
                    }
                }
                text
            }
            DatacenterSource::HostingAsn if self.organisation.is_empty() => {
                format!("hosting network AS{}", self.asn)
            }
            DatacenterSource::HostingAsn => {
                format!("hosting network AS{} ({})", self.asn, self.organisation)
            }
        }
    }
}

impl IpFacts {
    /// Whether the IP is a Tor exit, a VPN, a proxy or a GeoIP anonymous proxy; lists first, in
    /// that order, since they name the network.
    pub fn anonymity(&self) -> Option<Anonymity> {
        for (list, kind) in [
            (ListKind::Tor, Anonymizer::Tor),
            (ListKind::Vpn, Anonymizer::Vpn),
            (ListKind::Proxy, Anonymizer::Proxy),
        ] {
            if let Some(label) = self.lists.get(list) {
                return Some(Anonymity {
                    kind,
                    source: label.to_string(),
                });
            }
        }
        self.geo.is_anonymous_proxy.then(|| Anonymity {
            kind: Anonymizer::GeoIpAnonymousProxy,
            source: "GeoIP".to_string(),
        })
    }

    /// Whether the IP is a datacenter address: on a datacenter range list, or in an ASN the
    /// hosting classification names. Lists win, being the more specific.
    pub fn datacenter(&self) -> Option<Datacenter> {
        if let Some(label) = self.lists.get(ListKind::Datacenter) {
            return Some(Datacenter {
                source: DatacenterSource::List(label.to_string()),
                asn: self.geo.asn,
                organisation: self.geo.company.clone(),
            });
        }
        let hosting = self.hosting.as_ref()?;
        Some(Datacenter {
            source: DatacenterSource::HostingAsn,
            asn: hosting.asn,
            organisation: if self.geo.company.is_empty() {
                hosting.organisation.to_string()
            } else {
                self.geo.company.clone()
            },
        })
    }

    /// The reputation list the IP is on, if any.
    pub fn reputation(&self) -> Option<&str> {
        self.lists.get(ListKind::Reputation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::{
        geo::GeoFacts,
        ip_lists::{IpListTables, parse_range},
    };

    fn facts(lists: &[(ListKind, &str)], anonymous_proxy: bool) -> IpFacts {
        let mut tables = IpListTables::empty();
        for (kind, label) in lists {
            tables.insert(*kind, parse_range("192.0.2.1").unwrap(), label);
        }
        let ip = "192.0.2.1".parse().unwrap();
        let matches = tables.lookup(ip);
        IpFacts {
            ip,
            geo: GeoFacts {
                is_anonymous_proxy: anonymous_proxy,
                ..GeoFacts::default()
            },
            lists: matches,
            hostname: None,
            hostname_match: None,
            hosting: None,
        }
    }

    #[test]
    fn anonymity_prefers_lists_in_order_and_falls_back_to_the_geoip_flag() {
        let tor_and_vpn = facts(&[(ListKind::Vpn, "nord"), (ListKind::Tor, "exits")], true);
        let found = tor_and_vpn.anonymity().unwrap();
        assert_eq!(
            (found.kind, found.source.as_str()),
            (Anonymizer::Tor, "exits")
        );
        assert!(found.is_tor());
        let proxy = facts(&[(ListKind::Proxy, "open")], false)
            .anonymity()
            .unwrap();
        assert_eq!(proxy.kind, Anonymizer::Proxy);
        let flagged = facts(&[], true).anonymity().unwrap();
        assert_eq!(
            (flagged.kind, flagged.source.as_str()),
            (Anonymizer::GeoIpAnonymousProxy, "GeoIP")
        );
        assert_eq!(facts(&[], false).anonymity(), None);
    }

    #[test]
    fn datacenter_and_reputation_come_from_their_lists() {
        let both = facts(
            &[
                (ListKind::Datacenter, "aws"),
                (ListKind::Reputation, "firehol"),
            ],
            false,
        );
        let datacenter = both.datacenter().unwrap();
        assert_eq!(datacenter.source, DatacenterSource::List("aws".into()));
        assert_eq!(datacenter.evidence(), "datacenter range (aws)");
        assert_eq!(both.reputation(), Some("firehol"));
        let none = facts(&[(ListKind::Tor, "exits")], false);
        assert_eq!((none.datacenter(), none.reputation()), (None, None));
    }
}
