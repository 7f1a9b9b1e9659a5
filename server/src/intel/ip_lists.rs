//! IP lists: a folder of CIDR files (Tor exits, VPN, proxy, datacenter ranges, reputation
//! blocklists) loaded into in-memory range tables, and per-tenant black/whitelists.
//!
//! A file's kind comes from a `# kind: <kind>` header line or, failing that, from the start of its
//! name (`tor-exits.txt`, `datacenter-aws.txt`, `reputation-firehol_level1.netset`). Its label
//! (shown in reasons, e.g. "AWS") comes from `# label: <text>` or the rest of the name. Lines hold
//! an IP, a CIDR range or an `a - b` range; `#` and `;` start comments.
//!
//! Lookups are `O(log n)` in balanced range maps (rangemap); nothing is ever scanned. Each kind has
//! its own map so overlapping lists of different kinds do not hide each other.

use std::{
    collections::HashMap,
    net::IpAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use ipnet::IpNet;
use rangemap::{RangeInclusiveMap, StepLite};

/// What kind of list a range came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// Tor exit nodes.
    Tor,
    /// VPN endpoints.
    Vpn,
    /// Open or commercial proxies.
    Proxy,
    /// Datacenter and hosting ranges (not a consumer ISP).
    Datacenter,
    /// Reputation blocklists (abuse, spam, attacks).
    Reputation,
}

impl ListKind {
    /// Every kind, in table order.
    pub const ALL: [ListKind; 5] = [
        ListKind::Tor,
        ListKind::Vpn,
        ListKind::Proxy,
        ListKind::Datacenter,
        ListKind::Reputation,
    ];

    /// Parses a file tag; `hosting` and `blocklist` are accepted as synonyms.
    pub fn from_tag(tag: &str) -> Option<Self> {
        match tag.trim().to_ascii_lowercase().as_str() {
            "tor" => Some(ListKind::Tor),
            "vpn" => Some(ListKind::Vpn),
            "proxy" => Some(ListKind::Proxy),
            "datacenter" | "hosting" => Some(ListKind::Datacenter),
            "reputation" | "blocklist" => Some(ListKind::Reputation),
            _ => None,
        }
    }

    /// The tag as written in file names.
    pub fn tag(self) -> &'static str {
        match self {
            ListKind::Tor => "tor",
            ListKind::Vpn => "vpn",
            ListKind::Proxy => "proxy",
            ListKind::Datacenter => "datacenter",
            ListKind::Reputation => "reputation",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The labels of the lists an IP is on, by kind; `None` where it is on no list of that kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListMatches {
    labels: [Option<Arc<str>>; 5],
}

impl ListMatches {
    /// The label of the list of `kind` the IP is on.
    pub fn get(&self, kind: ListKind) -> Option<&str> {
        self.labels[kind.index()].as_deref()
    }

    /// True when the IP is on any list of `kind`.
    pub fn contains(&self, kind: ListKind) -> bool {
        self.labels[kind.index()].is_some()
    }
}

/// A range parsed from a line: inclusive bounds in one address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRange {
    /// IPv4, as integers.
    V4(u32, u32),
    /// IPv6, as integers.
    V6(u128, u128),
}

/// Parses `1.2.3.4`, `1.2.3.0/24`, `2001:db8::/32` or `1.2.3.4 - 1.2.3.9`.
pub fn parse_range(text: &str) -> Option<IpRange> {
    let text = text.trim();
    if let Some((start, end)) = text.split_once('-') {
        let start: IpAddr = start.trim().parse().ok()?;
        let end: IpAddr = end.trim().parse().ok()?;
        return match (start, end) {
            (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => Some(IpRange::V4(a.into(), b.into())),
            (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => Some(IpRange::V6(a.into(), b.into())),
            _ => None,
        };
    }
    // No address holds a '/', so a CIDR goes straight to the network parser: most list lines
    // are CIDRs, and a failed address parse first would cost each of them a second parse.
    if !text.contains('/')
        && let Ok(ip) = text.parse::<IpAddr>()
    {
        return Some(single(ip));
    }
    let net: IpNet = text.parse().ok()?;
    Some(match net {
        IpNet::V4(net) => IpRange::V4(net.network().into(), net.broadcast().into()),
        IpNet::V6(net) => IpRange::V6(net.network().into(), net.broadcast().into()),
    })
}

fn single(ip: IpAddr) -> IpRange {
    match canonical(ip) {
        IpAddr::V4(ip) => IpRange::V4(ip.into(), ip.into()),
        IpAddr::V6(ip) => IpRange::V6(ip.into(), ip.into()),
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are looked up as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// A range table for one kind of list: IPv4 and IPv6 maps to a label id.
#[derive(Debug, Clone, Default)]
pub struct RangeTable<V: Clone + Eq> {
    v4: RangeInclusiveMap<u32, V>,
    v6: RangeInclusiveMap<u128, V>,
}

impl<V: Clone + Eq> RangeTable<V> {
    /// Adds a range; it overrides overlapping parts of earlier ones.
    pub fn insert(&mut self, range: IpRange, value: V) {
        match range {
            IpRange::V4(start, end) => self.v4.insert(start..=end, value),
            IpRange::V6(start, end) => self.v6.insert(start..=end, value),
        }
    }

    /// The value of the range holding `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<&V> {
        match canonical(ip) {
            IpAddr::V4(ip) => self.v4.get(&u32::from(ip)),
            IpAddr::V6(ip) => self.v6.get(&u128::from(ip)),
        }
    }

    /// How many disjoint ranges the table holds (adjacent equal ranges are merged).
    pub fn len(&self) -> usize {
        self.v4.iter().count() + self.v6.iter().count()
    }

    /// True when the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// What one loaded file contributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedFile {
    /// The file.
    pub path: PathBuf,
    /// Its kind.
    pub kind: ListKind,
    /// Its label.
    pub label: String,
    /// Ranges read.
    pub entries: usize,
    /// Lines that were neither comments nor ranges.
    pub skipped_lines: usize,
}

/// The shared lists, ready for lookups.
#[derive(Debug, Default)]
pub struct IpListTables {
    tables: [RangeTable<u32>; 5],
    labels: Vec<Arc<str>>,
    /// What each file contributed.
    pub files: Vec<LoadedFile>,
}

impl IpListTables {
    /// Tables with no lists.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds one range of `kind` labelled `label`.
    pub fn insert(&mut self, kind: ListKind, range: IpRange, label: &str) {
        let id = self.label_id(label);
        self.tables[kind.index()].insert(range, id);
    }

    /// The id the tables store for `label`, given on first use.
    fn label_id(&mut self, label: &str) -> u32 {
        let id = match self.labels.iter().position(|known| &**known == label) {
            Some(id) => id,
            None => {
                self.labels.push(Arc::from(label));
                self.labels.len() - 1
            }
        };
        u32::try_from(id).unwrap_or(u32::MAX)
    }

    /// Which lists hold `ip`.
    pub fn lookup(&self, ip: IpAddr) -> ListMatches {
        let mut matches = ListMatches::default();
        for kind in ListKind::ALL {
            if let Some(id) = self.tables[kind.index()].get(ip) {
                matches.labels[kind.index()] = usize::try_from(*id)
                    .ok()
                    .and_then(|id| self.labels.get(id))
                    .cloned();
            }
        }
        matches
    }

    /// Total ranges read from files.
    pub fn entries(&self) -> usize {
        self.files.iter().map(|file| file.entries).sum()
    }

    /// Loads every list file in `dir`. Files whose kind cannot be told are reported in the
    /// returned warnings and skipped; unreadable files are errors.
    ///
    /// The tables are those that inserting every range with [`IpListTables::insert`], file by
    /// file in name order and line by line, would give, but built in one sorted pass per table.
    pub fn load_dir(dir: &Path) -> Result<(Self, Vec<String>), std::io::Error> {
        Self::load_dir_on(dir, all_cores())
    }

    /// [`IpListTables::load_dir`] on at most `threads` threads: a reload while the server
    /// answers leaves the other cores to the requests.
    pub fn load_dir_on(dir: &Path, threads: usize) -> Result<(Self, Vec<String>), std::io::Error> {
        let paths = list_files(dir)?;
        // Files are read and parsed on every core, largest first so that no core is left with a
        // big file at the end. The results are then taken in name order, so the first
        // unreadable file in that order is the error, as when they were read one by one.
        let mut by_size: Vec<(u64, usize)> = paths
            .iter()
            .enumerate()
            .map(|(position, path)| {
                let size = std::fs::metadata(path).map_or(0, |meta| meta.len());
                (size, position)
            })
            .collect();
        by_size.sort_unstable_by(|a, b| b.cmp(a));
        let mut parsed = in_parallel(by_size, threads, |(_, position)| {
            let path = &paths[position];
            let parsed = std::fs::read_to_string(path).map(|text| ParsedList::parse(path, &text));
            (position, parsed)
        });
        parsed.sort_unstable_by_key(|&(position, _)| position);
        let mut lists = Vec::new();
        let mut warnings = Vec::new();
        for (position, result) in parsed {
            match result? {
                Some(list) => lists.push(list),
                None => warnings.push(format!(
                    "{}: kind unknown; start the name with tor-, vpn-, proxy-, datacenter- or \
                     reputation-, or add a `# kind: ...` line",
                    paths[position].display()
                )),
            }
        }
        Ok((Self::from_lists(lists, threads), warnings))
    }

    /// The tables holding `lists`, later lists overriding earlier ones of the same kind.
    fn from_lists(lists: Vec<ParsedList>, threads: usize) -> Self {
        let mut tables = Self::empty();
        let mut v4: [Vec<Labelled<u32>>; 5] = Default::default();
        let mut v6: [Vec<Labelled<u128>>; 5] = Default::default();
        for list in lists {
            // Ids are given in file order and only to files with ranges, as `insert` gives them.
            if list.file.entries > 0 {
                let label = tables.label_id(&list.file.label);
                let kind = list.file.kind.index();
                v4[kind].extend(list.v4.iter().map(|&(start, end)| (start, end, label)));
                v6[kind].extend(list.v6.iter().map(|&(start, end)| (start, end, label)));
            }
            tables.files.push(list.file);
        }
        // The ten maps (five kinds, two families) are independent: they are built on every
        // core, largest first.
        let mut jobs = Vec::new();
        for (kind, (v4, v6)) in v4.into_iter().zip(v6).enumerate() {
            jobs.push(MapJob::V4(kind, v4));
            jobs.push(MapJob::V6(kind, v6));
        }
        jobs.sort_unstable_by_key(|job| std::cmp::Reverse(job.len()));
        for built in in_parallel(jobs, threads, MapJob::build) {
            match built {
                BuiltMap::V4(kind, map) => tables.tables[kind].v4 = map,
                BuiltMap::V6(kind, map) => tables.tables[kind].v6 = map,
            }
        }
        tables
    }
}

/// A range and the label id it maps to.
type Labelled<K> = (K, K, u32);

/// The ranges of one kind (by index) and family, to be built into a map.
enum MapJob {
    V4(usize, Vec<Labelled<u32>>),
    V6(usize, Vec<Labelled<u128>>),
}

/// A [`MapJob`] done.
enum BuiltMap {
    V4(usize, RangeInclusiveMap<u32, u32>),
    V6(usize, RangeInclusiveMap<u128, u32>),
}

impl MapJob {
    /// How many ranges it holds, the measure of its cost.
    fn len(&self) -> usize {
        match self {
            MapJob::V4(_, ranges) => ranges.len(),
            MapJob::V6(_, ranges) => ranges.len(),
        }
    }

    fn build(self) -> BuiltMap {
        match self {
            MapJob::V4(kind, ranges) => BuiltMap::V4(kind, build_map(ranges)),
            MapJob::V6(kind, ranges) => BuiltMap::V6(kind, build_map(ranges)),
        }
    }
}

/// Runs `work` on every item, on as many threads as there are cores (at most one per item), and
/// returns the results in the items' order. Items are handed out one at a time as threads come
/// free, so callers put the costliest first. Loading lists is the only parallel work here and
/// runs at start-up and on reloads, so scoped threads serve it without a thread pool kept alive.
fn in_parallel<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.into_iter().map(work).collect();
    }
    let queue = std::sync::Mutex::new(items.into_iter().enumerate());
    // The lock is held only to take the next item; a poisoned lock means a worker panicked,
    // and that panic is raised again below.
    let next = || queue.lock().ok()?.next();
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some((position, item)) = next() {
                        done.push((position, work(item)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_unstable_by_key(|&(position, _)| position);
    done.into_iter().map(|(_, result)| result).collect()
}

/// The machine's cores.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// One list file, parsed: what it is and its ranges in file order, not yet in any table.
struct ParsedList {
    file: LoadedFile,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl ParsedList {
    /// Parses the file at `path` holding `text`; `None` when its kind cannot be told.
    fn parse(path: &Path, text: &str) -> Option<Self> {
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (name_kind, name_label) = match stem.split_once(['-', '_', '.']) {
            Some((tag, rest)) => (ListKind::from_tag(tag), rest.to_string()),
            None => (ListKind::from_tag(&stem), String::new()),
        };
        let mut header_kind = None;
        let mut header_label = None;
        for line in text.lines().take(50) {
            let Some(comment) = line.trim().strip_prefix('#') else {
                continue;
            };
            if let Some((key, value)) = comment.split_once(':') {
                match key.trim().to_ascii_lowercase().as_str() {
                    "kind" => header_kind = ListKind::from_tag(value),
                    "label" => header_label = Some(value.trim().to_string()),
                    _ => {}
                }
            }
        }
        let kind = header_kind.or(name_kind)?;
        let label = header_label
            .filter(|label| !label.is_empty())
            .unwrap_or_else(|| {
                if name_label.is_empty() {
                    kind.tag().to_string()
                } else {
                    name_label
                }
            });
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut skipped_lines = 0;
        for line in text.lines() {
            let Some(candidate) = range_text(line) else {
                continue;
            };
            match parse_range(candidate) {
                Some(IpRange::V4(start, end)) => v4.push((start, end)),
                Some(IpRange::V6(start, end)) => v6.push((start, end)),
                None => skipped_lines += 1,
            }
        }
        Some(Self {
            file: LoadedFile {
                path: path.to_path_buf(),
                kind,
                label,
                entries: v4.len() + v6.len(),
                skipped_lines,
            },
            v4,
            v6,
        })
    }
}

/// The map that inserting `ranges` one by one in order would give: later ranges override the
/// parts of earlier ones they overlap, and touching ranges with the same value merge.
///
/// Inserting into a `RangeInclusiveMap` in list order costs three B-tree searches per range at
/// random places, which was most of start-up with full-size lists. Here the ranges are sorted by
/// start and fed to the map in ascending order, where each insert touches only the map's hot
/// right edge. Overlaps are rare in lists, but the order they were inserted in decides the
/// outcome, so each group of ranges that overlap one another (a cluster) is first resolved by
/// inserting its members, in list order, into a small map of its own.
fn build_map<K>(ranges: Vec<Labelled<K>>) -> RangeInclusiveMap<K, u32>
where
    K: Ord + Copy + StepLite,
{
    // The position in the list is kept beside each range, to replay a cluster in list order.
    let mut sorted: Vec<(usize, Labelled<K>)> = ranges.into_iter().enumerate().collect();
    sorted.sort_unstable_by_key(|&(_, (start, _, _))| start);
    let mut map = RangeInclusiveMap::new();
    let mut rest = sorted.as_slice();
    while let Some(&(_, (first_start, first_end, first_label))) = rest.first() {
        // A range belongs to the cluster when it starts at or before the cluster's end so far;
        // one that merely touches starts a new cluster, and the map merges the two if equal.
        let mut cluster_end = first_end;
        let mut size = 1;
        while let Some(&(_, (start, end, _))) = rest.get(size)
            && start <= cluster_end
        {
            cluster_end = cluster_end.max(end);
            size += 1;
        }
        let (cluster, after) = rest.split_at(size);
        rest = after;
        if let [_] = cluster {
            map.insert(first_start..=first_end, first_label);
            continue;
        }
        let mut in_list_order = cluster.to_vec();
        in_list_order.sort_unstable_by_key(|&(position, _)| position);
        let mut resolved = RangeInclusiveMap::new();
        for (_, (start, end, label)) in in_list_order {
            resolved.insert(start..=end, label);
        }
        for (range, label) in resolved.iter() {
            map.insert(range.clone(), *label);
        }
    }
    map
}

/// The part of a list line that may hold a range, or `None` for a blank or comment-only line:
/// the text before any `#` or `;` comment, and of that the first word, since some lists carry
/// extra columns after the range, unless the line is an `a - b` range. It borrows from the line:
/// lists run to hundreds of thousands of lines, and a copy of each was most of the parse time.
fn range_text(line: &str) -> Option<&str> {
    // Both markers are ASCII, so a byte search finds the same place as a char search, faster.
    let content = match line.bytes().position(|byte| byte == b'#' || byte == b';') {
        Some(comment) => &line[..comment],
        None => line,
    }
    .trim();
    let mut words = content.split_whitespace();
    let first = words.next()?;
    if words.next() == Some("-") && words.next().is_some() {
        Some(content)
    } else {
        Some(first)
    }
}

/// The list files in `dir` (regular files, not hidden), sorted by name.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .file_type()
                .map(|kind| kind.is_file())
                .unwrap_or(false)
        })
        .map(|entry| entry.path())
        .filter(|path| {
            !path
                .file_name()
                .map(|name| name.to_string_lossy().starts_with('.'))
                .unwrap_or(true)
        })
        .collect();
    files.sort();
    Ok(files)
}

/// What identifies the folder's state: names, sizes and modification times. A change in any
/// means the lists must be reloaded.
pub fn folder_state(dir: &Path) -> Result<Vec<(PathBuf, u64, SystemTime)>, std::io::Error> {
    let mut state = Vec::new();
    for path in list_files(dir)? {
        let meta = std::fs::metadata(&path)?;
        state.push((
            path,
            meta.len(),
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        ));
    }
    Ok(state)
}

/// One tenant's own black- and whitelist.
#[derive(Debug, Clone, Default)]
pub struct TenantIpLists {
    /// Always let in.
    pub whitelist: RangeTable<()>,
    /// Always kept out.
    pub blacklist: RangeTable<()>,
}

/// Counts of ranges per kind, for the start-up log.
pub fn summarize(tables: &IpListTables) -> HashMap<&'static str, usize> {
    let mut counts = HashMap::new();
    for file in &tables.files {
        *counts.entry(file.kind.tag()).or_insert(0) += file.entries;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ips_cidrs_and_ranges() {
        assert_eq!(
            parse_range("1.2.3.4"),
            Some(IpRange::V4(0x01020304, 0x01020304))
        );
        assert_eq!(
            parse_range("10.0.0.0/8"),
            Some(IpRange::V4(0x0a000000, 0x0affffff))
        );
        assert_eq!(
            parse_range("1.2.3.4 - 1.2.3.9"),
            Some(IpRange::V4(0x01020304, 0x01020309))
        );
        assert!(matches!(
            parse_range("2001:db8::/32"),
            Some(IpRange::V6(_, _))
        ));
        // A host-bits-set CIDR still means its network.
        assert_eq!(
            parse_range("10.1.2.3/8"),
            Some(IpRange::V4(0x0a000000, 0x0affffff))
        );
        for bad in ["", "1.2.3", "1.2.3.4/33", "9.9.9.9 - 1.1.1.1", "hello"] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn files_are_tagged_by_header_or_name_and_looked_up_per_kind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("datacenter-aws.txt"),
            "# AWS ranges\n3.0.0.0/9\n52.0.0.0/11 extra columns\n\n2600:1f00::/24\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("exits.list"),
            "# kind: tor\n# label: Tor exit\n185.220.101.1\n185.220.101.2 ; trailing\nnot-an-ip\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("mystery.txt"), "1.1.1.1\n").unwrap();
        // Overlaps a datacenter range: both must be reported.
        std::fs::write(dir.path().join("reputation-firehol.netset"), "3.3.3.0/24\n").unwrap();

        let (tables, warnings) = IpListTables::load_dir(dir.path()).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("mystery.txt"));
        assert_eq!(tables.entries(), 6);

        let hit = tables.lookup("3.3.3.3".parse().unwrap());
        assert_eq!(hit.get(ListKind::Datacenter), Some("aws"));
        assert_eq!(hit.get(ListKind::Reputation), Some("firehol"));
        assert!(!hit.contains(ListKind::Tor));
        let tor = tables.lookup("185.220.101.2".parse().unwrap());
        assert_eq!(tor.get(ListKind::Tor), Some("Tor exit"));
        let v6 = tables.lookup("2600:1f00::1".parse().unwrap());
        assert!(v6.contains(ListKind::Datacenter));
        let mapped = tables.lookup("::ffff:185.220.101.1".parse().unwrap());
        assert!(
            mapped.contains(ListKind::Tor),
            "IPv4-mapped IPv6 is looked up as IPv4"
        );
        assert_eq!(
            tables.lookup("8.8.8.8".parse().unwrap()),
            ListMatches::default()
        );
        let tor_file = tables
            .files
            .iter()
            .find(|file| file.kind == ListKind::Tor)
            .unwrap();
        assert_eq!(tor_file.skipped_lines, 1);
    }

    /// A small deterministic xorshift, so the test needs no random-number crate.
    fn next_random(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// The map `build_map` must equal: `ranges` inserted one by one, in order.
    fn inserted_in_order<K: Ord + Copy + StepLite>(
        ranges: &[Labelled<K>],
    ) -> RangeInclusiveMap<K, u32> {
        let mut map = RangeInclusiveMap::new();
        for &(start, end, label) in ranges {
            map.insert(start..=end, label);
        }
        map
    }

    #[test]
    fn bulk_built_maps_equal_inserting_in_list_order() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for round in 0..2_000 {
            // A small key space makes overlaps, nesting, touching and duplicates common.
            let space = 8 + round % 200;
            let count = 1 + (next_random(&mut state) % 40) as usize;
            let ranges: Vec<Labelled<u32>> = (0..count)
                .map(|_| {
                    let a = (next_random(&mut state) % space) as u32;
                    let b = (next_random(&mut state) % space) as u32;
                    let label = (next_random(&mut state) % 3) as u32;
                    (a.min(b), a.max(b), label)
                })
                .collect();
            let expected = inserted_in_order(&ranges);
            let built = build_map(ranges.clone());
            assert_eq!(
                built.iter().collect::<Vec<_>>(),
                expected.iter().collect::<Vec<_>>(),
                "{ranges:?}"
            );
        }
        // The ends of the key space, where a step past the end would overflow.
        let edges = vec![
            (u128::MAX - 5, u128::MAX, 1),
            (0, 3, 1),
            (u128::MAX - 2, u128::MAX, 2),
            (4, 9, 1),
        ];
        let expected = inserted_in_order(&edges);
        assert_eq!(
            build_map(edges).iter().collect::<Vec<_>>(),
            expected.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn later_files_override_earlier_ones_of_the_same_kind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("datacenter-a.txt"),
            "10.0.0.0/8\n10.1.0.0/16\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("datacenter-b.txt"), "10.1.2.0/24\n").unwrap();
        std::fs::write(dir.path().join("datacenter-c.txt"), "10.1.2.128/25\n").unwrap();
        let (tables, _) = IpListTables::load_dir(dir.path()).unwrap();
        let label = |ip: &str| {
            tables
                .lookup(ip.parse().unwrap())
                .get(ListKind::Datacenter)
                .map(str::to_string)
        };
        assert_eq!(label("10.9.9.9").as_deref(), Some("a"));
        assert_eq!(label("10.1.9.9").as_deref(), Some("a"));
        assert_eq!(label("10.1.2.1").as_deref(), Some("b"));
        assert_eq!(label("10.1.2.200").as_deref(), Some("c"));
        // /8 of a, with b's /24 cut out of it and c's /25 cut out of b's.
        assert_eq!(tables.tables[ListKind::Datacenter.index()].len(), 4);
    }

    #[test]
    fn a_line_yields_the_text_that_may_hold_its_range() {
        for (line, expected) in [
            ("", None),
            ("   ", None),
            ("# a comment", None),
            ("; a comment", None),
            ("1.2.3.4", Some("1.2.3.4")),
            ("  1.2.3.0/24  ", Some("1.2.3.0/24")),
            ("1.2.3.0/24 extra columns", Some("1.2.3.0/24")),
            ("1.2.3.4 # trailing", Some("1.2.3.4")),
            ("1.2.3.4;trailing", Some("1.2.3.4")),
            ("1.2.3.4 - 1.2.3.9", Some("1.2.3.4 - 1.2.3.9")),
            ("1.2.3.4 - 1.2.3.9 extra", Some("1.2.3.4 - 1.2.3.9 extra")),
            ("1.2.3.4 -", Some("1.2.3.4")),
            ("1.2.3.4-1.2.3.9 extra", Some("1.2.3.4-1.2.3.9")),
        ] {
            assert_eq!(range_text(line), expected, "{line:?}");
        }
    }

    #[test]
    fn range_edges_are_inclusive() {
        let mut tables = IpListTables::empty();
        tables.insert(ListKind::Proxy, parse_range("10.0.0.0/30").unwrap(), "p");
        for (ip, expected) in [
            ("9.255.255.255", false),
            ("10.0.0.0", true),
            ("10.0.0.3", true),
            ("10.0.0.4", false),
        ] {
            assert_eq!(
                tables.lookup(ip.parse().unwrap()).contains(ListKind::Proxy),
                expected,
                "{ip}"
            );
        }
    }
}
