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
];

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
        Ok(config)
    }

    /// The intelligence settings.
    pub fn intel(&self) -> crate::intel::IntelSettings {
        crate::intel::IntelSettings {
            geo: crate::intel::geo::GeoPaths {
                city: self.geoip_city_db.clone(),
                asn: self.geoip_asn_db.clone(),
                isp: self.geoip_isp_db.clone(),
            },
            ip_lists_dir: self.ip_lists_dir.clone(),
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
    fn missing_file_is_refused() {
        let error = Config::load(
            Some(std::path::Path::new("/nonexistent.toml")),
            &ConfigOverrides::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("--config"));
    }
}
