//! Every built-in feed against a local HTTP server that serves each publisher's real layout
//! (the samples in `server/tests/fixtures/feeds/`), and the safety rules: a `304` changes
//! nothing; a truncated, empty, oversized or malformed download, or one that shrank too much,
//! keeps the last good data and is reported.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
};

use super::*;
use crate::intel::{
    geo::{GeoDatabases, GeoPaths},
    hosting::{HostingAsns, HostingSettings},
    ip_lists::IpListTables,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/feeds")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Where scripts/fetch-test-mmdb.sh puts the MaxMind test databases.
fn test_mmdb(name: &str) -> Vec<u8> {
    let base = std::env::var_os("GATEHOUSE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/gatehouse-test-data")
        });
    let path = base.join("mmdb").join(name);
    std::fs::read(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run scripts/fetch-test-mmdb.sh",
            path.display()
        )
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A `.tar.gz` in MaxMind's layout: a dated folder with the licence files and the database.
fn maxmind_tar_gz(edition: &str, bytes: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let folder = format!("{edition}_20240517");
    for (name, content) in [
        ("COPYRIGHT.txt", b"Database and Contents Copyright (c) 2024 MaxMind, Inc.\n".as_slice()),
        ("LICENSE.txt", b"Use of this MaxMind product is governed by MaxMind's GeoLite2 End User License Agreement\n".as_slice()),
        (&format!("{edition}.mmdb"), bytes),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("{folder}/{name}"), content)
            .unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

#[derive(Clone)]
struct Route {
    body: Vec<u8>,
    etag: Option<String>,
}

type Routes = Arc<Mutex<HashMap<String, Route>>>;

/// A publisher on 127.0.0.1: serves what `set` put at a path (and query), with `ETag`s and
/// `304`s, and counts requests.
struct Publisher {
    addr: SocketAddr,
    routes: Routes,
    _server: tokio::task::JoinHandle<()>,
}

async fn answer(State(routes): State<Routes>, uri: Uri, headers: HeaderMap) -> Response {
    let key = uri
        .path_and_query()
        .map(|path| path.as_str().to_string())
        .unwrap_or_default();
    let route = routes.lock().unwrap().get(&key).cloned();
    let Some(route) = route else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let (Some(etag), Some(sent)) = (&route.etag, headers.get("if-none-match")) {
        if sent.to_str().ok() == Some(etag.as_str()) {
            return StatusCode::NOT_MODIFIED.into_response();
        }
    }
    let mut response = route.body.into_response();
    if let Some(etag) = route.etag {
        response.headers_mut().insert("etag", etag.parse().unwrap());
    }
    response
}

impl Publisher {
    async fn start() -> Self {
        let routes: Routes = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(routes.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            routes,
            _server: server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn set(&self, path: &str, body: Vec<u8>, etag: Option<&str>) {
        self.routes.lock().unwrap().insert(
            path.to_string(),
            Route {
                body,
                etag: etag.map(str::to_string),
            },
        );
    }
}

/// The built-in feeds pointed at `publisher`, all enabled, in a fresh intel folder.
fn settings(publisher: &Publisher, dir: &Path) -> FeedSettings {
    let mut feeds = builtin_feeds(true);
    for feed in &mut feeds {
        feed.enabled = true;
        let path = match feed.name.as_str() {
            "azure" => "/en-us/download/details.aspx?id=56519".to_string(),
            "dbip-city-lite" => "/free/dbip-city-lite-{year}-{month}.mmdb.gz".to_string(),
            "dbip-asn-lite" => "/free/dbip-asn-lite-{year}-{month}.mmdb.gz".to_string(),
            "geolite2-city" => {
                "/app/geoip_download?edition_id=GeoLite2-City&license_key={license_key}&suffix=tar.gz"
                    .to_string()
            }
            "geolite2-asn" => {
                "/app/geoip_download?edition_id=GeoLite2-ASN&license_key={license_key}&suffix=tar.gz"
                    .to_string()
            }
            name => format!("/{name}"),
        };
        feed.url = publisher.url(&path);
    }
    FeedSettings {
        feeds,
        lists_dir: dir.join("lists"),
        geoip_dir: dir.join("geoip"),
        hosting_asns_dir: dir.join("hosting-asns"),
        state_file: dir.join("feeds-state.json"),
        max_download_bytes: 64 << 20,
        max_unpacked_bytes: 256 << 20,
        timeout: Duration::from_secs(20),
        max_shrink: DEFAULT_MAX_SHRINK,
        maxmind_license_key: Some("test-licence-key".into()),
    }
}

fn month_path(template: &str, months_back: u32) -> String {
    let (year, month, _) = crate::intel::geo::civil_date(now());
    let (year, month) = if months_back == 1 {
        if month == 1 {
            (year - 1, 12)
        } else {
            (year, month - 1)
        }
    } else {
        (year, month)
    };
    template
        .replace("{year}", &format!("{year:04}"))
        .replace("{month}", &format!("{month:02}"))
}

/// Serves every built-in feed's sample.
fn publish_all(publisher: &Publisher) {
    for (path, file) in [
        ("/tor-exits", "torbulkexitlist"),
        ("/aws", "aws-ip-ranges.json"),
        ("/google-cloud", "google-cloud.json"),
        ("/oracle-cloud", "oracle-public_ip_ranges.json"),
        ("/cloudflare-v4", "cloudflare-ips-v4"),
        ("/cloudflare-v6", "cloudflare-ips-v6"),
        ("/digitalocean", "digitalocean-google.csv"),
        ("/fastly", "fastly-public-ip-list.json"),
        ("/linode", "linode-geoip.csv"),
        ("/github", "github-meta.json"),
        ("/spamhaus-drop", "spamhaus-drop_v4.json"),
        ("/spamhaus-drop-v6", "spamhaus-drop_v6.json"),
        ("/spamhaus-edrop", "spamhaus-edrop.txt"),
        ("/firehol-level1", "firehol_level1.netset"),
        ("/bad-asn-list", "bad-asn-list.csv"),
    ] {
        publisher.set(path, fixture(file), Some(&format!("\"{file}-1\"")));
    }
    // Azure: the download page links the weekly file.
    let weekly =
        "/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/ServiceTags_Public_20240520.json";
    publisher.set(
        "/en-us/download/details.aspx?id=56519",
        format!(
            "<!DOCTYPE html>\n<html><body><a href=\"{}\" class=\"mscom-link failoverLink\">click here to download manually</a></body></html>\n",
            publisher.url(weekly)
        )
        .into_bytes(),
        None,
    );
    publisher.set(weekly, fixture("ServiceTags_Public.json"), None);
    // DB-IP: this month's City file is not out yet, last month's is; the ASN file is current.
    publisher.set(
        &month_path("/free/dbip-city-lite-{year}-{month}.mmdb.gz", 1),
        gzip(&test_mmdb("GeoIP2-City-Test.mmdb")),
        Some("\"dbip-city\""),
    );
    publisher.set(
        &month_path("/free/dbip-asn-lite-{year}-{month}.mmdb.gz", 0),
        gzip(&test_mmdb("GeoLite2-ASN-Test.mmdb")),
        Some("\"dbip-asn\""),
    );
    publisher.set(
        "/app/geoip_download?edition_id=GeoLite2-City&license_key=test-licence-key&suffix=tar.gz",
        maxmind_tar_gz("GeoLite2-City", &test_mmdb("GeoLite2-City-Test.mmdb")),
        None,
    );
    publisher.set(
        "/app/geoip_download?edition_id=GeoLite2-ASN&license_key=test-licence-key&suffix=tar.gz",
        maxmind_tar_gz("GeoLite2-ASN", &test_mmdb("GeoLite2-ASN-Test.mmdb")),
        None,
    );
}

fn report<'a>(reports: &'a [FeedReport], name: &str) -> &'a FeedReport {
    reports
        .iter()
        .find(|report| report.name == name)
        .unwrap_or_else(|| panic!("no report for {name}: {reports:?}"))
}

#[tokio::test]
async fn every_builtin_feed_lands_in_its_kind_and_label() {
    let publisher = Publisher::start().await;
    publish_all(&publisher);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(&publisher, dir.path());
    // Only one City and one ASN feed may own the database slot: run DB-IP first, then check
    // MaxMind's archives separately below.
    for feed in &mut settings.feeds {
        if feed.name.starts_with("geolite2") {
            feed.enabled = false;
        }
    }
    let reports = update_all(&settings, None).await.unwrap();
    for report in &reports {
        assert_eq!(report.outcome, Outcome::Updated, "{report:?}");
        assert!(report.entries > 0, "{report:?}");
    }
    assert_eq!(reports.len(), builtin_feeds(false).len() - 2);

    let (tables, warnings) = IpListTables::load_dir(&settings.lists_dir).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    for (ip, kind, label) in [
        ("185.220.101.33", ListKind::Tor, "Tor"),
        ("3.5.141.1", ListKind::Datacenter, "AWS"),
        ("2600:1f18::1", ListKind::Datacenter, "AWS"),
        ("34.35.1.1", ListKind::Datacenter, "Google Cloud"),
        ("13.64.1.1", ListKind::Datacenter, "Azure"),
        ("129.146.1.1", ListKind::Datacenter, "Oracle Cloud"),
        ("104.16.0.1", ListKind::Datacenter, "Cloudflare"),
        ("2606:4700::1", ListKind::Datacenter, "Cloudflare"),
        ("45.55.1.1", ListKind::Datacenter, "DigitalOcean"),
        ("23.235.33.1", ListKind::Datacenter, "Fastly"),
        ("139.162.0.9", ListKind::Datacenter, "Linode"),
        ("140.82.112.3", ListKind::Datacenter, "GitHub"),
        ("1.32.128.1", ListKind::Reputation, "Spamhaus DROP"),
        ("2a06:e480::1", ListKind::Reputation, "Spamhaus DROPv6"),
        ("5.134.128.1", ListKind::Reputation, "FireHOL level 1"),
        ("45.14.71.9", ListKind::Reputation, "Spamhaus EDROP"),
    ] {
        let matches = tables.lookup(ip.parse().unwrap());
        assert_eq!(matches.get(kind), Some(label), "{ip}");
    }
    // GeoIP: last month's City file (this month's is not out) and the ASN file.
    let geo = GeoDatabases::open(&GeoPaths {
        city: Some(settings.geoip_dir.join(CITY_DB_FILE)),
        asn: Some(settings.geoip_dir.join(ASN_DB_FILE)),
        isp: None,
    })
    .unwrap();
    let facts = geo.lookup("81.2.69.160".parse().unwrap());
    assert_eq!(facts.city, "London");
    assert_eq!(geo.lookup("1.128.0.1".parse().unwrap()).asn, 1221);
    // Hosting ASNs from the ASN list feed.
    let hosting = HostingAsns::load(&HostingSettings {
        builtin: false,
        file: None,
        feed_dir: Some(settings.hosting_asns_dir.clone()),
    })
    .unwrap();
    assert_eq!(hosting.len(), 6);
    assert!(hosting.get(54290).is_some());

    // MaxMind's archives, with the licence key in the URL, into the same slots.
    let reports = update_all(&settings, Some("geolite2-city")).await.unwrap();
    assert_eq!(report(&reports, "geolite2-city").outcome, Outcome::Updated);
    let reports = update_all(&settings, Some("geolite2-asn")).await.unwrap();
    assert_eq!(report(&reports, "geolite2-asn").outcome, Outcome::Updated);
    let geo = GeoDatabases::open(&GeoPaths {
        city: Some(settings.geoip_dir.join(CITY_DB_FILE)),
        asn: None,
        isp: None,
    })
    .unwrap();
    assert!(
        geo.describe().contains("GeoLite2-City"),
        "{}",
        geo.describe()
    );

    // Without the key, MaxMind's feeds do not run and say why.
    settings.maxmind_license_key = None;
    assert!(settings.runnable().all(|feed| !feed.needs_license_key()));
    let reports = update_all(&settings, Some("geolite2-city")).await.unwrap();
    assert_eq!(
        report(&reports, "geolite2-city").error.as_deref(),
        Some("needs maxmind_license_key")
    );
}

#[tokio::test]
async fn a_304_changes_nothing() {
    let publisher = Publisher::start().await;
    publish_all(&publisher);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(&publisher, dir.path());
    let first = update_all(&settings, Some("aws")).await.unwrap();
    assert_eq!(first[0].outcome, Outcome::Updated);
    let target = settings.target(settings.feed("aws").unwrap());
    let before = (
        std::fs::read(&target).unwrap(),
        std::fs::metadata(&target).unwrap().modified().unwrap(),
    );
    let state_before = FeedStates::read(&settings.state_file).feeds["aws"].clone();
    let second = update_all(&settings, Some("aws")).await.unwrap();
    assert_eq!(second[0].outcome, Outcome::NotModified);
    let after = (
        std::fs::read(&target).unwrap(),
        std::fs::metadata(&target).unwrap().modified().unwrap(),
    );
    assert_eq!(before, after, "a 304 must not touch the file");
    let state_after = FeedStates::read(&settings.state_file).feeds["aws"].clone();
    assert_eq!(state_after.etag, state_before.etag);
    assert_eq!(state_after.last_changed, state_before.last_changed);
    assert_eq!(state_after.entries, 5);

    // A deleted file is fetched again in full, not confirmed by a 304.
    std::fs::remove_file(&target).unwrap();
    let third = update_all(&settings, Some("aws")).await.unwrap();
    assert_eq!(third[0].outcome, Outcome::Updated);
    assert!(target.is_file());
}

#[tokio::test]
async fn bad_downloads_keep_the_last_good_data_and_are_reported() {
    let publisher = Publisher::start().await;
    publish_all(&publisher);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(&publisher, dir.path());
    settings.max_download_bytes = 4096;
    for name in ["aws", "tor-exits", "spamhaus-drop", "firehol-level1"] {
        let reports = update_all(&settings, Some(name)).await.unwrap();
        assert_eq!(reports[0].outcome, Outcome::Updated, "{name}");
    }
    let good = |name: &str| std::fs::read(settings.target(settings.feed(name).unwrap())).unwrap();
    let aws = good("aws");
    let tor = good("tor-exits");
    let drop = good("spamhaus-drop");
    let firehol = good("firehol-level1");

    let aws_sample = fixture("aws-ip-ranges.json");
    let drop_sample = fixture("spamhaus-drop_v4.json");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // Truncated JSON.
        ("aws", aws_sample[..aws_sample.len() / 2].to_vec(), "not valid AWS ip-ranges JSON"),
        // Truncated JSON lines: no metadata line.
        ("spamhaus-drop", drop_sample.split_inclusive(|&byte| byte == b'\n').take(2).flatten().copied().collect(), "cut short"),
        // Cut inside a line.
        ("spamhaus-drop", drop_sample[..60].to_vec(), "not valid Spamhaus DROP JSON"),
        // Empty.
        ("tor-exits", Vec::new(), "no entries"),
        // An error page served with 200.
        ("firehol-level1", b"<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n".to_vec(), "not ranges"),
        // Oversized.
        ("aws", vec![b' '; 5000], "larger than the 4096-byte limit"),
    ];
    for (name, body, expected) in cases {
        publisher.set(&format!("/{name}"), body, Some("\"broken\""));
        let reports = update_all(&settings, Some(name)).await.unwrap();
        assert_eq!(reports[0].outcome, Outcome::Failed, "{name}");
        let error = reports[0].error.clone().unwrap();
        assert!(error.contains(expected), "{name}: {error}");
        let state = FeedStates::read(&settings.state_file).feeds[name].clone();
        assert_eq!(state.last_error.as_deref(), Some(error.as_str()));
        assert!(state.consecutive_failures >= 1);
        assert!(state.entries > 0, "the entries in use are still reported");
    }
    assert_eq!(good("aws"), aws);
    assert_eq!(good("tor-exits"), tor);
    assert_eq!(good("spamhaus-drop"), drop);
    assert_eq!(good("firehol-level1"), firehol);
    // A server error and an unreachable server.
    publisher.routes.lock().unwrap().remove("/aws");
    let reports = update_all(&settings, Some("aws")).await.unwrap();
    assert_eq!(reports[0].error.as_deref(), Some("the server answered 404"));
    assert_eq!(good("aws"), aws);
    // The lists still load from the folder.
    let (tables, warnings) = IpListTables::load_dir(&settings.lists_dir).unwrap();
    assert!(warnings.is_empty());
    assert!(
        tables
            .lookup("3.5.141.1".parse().unwrap())
            .contains(ListKind::Datacenter)
    );
    // A good download afterwards clears the error.
    publisher.set("/aws", aws_sample, Some("\"fixed\""));
    let reports = update_all(&settings, Some("aws")).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Updated);
    let state = FeedStates::read(&settings.state_file).feeds["aws"].clone();
    assert_eq!(state.last_error, None);
    assert_eq!(state.consecutive_failures, 0);
}

#[tokio::test]
async fn a_list_that_shrank_too_much_is_refused() {
    let publisher = Publisher::start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(&publisher, dir.path());
    let full: String = (0..100).map(|n| format!("10.0.{n}.1\n")).collect();
    publisher.set("/tor-exits", full.into_bytes(), Some("\"full\""));
    let reports = update_all(&settings, Some("tor-exits")).await.unwrap();
    assert_eq!(reports[0].entries, 100);
    let target = settings.target(settings.feed("tor-exits").unwrap());
    let good = std::fs::read(&target).unwrap();
    // The publisher's database failed and it serves a sliver (CrowdSec issue #4691).
    publisher.set(
        "/tor-exits",
        b"10.0.0.1\n10.0.1.1\n".to_vec(),
        Some("\"sliver\""),
    );
    let reports = update_all(&settings, Some("tor-exits")).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Refused);
    assert!(
        reports[0]
            .error
            .as_deref()
            .unwrap()
            .contains("2 entries would replace 100")
    );
    assert_eq!(std::fs::read(&target).unwrap(), good);
    // A normal fluctuation passes.
    let fewer: String = (0..70).map(|n| format!("10.0.{n}.1\n")).collect();
    publisher.set("/tor-exits", fewer.into_bytes(), Some("\"fewer\""));
    let reports = update_all(&settings, Some("tor-exits")).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Updated);
    assert_eq!(reports[0].entries, 70);
}

#[tokio::test]
async fn a_corrupt_database_is_refused() {
    let publisher = Publisher::start().await;
    publish_all(&publisher);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(&publisher, dir.path());
    let reports = update_all(&settings, Some("dbip-asn-lite")).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Updated);
    let target = settings.geoip_dir.join(ASN_DB_FILE);
    let good = std::fs::read(&target).unwrap();
    let mut cut = test_mmdb("GeoLite2-ASN-Test.mmdb");
    cut.truncate(cut.len() / 2);
    publisher.set(
        &month_path("/free/dbip-asn-lite-{year}-{month}.mmdb.gz", 0),
        gzip(&cut),
        Some("\"cut\""),
    );
    let reports = update_all(&settings, Some("dbip-asn-lite")).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Failed);
    assert!(
        reports[0].error.as_deref().unwrap().contains("MaxMind DB"),
        "{reports:?}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), good);
    // A gzip bomb stops at the unpack limit.
    let mut small = settings.clone();
    small.max_unpacked_bytes = 1024;
    publisher.set(
        &month_path("/free/dbip-asn-lite-{year}-{month}.mmdb.gz", 0),
        gzip(&vec![0u8; 1 << 20]),
        Some("\"bomb\""),
    );
    let reports = update_all(&small, Some("dbip-asn-lite")).await.unwrap();
    assert!(
        reports[0]
            .error
            .as_deref()
            .unwrap()
            .contains("more than 1024 bytes"),
        "{reports:?}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), good);
}

#[test]
fn configured_feeds_change_builtins_and_add_new_ones() {
    let feeds = resolve_feeds(
        &[
            FeedConfig {
                name: "firehol-level1".into(),
                enabled: Some(true),
                ..Default::default()
            },
            FeedConfig {
                name: "my-vpns".into(),
                url: Some("https://example.invalid/vpns.txt".into()),
                format: Some(FeedFormat::PlainCidr),
                kind: Some(FeedKind::Vpn),
                label: Some("My VPNs".into()),
                interval_minutes: Some(30),
                ..Default::default()
            },
        ],
        false,
    )
    .unwrap();
    assert!(
        feeds
            .iter()
            .find(|feed| feed.name == "firehol-level1")
            .unwrap()
            .enabled
    );
    let mine = feeds.iter().find(|feed| feed.name == "my-vpns").unwrap();
    assert_eq!(mine.interval, Duration::from_secs(1800));
    assert_eq!(mine.label, "My VPNs");
    let missing = resolve_feeds(
        &[FeedConfig {
            name: "new".into(),
            ..Default::default()
        }],
        false,
    )
    .unwrap_err();
    assert!(missing.to_string().contains("needs `kind`"), "{missing}");
    let mismatch = resolve_feeds(
        &[FeedConfig {
            name: "aws".into(),
            kind: Some(FeedKind::GeoipCity),
            ..Default::default()
        }],
        false,
    )
    .unwrap_err();
    assert!(mismatch.to_string().contains("cannot feed"), "{mismatch}");
}

#[test]
fn atomic_writes_leave_no_visible_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("tor-feed-tor-exits.txt");
    // A leftover of a write killed half way: hidden, and removed by the next write.
    let leftover = dir.path().join(".tor-feed-tor-exits.txt.12345.tmp");
    std::fs::write(&leftover, "10.0.0.").unwrap();
    let (tables, warnings) = IpListTables::load_dir(dir.path()).unwrap();
    assert_eq!(tables.entries(), 0);
    assert!(warnings.is_empty(), "hidden files are not list files");
    write_atomically(&target, b"# kind: tor\n10.0.0.1\n").unwrap();
    assert!(!leftover.exists());
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "# kind: tor\n10.0.0.1\n"
    );
}
