//! Who is the client: the one answer every face uses for the caller's IP.
//!
//! The connection's peer is the client unless it is a trusted proxy. From a trusted proxy the
//! client comes from `Forwarded` (RFC 7239), else `X-Forwarded-For`, else `X-Real-IP`. In the
//! address chains the rightmost hop that is not itself a trusted proxy is the client: every hop
//! to its right was added by a proxy we trust, every hop to its left was said by the client and
//! may be forged. From any other peer these headers are ignored, so a client cannot choose its
//! own address by sending them.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

use crate::intel::ip_lists::canonical;

/// The caller's IP, as decided by [`client_ip`]; faces read it from the request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The networks whose connections may tell us who the client is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

/// A `trusted_proxies` entry that is neither an address nor a CIDR.
#[derive(Debug, thiserror::Error)]
#[error("trusted_proxies: {entry:?} is not an IP address or CIDR (like 10.0.0.0/8 or ::1/128)")]
pub struct TrustedProxyError {
    /// The entry as written.
    pub entry: String,
}

impl TrustedProxies {
    /// Parses addresses (`10.0.0.1`) and networks (`10.0.0.0/8`, `::1/128`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, TrustedProxyError> {
        let networks = entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| match net {
                        // `::ffff:10.0.0.0/104` and `10.0.0.0/8` are the same network to us.
                        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                            Some(v4) if v6.prefix_len() >= 96 => {
                                IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96)
                                    .map_or(IpNet::V6(v6), |net| net.trunc())
                            }
                            _ => IpNet::V6(v6.trunc()),
                        },
                        IpNet::V4(v4) => IpNet::V4(v4.trunc()),
                    })
                    .map_err(|_| TrustedProxyError {
                        entry: entry.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    /// True when no proxy is trusted (a direct deployment).
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|net| net.contains(&ip))
    }
}

/// The client's IP for a request that arrived from `peer` (the TCP peer, or the source a PROXY
/// protocol header named) with `headers`.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer.ip());
    if !trusted.contains(peer) {
        return peer;
    }
    if let Some(chain) = header_chain(headers, "forwarded", forwarded_for_nodes) {
        return rightmost_untrusted(peer, &chain, trusted);
    }
    if let Some(chain) = header_chain(headers, "x-forwarded-for", comma_separated) {
        return rightmost_untrusted(peer, &chain, trusted);
    }
    if let Some(real_ip) = headers
        .get("x-real-ip")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_node(value.trim()))
    {
        return real_ip;
    }
    peer
}

/// One hop of a forwarding chain: an address, or something that is not one (`unknown`, an
/// obfuscated `_hidden` name, garbage).
type Hop = Option<IpAddr>;

/// Every value of header `name` (proxies may add the header again rather than extend it), in
/// order, split into hops; `None` when the header is absent.
fn header_chain(headers: &HeaderMap, name: &str, split: fn(&str) -> Vec<Hop>) -> Option<Vec<Hop>> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    Some(
        values
            .flat_map(|value| match value.to_str() {
                Ok(text) => split(text),
                Err(_) => vec![None],
            })
            .collect(),
    )
}

/// Walks the chain from the right past trusted proxies. A hop that is not an address ends the
/// walk: what lies left of it cannot be attributed, so the last trusted hop that reported it is
/// the best we know.
fn rightmost_untrusted(peer: IpAddr, chain: &[Hop], trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if trusted.contains(*ip) => client = canonical(*ip),
            Some(ip) => return canonical(*ip),
            None => return client,
        }
    }
    client
}

fn comma_separated(value: &str) -> Vec<Hop> {
    value
        .split(',')
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .map(parse_node)
        .collect()
}

/// The `for=` node of each element of a `Forwarded` value (`for=192.0.2.60;proto=http,
/// for="[2001:db8::1]:4711"`); an element without `for=` is an unknown hop.
fn forwarded_for_nodes(value: &str) -> Vec<Hop> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter(|element| !element.trim().is_empty())
        .map(|element| {
            split_outside_quotes(element, ';')
                .into_iter()
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, node)| parse_node(node.trim().trim_matches('"')))
        })
        .collect()
}

fn split_outside_quotes(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (index, character) in value.char_indices() {
        match character {
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&value[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(address) = node.parse::<SocketAddr>() {
        return Some(address.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn trusted() -> TrustedProxies {
        TrustedProxies::parse(&["10.0.0.0/8", "::1", "192.168.1.1"]).unwrap()
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 4000)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let sent = headers(&[
            ("forwarded", "for=198.51.100.7"),
            ("x-forwarded-for", "198.51.100.7"),
            ("x-real-ip", "198.51.100.7"),
        ]);
        assert_eq!(
            client_ip(peer("203.0.113.5"), &sent, &trusted()),
            ip("203.0.113.5")
        );
        // No trusted proxies at all: the default changes nothing for a direct deployment.
        assert_eq!(
            client_ip(peer("10.1.1.1"), &sent, &TrustedProxies::default()),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_x_real_ip() {
        let sent = headers(&[
            ("forwarded", "for=198.51.100.7;proto=https"),
            ("x-forwarded-for", "198.51.100.8"),
            ("x-real-ip", "198.51.100.9"),
        ]);
        assert_eq!(
            client_ip(peer("10.0.0.2"), &sent, &trusted()),
            ip("198.51.100.7")
        );
        let sent = headers(&[
            ("x-forwarded-for", "198.51.100.8"),
            ("x-real-ip", "198.51.100.9"),
        ]);
        assert_eq!(
            client_ip(peer("10.0.0.2"), &sent, &trusted()),
            ip("198.51.100.8")
        );
        let sent = headers(&[("x-real-ip", "198.51.100.9")]);
        assert_eq!(
            client_ip(peer("10.0.0.2"), &sent, &trusted()),
            ip("198.51.100.9")
        );
        assert_eq!(
            client_ip(peer("10.0.0.2"), &HeaderMap::new(), &trusted()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_so_forged_hops_on_the_left_do_not_count() {
        // The client forged 1.1.1.1; our proxies 10.0.0.9 and 192.168.1.1 appended the rest.
        let sent = headers(&[(
            "x-forwarded-for",
            "1.1.1.1, 198.51.100.7, 10.0.0.9, 192.168.1.1",
        )]);
        assert_eq!(
            client_ip(peer("10.0.0.2"), &sent, &trusted()),
            ip("198.51.100.7")
        );
        // A second header line continues the chain.
        let sent = headers(&[
            ("x-forwarded-for", "1.1.1.1, 198.51.100.7"),
            ("x-forwarded-for", "10.0.0.9"),
        ]);
        assert_eq!(
            client_ip(peer("10.0.0.2"), &sent, &trusted()),
            ip("198.51.100.7")
        );
        // Every hop trusted: the leftmost one is as far as we can see.
        let sent = headers(&[("x-forwarded-for", "10.0.0.7, 10.0.0.9")]);
        assert_eq!(
            client_ip(peer("10.0.0.2"), &sent, &trusted()),
            ip("10.0.0.7")
        );
    }

    #[test]
    fn forwarded_nodes_in_every_form_rfc_7239_allows() {
        let cases = [
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("For=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=198.51.100.17:80", "198.51.100.17"),
            (
                "for=198.51.100.17, for=10.0.0.4;proto=https",
                "198.51.100.17",
            ),
            ("proto=https;for=\"198.51.100.17\"", "198.51.100.17"),
        ];
        for (value, expected) in cases {
            let sent = headers(&[("forwarded", value)]);
            assert_eq!(
                client_ip(peer("10.0.0.2"), &sent, &trusted()),
                ip(expected),
                "{value}"
            );
        }
    }

    #[test]
    fn an_unknown_hop_stops_the_walk_at_the_proxy_that_reported_it() {
        let sent = headers(&[("forwarded", "for=198.51.100.1, for=unknown, for=10.0.0.9")]);
        assert_eq!(
            client_ip(peer("10.0.0.2"), &sent, &trusted()),
            ip("10.0.0.9")
        );
        let sent = headers(&[("x-forwarded-for", "garbage")]);
        assert_eq!(
            client_ip(peer("10.0.0.2"), &sent, &trusted()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn mapped_addresses_are_their_ipv4_selves() {
        let sent = headers(&[("x-forwarded-for", "::ffff:198.51.100.7")]);
        assert_eq!(
            client_ip(peer("::ffff:10.0.0.2"), &sent, &trusted()),
            ip("198.51.100.7")
        );
        let mapped = TrustedProxies::parse(&["::ffff:10.0.0.0/104"]).unwrap();
        assert!(mapped.contains(ip("10.2.3.4")));
        assert!(trusted().contains(ip("::1")));
        assert!(!trusted().contains(ip("192.168.1.2")));
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        let error = TrustedProxies::parse(&["10.0.0.0/8", "localhost"]).unwrap_err();
        assert!(error.to_string().contains("\"localhost\""), "{error}");
    }
}
