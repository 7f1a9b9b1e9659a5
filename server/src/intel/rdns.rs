//! Reverse DNS with a hard timeout and a cache, and forward confirmation for verified crawlers.
//!
//! A lookup never takes longer than the configured timeout: on time-out or failure the hostname is
//! simply unknown (and that answer is cached briefly, so a slow resolver cannot slow every
//! request). Concurrent lookups of one IP share one query.

use std::{net::IpAddr, sync::Arc, time::Duration};

use hickory_resolver::{
    TokioResolver,
    config::{NameServerConfig, ResolverConfig},
    name_server::TokioConnectionProvider,
    proto::xfer::Protocol,
};
use moka::future::Cache;

/// How long a found hostname is trusted.
pub const POSITIVE_TTL: Duration = Duration::from_secs(3600);
/// How long "no hostname" is trusted.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(300);

/// Reverse-DNS settings.
#[derive(Debug, Clone)]
pub struct RdnsSettings {
    /// False turns lookups off: hostnames are always unknown.
    pub enabled: bool,
    /// The hard limit of one lookup (PTR, or the forward confirmation).
    pub timeout: Duration,
    /// Name servers to ask; the system's (`/etc/resolv.conf`) when empty.
    pub nameservers: Vec<std::net::SocketAddr>,
    /// How many answers are cached.
    pub cache_entries: u64,
}

/// A cached answer: the hostname, if any.
type Answer = Option<Arc<str>>;

/// The resolver and its caches.
pub struct ReverseDns {
    settings: RdnsSettings,
    resolver: Option<TokioResolver>,
    hostnames: Cache<IpAddr, (Answer, bool)>,
    confirmations: Cache<(IpAddr, Arc<str>), bool>,
}

/// Why the resolver could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("reverse DNS: {0}; set rdns_nameservers or rdns_enabled = false")]
pub struct RdnsError(String);

impl ReverseDns {
    /// Builds the resolver. With `enabled = false` no resolver is made.
    pub fn new(settings: RdnsSettings) -> Result<Self, RdnsError> {
        let resolver = if !settings.enabled {
            None
        } else {
            let mut builder = if settings.nameservers.is_empty() {
                TokioResolver::builder_tokio().map_err(|error| RdnsError(error.to_string()))?
            } else {
                let mut config = ResolverConfig::new();
                for address in &settings.nameservers {
                    config.add_name_server(NameServerConfig::new(*address, Protocol::Udp));
                }
                TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            };
            let options = builder.options_mut();
            options.timeout = settings.timeout;
            options.attempts = 1;
            // Our own cache below keeps answers; the resolver's would double the memory.
            options.cache_size = 0;
            Some(builder.build())
        };
        let hostnames = Cache::builder()
            .max_capacity(settings.cache_entries)
            .expire_after(AnswerExpiry)
            .build();
        let confirmations = Cache::builder()
            .max_capacity(settings.cache_entries)
            .time_to_live(POSITIVE_TTL)
            .build();
        Ok(Self {
            settings,
            resolver,
            hostnames,
            confirmations,
        })
    }

    /// True when lookups are on.
    pub fn enabled(&self) -> bool {
        self.resolver.is_some()
    }

    /// The IP's hostname from its PTR record, lowercased without the trailing dot; `None` when it
    /// has none, the lookup failed or timed out, or lookups are off.
    pub async fn hostname(&self, ip: IpAddr) -> Option<Arc<str>> {
        let resolver = self.resolver.as_ref()?;
        let timeout = self.settings.timeout;
        let (answer, _) = self
            .hostnames
            .get_with(ip, async move {
                let lookup = tokio::time::timeout(timeout, resolver.reverse_lookup(ip)).await;
                let hostname = match lookup {
                    Ok(Ok(found)) => found.iter().next().map(|ptr| normalize(&ptr.to_utf8())),
                    _ => None,
                };
                let positive = hostname.is_some();
                (hostname, positive)
            })
            .await;
        answer
    }

    /// True when `hostname` resolves forward to `ip`: the second half of forward-confirmed
    /// reverse DNS, which a spoofed PTR record cannot pass.
    pub async fn confirms(&self, ip: IpAddr, hostname: Arc<str>) -> bool {
        let Some(resolver) = self.resolver.as_ref() else {
            return false;
        };
        let timeout = self.settings.timeout;
        let name = hostname.clone();
        self.confirmations
            .get_with((ip, hostname), async move {
                let fqdn = format!("{name}.");
                match tokio::time::timeout(timeout, resolver.lookup_ip(fqdn)).await {
                    Ok(Ok(addresses)) => addresses.iter().any(|address| address == ip),
                    _ => false,
                }
            })
            .await
    }
}

fn normalize(name: &str) -> Arc<str> {
    Arc::from(name.trim_end_matches('.').to_ascii_lowercase())
}

/// Found hostnames live longer than misses.
struct AnswerExpiry;

impl moka::Expiry<IpAddr, (Answer, bool)> for AnswerExpiry {
    fn expire_after_create(
        &self,
        _key: &IpAddr,
        value: &(Answer, bool),
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(if value.1 { POSITIVE_TTL } else { NEGATIVE_TTL })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn disabled_lookups_know_no_hostname() {
        let rdns = ReverseDns::new(RdnsSettings {
            enabled: false,
            timeout: Duration::from_millis(100),
            nameservers: Vec::new(),
            cache_entries: 10,
        })
        .unwrap();
        assert!(!rdns.enabled());
        assert_eq!(rdns.hostname("8.8.8.8".parse().unwrap()).await, None);
    }

    #[tokio::test]
    async fn an_unanswering_server_costs_at_most_the_timeout() {
        // A UDP socket that never answers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let rdns = ReverseDns::new(RdnsSettings {
            enabled: true,
            timeout: Duration::from_millis(200),
            nameservers: vec![silent.local_addr().unwrap()],
            cache_entries: 10,
        })
        .unwrap();
        let started = std::time::Instant::now();
        assert_eq!(rdns.hostname("192.0.2.1".parse().unwrap()).await, None);
        // Generous bound: the point is that it returns, not how fast the machine is.
        assert!(started.elapsed() < Duration::from_secs(5));
        // The miss is cached: no second wait.
        assert_eq!(rdns.hostname("192.0.2.1".parse().unwrap()).await, None);
    }
}
