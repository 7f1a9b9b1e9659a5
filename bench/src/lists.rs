//! IP list files of realistic size, in the format `ip_lists_dir` reads (see
//! `gatehouse_server::intel::ip_lists`): about 850 000 entries over the five kinds, sized like
//! the public lists they stand for — cloud and hosting ranges (mostly /24s, some /22, /20 and
//! /16, and IPv6 /48s), open proxies and VPN exits (mostly single addresses and /24s), 2 500 Tor
//! exits, and a FireHOL-style reputation list. Addresses are drawn from public IPv4 space and
//! 2000::/4; the files depend only on the seed.

use std::{
    io::Write,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::Path,
};

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::{BenchError, io_error, population::public_ipv4};

/// One list file: its name (which gives its kind and label), its header and its entries.
#[derive(Debug, Clone)]
pub struct ListFile {
    /// The file name, e.g. `datacenter-aws.txt`.
    pub file_name: String,
    /// The kind tag (`datacenter`, `proxy`, `vpn`, `tor`, `reputation`).
    pub kind: &'static str,
    /// The entries: single addresses and CIDR ranges.
    pub entries: Vec<ListEntry>,
}

/// One entry of a list: a network (a single address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListEntry {
    /// The network's first address.
    pub network: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl ListEntry {
    /// The entry as a list line: `1.2.3.4` or `1.2.3.0/24`.
    pub fn line(&self) -> String {
        let full = if self.network.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            self.network.to_string()
        } else {
            format!("{}/{}", self.network, self.prefix)
        }
    }

    /// An address inside the entry, drawn with `rng`.
    pub fn address(&self, rng: &mut impl Rng) -> IpAddr {
        match self.network {
            IpAddr::V4(network) => {
                let host_bits = 32 - u32::from(self.prefix);
                let offset = if host_bits == 0 {
                    0
                } else {
                    rng.random::<u32>() & (u32::MAX >> (32 - host_bits))
                };
                IpAddr::V4(Ipv4Addr::from(u32::from(network) | offset))
            }
            IpAddr::V6(network) => {
                let host_bits = 128 - u32::from(self.prefix);
                let offset = if host_bits == 0 {
                    0
                } else {
                    rng.random::<u128>() & (u128::MAX >> (128 - host_bits))
                };
                IpAddr::V6(Ipv6Addr::from(u128::from(network) | offset))
            }
        }
    }
}

/// How a file's entries are drawn: (weight, prefix length, IPv6?) choices.
struct Shape {
    file_name: &'static str,
    kind: &'static str,
    entries: usize,
    sizes: &'static [(u32, u8, bool)],
}

const SHAPES: &[Shape] = &[
    Shape {
        file_name: "datacenter-aws.txt",
        kind: "datacenter",
        entries: 90_000,
        sizes: CLOUD,
    },
    Shape {
        file_name: "datacenter-gcp.txt",
        kind: "datacenter",
        entries: 50_000,
        sizes: CLOUD,
    },
    Shape {
        file_name: "datacenter-azure.txt",
        kind: "datacenter",
        entries: 70_000,
        sizes: CLOUD,
    },
    Shape {
        file_name: "datacenter-hosting.txt",
        kind: "datacenter",
        entries: 90_000,
        sizes: CLOUD,
    },
    Shape {
        file_name: "proxy-open.txt",
        kind: "proxy",
        entries: 150_000,
        sizes: &[(70, 32, false), (20, 24, false), (10, 128, true)],
    },
    Shape {
        file_name: "vpn-commercial.txt",
        kind: "vpn",
        entries: 100_000,
        sizes: &[(40, 32, false), (50, 24, false), (10, 64, true)],
    },
    Shape {
        file_name: "tor-exits.txt",
        kind: "tor",
        entries: 2_500,
        sizes: &[(80, 32, false), (20, 128, true)],
    },
    Shape {
        file_name: "reputation-firehol.netset",
        kind: "reputation",
        entries: 300_000,
        sizes: &[(60, 32, false), (35, 24, false), (5, 128, true)],
    },
];

/// Cloud and hosting ranges: mostly /24s, some larger blocks, a tenth IPv6.
const CLOUD: &[(u32, u8, bool)] = &[
    (630, 24, false),
    (150, 22, false),
    (50, 20, false),
    (2, 16, false),
    (100, 48, true),
];

fn draw_entry(rng: &mut StdRng, sizes: &[(u32, u8, bool)]) -> ListEntry {
    let total: u32 = sizes.iter().map(|(weight, _, _)| weight).sum();
    let mut pick = rng.random_range(0..total);
    let mut chosen = sizes[0];
    for size in sizes {
        if pick < size.0 {
            chosen = *size;
            break;
        }
        pick -= size.0;
    }
    let (_, prefix, v6) = chosen;
    if v6 {
        let raw = (0x2u128 << 124) | (rng.random::<u128>() >> 4);
        let mask = u128::MAX << (128 - u32::from(prefix));
        ListEntry {
            network: IpAddr::V6(Ipv6Addr::from(raw & mask)),
            prefix,
        }
    } else {
        let raw = u32::from(public_ipv4(rng));
        let mask = u32::MAX << (32 - u32::from(prefix));
        ListEntry {
            network: IpAddr::V4(Ipv4Addr::from(raw & mask)),
            prefix,
        }
    }
}

/// The list files for `seed`, scaled by `scale` (1.0 is full size).
pub fn generate(seed: u64, scale: f64) -> Vec<ListFile> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6c69_7374);
    SHAPES
        .iter()
        .map(|shape| {
            let count = ((shape.entries as f64) * scale).round().max(1.0) as usize;
            ListFile {
                file_name: shape.file_name.to_string(),
                kind: shape.kind,
                entries: (0..count)
                    .map(|_| draw_entry(&mut rng, shape.sizes))
                    .collect(),
            }
        })
        .collect()
}

/// Writes `files` into `dir` (created if needed); returns how many entries were written.
pub fn write(dir: &Path, files: &[ListFile]) -> Result<usize, BenchError> {
    std::fs::create_dir_all(dir).map_err(io_error(format!("cannot create {}", dir.display())))?;
    let mut written = 0;
    for file in files {
        let path = dir.join(&file.file_name);
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&path)
                .map_err(io_error(format!("cannot write {}", path.display())))?,
        );
        let mut text = format!(
            "# kind: {}\n# generated by gatehouse-bench lists: made-up ranges of realistic size\n",
            file.kind
        );
        for entry in &file.entries {
            text.push_str(&entry.line());
            text.push('\n');
        }
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(io_error(format!("cannot write {}", path.display())))?;
        written += file.entries.len();
    }
    Ok(written)
}

/// The entries of every file of `kind`, to draw listed addresses from.
pub fn entries_of<'a>(files: &'a [ListFile], kind: &str) -> Vec<&'a ListEntry> {
    files
        .iter()
        .filter(|file| file.kind == kind)
        .flat_map(|file| file.entries.iter())
        .collect()
}

#[cfg(test)]
mod tests {
    use gatehouse_server::intel::ip_lists::{IpListTables, ListKind};

    use super::*;

    #[test]
    fn the_server_loads_every_entry_and_finds_drawn_addresses() {
        let files = generate(7, 0.01);
        let dir = tempfile::tempdir().unwrap();
        let written = write(dir.path(), &files).unwrap();
        let (tables, warnings) = IpListTables::load_dir(dir.path()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(tables.entries(), written);
        assert!(tables.files.iter().all(|file| file.skipped_lines == 0));
        let mut rng = StdRng::seed_from_u64(1);
        for (kind, tag) in [
            (ListKind::Datacenter, "datacenter"),
            (ListKind::Proxy, "proxy"),
            (ListKind::Vpn, "vpn"),
            (ListKind::Tor, "tor"),
            (ListKind::Reputation, "reputation"),
        ] {
            for entry in entries_of(&files, tag).iter().take(50) {
                let ip = entry.address(&mut rng);
                assert!(
                    tables.lookup(ip).contains(kind),
                    "{ip} from {}",
                    entry.line()
                );
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_files() {
        let first = generate(3, 0.001);
        let second = generate(3, 0.001);
        assert_eq!(first[0].entries, second[0].entries);
        assert_ne!(first[0].entries, generate(4, 0.001)[0].entries);
    }
}
