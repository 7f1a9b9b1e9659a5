//! Feeds: the intelligence data fetched from its publishers and kept current. Each feed is a
//! URL, a published format ([`FeedFormat`]), what it feeds ([`FeedKind`]: a list kind, a GeoIP
//! database or the hosting-ASN classification), a label and an interval. `gatehouse intel
//! update` runs them once; the server runs them on their intervals ([`schedule`]).
//!
//! An update is safe by construction:
//! - conditional requests (`If-None-Match` / `If-Modified-Since` from the last good download), so
//!   an unchanged source costs a `304` and changes nothing;
//! - a size limit (checked against `Content-Length` and while streaming) and a time limit;
//! - the body must parse in its format and hold entries; a list that shrank past
//!   `max_shrink` of the last good one is refused (an empty or half snapshot published after a
//!   publisher's failure must not wipe the data in use);
//! - the result is written to a hidden temporary file beside the target, flushed, and renamed
//!   over it, so readers (the server's folder watcher, a crash, `kill -9`) only ever see the old
//!   or the new file; when anything fails the last good file stays and stays in use;
//! - the outcome of every feed (last success, age, entries, last error) is kept in a state file
//!   ([`state`]), logged, exported as metrics and shown by `gatehouse intel status`.
//!
//! The server's watchers pick the new files up: lists through the list-folder reloader, GeoIP
//! databases and hosting ASNs through [`crate::intel::Intel::spawn_data_reloader`].

pub mod formats;
pub mod schedule;
pub mod state;

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};

pub use self::formats::{FeedData, FeedFormat, FormatError};
use self::state::{FeedState, FeedStates, now};
use crate::intel::ip_lists::ListKind;

/// How often the Tor exit list is fetched: it is regenerated every few minutes.
pub const DEFAULT_TOR_INTERVAL: Duration = Duration::from_secs(3600);
/// How often the cloud and reputation lists are fetched.
pub const DEFAULT_LIST_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// How often Spamhaus DROP is fetched (Spamhaus asks for at least an hour between downloads).
pub const DEFAULT_DROP_INTERVAL: Duration = Duration::from_secs(12 * 3600);
/// How often the monthly GeoIP databases are checked.
pub const DEFAULT_DATABASE_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The largest download accepted, in MiB (a GeoLite2 City archive is about 40 MiB, a DB-IP City
/// Lite `.mmdb.gz` about 60 MiB).
pub const DEFAULT_MAX_DOWNLOAD_MB: u64 = 256;
/// The largest a compressed download may unpack to, in MiB.
pub const DEFAULT_MAX_UNPACKED_MB: u64 = 1024;
/// How long one download may take, in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 600;
/// The share of its entries a list may lose in one update before the update is refused.
pub const DEFAULT_MAX_SHRINK: f64 = 0.5;
/// The shortest wait before a failed feed is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(15 * 60);

/// What a feed feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// A Tor exit list.
    Tor,
    /// A VPN list.
    Vpn,
    /// A proxy list.
    Proxy,
    /// Datacenter and hosting ranges.
    Datacenter,
    /// A reputation blocklist.
    Reputation,
    /// The GeoIP City database.
    GeoipCity,
    /// The GeoIP ASN database.
    GeoipAsn,
    /// The hosting-ASN classification.
    HostingAsns,
}

impl FeedKind {
    /// The list kind, for list feeds.
    pub fn list_kind(self) -> Option<ListKind> {
        match self {
            FeedKind::Tor => Some(ListKind::Tor),
            FeedKind::Vpn => Some(ListKind::Vpn),
            FeedKind::Proxy => Some(ListKind::Proxy),
            FeedKind::Datacenter => Some(ListKind::Datacenter),
            FeedKind::Reputation => Some(ListKind::Reputation),
            FeedKind::GeoipCity | FeedKind::GeoipAsn | FeedKind::HostingAsns => None,
        }
    }

    /// The kind as written in configuration.
    pub fn tag(self) -> &'static str {
        match self {
            FeedKind::Tor => "tor",
            FeedKind::Vpn => "vpn",
            FeedKind::Proxy => "proxy",
            FeedKind::Datacenter => "datacenter",
            FeedKind::Reputation => "reputation",
            FeedKind::GeoipCity => "geoip_city",
            FeedKind::GeoipAsn => "geoip_asn",
            FeedKind::HostingAsns => "hosting_asns",
        }
    }

    /// True when `format` can feed this kind.
    pub fn accepts(self, format: FeedFormat) -> bool {
        match self {
            FeedKind::GeoipCity | FeedKind::GeoipAsn => format.is_database(),
            FeedKind::HostingAsns => format == FeedFormat::AsnList,
            _ => !format.is_database() && format != FeedFormat::AsnList,
        }
    }
}

/// One feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedDefinition {
    /// Its name, unique: `tor-exits`, `aws`, `dbip-city-lite`.
    pub name: String,
    /// Where it is published. `{year}` and `{month}` are replaced by the current UTC month (the
    /// previous month is tried when that one is not out yet), `{license_key}` by the MaxMind
    /// licence key.
    pub url: String,
    /// Its published format.
    pub format: FeedFormat,
    /// What it feeds.
    pub kind: FeedKind,
    /// The label reasons show (`AWS`, `Tor`).
    pub label: String,
    /// How often it is fetched.
    pub interval: Duration,
    /// Whether it runs.
    pub enabled: bool,
    /// Its licence, in a few words.
    pub licence: String,
}

impl FeedDefinition {
    /// True when the URL needs the MaxMind licence key.
    pub fn needs_license_key(&self) -> bool {
        self.url.contains("{license_key}")
    }
}

// The built-in table below reads best as one call per feed with every field in place.
#[allow(clippy::too_many_arguments)]
fn builtin(
    name: &str,
    url: &str,
    format: FeedFormat,
    kind: FeedKind,
    label: &str,
    interval: Duration,
    enabled: bool,
    licence: &str,
) -> FeedDefinition {
    FeedDefinition {
        name: name.into(),
        url: url.into(),
        format,
        kind,
        label: label.into(),
        interval,
        enabled,
        licence: licence.into(),
    }
}

/// The built-in feeds, with `maxmind` telling whether a MaxMind licence key is configured (the
/// GeoLite2 databases then replace DB-IP's). See the README's feed table for each licence.
#[allow(clippy::too_many_lines)]
pub fn builtin_feeds(maxmind: bool) -> Vec<FeedDefinition> {
    use FeedFormat as F;
    use FeedKind as K;
    let provider = "published by the provider for anyone to use in network configuration";
    vec![
        builtin(
            "tor-exits",
            "https://check.torproject.org/torbulkexitlist",
            F::TorBulkExitList,
            K::Tor,
            "Tor",
            DEFAULT_TOR_INTERVAL,
            true,
            "The Tor Project, public data",
        ),
        builtin(
            "aws",
            "https://ip-ranges.amazonaws.com/ip-ranges.json",
            F::AwsIpRanges,
            K::Datacenter,
            "AWS",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "google-cloud",
            "https://www.gstatic.com/ipranges/cloud.json",
            F::GoogleIpRanges,
            K::Datacenter,
            "Google Cloud",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "azure",
            "https://www.microsoft.com/en-us/download/details.aspx?id=56519",
            F::AzureServiceTags,
            K::Datacenter,
            "Azure",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "oracle-cloud",
            "https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json",
            F::OracleIpRanges,
            K::Datacenter,
            "Oracle Cloud",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "cloudflare-v4",
            "https://www.cloudflare.com/ips-v4",
            F::PlainCidr,
            K::Datacenter,
            "Cloudflare",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "cloudflare-v6",
            "https://www.cloudflare.com/ips-v6",
            F::PlainCidr,
            K::Datacenter,
            "Cloudflare",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "digitalocean",
            "https://digitalocean.com/geo/google.csv",
            F::Geofeed,
            K::Datacenter,
            "DigitalOcean",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "fastly",
            "https://api.fastly.com/public-ip-list",
            F::FastlyIpList,
            K::Datacenter,
            "Fastly",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "linode",
            "https://geoip.linode.com/",
            F::Geofeed,
            K::Datacenter,
            "Linode",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "github",
            "https://api.github.com/meta",
            F::GithubMeta,
            K::Datacenter,
            "GitHub",
            DEFAULT_LIST_INTERVAL,
            true,
            provider,
        ),
        builtin(
            "spamhaus-drop",
            "https://www.spamhaus.org/drop/drop_v4.json",
            F::SpamhausDropJson,
            K::Reputation,
            "Spamhaus DROP",
            DEFAULT_DROP_INTERVAL,
            true,
            "free of charge under the Spamhaus DROP terms of use",
        ),
        builtin(
            "spamhaus-drop-v6",
            "https://www.spamhaus.org/drop/drop_v6.json",
            F::SpamhausDropJson,
            K::Reputation,
            "Spamhaus DROPv6",
            DEFAULT_DROP_INTERVAL,
            true,
            "free of charge under the Spamhaus DROP terms of use",
        ),
        builtin(
            "spamhaus-edrop",
            "https://www.spamhaus.org/drop/edrop.txt",
            F::SpamhausDropText,
            K::Reputation,
            "Spamhaus EDROP",
            DEFAULT_DROP_INTERVAL,
            false,
            "free of charge under the Spamhaus DROP terms of use; merged into DROP in April 2024",
        ),
        builtin(
            "firehol-level1",
            "https://raw.githubusercontent.com/firehol/blocklist-ipsets/master/firehol_level1.netset",
            F::PlainCidr,
            K::Reputation,
            "FireHOL level 1",
            DEFAULT_LIST_INTERVAL,
            false,
            "an aggregate of lists under varying licences, some non-commercial; includes \
             private and bogon ranges",
        ),
        builtin(
            "bad-asn-list",
            "https://raw.githubusercontent.com/brianhama/bad-asn-list/master/bad-asn-list.csv",
            F::AsnList,
            K::HostingAsns,
            "bad-asn-list",
            DEFAULT_DATABASE_INTERVAL,
            false,
            "MIT; broad: it also lists some ISPs and universities",
        ),
        builtin(
            "dbip-city-lite",
            "https://download.db-ip.com/free/dbip-city-lite-{year}-{month}.mmdb.gz",
            F::MmdbGzip,
            K::GeoipCity,
            "DB-IP City Lite",
            DEFAULT_DATABASE_INTERVAL,
            !maxmind,
            "CC BY 4.0: attribution to DB-IP.com required",
        ),
        builtin(
            "dbip-asn-lite",
            "https://download.db-ip.com/free/dbip-asn-lite-{year}-{month}.mmdb.gz",
            F::MmdbGzip,
            K::GeoipAsn,
            "DB-IP ASN Lite",
            DEFAULT_DATABASE_INTERVAL,
            !maxmind,
            "CC BY 4.0: attribution to DB-IP.com required",
        ),
        builtin(
            "geolite2-city",
            "https://download.maxmind.com/app/geoip_download?edition_id=GeoLite2-City&license_key={license_key}&suffix=tar.gz",
            F::MmdbTarGz,
            K::GeoipCity,
            "GeoLite2 City",
            DEFAULT_DATABASE_INTERVAL,
            maxmind,
            "GeoLite2 End User License Agreement: needs a free MaxMind account and licence key",
        ),
        builtin(
            "geolite2-asn",
            "https://download.maxmind.com/app/geoip_download?edition_id=GeoLite2-ASN&license_key={license_key}&suffix=tar.gz",
            F::MmdbTarGz,
            K::GeoipAsn,
            "GeoLite2 ASN",
            DEFAULT_DATABASE_INTERVAL,
            maxmind,
            "GeoLite2 End User License Agreement: needs a free MaxMind account and licence key",
        ),
    ]
}

/// A feed as configured (`[[intel_feeds]]`): a built-in feed's name with the fields to change,
/// or a new feed with at least `url`, `format` and `kind`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed's name.
    pub name: String,
    /// Where it is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FeedFormat>,
    /// What it feeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FeedKind>,
    /// The label reasons show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// How often it is fetched, in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_minutes: Option<u64>,
    /// Whether it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Why the configured feeds do not make sense.
#[derive(Debug, thiserror::Error)]
pub enum FeedConfigError {
    /// A new feed lacks a field.
    #[error("intel_feeds: the feed {name:?} is not built in, so it needs `{field}`")]
    Missing {
        /// The feed.
        name: String,
        /// The field.
        field: &'static str,
    },
    /// Format and kind do not go together.
    #[error(
        "intel_feeds: the feed {name:?} has format {format:?}, which cannot feed kind `{kind}`"
    )]
    Mismatch {
        /// The feed.
        name: String,
        /// Its format.
        format: FeedFormat,
        /// Its kind.
        kind: &'static str,
    },
    /// A name is used twice.
    #[error("intel_feeds: the feed name {0:?} is used twice")]
    Duplicate(String),
}

/// The built-in feeds with the configured changes and additions applied.
pub fn resolve_feeds(
    configured: &[FeedConfig],
    maxmind: bool,
) -> Result<Vec<FeedDefinition>, FeedConfigError> {
    let mut feeds = builtin_feeds(maxmind);
    let mut seen = std::collections::HashSet::new();
    for entry in configured {
        if !seen.insert(entry.name.clone()) {
            return Err(FeedConfigError::Duplicate(entry.name.clone()));
        }
        let position = feeds.iter().position(|feed| feed.name == entry.name);
        let feed = match position {
            Some(position) => &mut feeds[position],
            None => {
                let missing = |field| FeedConfigError::Missing {
                    name: entry.name.clone(),
                    field,
                };
                let kind = entry.kind.ok_or_else(|| missing("kind"))?;
                feeds.push(FeedDefinition {
                    name: entry.name.clone(),
                    url: entry.url.clone().ok_or_else(|| missing("url"))?,
                    format: entry.format.ok_or_else(|| missing("format"))?,
                    kind,
                    label: entry.name.clone(),
                    interval: DEFAULT_LIST_INTERVAL,
                    enabled: true,
                    licence: "configured by the operator".into(),
                });
                let last = feeds.len() - 1;
                &mut feeds[last]
            }
        };
        if let Some(url) = &entry.url {
            feed.url.clone_from(url);
        }
        if let Some(format) = entry.format {
            feed.format = format;
        }
        if let Some(kind) = entry.kind {
            feed.kind = kind;
        }
        if let Some(label) = &entry.label {
            feed.label.clone_from(label);
        }
        if let Some(minutes) = entry.interval_minutes {
            feed.interval = Duration::from_secs(minutes.max(1).saturating_mul(60));
        }
        if let Some(enabled) = entry.enabled {
            feed.enabled = enabled;
        }
        if !feed.kind.accepts(feed.format) {
            return Err(FeedConfigError::Mismatch {
                name: feed.name.clone(),
                format: feed.format,
                kind: feed.kind.tag(),
            });
        }
    }
    Ok(feeds)
}

/// Where feeds write and the limits they run under.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// The feeds, enabled or not.
    pub feeds: Vec<FeedDefinition>,
    /// The IP list folder the server watches.
    pub lists_dir: PathBuf,
    /// The folder of the fetched GeoIP databases (`city.mmdb`, `asn.mmdb`).
    pub geoip_dir: PathBuf,
    /// The folder of the fetched hosting-ASN lists.
    pub hosting_asns_dir: PathBuf,
    /// The state file.
    pub state_file: PathBuf,
    /// The largest download accepted, in bytes.
    pub max_download_bytes: u64,
    /// The largest a compressed download may unpack to, in bytes.
    pub max_unpacked_bytes: u64,
    /// How long one download may take.
    pub timeout: Duration,
    /// The share of its entries a list may lose in one update.
    pub max_shrink: f64,
    /// The MaxMind licence key, if any.
    pub maxmind_license_key: Option<String>,
}

impl FeedSettings {
    /// Where `feed`'s data is kept.
    pub fn target(&self, feed: &FeedDefinition) -> PathBuf {
        match feed.kind {
            FeedKind::GeoipCity => self.geoip_dir.join(CITY_DB_FILE),
            FeedKind::GeoipAsn => self.geoip_dir.join(ASN_DB_FILE),
            FeedKind::HostingAsns => self.hosting_asns_dir.join(format!("{}.txt", feed.name)),
            kind => self
                .lists_dir
                .join(format!("{}-feed-{}.txt", kind.tag(), feed.name)),
        }
    }

    /// The feed called `name`.
    pub fn feed(&self, name: &str) -> Option<&FeedDefinition> {
        self.feeds.iter().find(|feed| feed.name == name)
    }

    /// The feeds that run: enabled, and with the licence key when they need one.
    pub fn runnable(&self) -> impl Iterator<Item = &FeedDefinition> {
        self.feeds.iter().filter(|feed| {
            feed.enabled && (!feed.needs_license_key() || self.maxmind_license_key.is_some())
        })
    }

    /// The HTTP client feeds are fetched with.
    pub fn client(&self) -> Result<reqwest::Client, FeedError> {
        reqwest::Client::builder()
            // GitHub's API refuses requests without a user agent.
            .user_agent(concat!(
                "gatehouse/",
                env!("CARGO_PKG_VERSION"),
                " (intel feeds)"
            ))
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(30).min(self.timeout))
            .build()
            .map_err(|error| FeedError::Http(error.to_string()))
    }
}

/// The file name of the fetched City database in the GeoIP folder.
pub const CITY_DB_FILE: &str = "city.mmdb";
/// The file name of the fetched ASN database in the GeoIP folder.
pub const ASN_DB_FILE: &str = "asn.mmdb";

/// Why one feed's update failed. The data in use is unchanged whenever one is returned.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The request could not be made or did not complete (DNS, connection, TLS, timeout).
    #[error("download failed: {0}")]
    Http(String),
    /// The publisher answered with an error status.
    #[error("the server answered {0}")]
    Status(u16),
    /// The download is larger than allowed.
    #[error("the download is larger than the {0}-byte limit (intel_max_download_mb)")]
    TooLarge(u64),
    /// The download is not in the feed's format.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The download holds far fewer entries than the data in use.
    #[error(
        "refused: {new} entries would replace {old}, a drop of more than {percent}% \
         (intel_max_shrink); the previous data stays in use"
    )]
    Shrank {
        /// Entries in use.
        old: usize,
        /// Entries downloaded.
        new: usize,
        /// The allowed drop.
        percent: u32,
    },
    /// The result could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The feed needs the MaxMind licence key.
    #[error("needs maxmind_license_key")]
    NoLicenseKey,
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New data replaced the old.
    Updated,
    /// The publisher answered `304 Not Modified`: nothing changed.
    NotModified,
    /// The update failed; the old data stays.
    Failed,
    /// The update was refused (it shrank too much); the old data stays.
    Refused,
}

impl Outcome {
    /// The outcome as metrics and the CLI name it.
    pub fn tag(self) -> &'static str {
        match self {
            Outcome::Updated => "updated",
            Outcome::NotModified => "not_modified",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
        }
    }
}

/// One feed's update, reported.
#[derive(Debug, Clone)]
pub struct FeedReport {
    /// The feed.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
    /// Entries in the data in use afterwards.
    pub entries: usize,
    /// The error, for `Failed` and `Refused`.
    pub error: Option<String>,
}

/// Runs one feed's update and records it in `states` (not yet written).
pub async fn update_feed(
    client: &reqwest::Client,
    settings: &FeedSettings,
    feed: &FeedDefinition,
    states: &mut FeedStates,
) -> FeedReport {
    let state = states.feeds.entry(feed.name.clone()).or_default();
    let started = now();
    state.last_attempt = Some(started);
    let result = run_update(client, settings, feed, state).await;
    let (outcome, error) = match result {
        Ok(outcome) => {
            state.last_success = Some(now());
            state.last_error = None;
            state.consecutive_failures = 0;
            (outcome, None)
        }
        Err(error) => {
            let outcome = if matches!(error, FeedError::Shrank { .. }) {
                Outcome::Refused
            } else {
                Outcome::Failed
            };
            state.last_error = Some(error.to_string());
            state.last_failure = Some(now());
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            (outcome, Some(error.to_string()))
        }
    };
    let report = FeedReport {
        name: feed.name.clone(),
        outcome,
        entries: state.entries,
        error,
    };
    log_report(&report);
    record_metrics(&report, state);
    report
}

/// Runs every runnable feed (or only `only`) once, writing the state after each.
pub async fn update_all(
    settings: &FeedSettings,
    only: Option<&str>,
) -> Result<Vec<FeedReport>, FeedError> {
    let client = settings.client()?;
    let mut states = FeedStates::read(&settings.state_file);
    let mut reports = Vec::new();
    let chosen: Vec<FeedDefinition> = match only {
        Some(name) => settings
            .feeds
            .iter()
            .filter(|feed| feed.name == name)
            .cloned()
            .collect(),
        None => settings.runnable().cloned().collect(),
    };
    for feed in chosen {
        let report = update_feed(&client, settings, &feed, &mut states).await;
        write_state(settings, &states)?;
        reports.push(report);
    }
    Ok(reports)
}

/// Writes the state file.
pub fn write_state(settings: &FeedSettings, states: &FeedStates) -> Result<(), FeedError> {
    states
        .write(&settings.state_file)
        .map_err(|source| FeedError::Write {
            path: settings.state_file.display().to_string(),
            source,
        })
}

fn log_report(report: &FeedReport) {
    match report.outcome {
        Outcome::Updated => tracing::info!(
            feed = %report.name,
            entries = report.entries,
            "intel feed updated"
        ),
        Outcome::NotModified => tracing::debug!(feed = %report.name, "intel feed not modified"),
        Outcome::Failed | Outcome::Refused => tracing::warn!(
            feed = %report.name,
            outcome = report.outcome.tag(),
            error = report.error.as_deref().unwrap_or_default(),
            entries_in_use = report.entries,
            "intel feed not updated; the last good data stays in use"
        ),
    }
}

/// Updates the feed metrics from a report and the feed's state.
pub fn record_metrics(report: &FeedReport, state: &FeedState) {
    let metrics = crate::telemetry::metrics();
    metrics
        .intel_feed_updates
        .with_label_values(&[report.name.as_str(), report.outcome.tag()])
        .inc();
    record_state_metrics(&report.name, state);
}

/// Sets the feed gauges from a feed's state (also at start-up, from the state file).
pub fn record_state_metrics(name: &str, state: &FeedState) {
    let metrics = crate::telemetry::metrics();
    if let Some(success) = state.last_success {
        metrics
            .intel_feed_last_success
            .with_label_values(&[name])
            .set(success as f64);
    }
    metrics
        .intel_feed_entries
        .with_label_values(&[name])
        .set(i64::try_from(state.entries).unwrap_or(i64::MAX));
    metrics
        .intel_feed_failing
        .with_label_values(&[name])
        .set(i64::from(state.consecutive_failures > 0));
}

async fn run_update(
    client: &reqwest::Client,
    settings: &FeedSettings,
    feed: &FeedDefinition,
    state: &mut FeedState,
) -> Result<Outcome, FeedError> {
    let target = settings.target(feed);
    // Validators only describe the data when it is still there: a 304 for a file that was
    // deleted would leave nothing.
    let have_data = target.is_file();
    let validators = if have_data {
        (state.etag.clone(), state.last_modified.clone())
    } else {
        (None, None)
    };
    let urls = candidate_urls(feed, settings)?;
    let mut fetched = None;
    for (index, url) in urls.iter().enumerate() {
        match fetch(client, url, &validators, settings.max_download_bytes).await {
            // A monthly database not published yet: try last month's.
            Err(FeedError::Status(404)) if index + 1 < urls.len() => continue,
            other => {
                fetched = Some(other?);
                break;
            }
        }
    }
    let Some(fetched) = fetched else {
        return Err(FeedError::Status(404));
    };
    let Fetched::Body {
        mut body,
        etag,
        last_modified,
    } = fetched
    else {
        return Ok(Outcome::NotModified);
    };
    // Azure's weekly file has a new name each week; its download page links it.
    if feed.format == FeedFormat::AzureServiceTags && looks_like_html(&body) {
        let link = formats::azure::link(&body).ok_or(FormatError::Json {
            format: "Azure service tags",
            detail: "an HTML page that links no ServiceTags_Public_*.json file".into(),
        })?;
        match fetch(client, &link, &(None, None), settings.max_download_bytes).await? {
            Fetched::Body { body: file, .. } => body = file,
            Fetched::NotModified => return Ok(Outcome::NotModified),
        }
    }
    let format = feed.format;
    let max_unpacked = settings.max_unpacked_bytes;
    // Parsing a large list or verifying a database is CPU work: off the async threads.
    let data = tokio::task::spawn_blocking(move || formats::parse(format, &body, max_unpacked))
        .await
        .map_err(|error| FeedError::Http(format!("parse task: {error}")))??;
    let new_entries = data.entries();
    let old_entries = if have_data {
        if state.entries > 0 {
            state.entries
        } else {
            existing_entries(&target, feed.kind)
        }
    } else {
        0
    };
    let shrink = settings.max_shrink.clamp(0.0, 1.0);
    if old_entries > 0 && (new_entries as f64) < (old_entries as f64) * (1.0 - shrink) {
        return Err(FeedError::Shrank {
            old: old_entries,
            new: new_entries,
            percent: (shrink * 100.0).round() as u32,
        });
    }
    // Rendering and the flushed write block for a while on large lists: off the async threads,
    // which answer requests.
    let written = {
        let feed = feed.clone();
        let target = target.clone();
        tokio::task::spawn_blocking(move || write_atomically(&target, &render(&feed, &data)))
            .await
            .map_err(|error| FeedError::Http(format!("write task: {error}")))?
    };
    written.map_err(|source| FeedError::Write {
        path: target.display().to_string(),
        source,
    })?;
    state.etag = etag;
    state.last_modified = last_modified;
    state.entries = new_entries;
    state.last_changed = Some(now());
    Ok(Outcome::Updated)
}

/// The URLs to try in order: the feed's URL with its placeholders filled, and for monthly
/// files last month's as well.
fn candidate_urls(
    feed: &FeedDefinition,
    settings: &FeedSettings,
) -> Result<Vec<String>, FeedError> {
    let mut url = feed.url.clone();
    if url.contains("{license_key}") {
        let key = settings
            .maxmind_license_key
            .as_deref()
            .ok_or(FeedError::NoLicenseKey)?;
        url = url.replace("{license_key}", key);
    }
    if !url.contains("{year}") && !url.contains("{month}") {
        return Ok(vec![url]);
    }
    let (year, month, _) = crate::intel::geo::civil_date(now());
    let (last_year, last_month) = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    let fill = |year: i64, month: u32| {
        url.replace("{year}", &format!("{year:04}"))
            .replace("{month}", &format!("{month:02}"))
    };
    Ok(vec![fill(year, month), fill(last_year, last_month)])
}

enum Fetched {
    NotModified,
    Body {
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

async fn fetch(
    client: &reqwest::Client,
    url: &str,
    (etag, last_modified): &(Option<String>, Option<String>),
    max: u64,
) -> Result<Fetched, FeedError> {
    let http = |error: reqwest::Error| FeedError::Http(error.without_url().to_string());
    let mut request = client.get(url);
    if let Some(etag) = etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(last_modified) = last_modified {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, last_modified);
    }
    let mut response = request.send().await.map_err(http)?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(FeedError::Status(status.as_u16()));
    }
    if response.content_length().is_some_and(|length| length > max) {
        return Err(FeedError::TooLarge(max));
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
            .map(str::to_string)
    };
    let etag = header(reqwest::header::ETAG);
    let last_modified = header(reqwest::header::LAST_MODIFIED);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http)? {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(FeedError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Body {
        body,
        etag,
        last_modified,
    })
}

fn looks_like_html(body: &[u8]) -> bool {
    body.iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|&byte| byte == b'<')
}

/// What is written for `data`: a list file with its kind and label in the header, the
/// database bytes, or the ASN list.
fn render(feed: &FeedDefinition, data: &FeedData) -> Vec<u8> {
    match data {
        FeedData::Database(bytes) => bytes.clone(),
        FeedData::Ranges(ranges) => {
            let mut out = String::with_capacity(ranges.len() * 20 + 256);
            out.push_str(&format!(
                "# kind: {}\n# label: {}\n# feed: {} ({})\n# source: {}\n# written: {}\n\
                 # Written by gatehouse intel update: edits are replaced by the next update.\n",
                feed.kind.tag(),
                feed.label,
                feed.name,
                feed.licence,
                redact(&feed.url),
                state::format_utc(now()),
            ));
            for range in ranges {
                out.push_str(range);
                out.push('\n');
            }
            out.into_bytes()
        }
        FeedData::Asns(asns) => {
            let mut out = format!(
                "# hosting ASNs from the feed {} ({})\n# source: {}\n",
                feed.name,
                feed.licence,
                redact(&feed.url)
            );
            for (asn, name) in asns {
                out.push_str(&format!("AS{asn} {name}\n"));
            }
            out.into_bytes()
        }
    }
}

/// A URL without its licence key.
fn redact(url: &str) -> String {
    url.replace("{license_key}", "…")
}

/// Entries of a file written earlier, for a state that does not know them.
fn existing_entries(path: &Path, kind: FeedKind) -> usize {
    match kind {
        FeedKind::GeoipCity | FeedKind::GeoipAsn => std::fs::read(path)
            .ok()
            .and_then(|bytes| formats::mmdb::node_count(&bytes))
            .unwrap_or(0),
        _ => std::fs::read_to_string(path)
            .map(|text| {
                text.lines()
                    .filter(|line| {
                        let line = line.trim();
                        !line.is_empty() && !line.starts_with('#')
                    })
                    .count()
            })
            .unwrap_or(0),
    }
}

/// Replaces `path` by `bytes` so that no reader ever sees a partial file: the bytes go to a
/// hidden temporary file in the same folder (hidden files are not list files), are flushed to
/// disk, and the file is renamed over the target; the folder is flushed so the rename survives a
/// crash. Leftovers of an interrupted earlier write are removed first.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&prefix) && file.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let temp = dir.join(format!("{prefix}{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)?;
        if let Ok(folder) = std::fs::File::open(dir) {
            // Not every platform can flush a folder; the rename is done either way.
            let _ = folder.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests;
