//! Where a webhook may point: URL rules, and the refusal of private and special addresses.
//!
//! A webhook makes the server send requests to a URL a tenant chose, so without a check a tenant
//! could reach the operator's internal network (SSRF). The host is checked when the endpoint is
//! created and again at every delivery (DNS answers change), and the HTTP client only ever
//! connects to addresses that passed the check (see [`GuardedResolver`]).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

/// The longest URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

/// Why a URL or its host is refused. Messages follow the field name (`url: ...`).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Not a URL at all.
    #[error("is not an absolute URL ({0}); give one like https://example.com/hooks/gatehouse")]
    Malformed(String),
    /// Too long.
    #[error("is longer than {MAX_URL_CHARS} characters; shorten it")]
    TooLong,
    /// Not http or https.
    #[error("must use https or http, not {0}")]
    Scheme(String),
    /// No host.
    #[error("must name a host")]
    NoHost,
    /// `user:password@` in the URL.
    #[error(
        "must not contain a user name or password; drop them and check the x-gatehouse-signature header instead"
    )]
    Userinfo,
    /// DNS gave no answer.
    #[error("host {host} could not be resolved ({detail}); check the hostname")]
    Unresolvable {
        /// The host.
        host: String,
        /// What the resolver said.
        detail: String,
    },
    /// The host is, or resolves to, an address webhooks may not reach.
    #[error(
        "{address} is a {kind} address; webhooks only go to public addresses (an operator can allow private targets with the server setting webhooks_allow_private_targets)"
    )]
    Private {
        /// The refused address.
        address: IpAddr,
        /// What kind of address it is.
        kind: &'static str,
    },
}

/// Parses a webhook URL: http or https, a host, no user name or password.
pub fn parse_url(raw: &str) -> Result<Url, TargetError> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(TargetError::TooLong);
    }
    let url = Url::parse(raw).map_err(|error| TargetError::Malformed(error.to_string()))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(TargetError::Scheme(url.scheme().to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Userinfo);
    }
    match url.host_str() {
        None | Some("") => Err(TargetError::NoHost),
        Some(_) => Ok(url),
    }
}

/// What kind of special address `ip` is, or `None` for an ordinary public address.
pub fn special_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_kind_v4(v4),
        IpAddr::V6(v6) => special_kind_v6(v6),
    }
}

fn special_kind_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_broadcast() {
        Some("broadcast")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn special_kind_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_kind_v4(v4);
    }
    // NAT64 (64:ff9b::/96) carries an IPv4 address that a NAT64 gateway would reach.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        return special_kind_v4(Ipv4Addr::new(a, b, c, d));
    }
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if segments[0] & 0xffc0 == 0xfec0 {
        Some("site-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if segments[..6] == [0, 0, 0, 0, 0, 0] {
        // The deprecated IPv4-compatible form (::a.b.c.d); nothing public lives there.
        Some("reserved")
    } else {
        None
    }
}

/// Refuses `ip` unless private targets are allowed or it is public.
pub fn check_address(ip: IpAddr, allow_private: bool) -> Result<(), TargetError> {
    if allow_private {
        return Ok(());
    }
    match special_kind(ip) {
        Some(kind) => Err(TargetError::Private { address: ip, kind }),
        None => Ok(()),
    }
}

/// Resolves `host` (with a hard `timeout`) and checks every address it gives; one refused address
/// refuses the host, since the client could be sent to any of them.
pub async fn resolve_checked(
    host: &str,
    port: u16,
    allow_private: bool,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, TargetError> {
    let unresolvable = |detail: String| TargetError::Unresolvable {
        host: host.to_string(),
        detail,
    };
    let addresses: Vec<SocketAddr> =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(found)) => found.collect(),
            Ok(Err(error)) => return Err(unresolvable(error.to_string())),
            Err(_) => {
                return Err(unresolvable(format!(
                    "no answer within {} ms",
                    timeout.as_millis()
                )));
            }
        };
    if addresses.is_empty() {
        return Err(unresolvable("no addresses".into()));
    }
    for address in &addresses {
        check_address(address.ip(), allow_private)?;
    }
    Ok(addresses)
}

/// Checks the host of a parsed URL: an IP literal directly, a name through DNS.
pub async fn check_url_host(
    url: &Url,
    allow_private: bool,
    timeout: Duration,
) -> Result<(), TargetError> {
    match url.host() {
        None => Err(TargetError::NoHost),
        Some(url::Host::Ipv4(ip)) => check_address(IpAddr::V4(ip), allow_private),
        Some(url::Host::Ipv6(ip)) => check_address(IpAddr::V6(ip), allow_private),
        Some(url::Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            resolve_checked(name, port, allow_private, timeout)
                .await
                .map(|_| ())
        }
    }
}

/// The HTTP client's resolver: it hands the client only addresses that passed
/// [`check_address`], so the address checked is the address connected to (no window for a DNS
/// answer to change between the check and the connection).
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    /// True lets private and special addresses through.
    pub allow_private: bool,
    /// The hard limit of one lookup.
    pub timeout: Duration,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let settings = self.clone();
        Box::pin(async move {
            // The client puts the URL's port on the addresses; 0 is a placeholder.
            let addresses =
                resolve_checked(name.as_str(), 0, settings.allow_private, settings.timeout)
                    .await
                    .map_err(|error| -> Box<dyn std::error::Error + Send + Sync> {
                        Box::new(error)
                    })?;
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        assert!(parse_url("https://hooks.example.com/gatehouse?x=1").is_ok());
        assert!(parse_url("http://93.184.216.34:8080/in").is_ok());
        assert!(matches!(
            parse_url("ftp://example.com/"),
            Err(TargetError::Scheme(scheme)) if scheme == "ftp"
        ));
        assert!(matches!(
            parse_url("javascript:alert(1)"),
            Err(TargetError::Scheme(_))
        ));
        assert_eq!(
            parse_url("https://user:pw@example.com/"),
            Err(TargetError::Userinfo)
        );
        assert_eq!(
            parse_url("https://user@example.com/"),
            Err(TargetError::Userinfo)
        );
        assert!(matches!(
            parse_url("example.com/hooks"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            parse_url("https://"),
            Err(TargetError::Malformed(_))
        ));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(parse_url(&long), Err(TargetError::TooLong));
    }

    #[test]
    fn special_addresses_are_named() {
        let cases = [
            ("127.0.0.1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared (carrier-grade NAT)")),
            ("100.127.255.255", Some("shared (carrier-grade NAT)")),
            ("0.0.0.0", Some("unspecified")),
            ("224.0.0.1", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fd00::1", Some("private (unique local)")),
            ("fe80::1", Some("link-local")),
            ("ff02::1", Some("multicast")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("64:ff9b::a9fe:a9fe", Some("link-local")),
            ("93.184.216.34", None),
            ("100.128.0.1", None),
            ("2606:2800:220:1:248:1893:25c8:1946", None),
            ("::ffff:93.184.216.34", None),
        ];
        for (raw, kind) in cases {
            let ip: IpAddr = raw.parse().unwrap();
            assert_eq!(special_kind(ip), kind, "{raw}");
        }
    }

    #[tokio::test]
    async fn literal_hosts_are_checked_without_dns() {
        let timeout = Duration::from_secs(1);
        for raw in [
            "http://127.0.0.1/",
            "http://[::1]:8080/",
            "http://2130706433/",
            "http://[::ffff:7f00:1]/",
        ] {
            let url = parse_url(raw).unwrap();
            let refused = check_url_host(&url, false, timeout).await;
            assert!(
                matches!(
                    refused,
                    Err(TargetError::Private {
                        kind: "loopback",
                        ..
                    })
                ),
                "{raw}: {refused:?}"
            );
            assert!(check_url_host(&url, true, timeout).await.is_ok(), "{raw}");
        }
        let public = parse_url("https://93.184.216.34/hook").unwrap();
        assert!(check_url_host(&public, false, timeout).await.is_ok());
    }

    #[tokio::test]
    async fn names_are_resolved_and_checked() {
        // localhost comes from the hosts file: no network needed.
        let url = parse_url("http://localhost:9/").unwrap();
        let refused = check_url_host(&url, false, Duration::from_secs(2)).await;
        assert!(
            matches!(refused, Err(TargetError::Private { .. })),
            "{refused:?}"
        );
    }
}
