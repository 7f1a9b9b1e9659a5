//! Intelligence: what Gatehouse knows about an IP, a user agent and a URL, independent of any
//! tenant. The engine's enrich stage asks it; nothing here decides anything.
//!
//! Everything is in memory; the only I/O on the request path is the optional, cached and
//! time-limited reverse DNS.

pub mod facts;
pub mod geo;
pub mod hostnames;
pub mod ip_lists;
pub mod rdns;
pub mod threat_url;
pub mod user_agent;

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use arc_swap::ArcSwap;

use self::{
    geo::{GeoDatabases, GeoError, GeoFacts, GeoPaths},
    hostnames::{HostnamePatterns, PatternError},
    ip_lists::{IpListTables, ListMatches},
    rdns::{RdnsError, RdnsSettings, ReverseDns},
    threat_url::ThreatDetector,
    user_agent::UaClassifier,
};

/// Where the intelligence data is and how to use it.
#[derive(Debug, Clone)]
pub struct IntelSettings {
    /// GeoIP/ASN databases.
    pub geo: GeoPaths,
    /// The folder of IP list files, if any.
    pub ip_lists_dir: Option<PathBuf>,
    /// How often the folder is checked for changes.
    pub ip_lists_reload: Duration,
    /// Reverse DNS.
    pub rdns: RdnsSettings,
    /// Extra hostname patterns, one per line.
    pub hostname_patterns_file: Option<PathBuf>,
}

/// Why the intelligence data could not be loaded at start-up.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    /// A GeoIP database.
    #[error(transparent)]
    Geo(#[from] GeoError),
    /// The IP list folder.
    #[error("ip_lists_dir {path}: {source}")]
    Lists {
        /// The folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The hostname patterns file.
    #[error("hostname_patterns_file {path}: {detail}")]
    Hostnames {
        /// The file.
        path: String,
        /// The cause.
        detail: String,
    },
    /// Reverse DNS.
    #[error(transparent)]
    Rdns(#[from] RdnsError),
}

impl From<PatternError> for IntelError {
    fn from(error: PatternError) -> Self {
        IntelError::Hostnames {
            path: String::new(),
            detail: error.to_string(),
        }
    }
}

/// What is known about an IP.
#[derive(Debug, Clone)]
pub struct IpFacts {
    /// The IP, as looked up (IPv4-mapped IPv6 unwrapped).
    pub ip: IpAddr,
    /// Geography and network owner.
    pub geo: GeoFacts,
    /// The shared lists it is on.
    pub lists: ListMatches,
    /// Its reverse-DNS hostname.
    pub hostname: Option<Arc<str>>,
    /// The hostname-database pattern its hostname matches.
    pub hostname_match: Option<String>,
}

/// All intelligence sources, loaded.
pub struct Intel {
    /// GeoIP/ASN databases.
    pub geo: GeoDatabases,
    lists: ArcSwap<IpListTables>,
    lists_dir: Option<PathBuf>,
    /// The hostname database.
    pub hostnames: HostnamePatterns,
    /// Reverse DNS.
    pub rdns: ReverseDns,
    /// User-agent classification.
    pub user_agents: UaClassifier,
    /// Threat-URL detection.
    pub threats: ThreatDetector,
}

impl Intel {
    /// Loads every source. Missing optional data (no GeoIP database, no list folder) is not an
    /// error: the server runs and says so once.
    pub fn load(settings: &IntelSettings) -> Result<Self, IntelError> {
        // The IP lists are the longest part; they load on a thread of their own while the rest
        // (GeoIP, the user-agent and threat-URL matchers) is built here, so those cost no
        // start-up time of their own. Errors are checked in the order the parts used to load.
        let (geo, lists, hostnames, user_agents, threats) = std::thread::scope(|scope| {
            let lists = scope.spawn(|| match &settings.ip_lists_dir {
                Some(dir) => load_lists(dir),
                None => {
                    tracing::warn!(
                        "no ip_lists_dir configured: Tor/VPN/proxy/datacenter/reputation lists \
                         are empty"
                    );
                    Ok(IpListTables::empty())
                }
            });
            let geo = GeoDatabases::open(&settings.geo);
            let hostnames = load_hostnames(settings);
            let user_agents = UaClassifier::new();
            let threats = ThreatDetector::new();
            let lists = lists
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (geo, lists, hostnames, user_agents, threats)
        });
        let geo = geo?;
        if geo.is_empty() {
            tracing::warn!(
                "no GeoIP database configured: IP info will have no geography or ASN; \
                 set geoip_city_db and geoip_asn_db (see the README)"
            );
        } else {
            tracing::info!(databases = %geo.describe(), "GeoIP databases loaded");
        }
        for (table, epoch) in geo.build_epochs() {
            crate::telemetry::metrics()
                .intel_data_timestamp
                .with_label_values(&[table])
                .set(epoch as f64);
        }
        Ok(Self {
            geo,
            lists: ArcSwap::from_pointee(lists?),
            lists_dir: settings.ip_lists_dir.clone(),
            hostnames: hostnames?,
            rdns: ReverseDns::new(settings.rdns.clone())?,
            user_agents,
            threats,
        })
    }

    /// Intelligence with no data files and reverse DNS off (for tests and benchmarks).
    pub fn bare(lists: IpListTables) -> Result<Self, IntelError> {
        Ok(Self {
            geo: GeoDatabases::open(&GeoPaths::default())?,
            lists: ArcSwap::from_pointee(lists),
            lists_dir: None,
            hostnames: HostnamePatterns::new([])?,
            rdns: ReverseDns::new(RdnsSettings {
                enabled: false,
                timeout: Duration::from_millis(1),
                nameservers: Vec::new(),
                cache_entries: 1,
            })?,
            user_agents: UaClassifier::new(),
            threats: ThreatDetector::new(),
        })
    }

    /// The current shared lists.
    pub fn lists(&self) -> Arc<IpListTables> {
        self.lists.load_full()
    }

    /// Everything known about `ip`; `with_hostname` asks reverse DNS (cached, time-limited).
    pub async fn ip_facts(&self, ip: IpAddr, with_hostname: bool) -> IpFacts {
        let ip = ip_lists::canonical(ip);
        let hostname = if with_hostname {
            self.rdns.hostname(ip).await
        } else {
            None
        };
        let hostname_match = hostname
            .as_deref()
            .and_then(|name| self.hostnames.matching(name))
            .map(str::to_string);
        IpFacts {
            ip,
            geo: self.geo.lookup(ip),
            lists: self.lists.load().lookup(ip),
            hostname,
            hostname_match,
        }
    }

    /// Watches the list folder and swaps in new tables when a file changes. Lookups keep using
    /// the old tables until the new ones are complete, so answering never pauses.
    pub fn spawn_list_reloader(
        self: &Arc<Self>,
        every: Duration,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let dir = self.lists_dir.clone()?;
        let intel = Arc::clone(self);
        Some(tokio::spawn(async move {
            let mut last = ip_lists::folder_state(&dir).ok();
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let state = ip_lists::folder_state(&dir).ok();
                if state == last {
                    continue;
                }
                last = state;
                let folder = dir.clone();
                match tokio::task::spawn_blocking(move || load_lists(&folder)).await {
                    Ok(Ok(tables)) => intel.lists.store(Arc::new(tables)),
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "IP lists not reloaded; keeping the previous ones");
                    }
                    Err(error) => tracing::warn!(%error, "IP list reload failed"),
                }
            }
        }))
    }
}

/// Entries per list kind, and when the newest file of each kind was written.
fn record_list_metrics(tables: &IpListTables) {
    let metrics = crate::telemetry::metrics();
    let counts = ip_lists::summarize(tables);
    for kind in ip_lists::ListKind::ALL {
        let tag = kind.tag();
        let entries = counts.get(tag).copied().unwrap_or_default();
        metrics
            .intel_entries
            .with_label_values(&[tag])
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
        let newest = tables
            .files
            .iter()
            .filter(|file| file.kind == kind)
            .filter_map(|file| std::fs::metadata(&file.path).ok()?.modified().ok())
            .max()
            .and_then(|modified| modified.duration_since(std::time::UNIX_EPOCH).ok());
        if let Some(newest) = newest {
            metrics
                .intel_data_timestamp
                .with_label_values(&[tag])
                .set(newest.as_secs_f64());
        }
    }
}

/// The hostname database with the extra patterns of `hostname_patterns_file`, if any.
fn load_hostnames(settings: &IntelSettings) -> Result<HostnamePatterns, IntelError> {
    let extra = match &settings.hostname_patterns_file {
        Some(path) => std::fs::read_to_string(path).map_err(|error| IntelError::Hostnames {
            path: path.display().to_string(),
            detail: error.to_string(),
        })?,
        None => String::new(),
    };
    HostnamePatterns::new(extra.lines()).map_err(|error| IntelError::Hostnames {
        path: settings
            .hostname_patterns_file
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_default(),
        detail: error.to_string(),
    })
}

fn load_lists(dir: &Path) -> Result<IpListTables, IntelError> {
    let (tables, warnings) = IpListTables::load_dir(dir).map_err(|source| IntelError::Lists {
        path: dir.display().to_string(),
        source,
    })?;
    for warning in warnings {
        tracing::warn!(%warning, "IP list file skipped");
    }
    tracing::info!(
        files = tables.files.len(),
        ranges = tables.entries(),
        counts = ?ip_lists::summarize(&tables),
        "IP lists loaded"
    );
    record_list_metrics(&tables);
    Ok(tables)
}
