//! Geography and network owner of an IP, read from MaxMind-format (`.mmdb`) databases.
//!
//! Up to three databases are opened at start-up and held in memory (no disk I/O per lookup):
//! a city database, an ASN database and an ISP database, each optional. Two record layouts
//! are understood, whatever slot a file is configured in:
//!
//! - the nested GeoIP2 layout of MaxMind's GeoIP2 / GeoLite2 databases and DB-IP's lite
//!   `.mmdb` files: `city.names.en`, `subdivisions[0..2].names.en`, `postal.code`,
//!   `country.names.en` + `country.iso_code`, `location.{latitude,longitude,time_zone}`,
//!   `traits.*` (Enterprise), and the flat `autonomous_system_number`,
//!   `autonomous_system_organization`, `isp` of the ASN and ISP databases;
//! - the flat layout of the `@ip-location-db/*-mmdb` npm packages: `city`, `country_code`,
//!   `state1`, `state2`, `postcode`, `latitude`, `longitude` (stored as 32-bit floats),
//!   `timezone`, and `autonomous_system_number`, `autonomous_system_organization`.
//!
//! Flat databases carry only the ISO country code; `country` then repeats the code. No name
//! table is bundled: the maintained crates give ISO's formal names ("United Kingdom of Great
//! Britain and Northern Ireland"), which differ from MaxMind's ("United Kingdom"), so the same
//! IP would be named differently per database. Rules should key on `country_code`.
//!
//! The `@ip-location-db` city packages ship IPv4 and IPv6 in two files (`*-ipv4.mmdb`,
//! `*-ipv6.mmdb`). When a configured file name contains `-ipv4.` or `-ipv6.` and the file
//! with the other version next to it exists, that file is opened too.
//!
//! Where databases overlap, the first to give a field wins, in the order city, ISP, ASN.
//! Decoding borrows strings from the in-memory database; a lookup allocates only the
//! `String`s of the facts it returns.

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::Reader;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Geography and network owner of an IP, as far as the configured databases know. Empty
/// strings / 0 / None when unknown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoFacts {
    /// City name, in English.
    pub city: String,
    /// Second-level subdivision (county, district), in English.
    pub district: String,
    /// First-level subdivision (state, region, constituent country), in English.
    pub region: String,
    /// Postal code.
    pub postcode: String,
    /// Country name in English; the ISO code again when the database only carries the code.
    pub country: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `GB`.
    pub country_code: String,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
    /// IANA time zone, e.g. `Europe/London`.
    pub timezone: String,
    /// Autonomous system number; 0 when unknown.
    pub asn: u32,
    /// Organisation that owns the autonomous system.
    pub company: String,
    /// Internet service provider (ISP and Enterprise databases only).
    pub isp: String,
    /// MaxMind's (deprecated) `traits.is_anonymous_proxy` flag of City/Enterprise databases.
    pub is_anonymous_proxy: bool,
}

/// Paths of the databases to open; any may be absent.
#[derive(Debug, Clone, Default)]
pub struct GeoPaths {
    /// City database (GeoIP2/GeoLite2-City, DB-IP city lite, `@ip-location-db` city).
    pub city: Option<PathBuf>,
    /// ASN database (GeoLite2-ASN, `@ip-location-db` asn).
    pub asn: Option<PathBuf>,
    /// ISP database (GeoIP2-ISP).
    pub isp: Option<PathBuf>,
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read: missing, a folder, or no permission.
    #[error("cannot read the GeoIP {kind} database {path}: {detail}; fix or unset `{config_key}`")]
    Read {
        /// Which database: `city`, `asn` or `isp`.
        kind: &'static str,
        /// The file.
        path: String,
        /// The setting that names the file.
        config_key: &'static str,
        /// The operating system's reason.
        detail: String,
    },
    /// The file was read but is not a usable MaxMind DB file.
    #[error(
        "the GeoIP {kind} database {path} is not a valid .mmdb file: {detail}; fix or unset `{config_key}`"
    )]
    Invalid {
        /// Which database: `city`, `asn` or `isp`.
        kind: &'static str,
        /// The file.
        path: String,
        /// The setting that names the file.
        config_key: &'static str,
        /// The reader's reason.
        detail: String,
    },
}

/// The opened databases, loaded in memory (no disk I/O per lookup). Send + Sync.
pub struct GeoDatabases {
    city: Vec<Database>,
    asn: Vec<Database>,
    isp: Vec<Database>,
}

#[derive(Clone, Copy)]
enum Kind {
    City,
    Asn,
    Isp,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::City => "city",
            Kind::Asn => "asn",
            Kind::Isp => "isp",
        }
    }

    fn config_key(self) -> &'static str {
        match self {
            Kind::City => "geoip_city_db",
            Kind::Asn => "geoip_asn_db",
            Kind::Isp => "geoip_isp_db",
        }
    }
}

struct Database {
    reader: Reader<Vec<u8>>,
    path: PathBuf,
    ipv4_only: bool,
}

impl Database {
    fn open(kind: Kind, path: &Path) -> Result<Self, GeoError> {
        let bytes = std::fs::read(path).map_err(|error| GeoError::Read {
            kind: kind.name(),
            path: path.display().to_string(),
            config_key: kind.config_key(),
            detail: error.to_string(),
        })?;
        let reader = Reader::from_source(bytes).map_err(|error| GeoError::Invalid {
            kind: kind.name(),
            path: path.display().to_string(),
            config_key: kind.config_key(),
            detail: error.to_string(),
        })?;
        let ipv4_only = reader.metadata().ip_version == 4;
        Ok(Self {
            reader,
            path: path.to_path_buf(),
            ipv4_only,
        })
    }

    fn describe(&self, out: &mut String) {
        let metadata = self.reader.metadata();
        let (year, month, day) = civil_date(metadata.build_epoch);
        let file = self
            .path
            .file_name()
            .map(|name| name.to_string_lossy())
            .unwrap_or_default();
        let _ = write!(
            out,
            "{} ({year:04}-{month:02}-{day:02}, IPv{}, {file})",
            metadata.database_type, metadata.ip_version
        );
    }
}

impl GeoDatabases {
    /// Opens and loads every configured database. No path at all gives an empty set, which
    /// answers every lookup with default facts.
    pub fn open(paths: &GeoPaths) -> Result<Self, GeoError> {
        Ok(Self {
            city: open_kind(Kind::City, paths.city.as_deref())?,
            asn: open_kind(Kind::Asn, paths.asn.as_deref())?,
            isp: open_kind(Kind::Isp, paths.isp.as_deref())?,
        })
    }

    /// True when no database is configured.
    pub fn is_empty(&self) -> bool {
        self.city.is_empty() && self.asn.is_empty() && self.isp.is_empty()
    }

    /// What the databases know about `ip` (IPv4-mapped IPv6 is looked up as IPv4). Never
    /// panics; an IP no database holds gives default facts.
    pub fn lookup(&self, ip: IpAddr) -> GeoFacts {
        let ip = ip.to_canonical();
        let mut facts = GeoFacts::default();
        for databases in [&self.city, &self.isp, &self.asn] {
            for database in databases {
                if database.ipv4_only && ip.is_ipv6() {
                    continue;
                }
                let Ok(result) = database.reader.lookup(ip) else {
                    continue;
                };
                if let Ok(Some(record)) = result.decode::<Record<'_>>() {
                    record.fill(&mut facts);
                    break;
                }
            }
        }
        facts
    }

    /// The build time (Unix seconds) of the newest database of each configured kind, for the
    /// data-age metric: `("geoip_city", 1770163200)`.
    pub fn build_epochs(&self) -> Vec<(&'static str, u64)> {
        [
            ("geoip_city", &self.city),
            ("geoip_asn", &self.asn),
            ("geoip_isp", &self.isp),
        ]
        .into_iter()
        .filter_map(|(table, databases)| {
            databases
                .iter()
                .map(|database| database.reader.metadata().build_epoch)
                .max()
                .map(|epoch| (table, epoch))
        })
        .collect()
    }

    /// One line for the start-up log naming each database, its build date and file, e.g.
    /// `city: GeoIP2-City (2026-02-04, IPv6, GeoIP2-City.mmdb); asn: GeoLite2-ASN (...)`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (kind, databases) in [
            (Kind::City, &self.city),
            (Kind::Asn, &self.asn),
            (Kind::Isp, &self.isp),
        ] {
            if databases.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(kind.name());
            out.push_str(": ");
            for (index, database) in databases.iter().enumerate() {
                if index > 0 {
                    out.push_str(" + ");
                }
                database.describe(&mut out);
            }
        }
        if out.is_empty() {
            out.push_str("none");
        }
        out
    }
}

impl fmt::Debug for GeoDatabases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GeoDatabases")
            .field(&self.describe())
            .finish()
    }
}

fn open_kind(kind: Kind, path: Option<&Path>) -> Result<Vec<Database>, GeoError> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let mut databases = vec![Database::open(kind, path)?];
    if let Some(sibling) = other_ip_version_file(path).filter(|sibling| sibling.is_file()) {
        databases.push(Database::open(kind, &sibling)?);
    }
    // IPv4-only files first: they answer IPv4 lookups; IPv6 lookups skip them.
    databases.sort_by_key(|database| !database.ipv4_only);
    Ok(databases)
}

/// `x-ipv4.mmdb` -> `x-ipv6.mmdb` and back, for databases split by IP version.
pub(crate) fn other_ip_version_file(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let other = if name.contains("-ipv4.") {
        name.replacen("-ipv4.", "-ipv6.", 1)
    } else if name.contains("-ipv6.") {
        name.replacen("-ipv6.", "-ipv4.", 1)
    } else {
        return None;
    };
    Some(path.with_file_name(other))
}

/// Year, month, day (UTC) of a Unix time.
pub(crate) fn civil_date(epoch_seconds: u64) -> (i64, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm.
    let days = i64::try_from(epoch_seconds / 86_400).unwrap_or(0) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

// ---------------------------------------------------------------------------------------------
// Decoding. One record type covers both layouts; every field is optional and unknown keys are
// skipped without being decoded. Values are decoded leniently (a number where a string was
// expected is ignored rather than failing the record), since third-party flat databases differ.

/// Every field either layout may carry.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Record<'a> {
    // Nested GeoIP2 layout.
    #[serde(borrow)]
    city: Named<'a>,
    #[serde(borrow)]
    country: Named<'a>,
    #[serde(borrow)]
    subdivisions: Subdivisions<'a>,
    #[serde(borrow)]
    postal: Postal<'a>,
    #[serde(borrow)]
    location: Location<'a>,
    #[serde(borrow)]
    traits: Traits<'a>,
    // Flat @ip-location-db layout.
    #[serde(borrow)]
    country_code: Leaf<'a>,
    #[serde(borrow)]
    state1: Leaf<'a>,
    #[serde(borrow)]
    state2: Leaf<'a>,
    #[serde(borrow)]
    postcode: Leaf<'a>,
    #[serde(borrow)]
    latitude: Leaf<'a>,
    #[serde(borrow)]
    longitude: Leaf<'a>,
    #[serde(borrow)]
    timezone: Leaf<'a>,
    // ASN and ISP databases (both layouts).
    #[serde(borrow)]
    autonomous_system_number: Leaf<'a>,
    #[serde(borrow)]
    autonomous_system_organization: Leaf<'a>,
    #[serde(borrow)]
    isp: Leaf<'a>,
}

impl Record<'_> {
    /// Sets each field of `facts` that is still unknown and that this record knows.
    fn fill(&self, facts: &mut GeoFacts) {
        fill_text(&mut facts.city, self.city.name.text());
        fill_text(
            &mut facts.region,
            first_text(self.subdivisions.first.name, self.state1),
        );
        fill_text(
            &mut facts.district,
            first_text(self.subdivisions.second.name, self.state2),
        );
        fill_text(
            &mut facts.postcode,
            first_text(self.postal.code, self.postcode),
        );
        let code = first_text(self.country.iso_code, self.country_code);
        fill_text(&mut facts.country_code, code);
        fill_text(
            &mut facts.country,
            first_text(self.country.name, Leaf::Str(code)),
        );
        if facts.latitude.is_none() && facts.longitude.is_none() {
            let (latitude, longitude) = match (self.location.latitude, self.location.longitude) {
                (Leaf::Absent, Leaf::Absent) => (self.latitude, self.longitude),
                nested => nested,
            };
            facts.latitude = latitude
                .number()
                .filter(|value| (-90.0..=90.0).contains(value));
            facts.longitude = longitude
                .number()
                .filter(|value| (-180.0..=180.0).contains(value));
        }
        fill_text(
            &mut facts.timezone,
            first_text(self.location.time_zone, self.timezone),
        );
        if facts.asn == 0 {
            facts.asn = match self.autonomous_system_number.asn() {
                0 => self.traits.autonomous_system_number.asn(),
                asn => asn,
            };
        }
        fill_text(
            &mut facts.company,
            first_text(
                self.autonomous_system_organization,
                self.traits.autonomous_system_organization,
            ),
        );
        fill_text(&mut facts.isp, first_text(self.isp, self.traits.isp));
        facts.is_anonymous_proxy |= self.traits.is_anonymous_proxy.flag();
    }
}

fn first_text<'a>(preferred: Leaf<'a>, fallback: Leaf<'a>) -> &'a str {
    match preferred.text() {
        "" => fallback.text(),
        text => text,
    }
}

fn fill_text(slot: &mut String, value: &str) {
    if slot.is_empty() && !value.is_empty() {
        value.clone_into(slot);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Names<'a> {
    #[serde(borrow)]
    en: Leaf<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Postal<'a> {
    #[serde(borrow)]
    code: Leaf<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Location<'a> {
    #[serde(borrow)]
    latitude: Leaf<'a>,
    #[serde(borrow)]
    longitude: Leaf<'a>,
    #[serde(borrow)]
    time_zone: Leaf<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Traits<'a> {
    #[serde(borrow)]
    is_anonymous_proxy: Leaf<'a>,
    #[serde(borrow)]
    autonomous_system_number: Leaf<'a>,
    #[serde(borrow)]
    autonomous_system_organization: Leaf<'a>,
    #[serde(borrow)]
    isp: Leaf<'a>,
}

/// A scalar value of any MaxMind DB type; maps and arrays are skipped and read as absent.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
enum Leaf<'a> {
    #[default]
    Absent,
    Str(&'a str),
    Float(f64),
    Unsigned(u64),
    Signed(i64),
    Bool(bool),
}

impl<'a> Leaf<'a> {
    fn text(self) -> &'a str {
        match self {
            Leaf::Str(text) => text,
            _ => "",
        }
    }

    fn number(self) -> Option<f64> {
        let value = match self {
            Leaf::Float(value) => value,
            Leaf::Unsigned(value) => value as f64,
            Leaf::Signed(value) => value as f64,
            Leaf::Str(text) => text.trim().parse().ok()?,
            Leaf::Absent | Leaf::Bool(_) => return None,
        };
        value.is_finite().then_some(value)
    }

    fn asn(self) -> u32 {
        match self {
            Leaf::Unsigned(value) => u32::try_from(value).unwrap_or(0),
            Leaf::Signed(value) => u32::try_from(value).unwrap_or(0),
            Leaf::Float(value)
                if value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value) =>
            {
                value as u32
            }
            Leaf::Str(text) => {
                let text = text.trim();
                let digits = text
                    .strip_prefix("AS")
                    .or_else(|| text.strip_prefix("as"))
                    .unwrap_or(text);
                digits.parse().unwrap_or(0)
            }
            _ => 0,
        }
    }

    fn flag(self) -> bool {
        match self {
            Leaf::Bool(value) => value,
            Leaf::Unsigned(value) => value != 0,
            Leaf::Signed(value) => value != 0,
            _ => false,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Leaf<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LeafVisitor)
    }
}

struct LeafVisitor;

impl<'de> Visitor<'de> for LeafVisitor {
    type Value = Leaf<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any MaxMind DB value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Leaf::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Leaf::Signed(value))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Self::Value, E> {
        Ok(i64::try_from(value).map_or(Leaf::Absent, Leaf::Signed))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Leaf::Unsigned(value))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Self::Value, E> {
        Ok(u64::try_from(value).map_or(Leaf::Absent, Leaf::Unsigned))
    }

    fn visit_f32<E: de::Error>(self, value: f32) -> Result<Self::Value, E> {
        Ok(Leaf::Float(f32_to_f64(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Leaf::Float(value))
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Leaf::Str(value))
    }

    fn visit_str<E: de::Error>(self, _value: &str) -> Result<Self::Value, E> {
        Ok(Leaf::Absent)
    }

    fn visit_bytes<E: de::Error>(self, _value: &[u8]) -> Result<Self::Value, E> {
        Ok(Leaf::Absent)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Leaf::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Leaf::Absent)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq)?;
        Ok(Leaf::Absent)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map)?;
        Ok(Leaf::Absent)
    }
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// The f64 nearest the shortest decimal that round-trips `value`: the flat databases store
/// coordinates as f32, and 51.5142_f32 should read as 51.5142, not 51.514198303222656.
fn f32_to_f64(value: f32) -> f64 {
    let mut buffer = StackText::default();
    match write!(buffer, "{value}") {
        Ok(()) => buffer.as_str().parse().unwrap_or(f64::from(value)),
        Err(_) => f64::from(value),
    }
}

/// A small fixed-size text buffer, so formatting a float does not allocate.
#[derive(Default)]
struct StackText {
    bytes: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Visitor methods that read any scalar as `$empty`, for values of an unexpected type.
macro_rules! ignore_scalars {
    ($empty:expr) => {
        fn visit_bool<E: de::Error>(self, _value: bool) -> Result<Self::Value, E> {
            Ok($empty)
        }

        fn visit_i64<E: de::Error>(self, _value: i64) -> Result<Self::Value, E> {
            Ok($empty)
        }

        fn visit_u64<E: de::Error>(self, _value: u64) -> Result<Self::Value, E> {
            Ok($empty)
        }

        fn visit_u128<E: de::Error>(self, _value: u128) -> Result<Self::Value, E> {
            Ok($empty)
        }

        fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Self::Value, E> {
            Ok($empty)
        }

        fn visit_str<E: de::Error>(self, _value: &str) -> Result<Self::Value, E> {
            Ok($empty)
        }

        fn visit_bytes<E: de::Error>(self, _value: &[u8]) -> Result<Self::Value, E> {
            Ok($empty)
        }
    };
}

/// A place: a map with `names.en` and `iso_code` (GeoIP2), or a bare string (flat layout).
#[derive(Clone, Copy, Default)]
struct Named<'a> {
    name: Leaf<'a>,
    iso_code: Leaf<'a>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Named<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NamedVisitor)
    }
}

struct NamedVisitor;

impl<'de> Visitor<'de> for NamedVisitor {
    type Value = Named<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map with names, or a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Named {
            name: Leaf::Str(value),
            iso_code: Leaf::Absent,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut named = Named::default();
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "names" => named.name = map.next_value::<Names<'de>>()?.en,
                "iso_code" => named.iso_code = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(named)
    }

    ignore_scalars!(Named::default());

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq)?;
        Ok(Named::default())
    }
}

/// The first two entries of `subdivisions` (region, then district); the rest are skipped.
#[derive(Clone, Copy, Default)]
struct Subdivisions<'a> {
    first: Named<'a>,
    second: Named<'a>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Subdivisions<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SubdivisionsVisitor)
    }
}

struct SubdivisionsVisitor;

impl<'de> Visitor<'de> for SubdivisionsVisitor {
    type Value = Subdivisions<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of subdivisions")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut subdivisions = Subdivisions::default();
        if let Some(first) = seq.next_element()? {
            subdivisions.first = first;
            if let Some(second) = seq.next_element()? {
                subdivisions.second = second;
                skip_seq(seq)?;
            }
        }
        Ok(subdivisions)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map)?;
        Ok(Subdivisions::default())
    }

    ignore_scalars!(Subdivisions::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where scripts/fetch-test-mmdb.sh puts the test databases.
    fn test_data_dir() -> PathBuf {
        let base = match std::env::var_os("GATEHOUSE_TEST_DATA") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => {
                let home = std::env::var_os("HOME").unwrap_or_default();
                PathBuf::from(home)
                    .join(".cache")
                    .join("gatehouse-test-data")
            }
        };
        base.join("mmdb")
    }

    /// The path of one test database; fails the test, saying how to get it, when absent.
    fn test_db(name: &str) -> PathBuf {
        let path = test_data_dir().join(name);
        assert!(
            path.is_file(),
            "test database {} is missing: run scripts/fetch-test-mmdb.sh \
             (it honours GATEHOUSE_TEST_DATA, as these tests do)",
            path.display()
        );
        path
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn open(city: Option<&str>, asn: Option<&str>, isp: Option<&str>) -> GeoDatabases {
        GeoDatabases::open(&GeoPaths {
            city: city.map(test_db),
            asn: asn.map(test_db),
            isp: isp.map(test_db),
        })
        .unwrap()
    }

    fn text(value: &str) -> String {
        value.to_string()
    }

    #[test]
    fn maxmind_city_ipv4_known_answers() {
        let db = open(Some("GeoIP2-City-Test.mmdb"), None, None);
        assert_eq!(
            db.lookup(ip("81.2.69.160")),
            GeoFacts {
                city: text("London"),
                region: text("England"),
                country: text("United Kingdom"),
                country_code: text("GB"),
                latitude: Some(51.5142),
                longitude: Some(-0.0931),
                timezone: text("Europe/London"),
                ..GeoFacts::default()
            }
        );
        assert_eq!(
            db.lookup(ip("2.125.160.216")),
            GeoFacts {
                city: text("Boxford"),
                district: text("West Berkshire"),
                region: text("England"),
                postcode: text("OX1"),
                country: text("United Kingdom"),
                country_code: text("GB"),
                latitude: Some(51.75),
                longitude: Some(-1.25),
                timezone: text("Europe/London"),
                ..GeoFacts::default()
            }
        );
        let sweden = db.lookup(ip("89.160.20.112"));
        assert_eq!(sweden.city, "Linköping");
        assert_eq!(sweden.region, "Östergötland County");
        assert_eq!(sweden.country, "Sweden");
        assert_eq!(sweden.country_code, "SE");
        assert_eq!(sweden.timezone, "Europe/Stockholm");
        let milton = db.lookup(ip("216.160.83.56"));
        assert_eq!(
            (
                milton.city.as_str(),
                milton.region.as_str(),
                milton.postcode.as_str()
            ),
            ("Milton", "Washington", "98354")
        );
    }

    #[test]
    fn maxmind_city_ipv6_and_mapped_ipv4() {
        let db = open(Some("GeoIP2-City-Test.mmdb"), None, None);
        assert_eq!(
            db.lookup(ip("2001:218::1")),
            GeoFacts {
                country: text("Japan"),
                country_code: text("JP"),
                latitude: Some(35.68536),
                longitude: Some(139.75309),
                timezone: text("Asia/Tokyo"),
                ..GeoFacts::default()
            }
        );
        assert_eq!(db.lookup(ip("2a02:cf40::1")).country_code, "NO");
        assert_eq!(
            db.lookup(ip("::ffff:81.2.69.160")),
            db.lookup(ip("81.2.69.160"))
        );
        // The GeoLite2 test database has the same layout.
        let lite = open(Some("GeoLite2-City-Test.mmdb"), None, None);
        assert_eq!(lite.lookup(ip("81.2.69.160")).city, "London");
    }

    #[test]
    fn maxmind_asn_known_answers() {
        let db = open(None, Some("GeoLite2-ASN-Test.mmdb"), None);
        assert_eq!(
            db.lookup(ip("1.128.0.0")),
            GeoFacts {
                asn: 1221,
                company: text("Telstra Pty Ltd"),
                ..GeoFacts::default()
            }
        );
        let ipv6 = db.lookup(ip("2600:6000::1"));
        assert_eq!(
            (ipv6.asn, ipv6.company.as_str()),
            (237, "Merit Network Inc.")
        );
        let att = db.lookup(ip("12.81.92.0"));
        assert_eq!((att.asn, att.company.as_str()), (7018, "AT&T Services"));
    }

    #[test]
    fn maxmind_isp_and_merge_order() {
        let isp = open(None, None, Some("GeoIP2-ISP-Test.mmdb"));
        assert_eq!(
            isp.lookup(ip("149.101.100.0")),
            GeoFacts {
                asn: 6167,
                company: text("CELLCO-PART"),
                isp: text("Verizon Wireless"),
                ..GeoFacts::default()
            }
        );
        // The ISP record for 12.81.92.0 has no AS organisation; the ASN database fills it.
        let all = open(
            Some("GeoIP2-City-Test.mmdb"),
            Some("GeoLite2-ASN-Test.mmdb"),
            Some("GeoIP2-ISP-Test.mmdb"),
        );
        let att = all.lookup(ip("12.81.92.0"));
        assert_eq!(
            (att.asn, att.company.as_str(), att.isp.as_str()),
            (7018, "AT&T Services", "AT&T Services")
        );
        let london = all.lookup(ip("81.2.69.160"));
        assert_eq!((london.city.as_str(), london.asn), ("London", 0));
    }

    #[test]
    fn enterprise_database_in_the_city_slot_gives_network_owner_too() {
        let db = open(Some("GeoIP2-Enterprise-Test.mmdb"), None, None);
        let facts = db.lookup(ip("89.160.20.112"));
        assert_eq!(facts.city, "Linköping");
        assert_eq!(
            (facts.asn, facts.company.as_str(), facts.isp.as_str()),
            (29518, "Bredband2 AB", "Bredband2 AB")
        );
        assert!(!facts.is_anonymous_proxy);
    }

    #[test]
    fn ip_in_no_database_gives_default_facts() {
        let db = open(
            Some("GeoIP2-City-Test.mmdb"),
            Some("GeoLite2-ASN-Test.mmdb"),
            Some("GeoIP2-ISP-Test.mmdb"),
        );
        for unknown in [
            "10.0.0.1",
            "1.1.1.1",
            "::1",
            "2001:db8::1",
            "0.0.0.0",
            "255.255.255.255",
        ] {
            assert_eq!(db.lookup(ip(unknown)), GeoFacts::default(), "{unknown}");
        }
    }

    #[test]
    fn flat_ip_location_db_layout() {
        let db = open(Some("flat-city-ipv4.mmdb"), Some("flat-asn.mmdb"), None);
        // Both halves of the split city database are open.
        let description = db.describe();
        assert!(description.contains("flat-city-ipv4.mmdb"), "{description}");
        assert!(description.contains("flat-city-ipv6.mmdb"), "{description}");
        assert_eq!(
            db.lookup(ip("81.2.69.160")),
            GeoFacts {
                city: text("London"),
                region: text("England"),
                country: text("GB"),
                country_code: text("GB"),
                // Stored as f32; read back as the decimal the data author wrote.
                latitude: Some(51.5142),
                longitude: Some(-0.0931),
                ..GeoFacts::default()
            }
        );
        assert_eq!(
            db.lookup(ip("2.125.160.216")),
            GeoFacts {
                city: text("Boxford"),
                district: text("West Berkshire"),
                region: text("England"),
                postcode: text("OX1"),
                country: text("GB"),
                country_code: text("GB"),
                latitude: Some(51.75),
                longitude: Some(-1.25),
                timezone: text("Europe/London"),
                ..GeoFacts::default()
            }
        );
        assert_eq!(
            db.lookup(ip("2a02:cf40::1")),
            GeoFacts {
                country: text("NO"),
                country_code: text("NO"),
                latitude: Some(62.0),
                longitude: Some(10.0),
                timezone: text("Europe/Oslo"),
                ..GeoFacts::default()
            }
        );
        let telstra = db.lookup(ip("1.128.0.1"));
        assert_eq!(
            (telstra.asn, telstra.company.as_str()),
            (1221, "Telstra Pty Ltd")
        );
        assert_eq!(db.lookup(ip("::ffff:1.128.0.1")).asn, 1221);
        assert_eq!(db.lookup(ip("2600:6000::1")).asn, 237);
        assert_eq!(db.lookup(ip("8.8.8.8")), GeoFacts::default());
    }

    #[test]
    fn configuring_the_ipv6_half_opens_the_ipv4_half() {
        let db = open(Some("flat-city-ipv6.mmdb"), None, None);
        assert_eq!(db.lookup(ip("81.2.69.160")).city, "London");
        assert_eq!(db.lookup(ip("2a02:cf40::1")).country_code, "NO");
    }

    #[test]
    fn missing_file_is_an_error_naming_the_path_and_setting() {
        let path = std::env::temp_dir().join("gatehouse-no-such-dir/GeoLite2-City.mmdb");
        let error = GeoDatabases::open(&GeoPaths {
            city: Some(path.clone()),
            ..GeoPaths::default()
        })
        .unwrap_err();
        assert!(
            matches!(error, GeoError::Read { kind: "city", .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("geoip_city_db"), "{message}");
    }

    #[test]
    fn non_mmdb_file_is_an_error_naming_the_path_and_setting() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("asn.mmdb");
        std::fs::write(&garbage, b"this is not a MaxMind DB file\n".repeat(100)).unwrap();
        let empty = dir.path().join("empty.mmdb");
        std::fs::write(&empty, b"").unwrap();
        for path in [garbage, empty] {
            let error = GeoDatabases::open(&GeoPaths {
                asn: Some(path.clone()),
                ..GeoPaths::default()
            })
            .unwrap_err();
            assert!(
                matches!(error, GeoError::Invalid { kind: "asn", .. }),
                "{error:?}"
            );
            let message = error.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("geoip_asn_db"), "{message}");
        }
        // A folder where a file was expected.
        let error = GeoDatabases::open(&GeoPaths {
            isp: Some(dir.path().to_path_buf()),
            ..GeoPaths::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("geoip_isp_db"), "{error}");
    }

    #[test]
    fn no_database_configured() {
        let db = GeoDatabases::open(&GeoPaths::default()).unwrap();
        assert!(db.is_empty());
        assert_eq!(db.describe(), "none");
        assert_eq!(db.lookup(ip("81.2.69.160")), GeoFacts::default());
    }

    #[test]
    fn describe_names_type_date_and_file() {
        let db = open(
            Some("GeoIP2-City-Test.mmdb"),
            Some("GeoLite2-ASN-Test.mmdb"),
            None,
        );
        assert!(!db.is_empty());
        let description = db.describe();
        assert!(
            description.starts_with("city: GeoIP2-City (20")
                && description.contains("GeoIP2-City-Test.mmdb")
                && description.contains("; asn: GeoLite2-ASN (20"),
            "{description}"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(civil_date(1_700_000_000), (2023, 11, 14));
    }

    #[test]
    fn f32_coordinates_read_as_written() {
        assert_eq!(f32_to_f64(51.5142), 51.5142);
        assert_eq!(f32_to_f64(-0.0931), -0.0931);
        assert_eq!(f32_to_f64(1.0e-30), 1.0e-30);
        assert_eq!(f32_to_f64(f32::MAX), f64::from(f32::MAX));
    }

    #[test]
    fn lenient_values() {
        assert_eq!(Leaf::Str("AS13335").asn(), 13335);
        assert_eq!(Leaf::Unsigned(u64::MAX).asn(), 0);
        assert_eq!(Leaf::Str(" 12.5 ").number(), Some(12.5));
        assert_eq!(Leaf::Float(f64::NAN).number(), None);
        assert!(Leaf::Bool(true).flag());
    }

    #[test]
    fn databases_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<GeoDatabases>();
    }
}
