//! Server configuration: defaults, then a TOML file (`--config`), then `GATEHOUSE_*` environment
//! variables, then command-line flags; each overrides the one before.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Where the gRPC port listens unless configured otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// Where the HTTP port listens unless configured otherwise.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";
/// Where data is kept unless configured otherwise.
pub const DEFAULT_DATA_DIR: &str = "./gatehouse-data";
/// The file in the data dir that holds a generated admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Every environment variable the server reads, in one place: `GATEHOUSE_` + the upper-cased key.
pub const ENV_KEYS: &[&str] = &[
    "listen",
    "http_listen",
    "data_dir",
    "admin_token",
    "log_format",
    "log_level",
    "geoip_city_db",
    "geoip_asn_db",
    "geoip_isp_db",
    "ip_lists_dir",
    "ip_lists_reload_seconds",
    "hostname_patterns_file",
    "rdns_enabled",
    "rdns_timeout_ms",
    "rdns_nameservers",
    "rdns_cache_entries",
    "webhooks_allow_private_targets",
    "webhooks_request_timeout_ms",
    "webhooks_base_backoff_ms",
    "webhooks_max_backoff_ms",
    "webhooks_retry_hours",
    "public_url",
    "store_cache_mb",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "tls_reload_seconds",
    "trusted_proxies",
    "proxy_protocol",
    "http_proxy_protocol",
    "metrics_enabled",
    "metrics_listen",
    "metrics_tenant_label",
    "access_log",
    "access_log_sample",
    "intel_dir",
    "intel_update",
    "intel_max_download_mb",
    "intel_max_unpacked_mb",
    "intel_timeout_seconds",
    "intel_max_shrink",
    "maxmind_license_key",
    "hosting_asns_builtin",
    "hosting_asns_file",
];

/// The folder under the data dir where feeds keep what they fetch, unless `intel_dir` says
/// otherwise.
pub const DEFAULT_INTEL_DIR: &str = "intel";

/// How often the IP list folder is checked for changes, in seconds.
pub const DEFAULT_IP_LISTS_RELOAD_SECONDS: u64 = 5;
/// The hard limit of one reverse-DNS lookup, in milliseconds.
pub const DEFAULT_RDNS_TIMEOUT_MS: u64 = 300;
/// How many reverse-DNS answers are cached.
pub const DEFAULT_RDNS_CACHE_ENTRIES: u64 = 100_000;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The server's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// gRPC (and grpc-web) address.
    pub listen: SocketAddr,
    /// HTTP address: `/healthz` and the smart URL redirects.
    pub http_listen: SocketAddr,
    /// Folder of the embedded store.
    pub data_dir: PathBuf,
    /// The operator's admin token; generated into `<data_dir>/admin-token` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter, in `tracing` env-filter syntax (`info`, `gatehouse_server=debug`, ...).
    pub log_level: String,
    /// MaxMind-format City database (GeoLite2-City, DB-IP City Lite, ip-location-db city).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip_city_db: Option<PathBuf>,
    /// MaxMind-format ASN database (GeoLite2-ASN, DB-IP ASN Lite, ip-location-db asn).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip_asn_db: Option<PathBuf>,
    /// MaxMind-format ISP database (GeoIP2-ISP), optional.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip_isp_db: Option<PathBuf>,
    /// Folder of IP list files (Tor, VPN, proxy, datacenter, reputation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_lists_dir: Option<PathBuf>,
    /// How often the IP list folder is checked for changes, in seconds.
    pub ip_lists_reload_seconds: u64,
    /// Extra hostname-database patterns, one per line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname_patterns_file: Option<PathBuf>,
    /// Reverse DNS on (hostnames, verified crawlers) or off.
    pub rdns_enabled: bool,
    /// The hard limit of one reverse-DNS lookup, in milliseconds.
    pub rdns_timeout_ms: u64,
    /// Name servers for reverse DNS (`ip:port`); the system's when empty.
    pub rdns_nameservers: Vec<SocketAddr>,
    /// How many reverse-DNS answers are cached.
    pub rdns_cache_entries: u64,
    /// Let webhook endpoints point at loopback and private addresses (tests, private networks).
    pub webhooks_allow_private_targets: bool,
    /// The limit of one webhook delivery attempt, in milliseconds.
    pub webhooks_request_timeout_ms: u64,
    /// The delay before the first webhook retry, in milliseconds; it doubles with each failure.
    pub webhooks_base_backoff_ms: u64,
    /// The longest delay between two webhook attempts, in milliseconds.
    pub webhooks_max_backoff_ms: u64,
    /// How long failed webhook deliveries are retried, in hours (at least 24).
    pub webhooks_retry_hours: u64,
    /// Where the HTTP port is reached from outside (smart URL confirmation steps point there);
    /// `http://<http_listen>` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The store's page cache, in MiB. Larger keeps more of the data set in memory (fewer reads
    /// from disk on the read path) at the cost of resident memory.
    pub store_cache_mb: u64,
    /// PEM certificate chain; with `tls_key`, both listeners serve TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// PEM bundle of CAs; when set, callers with the admin token must present a client
    /// certificate it verifies (mTLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_ca: Option<PathBuf>,
    /// How often the TLS files are checked for changes, in seconds (SIGHUP reloads at once).
    pub tls_reload_seconds: u64,
    /// Proxies (addresses or CIDRs) whose `Forwarded` / `X-Forwarded-For` / `X-Real-IP` headers
    /// and PROXY protocol headers name the client; from other peers they are ignored.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
    /// Every connection to the gRPC listener starts with a PROXY protocol (v1 or v2) header.
    pub proxy_protocol: bool,
    /// Every connection to the HTTP listener starts with a PROXY protocol (v1 or v2) header.
    pub http_proxy_protocol: bool,
    /// Record request metrics (store, webhook and intelligence metrics are always kept).
    pub metrics_enabled: bool,
    /// A separate plain-HTTP address for `/metrics`; on the HTTP listener when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// Count requests per tenant too (one series per tenant: mind the cardinality).
    pub metrics_tenant_label: bool,
    /// Write one access log line per request.
    pub access_log: bool,
    /// The share of successful requests logged, 0.0-1.0; failures are always logged.
    pub access_log_sample: f64,
    /// Where feeds keep what they fetch (lists in `lists/` unless `ip_lists_dir` is set, GeoIP
    /// databases in `geoip/`, hosting ASNs in `hosting-asns/`, state in `feeds-state.json`);
    /// `<data_dir>/intel` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intel_dir: Option<PathBuf>,
    /// The server keeps the feeds current on their intervals (and fetches those never fetched
    /// at start-up).
    pub intel_update: bool,
    /// Changes to the built-in feeds and extra feeds (`[[intel_feeds]]`).
    pub intel_feeds: Vec<crate::intel::feeds::FeedConfig>,
    /// The largest feed download accepted, in MiB.
    pub intel_max_download_mb: u64,
    /// The largest a compressed feed download may unpack to, in MiB.
    pub intel_max_unpacked_mb: u64,
    /// How long one feed download may take, in seconds.
    pub intel_timeout_seconds: u64,
    /// The share of its entries a list may lose in one update before the update is refused
    /// (0.0-1.0).
    pub intel_max_shrink: f64,
    /// A MaxMind licence key: the GeoLite2 City and ASN feeds replace DB-IP's when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxmind_license_key: Option<String>,
    /// Classify the built-in list of well-known hosting ASNs as datacenter networks.
    pub hosting_asns_builtin: bool,
    /// The operator's hosting ASNs, one per line (`AS64500 name`, `-AS15169` to remove one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosting_asns_file: Option<PathBuf>,
}

/// A list from TOML (`["10.0.0.0/8", "::1"]`) or a comma-separated string (an environment
/// variable: `GATEHOUSE_TRUSTED_PROXIES=10.0.0.0/8,::1`).
fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    Ok(match ListOrText::deserialize(deserializer)? {
        ListOrText::List(list) => list,
        ListOrText::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: parse_default(DEFAULT_LISTEN),
            http_listen: parse_default(DEFAULT_HTTP_LISTEN),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            admin_token: None,
            log_format: LogFormat::Text,
            log_level: "info".to_string(),
            geoip_city_db: None,
            geoip_asn_db: None,
            geoip_isp_db: None,
            ip_lists_dir: None,
            ip_lists_reload_seconds: DEFAULT_IP_LISTS_RELOAD_SECONDS,
            hostname_patterns_file: None,
            rdns_enabled: true,
            rdns_timeout_ms: DEFAULT_RDNS_TIMEOUT_MS,
            rdns_nameservers: Vec::new(),
            rdns_cache_entries: DEFAULT_RDNS_CACHE_ENTRIES,
            webhooks_allow_private_targets: crate::webhooks::DEFAULT_ALLOW_PRIVATE_TARGETS,
            webhooks_request_timeout_ms: duration_ms(crate::webhooks::DEFAULT_REQUEST_TIMEOUT),
            webhooks_base_backoff_ms: duration_ms(crate::webhooks::DEFAULT_BASE_BACKOFF),
            webhooks_max_backoff_ms: duration_ms(crate::webhooks::DEFAULT_MAX_BACKOFF),
            webhooks_retry_hours: crate::webhooks::DEFAULT_RETRY_FOR.as_secs() / 3600,
            public_url: None,
            store_cache_mb: crate::store::DEFAULT_CACHE_MB,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tls_reload_seconds: crate::edge::tls::DEFAULT_TLS_RELOAD_SECONDS,
            trusted_proxies: Vec::new(),
            proxy_protocol: false,
            http_proxy_protocol: false,
            metrics_enabled: true,
            metrics_listen: None,
            metrics_tenant_label: false,
            access_log: true,
            access_log_sample: 1.0,
            intel_dir: None,
            intel_update: true,
            intel_feeds: Vec::new(),
            intel_max_download_mb: crate::intel::feeds::DEFAULT_MAX_DOWNLOAD_MB,
            intel_max_unpacked_mb: crate::intel::feeds::DEFAULT_MAX_UNPACKED_MB,
            intel_timeout_seconds: crate::intel::feeds::DEFAULT_TIMEOUT_SECONDS,
            intel_max_shrink: crate::intel::feeds::DEFAULT_MAX_SHRINK,
            maxmind_license_key: None,
            hosting_asns_builtin: true,
            hosting_asns_file: None,
        }
    }
}

fn duration_ms(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn parse_default(addr: &str) -> SocketAddr {
    addr.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// What went wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Serialize)]
pub struct ConfigOverrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--http-listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// `--geoip-city-db`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip_city_db: Option<PathBuf>,
    /// `--geoip-asn-db`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip_asn_db: Option<PathBuf>,
    /// `--ip-lists-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_lists_dir: Option<PathBuf>,
    /// `--tls-cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

impl Config {
    /// Reads the layers: defaults, `file`, `GATEHOUSE_*` variables, `overrides`.
    pub fn load(
        file: Option<&std::path::Path>,
        overrides: &ConfigOverrides,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist: check --config",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        let config: Config = figment
            .merge(
                Env::prefixed("GATEHOUSE_")
                    // Other GATEHOUSE_ variables (the CLI's, test harnesses') are not config.
                    .filter(|key| ENV_KEYS.contains(&key.as_str().to_ascii_lowercase().as_str())),
            )
            .merge(Serialized::globals(overrides))
            .extract()
            .map_err(|error| ConfigError(error.to_string()))?;
        if config.webhooks_retry_hours < 24 {
            return Err(ConfigError(
                "webhooks_retry_hours must be at least 24: deliveries are retried for a day".into(),
            ));
        }
        if let Some(token) = &config.admin_token {
            if token.trim().len() < 16 {
                return Err(ConfigError(
                    "admin_token is shorter than 16 characters: use a long random token".into(),
                ));
            }
        }
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            return Err(ConfigError(
                "tls_cert and tls_key go together: set both to serve TLS, or neither".into(),
            ));
        }
        if config.tls_client_ca.is_some() && config.tls_cert.is_none() {
            return Err(ConfigError(
                "tls_client_ca needs TLS: set tls_cert and tls_key too".into(),
            ));
        }
        if !(0.0..=1.0).contains(&config.access_log_sample) {
            return Err(ConfigError(
                "access_log_sample must be between 0.0 and 1.0 (the share of successful \
                 requests logged)"
                    .into(),
            ));
        }
        crate::edge::TrustedProxies::parse(&config.trusted_proxies)
            .map_err(|error| ConfigError(error.to_string()))?;
        if !(0.0..=1.0).contains(&config.intel_max_shrink) {
            return Err(ConfigError(
                "intel_max_shrink must be between 0.0 and 1.0 (the share of its entries a list \
                 may lose in one update)"
                    .into(),
            ));
        }
        config
            .feeds()
            .map_err(|error| ConfigError(error.to_string()))?;
        if (config.proxy_protocol || config.http_proxy_protocol)
            && config.trusted_proxies.is_empty()
        {
            return Err(ConfigError(
                "proxy_protocol needs trusted_proxies: list the load balancers' addresses, \
                 the only peers allowed to send PROXY headers"
                    .into(),
            ));
        }
        Ok(config)
    }

    /// The TLS settings, when TLS is on.
    pub fn tls(&self) -> Option<crate::edge::TlsSettings> {
        Some(crate::edge::TlsSettings {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
            client_ca: self.tls_client_ca.clone(),
            reload_every: std::time::Duration::from_secs(self.tls_reload_seconds.max(1)),
        })
    }

    /// The trusted proxies (checked by [`Config::load`]).
    pub fn trusted_proxies(&self) -> crate::edge::TrustedProxies {
        crate::edge::TrustedProxies::parse(&self.trusted_proxies).unwrap_or_default()
    }

    /// Where feeds keep what they fetch.
    pub fn intel_dir(&self) -> PathBuf {
        self.intel_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join(DEFAULT_INTEL_DIR))
    }

    /// The IP list folder: `ip_lists_dir`, else `lists/` in the intel folder.
    pub fn lists_dir(&self) -> PathBuf {
        self.ip_lists_dir
            .clone()
            .unwrap_or_else(|| self.intel_dir().join("lists"))
    }

    /// The feeds and where they write.
    pub fn feeds(
        &self,
    ) -> Result<crate::intel::feeds::FeedSettings, crate::intel::feeds::FeedConfigError> {
        let intel_dir = self.intel_dir();
        Ok(crate::intel::feeds::FeedSettings {
            feeds: crate::intel::feeds::resolve_feeds(
                &self.intel_feeds,
                self.maxmind_license_key.is_some(),
            )?,
            lists_dir: self.lists_dir(),
            geoip_dir: intel_dir.join("geoip"),
            hosting_asns_dir: intel_dir.join("hosting-asns"),
            state_file: intel_dir.join("feeds-state.json"),
            max_download_bytes: self.intel_max_download_mb.max(1).saturating_mul(1 << 20),
            max_unpacked_bytes: self.intel_max_unpacked_mb.max(1).saturating_mul(1 << 20),
            timeout: std::time::Duration::from_secs(self.intel_timeout_seconds.max(1)),
            max_shrink: self.intel_max_shrink,
            maxmind_license_key: self.maxmind_license_key.clone(),
        })
    }

    /// The intelligence settings.
    pub fn intel(&self) -> crate::intel::IntelSettings {
        let intel_dir = self.intel_dir();
        let geoip_dir = intel_dir.join("geoip");
        crate::intel::IntelSettings {
            geo: crate::intel::geo::GeoPaths {
                city: self.geoip_city_db.clone(),
                asn: self.geoip_asn_db.clone(),
                isp: self.geoip_isp_db.clone(),
            },
            geo_fallback: crate::intel::geo::GeoPaths {
                city: Some(geoip_dir.join(crate::intel::feeds::CITY_DB_FILE)),
                asn: Some(geoip_dir.join(crate::intel::feeds::ASN_DB_FILE)),
                isp: None,
            },
            hosting: crate::intel::hosting::HostingSettings {
                builtin: self.hosting_asns_builtin,
                file: self.hosting_asns_file.clone(),
                feed_dir: Some(intel_dir.join("hosting-asns")),
            },
            ip_lists_dir: Some(self.lists_dir()),
            ip_lists_reload: std::time::Duration::from_secs(self.ip_lists_reload_seconds.max(1)),
            rdns: crate::intel::rdns::RdnsSettings {
                enabled: self.rdns_enabled,
                timeout: std::time::Duration::from_millis(self.rdns_timeout_ms.max(1)),
                nameservers: self.rdns_nameservers.clone(),
                cache_entries: self.rdns_cache_entries.max(1),
            },
            hostname_patterns_file: self.hostname_patterns_file.clone(),
        }
    }

    /// The webhook delivery settings.
    pub fn webhooks(&self) -> crate::webhooks::WebhookSettings {
        use std::time::Duration;
        crate::webhooks::WebhookSettings {
            allow_private_targets: self.webhooks_allow_private_targets,
            request_timeout: Duration::from_millis(self.webhooks_request_timeout_ms.max(1)),
            base_backoff: Duration::from_millis(self.webhooks_base_backoff_ms.max(1)),
            max_backoff: Duration::from_millis(self.webhooks_max_backoff_ms.max(1)),
            retry_for: Duration::from_secs(self.webhooks_retry_hours.saturating_mul(3600)),
        }
    }

    /// Where a generated admin token is kept.
    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join(ADMIN_TOKEN_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_fixture_loads_and_flags_win() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config-valid.toml");
        let overrides = ConfigOverrides {
            http_listen: Some("127.0.0.1:9999".parse().unwrap()),
            ..Default::default()
        };
        let config = Config::load(Some(&path), &overrides).unwrap();
        assert_eq!(config.listen, "127.0.0.1:6000".parse().unwrap());
        assert_eq!(config.http_listen, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn unknown_key_is_refused_by_name() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/config-unknown-key.toml");
        let error = Config::load(Some(&path), &ConfigOverrides::default()).unwrap_err();
        assert!(error.to_string().contains("listne"), "{error}");
    }

    #[test]
    fn the_deploy_example_loads() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/gatehouse.toml");
        let config = Config::load(Some(&path), &ConfigOverrides::default()).unwrap();
        assert!(!config.trusted_proxies().is_empty());
    }

    #[test]
    fn proxy_and_tls_settings_are_checked_together() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "tls_cert = \"/c.pem\"\n",
                "tls_cert and tls_key go together",
            ),
            ("tls_client_ca = \"/ca.pem\"\n", "tls_client_ca needs TLS"),
            (
                "proxy_protocol = true\n",
                "proxy_protocol needs trusted_proxies",
            ),
            ("trusted_proxies = [\"10.0.0.0/8\", \"nope\"]\n", "\"nope\""),
            ("access_log_sample = 2.0\n", "access_log_sample"),
            ("intel_max_shrink = 1.5\n", "intel_max_shrink"),
            (
                "[[intel_feeds]]\nname = \"mine\"\nurl = \"https://x.invalid/\"\n",
                "needs `kind`",
            ),
            (
                "[[intel_feeds]]\nname = \"aws\"\nintervl_minutes = 5\n",
                "intervl_minutes",
            ),
        ];
        for (text, expected) in cases {
            let path = dir.path().join("config.toml");
            std::fs::write(&path, text).unwrap();
            let error = Config::load(Some(&path), &ConfigOverrides::default()).unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "trusted_proxies = \"10.0.0.0/8, ::1\"\n").unwrap();
        let config = Config::load(Some(&path), &ConfigOverrides::default()).unwrap();
        assert_eq!(config.trusted_proxies, vec!["10.0.0.0/8", "::1"]);
    }

    #[test]
    fn missing_file_is_refused() {
        let error = Config::load(
            Some(std::path::Path::new("/nonexistent.toml")),
            &ConfigOverrides::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("--config"));
    }
}
