//! Hosting networks by ASN: which autonomous systems belong to cloud, hosting, colocation and
//! datacenter operators rather than consumer ISPs. An address in such a network is a datacenter
//! address even when no range list names it (see [`crate::intel::IpFacts::datacenter`]).
//!
//! The classification is the union of a small built-in list of well-known hosting ASNs
//! ([`BUILTIN`], switched off with `hosting_asns_builtin = false`), the ASN list feed (the
//! `bad-asn-list` feed writes `hosting-asns/` in the intel folder) and an operator file
//! (`hosting_asns_file`). Operator lines `-AS15169` take an ASN off the list. Files are in the
//! [`asn_list`] format and reloaded when they change.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::intel::feeds::formats::asn_list;

/// Well-known hosting, cloud and datacenter ASNs, with the operator's name.
///
/// Taken from brianhama/bad-asn-list (`bad-asn-list.csv`, MIT licence, "an open source list of
/// ASNs known to belong to cloud, managed hosting, and colo facilities"), keeping the large
/// providers whose networks carry almost no consumer traffic. Networks that are also consumer
/// ISPs or transit carriers in that list (Hurricane Electric, CenturyLink/Savvis, tw telecom)
/// are left out: classifying them as hosting would block real visitors.
pub const BUILTIN: &[(u32, &str)] = &[
    (8075, "Microsoft Corporation (Azure)"),
    (8100, "QuadraNet"),
    (9009, "M247"),
    (12876, "Scaleway (Online SAS)"),
    (14061, "DigitalOcean"),
    (14618, "Amazon.com (AWS)"),
    (15169, "Google"),
    (16276, "OVH"),
    (16509, "Amazon.com (AWS)"),
    (20473, "Vultr (Choopa)"),
    (24940, "Hetzner Online"),
    (28753, "Leaseweb"),
    (29802, "HIVELOCITY"),
    (31034, "Aruba"),
    (32244, "Liquid Web"),
    (33070, "Rackspace"),
    (36351, "IBM Cloud (SoftLayer)"),
    (36352, "ColoCrossing"),
    (37153, "Hetzner (South Africa)"),
    (45102, "Alibaba Cloud"),
    (46844, "Sharktech"),
    (49505, "Selectel"),
    (49981, "WorldStream"),
    (51167, "Contabo"),
    (53667, "FranTech Solutions (BuyVM)"),
    (54290, "Hostwinds"),
    (60781, "Leaseweb Netherlands"),
    (62567, "DigitalOcean"),
    (63949, "Linode (Akamai Cloud)"),
    (202053, "UpCloud"),
];

/// An autonomous system classified as a hosting network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostingNetwork {
    /// The ASN.
    pub asn: u32,
    /// The operator, as the classification names it.
    pub organisation: Arc<str>,
}

/// Where the classification comes from.
#[derive(Debug, Clone, Default)]
pub struct HostingSettings {
    /// Include [`BUILTIN`].
    pub builtin: bool,
    /// The operator's file, if any.
    pub file: Option<PathBuf>,
    /// The folder the ASN list feed writes, if any (it may not exist yet).
    pub feed_dir: Option<PathBuf>,
}

/// The hosting ASNs, ready for lookups.
#[derive(Debug, Clone, Default)]
pub struct HostingAsns {
    networks: HashMap<u32, Arc<str>>,
}

impl HostingAsns {
    /// The built-in list alone.
    pub fn builtin() -> Self {
        let mut asns = Self::default();
        for &(asn, name) in BUILTIN {
            asns.networks.insert(asn, Arc::from(name));
        }
        asns
    }

    /// Loads the classification `settings` describe: the built-in list, then the feed folder's
    /// files in name order, then the operator file (whose removals win). A missing feed folder
    /// is not an error; an unreadable operator file is.
    pub fn load(settings: &HostingSettings) -> Result<Self, HostingError> {
        let mut asns = if settings.builtin {
            Self::builtin()
        } else {
            Self::default()
        };
        let mut files = Vec::new();
        if let Some(dir) = &settings.feed_dir
            && dir.is_dir()
        {
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|source| HostingError::read(dir, source))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| {
                    path.is_file()
                        && !path
                            .file_name()
                            .is_some_and(|name| name.to_string_lossy().starts_with('.'))
                })
                .collect();
            found.sort();
            files.extend(found);
        }
        files.extend(settings.file.clone());
        for path in files {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| HostingError::read(&path, source))?;
            let (added, removed) =
                asn_list::parse_with_removals(&text).map_err(|error| HostingError::Format {
                    path: path.display().to_string(),
                    detail: error.to_string(),
                })?;
            for (asn, name) in added {
                let name = if name.is_empty() {
                    format!("AS{asn}")
                } else {
                    name
                };
                asns.networks.insert(asn, Arc::from(name));
            }
            for asn in removed {
                asns.networks.remove(&asn);
            }
        }
        Ok(asns)
    }

    /// The hosting network `asn` is, if it is one.
    pub fn get(&self, asn: u32) -> Option<HostingNetwork> {
        if asn == 0 {
            return None;
        }
        self.networks.get(&asn).map(|organisation| HostingNetwork {
            asn,
            organisation: organisation.clone(),
        })
    }

    /// How many ASNs are classified.
    pub fn len(&self) -> usize {
        self.networks.len()
    }

    /// True when no ASN is classified.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

/// Why the classification could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum HostingError {
    /// A file could not be read.
    #[error("hosting ASN file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not an ASN list.
    #[error("hosting ASN file {path}: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

impl HostingError {
    fn read(path: &Path, source: std::io::Error) -> Self {
        HostingError::Read {
            path: path.display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_names_the_big_clouds() {
        let asns = HostingAsns::builtin();
        assert_eq!(
            asns.get(16509).unwrap().organisation.as_ref(),
            "Amazon.com (AWS)"
        );
        assert!(asns.get(14061).is_some());
        assert!(asns.get(24940).is_some());
        // A consumer ISP (Comcast) and "unknown".
        assert!(asns.get(7922).is_none());
        assert!(asns.get(0).is_none());
    }

    #[test]
    fn operator_files_add_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let feed_dir = dir.path().join("hosting-asns");
        std::fs::create_dir(&feed_dir).unwrap();
        std::fs::write(feed_dir.join("bad-asn-list.txt"), "AS64500 Feed Hosting\n").unwrap();
        let file = dir.path().join("mine.txt");
        std::fs::write(&file, "AS64501 My Colo\n-AS15169\n").unwrap();
        let asns = HostingAsns::load(&HostingSettings {
            builtin: true,
            file: Some(file),
            feed_dir: Some(feed_dir),
        })
        .unwrap();
        assert!(asns.get(64500).is_some());
        assert_eq!(asns.get(64501).unwrap().organisation.as_ref(), "My Colo");
        assert!(asns.get(15169).is_none(), "removed by the operator");
        assert!(asns.get(16509).is_some());
        let none = HostingAsns::load(&HostingSettings::default()).unwrap();
        assert!(none.is_empty());
    }
}
