//! Intelligence: what Gatehouse knows about an IP, a user agent and a URL, independent of any
//! tenant. The engine's enrich stage asks it; nothing here decides anything.
//!
//! Everything is in memory; the only I/O on the request path is the optional, cached and
//! time-limited reverse DNS.

pub mod facts;
pub mod feeds;
pub mod geo;
pub mod hosting;
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
    hosting::{HostingAsns, HostingError, HostingNetwork, HostingSettings},
    hostnames::{HostnamePatterns, PatternError},
    ip_lists::{IpListTables, ListMatches},
    rdns::{RdnsError, RdnsSettings, ReverseDns},
    threat_url::ThreatDetector,
    user_agent::UaClassifier,
};

/// Where the intelligence data is and how to use it.
#[derive(Debug, Clone)]
pub struct IntelSettings {
    /// GeoIP/ASN databases the operator configured; a configured file must exist.
    pub geo: GeoPaths,
    /// GeoIP/ASN databases the feeds write, used for each kind the operator did not configure
    /// once they exist (they may not yet: the server then starts without them and loads them
    /// when the first update writes them).
    pub geo_fallback: GeoPaths,
    /// The hosting-ASN classification.
    pub hosting: HostingSettings,
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
    /// The hosting-ASN classification.
    #[error(transparent)]
    Hosting(#[from] HostingError),
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
    /// The hosting network its ASN is, by the hosting-ASN classification.
    pub hosting: Option<HostingNetwork>,
}

/// All intelligence sources, loaded.
pub struct Intel {
    geo: ArcSwap<GeoDatabases>,
    geo_sources: (GeoPaths, GeoPaths),
    hosting: ArcSwap<HostingAsns>,
    hosting_settings: HostingSettings,
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
            let geo = GeoDatabases::open(&effective_geo(&settings.geo, &settings.geo_fallback));
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
        record_geo_metrics(&geo);
        let hosting = HostingAsns::load(&settings.hosting)?;
        tracing::info!(asns = hosting.len(), "hosting ASN classification loaded");
        Ok(Self {
            geo: ArcSwap::from_pointee(geo),
            geo_sources: (settings.geo.clone(), settings.geo_fallback.clone()),
            hosting: ArcSwap::from_pointee(hosting),
            hosting_settings: settings.hosting.clone(),
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
            geo: ArcSwap::from_pointee(GeoDatabases::open(&GeoPaths::default())?),
            geo_sources: (GeoPaths::default(), GeoPaths::default()),
            hosting: ArcSwap::from_pointee(HostingAsns::builtin()),
            hosting_settings: HostingSettings {
                builtin: true,
                ..Default::default()
            },
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

    /// The current GeoIP/ASN databases.
    pub fn geo(&self) -> Arc<GeoDatabases> {
        self.geo.load_full()
    }

    /// The current hosting-ASN classification.
    pub fn hosting(&self) -> Arc<HostingAsns> {
        self.hosting.load_full()
    }

    /// Replaces the GeoIP/ASN databases; lookups in flight finish with the old ones.
    pub fn replace_geo(&self, databases: GeoDatabases) {
        record_geo_metrics(&databases);
        let old = self.geo.swap(Arc::new(databases));
        // The old databases are freed off the request threads when a runtime is there.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || drop(old))),
            Err(_) => drop(old),
        }
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
        let geo = self.geo.load().lookup(ip);
        let hosting = self.hosting.load().get(geo.asn);
        IpFacts {
            ip,
            geo,
            lists: self.lists.load().lookup(ip),
            hostname,
            hostname_match,
            hosting,
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
                // A reload runs beside the requests: it leaves them a core.
                let threads = ip_lists::all_cores().saturating_sub(1).max(1);
                match tokio::task::spawn_blocking(move || load_lists_on(&folder, threads)).await {
                    Ok(Ok(tables)) => {
                        let old = intel.lists.swap(Arc::new(tables));
                        // Freeing a million-range table takes milliseconds: not on a request
                        // thread (whichever drops the last reference frees it).
                        tokio::task::spawn_blocking(move || drop(old));
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "IP lists not reloaded; keeping the previous ones");
                    }
                    Err(error) => tracing::warn!(%error, "IP list reload failed"),
                }
            }
        }))
    }
}

impl Intel {
    /// Watches the GeoIP/ASN database files (configured and fed) and the hosting-ASN files, and
    /// swaps in new ones when a file changes, appears or goes away. The new databases are
    /// opened and checked on a blocking thread while lookups go on with the old ones, so
    /// answering never pauses; a file that does not open keeps the old ones in use.
    pub fn spawn_data_reloader(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let intel = Arc::clone(self);
        tokio::spawn(async move {
            let mut last_geo = geo_files_state(&intel.geo_sources);
            let mut last_hosting = hosting_files_state(&intel.hosting_settings);
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let geo_state = geo_files_state(&intel.geo_sources);
                if geo_state != last_geo {
                    last_geo = geo_state;
                    let paths = effective_geo(&intel.geo_sources.0, &intel.geo_sources.1);
                    match tokio::task::spawn_blocking(move || GeoDatabases::open(&paths)).await {
                        Ok(Ok(databases)) => {
                            tracing::info!(databases = %databases.describe(), "GeoIP databases reloaded");
                            intel.replace_geo(databases);
                        }
                        Ok(Err(error)) => tracing::warn!(
                            %error,
                            "GeoIP databases not reloaded; keeping the previous ones"
                        ),
                        Err(error) => tracing::warn!(%error, "GeoIP reload failed"),
                    }
                }
                let hosting_state = hosting_files_state(&intel.hosting_settings);
                if hosting_state != last_hosting {
                    last_hosting = hosting_state;
                    let settings = intel.hosting_settings.clone();
                    match tokio::task::spawn_blocking(move || HostingAsns::load(&settings)).await {
                        Ok(Ok(hosting)) => {
                            tracing::info!(
                                asns = hosting.len(),
                                "hosting ASN classification reloaded"
                            );
                            intel.hosting.store(Arc::new(hosting));
                        }
                        Ok(Err(error)) => tracing::warn!(
                            %error,
                            "hosting ASNs not reloaded; keeping the previous ones"
                        ),
                        Err(error) => tracing::warn!(%error, "hosting ASN reload failed"),
                    }
                }
            }
        })
    }
}

/// For each kind, the configured database, else the fed one when it exists.
fn effective_geo(configured: &GeoPaths, fallback: &GeoPaths) -> GeoPaths {
    let pick = |configured: &Option<PathBuf>, fallback: &Option<PathBuf>| {
        configured
            .clone()
            .or_else(|| fallback.clone().filter(|path| path.is_file()))
    };
    GeoPaths {
        city: pick(&configured.city, &fallback.city),
        asn: pick(&configured.asn, &fallback.asn),
        isp: pick(&configured.isp, &fallback.isp),
    }
}

/// What identifies a file's content for the watchers: size, modification time and, on Unix,
/// the inode (a rename over the file gives a new one even within one clock tick).
type FileState = Option<(u64, std::time::SystemTime, u64)>;

fn file_state(path: &Path) -> FileState {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((
        meta.len(),
        meta.modified().unwrap_or(std::time::UNIX_EPOCH),
        inode,
    ))
}

fn geo_files_state((configured, fallback): &(GeoPaths, GeoPaths)) -> Vec<FileState> {
    [configured, fallback]
        .into_iter()
        .flat_map(|paths| [&paths.city, &paths.asn, &paths.isp])
        .flatten()
        .flat_map(|path| {
            // Split databases open their other half too.
            let sibling = geo::other_ip_version_file(path);
            std::iter::once(file_state(path)).chain(sibling.map(|sibling| file_state(&sibling)))
        })
        .collect()
}

fn hosting_files_state(settings: &HostingSettings) -> Vec<(PathBuf, FileState)> {
    let mut files: Vec<PathBuf> = settings.file.iter().cloned().collect();
    if let Some(dir) = &settings.feed_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        files.extend(entries.flatten().map(|entry| entry.path()));
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let state = file_state(&path);
            (path, state)
        })
        .collect()
}

/// The build time of each loaded database, for the data-age metric.
fn record_geo_metrics(databases: &GeoDatabases) {
    for (table, epoch) in databases.build_epochs() {
        crate::telemetry::metrics()
            .intel_data_timestamp
            .with_label_values(&[table])
            .set(epoch as f64);
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
    load_lists_on(dir, ip_lists::all_cores())
}

fn load_lists_on(dir: &Path, threads: usize) -> Result<IpListTables, IntelError> {
    let (tables, warnings) =
        IpListTables::load_dir_on(dir, threads).map_err(|source| IntelError::Lists {
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
