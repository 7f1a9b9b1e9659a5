//! The visitor rules: which DetectActivity reason decides, in the order DESIGN.md lists them.
//! First match wins; each reason can be switched off per tenant. Pure functions of the
//! [`VisitorContext`] and the tenant's [`BlockerSettings`].

use crate::{
    engine::reason::Reason,
    intel::{
        IpFacts,
        facts::Anonymizer,
        threat_url::UrlFacts,
        user_agent::{DeviceType, UaFacts},
    },
    tenancy::BlockerSettings,
};

/// Why a visitor was let in or kept out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectActivity {
    /// The IP is on the tenant's whitelist.
    AllowByWhitelistIp,
    /// The IP is on the tenant's blacklist.
    BlockByBlacklistIp,
    /// The IP is on a reputation list.
    BlockByIpDatabase,
    /// The IP kept probing and is blocked for a while.
    BlockByMaliciousActivity,
    /// The IP's hostname is in the hostname database.
    BlockByHostnameDatabase,
    /// The IP is a proxy, VPN or Tor exit.
    BlockByProxyVpnTor,
    /// The IP's country is blocked.
    BlockByCountry,
    /// The IP is a datacenter or hosting address.
    BlockByIpNonIsp,
    /// The visitor is a bot or crawler.
    BlockBySpiderCrawler,
    /// The URL is an attack or scanner probe.
    BlockByThreatUrl,
    /// The smart URL keyname does not exist.
    BlockByInvalidKeyname,
    /// Desktop devices are blocked.
    BlockByDeviceDesktop,
    /// Mobile devices are blocked.
    BlockByDeviceMobile,
    /// Nothing matched.
    Visitor,
}

impl DetectActivity {
    /// The reason as visitor blockers spell it.
    pub fn label(self) -> &'static str {
        match self {
            DetectActivity::AllowByWhitelistIp => "ALLOW BY WHITELIST IP (USER)",
            DetectActivity::BlockByBlacklistIp => "BLOCK BY BLACKLIST IP (USER)",
            DetectActivity::BlockByIpDatabase => "BLOCK BY IP DATABASE",
            DetectActivity::BlockByMaliciousActivity => "BLOCK BY MALICIOUS ACTIVITY",
            DetectActivity::BlockByHostnameDatabase => "BLOCK BY HOSTNAME DATABASE",
            DetectActivity::BlockByProxyVpnTor => "BLOCK BY PROXY/VPN/TOR",
            DetectActivity::BlockByCountry => "BLOCK BY COUNTRY",
            DetectActivity::BlockByIpNonIsp => "BLOCK BY IP NON-ISP",
            DetectActivity::BlockBySpiderCrawler => "BLOCK BY SPIDER CRAWLER",
            DetectActivity::BlockByThreatUrl => "BLOCK BY THREAT URL",
            DetectActivity::BlockByInvalidKeyname => "BLOCK BY INVALID KEYNAME",
            DetectActivity::BlockByDeviceDesktop => "BLOCK BY DEVICE DESKTOP",
            DetectActivity::BlockByDeviceMobile => "BLOCK BY DEVICE MOBILE",
            DetectActivity::Visitor => "VISITOR",
        }
    }

    /// True when the visitor is kept out.
    pub fn blocks(self) -> bool {
        !matches!(
            self,
            DetectActivity::AllowByWhitelistIp | DetectActivity::Visitor
        )
    }
}

/// Whether a crawler's claim was checked against DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrawlerCheck {
    /// The user agent claims no known crawler.
    #[default]
    NotClaimed,
    /// Forward-confirmed reverse DNS agrees with the claim.
    Verified,
    /// The claim did not hold: a fake crawler.
    Unverified,
}

/// Everything the visitor rules look at.
#[derive(Debug, Clone)]
pub struct VisitorContext {
    /// What is known of the IP.
    pub ip: IpFacts,
    /// What the user agent says.
    pub ua: UaFacts,
    /// What the URL says.
    pub url: UrlFacts,
    /// The outcome of checking a crawler claim.
    pub crawler: CrawlerCheck,
    /// The IP is on the tenant's whitelist.
    pub whitelisted: bool,
    /// The IP is on the tenant's blacklist.
    pub blacklisted: bool,
    /// Until when the IP is blocked for malicious activity (ms), if it is.
    pub malicious_until_ms: Option<i64>,
    /// The smart URL keyname the visitor came through does not exist.
    pub invalid_keyname: bool,
}

/// The deciding DetectActivity reason and the rule behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The DetectActivity reason.
    pub activity: DetectActivity,
    /// The rule that decided (its name is the tenant's switch for it, `visitor` when none
    /// matched), scored 100 when it keeps the visitor out; its details are the evidence, empty
    /// for VISITOR.
    pub reason: Reason,
}

/// A rule: the evidence when it matches.
type Rule = fn(&VisitorContext, &BlockerSettings) -> Option<String>;
/// The tenant switch that enables a rule.
type Switch = fn(&BlockerSettings) -> bool;

/// The rules in decision order, each with its stable name (the name of the switch in
/// `BlockerReasons`) and the switch that enables it.
const RULES: &[(DetectActivity, &str, Switch, Rule)] = &[
    (
        DetectActivity::AllowByWhitelistIp,
        "whitelist_ip",
        |s| s.reasons.whitelist_ip,
        whitelist_ip,
    ),
    (
        DetectActivity::BlockByBlacklistIp,
        "blacklist_ip",
        |s| s.reasons.blacklist_ip,
        blacklist_ip,
    ),
    (
        DetectActivity::BlockByIpDatabase,
        "ip_database",
        |s| s.reasons.ip_database,
        ip_database,
    ),
    (
        DetectActivity::BlockByMaliciousActivity,
        "malicious_activity",
        |s| s.reasons.malicious_activity,
        malicious_activity,
    ),
    (
        DetectActivity::BlockByHostnameDatabase,
        "hostname_database",
        |s| s.reasons.hostname_database,
        hostname_database,
    ),
    (
        DetectActivity::BlockByProxyVpnTor,
        "proxy_vpn_tor",
        |s| s.reasons.proxy_vpn_tor,
        proxy_vpn_tor,
    ),
    (
        DetectActivity::BlockByCountry,
        "country",
        |s| s.reasons.country,
        country,
    ),
    (
        DetectActivity::BlockByIpNonIsp,
        "ip_non_isp",
        |s| s.reasons.ip_non_isp,
        ip_non_isp,
    ),
    (
        DetectActivity::BlockBySpiderCrawler,
        "spider_crawler",
        |s| s.reasons.spider_crawler,
        spider_crawler,
    ),
    (
        DetectActivity::BlockByThreatUrl,
        "threat_url",
        |s| s.reasons.threat_url,
        threat_url,
    ),
    // Smart URLs only; it cannot be switched off: an unknown link has nowhere to send anyone.
    (
        DetectActivity::BlockByInvalidKeyname,
        "invalid_keyname",
        |_| true,
        invalid_keyname,
    ),
    (
        DetectActivity::BlockByDeviceDesktop,
        "device_desktop",
        |s| s.reasons.device_desktop,
        device_desktop,
    ),
    (
        DetectActivity::BlockByDeviceMobile,
        "device_mobile",
        |s| s.reasons.device_mobile,
        device_mobile,
    ),
];

/// Decides the visitor's reason: the first enabled rule that matches, else VISITOR.
pub fn decide(context: &VisitorContext, settings: &BlockerSettings) -> Decision {
    for (activity, name, enabled, rule) in RULES {
        if !enabled(settings) {
            continue;
        }
        if let Some(details) = rule(context, settings) {
            return Decision {
                activity: *activity,
                reason: Reason {
                    rule: name,
                    score: if activity.blocks() { 100 } else { 0 },
                    details,
                },
            };
        }
    }
    Decision {
        activity: DetectActivity::Visitor,
        reason: Reason {
            rule: "visitor",
            score: 0,
            details: String::new(),
        },
    }
}

/// A verified search-engine crawler is let past the network-origin rules when the tenant allows
/// verified crawlers: its addresses are datacenter addresses by nature.
fn trusted_crawler(context: &VisitorContext, settings: &BlockerSettings) -> bool {
    settings.allow_verified_crawlers && context.crawler == CrawlerCheck::Verified
}

fn whitelist_ip(context: &VisitorContext, _: &BlockerSettings) -> Option<String> {
    context
        .whitelisted
        .then(|| format!("{} is on the whitelist", context.ip.ip))
}

fn blacklist_ip(context: &VisitorContext, _: &BlockerSettings) -> Option<String> {
    context
        .blacklisted
        .then(|| format!("{} is on the blacklist", context.ip.ip))
}

fn ip_database(context: &VisitorContext, _: &BlockerSettings) -> Option<String> {
    context
        .ip
        .reputation()
        .map(|label| format!("on reputation list {label}"))
}

fn malicious_activity(context: &VisitorContext, _: &BlockerSettings) -> Option<String> {
    context
        .malicious_until_ms
        .map(|until| format!("repeated probing; blocked until {until} ms"))
}

fn hostname_database(context: &VisitorContext, settings: &BlockerSettings) -> Option<String> {
    if trusted_crawler(context, settings) {
        return None;
    }
    let pattern = context.ip.hostname_match.as_deref()?;
    let hostname = context.ip.hostname.as_deref().unwrap_or_default();
    Some(format!("hostname {hostname} matches {pattern}"))
}

fn proxy_vpn_tor(context: &VisitorContext, settings: &BlockerSettings) -> Option<String> {
    if trusted_crawler(context, settings) {
        return None;
    }
    let found = context.ip.anonymity()?;
    let source = &found.source;
    Some(match found.kind {
        Anonymizer::Tor => format!("Tor exit ({source})"),
        Anonymizer::Vpn => format!("VPN ({source})"),
        Anonymizer::Proxy => format!("proxy ({source})"),
        Anonymizer::GeoIpAnonymousProxy => "anonymous proxy (GeoIP)".to_string(),
    })
}

fn country(context: &VisitorContext, settings: &BlockerSettings) -> Option<String> {
    let code = context.ip.geo.country_code.as_str();
    (!code.is_empty()
        && settings
            .blocked_countries
            .iter()
            .any(|blocked| blocked == code))
    .then(|| format!("country {code} is blocked"))
}

fn ip_non_isp(context: &VisitorContext, settings: &BlockerSettings) -> Option<String> {
    if trusted_crawler(context, settings) {
        return None;
    }
    // One definition of "datacenter" for every face: a datacenter range list, or an ASN the
    // hosting classification names (so a hosting network on no list is caught too).
    context
        .ip
        .datacenter()
        .map(|datacenter| datacenter.evidence())
}

fn spider_crawler(context: &VisitorContext, settings: &BlockerSettings) -> Option<String> {
    match context.crawler {
        CrawlerCheck::Verified if settings.allow_verified_crawlers => None,
        CrawlerCheck::Verified => Some(format!("verified crawler: {}", context.ua.bot_evidence)),
        CrawlerCheck::Unverified => Some(format!(
            "fake crawler: claims {} but reverse DNS does not confirm it",
            context
                .ua
                .claimed_crawler
                .map(|crawler| crawler.name)
                .unwrap_or("a known crawler")
        )),
        CrawlerCheck::NotClaimed => context.ua.is_bot.then(|| context.ua.bot_evidence.clone()),
    }
}

fn threat_url(context: &VisitorContext, _: &BlockerSettings) -> Option<String> {
    context.url.threat.map(|_| context.url.evidence.clone())
}

fn invalid_keyname(context: &VisitorContext, _: &BlockerSettings) -> Option<String> {
    context
        .invalid_keyname
        .then(|| "the smart URL keyname does not exist".to_string())
}

fn device_desktop(context: &VisitorContext, _: &BlockerSettings) -> Option<String> {
    (context.ua.device == DeviceType::Desktop).then(|| "desktop device".to_string())
}

fn device_mobile(context: &VisitorContext, _: &BlockerSettings) -> Option<String> {
    match context.ua.device {
        DeviceType::Mobile => Some("mobile device".to_string()),
        DeviceType::Tablet => Some("tablet device".to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::{
        geo::GeoFacts,
        ip_lists::{IpListTables, ListKind, ListMatches, parse_range},
        threat_url::ThreatKind,
    };

    fn browser() -> UaFacts {
        UaFacts {
            is_bot: false,
            is_automation: false,
            bot_evidence: String::new(),
            claimed_crawler: None,
            browser: "Chrome".into(),
            browser_version: "124".into(),
            os: "Windows 10".into(),
            os_version: "NT 10.0".into(),
            device: DeviceType::Desktop,
        }
    }

    fn on_lists(kinds: &[ListKind]) -> ListMatches {
        let mut tables = IpListTables::empty();
        for kind in kinds {
            tables.insert(*kind, parse_range("192.0.2.1").unwrap(), kind.tag());
        }
        tables.lookup("192.0.2.1".parse().unwrap())
    }

    fn context() -> VisitorContext {
        VisitorContext {
            ip: IpFacts {
                ip: "192.0.2.1".parse().unwrap(),
                geo: GeoFacts::default(),
                lists: ListMatches::default(),
                hostname: None,
                hostname_match: None,
                hosting: None,
            },
            ua: browser(),
            url: UrlFacts::default(),
            crawler: CrawlerCheck::NotClaimed,
            whitelisted: false,
            blacklisted: false,
            malicious_until_ms: None,
            invalid_keyname: false,
        }
    }

    #[test]
    fn nothing_matching_is_a_visitor() {
        let decision = decide(&context(), &BlockerSettings::default());
        assert_eq!(decision.activity, DetectActivity::Visitor);
        assert!(!decision.activity.blocks());
    }

    #[test]
    fn the_earlier_reason_wins_and_switches_skip_reasons() {
        let mut both = context();
        both.ip.lists = on_lists(&[ListKind::Tor, ListKind::Datacenter, ListKind::Reputation]);
        both.url = UrlFacts {
            threat: Some(ThreatKind::ScannerProbe),
            evidence: "probe: /.env".into(),
        };
        let mut settings = BlockerSettings::default();
        assert_eq!(
            decide(&both, &settings).activity,
            DetectActivity::BlockByIpDatabase
        );
        settings.reasons.ip_database = false;
        let decision = decide(&both, &settings);
        assert_eq!(decision.activity, DetectActivity::BlockByProxyVpnTor);
        assert_eq!(decision.reason.details, "Tor exit (tor)");
        settings.reasons.proxy_vpn_tor = false;
        assert_eq!(
            decide(&both, &settings).activity,
            DetectActivity::BlockByIpNonIsp
        );
        settings.reasons.ip_non_isp = false;
        assert_eq!(
            decide(&both, &settings).activity,
            DetectActivity::BlockByThreatUrl
        );
        both.whitelisted = true;
        both.blacklisted = true;
        assert_eq!(
            decide(&both, &settings).activity,
            DetectActivity::AllowByWhitelistIp
        );
    }

    #[test]
    fn verified_crawlers_pass_the_network_rules_but_fake_ones_are_blocked() {
        let mut crawler = context();
        crawler.ip.lists = on_lists(&[ListKind::Datacenter]);
        crawler.ua.is_bot = true;
        crawler.ua.bot_evidence = "bot pattern: googlebot".into();
        crawler.crawler = CrawlerCheck::Verified;
        let mut settings = BlockerSettings::default();
        assert_eq!(
            decide(&crawler, &settings).activity,
            DetectActivity::Visitor
        );
        settings.allow_verified_crawlers = false;
        assert_eq!(
            decide(&crawler, &settings).activity,
            DetectActivity::BlockByIpNonIsp
        );
        crawler.ip.lists = ListMatches::default();
        assert_eq!(
            decide(&crawler, &settings).activity,
            DetectActivity::BlockBySpiderCrawler
        );
        crawler.crawler = CrawlerCheck::Unverified;
        let decision = decide(&crawler, &BlockerSettings::default());
        assert_eq!(decision.activity, DetectActivity::BlockBySpiderCrawler);
        assert!(
            decision.reason.details.starts_with("fake crawler"),
            "{}",
            decision.reason.details
        );
    }

    #[test]
    fn a_hosting_asn_on_no_list_is_non_isp_with_the_asn_named() {
        let mut hosted = context();
        hosted.ip.geo.asn = 24940;
        hosted.ip.geo.company = "Hetzner Online GmbH".into();
        hosted.ip.hosting = crate::intel::hosting::HostingAsns::builtin().get(24940);
        let decision = decide(&hosted, &BlockerSettings::default());
        assert_eq!(decision.activity, DetectActivity::BlockByIpNonIsp);
        assert_eq!(
            decision.reason.details,
            "hosting network AS24940 (Hetzner Online GmbH)"
        );
        // On a list as well: the list is named, with the ASN.
        hosted.ip.lists = on_lists(&[ListKind::Datacenter]);
        assert_eq!(
            decide(&hosted, &BlockerSettings::default()).reason.details,
            "datacenter range (datacenter), AS24940 Hetzner Online GmbH"
        );
        // A consumer ISP's ASN is not.
        let mut home = context();
        home.ip.geo.asn = 7922;
        assert_eq!(
            decide(&home, &BlockerSettings::default()).activity,
            DetectActivity::Visitor
        );
    }

    #[test]
    fn device_classes_block_only_when_switched_on() {
        let mut settings = BlockerSettings::default();
        let mut tablet = context();
        tablet.ua.device = DeviceType::Tablet;
        assert_eq!(decide(&tablet, &settings).activity, DetectActivity::Visitor);
        settings.reasons.device_mobile = true;
        assert_eq!(
            decide(&tablet, &settings).activity,
            DetectActivity::BlockByDeviceMobile
        );
        settings.reasons.device_desktop = true;
        assert_eq!(
            decide(&context(), &settings).activity,
            DetectActivity::BlockByDeviceDesktop
        );
    }

    /// A context that fires `rule` (and no rule before it, with every switch on).
    fn firing(rule: &str) -> VisitorContext {
        let mut context = context();
        match rule {
            "whitelist_ip" => context.whitelisted = true,
            "blacklist_ip" => context.blacklisted = true,
            "ip_database" => context.ip.lists = on_lists(&[ListKind::Reputation]),
            "malicious_activity" => context.malicious_until_ms = Some(1),
            "hostname_database" => {
                context.ip.hostname = Some("vps1.hosting.example".into());
                context.ip.hostname_match = Some("vps".into());
            }
            "proxy_vpn_tor" => context.ip.geo.is_anonymous_proxy = true,
            "country" => context.ip.geo.country_code = "KP".into(),
            "ip_non_isp" => context.ip.lists = on_lists(&[ListKind::Datacenter]),
            "spider_crawler" => {
                context.ua.is_bot = true;
                context.ua.bot_evidence = "bot pattern: curl".into();
            }
            "threat_url" => {
                context.url = UrlFacts {
                    threat: Some(ThreatKind::ScannerProbe),
                    evidence: "probe: /.env".into(),
                }
            }
            "invalid_keyname" => context.invalid_keyname = true,
            "device_desktop" => context.ua.device = DeviceType::Desktop,
            "device_mobile" => context.ua.device = DeviceType::Mobile,
            other => panic!("no context for {other}"),
        }
        if rule != "device_desktop" {
            context.ua.device = DeviceType::Mobile;
        }
        context
    }

    #[test]
    fn every_rule_decides_under_its_name_when_it_alone_matches() {
        let mut settings = BlockerSettings {
            blocked_countries: vec!["KP".into()],
            ..BlockerSettings::default()
        };
        settings.reasons.device_mobile = true;
        for (activity, name, _, _) in RULES {
            let mut settings = settings.clone();
            // Desktop and mobile cannot both be on for a test of one of them.
            if *name == "device_desktop" {
                settings.reasons.device_desktop = true;
                settings.reasons.device_mobile = false;
            }
            let decision = decide(&firing(name), &settings);
            assert_eq!(decision.activity, *activity, "{name}");
            assert_eq!(decision.reason.rule, *name);
            assert!(!decision.reason.details.is_empty(), "{name} gives evidence");
            let expected = if activity.blocks() { 100 } else { 0 };
            assert_eq!(decision.reason.score, expected, "{name}");
        }
        let visitor = decide(&context(), &BlockerSettings::default());
        assert_eq!((visitor.reason.rule, visitor.reason.score), ("visitor", 0));
    }

    #[test]
    fn a_geoip_anonymous_proxy_counts_as_a_proxy() {
        let decision = decide(&firing("proxy_vpn_tor"), &BlockerSettings::default());
        assert_eq!(decision.activity, DetectActivity::BlockByProxyVpnTor);
        assert_eq!(decision.reason.details, "anonymous proxy (GeoIP)");
    }

    #[test]
    fn every_label_is_the_blockers_spelling() {
        assert_eq!(
            DetectActivity::BlockByProxyVpnTor.label(),
            "BLOCK BY PROXY/VPN/TOR"
        );
        assert_eq!(
            DetectActivity::AllowByWhitelistIp.label(),
            "ALLOW BY WHITELIST IP (USER)"
        );
        assert_eq!(
            DetectActivity::BlockByIpNonIsp.label(),
            "BLOCK BY IP NON-ISP"
        );
    }
}
