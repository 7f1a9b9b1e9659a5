//! The click-fraud rules: small, pure functions over one visitor's events and what is known of
//! its IP, user agent and click ids. Each that fires gives a [`Reason`] with points and
//! human-readable evidence; the decision sums them.

use crate::{
    intel::{IpFacts, facts::DatacenterSource, user_agent::UaFacts},
    tenancy::ClickRuleSettings,
};

use super::records::{ClickEvent, ClickKind};

pub use crate::engine::reason::Reason;

/// Every rule name with its default points, in the order reasons are reported when tied.
///
/// A honeypot hit alone reaches FRAUD: the link is invisible to people, so only software follows
/// it. Every other rule needs company to get there.
pub const DEFAULT_WEIGHTS: &[(&str, i32)] = &[
    ("honeypot", 70),
    ("bot_user_agent", 40),
    ("rapid_clicks", 30),
    ("tor_or_vpn", 30),
    ("gclid_reuse", 30),
    ("datacenter_ip", 25),
    ("no_js", 25),
    ("repeat_clicks", 20),
    ("short_dwell", 20),
    ("click_without_page_view", 20),
    ("conversionless_burst", 20),
    ("geo_mismatch", 15),
];

/// What the rules look at.
#[derive(Debug, Clone)]
pub struct VisitorHistory<'a> {
    /// The visitor's events, oldest first.
    pub events: &'a [ClickEvent],
    /// What is known of the visitor's latest IP.
    pub ip: Option<&'a IpFacts>,
    /// What the visitor's latest user agent says.
    pub ua: Option<&'a UaFacts>,
    /// The most visitors or IPs any of the visitor's click ids was seen from.
    pub click_id_sharers: usize,
    /// The most clicks on one ad from the visitor's latest IP (all visitors).
    pub ip_repeat_clicks: usize,
    /// The tenant's settings.
    pub settings: &'a ClickRuleSettings,
}

type Rule = fn(&VisitorHistory<'_>) -> Option<String>;

const RULES: &[(&str, Rule)] = &[
    ("honeypot", honeypot),
    ("bot_user_agent", bot_user_agent),
    ("rapid_clicks", rapid_clicks),
    ("tor_or_vpn", tor_or_vpn),
    ("gclid_reuse", gclid_reuse),
    ("datacenter_ip", datacenter_ip),
    ("no_js", no_js),
    ("repeat_clicks", repeat_clicks),
    ("short_dwell", short_dwell),
    ("click_without_page_view", click_without_page_view),
    ("conversionless_burst", conversionless_burst),
    ("geo_mismatch", geo_mismatch),
];

/// The points of `rule` for this tenant.
pub fn weight(settings: &ClickRuleSettings, rule: &str) -> i32 {
    settings.weights.get(rule).copied().unwrap_or_else(|| {
        DEFAULT_WEIGHTS
            .iter()
            .find(|(name, _)| *name == rule)
            .map(|(_, points)| *points)
            .unwrap_or_default()
    })
}

/// A rule that fired, before the tenant's weights are applied: what a decision keeps, so that
/// reading it later applies the weights in force then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The stable rule name.
    pub rule: &'static str,
    /// Evidence.
    pub details: String,
}

/// The rule of a stored name (`None` for a name this build does not know).
pub fn rule_named(name: &str) -> Option<&'static str> {
    RULES
        .iter()
        .map(|(rule, _)| *rule)
        .find(|rule| *rule == name)
}

/// Runs every rule, whatever its weight.
pub fn fire(history: &VisitorHistory<'_>) -> Vec<Fired> {
    RULES
        .iter()
        .filter_map(|(rule, check)| check(history).map(|details| Fired { rule, details }))
        .collect()
}

/// The reasons of `fired` under the tenant's weights (rules weighted 0 or less drop out), most
/// points first; ties keep the rules' order.
pub fn weigh(fired: &[Fired], settings: &ClickRuleSettings) -> Vec<Reason> {
    let mut reasons: Vec<Reason> = fired
        .iter()
        .filter_map(|fired| {
            let score = weight(settings, fired.rule);
            (score > 0).then(|| Reason {
                rule: fired.rule,
                score,
                details: fired.details.clone(),
            })
        })
        .collect();
    reasons.sort_by_key(|reason| std::cmp::Reverse(reason.score));
    reasons
}

/// Runs every rule under the tenant's weights; reasons with the most points first.
pub fn evaluate(history: &VisitorHistory<'_>) -> Vec<Reason> {
    weigh(&fire(history), history.settings)
}

fn clicks<'a>(history: &'a VisitorHistory<'_>) -> impl Iterator<Item = &'a ClickEvent> {
    history
        .events
        .iter()
        .filter(|event| event.kind == ClickKind::Click)
}

fn honeypot(history: &VisitorHistory<'_>) -> Option<String> {
    history
        .events
        .iter()
        .any(|event| event.honeypot_hit)
        .then(|| "Clicked hidden link".to_string())
}

fn bot_user_agent(history: &VisitorHistory<'_>) -> Option<String> {
    let ua = history.ua?;
    ua.is_bot
        .then(|| format!("Bot user agent ({})", ua.bot_evidence))
}

fn rapid_clicks(history: &VisitorHistory<'_>) -> Option<String> {
    let window = i64::from(history.settings.rapid_clicks_window_seconds) * 1000;
    let times: Vec<i64> = clicks(history).map(|event| event.time_ms).collect();
    // The most clicks inside any window.
    let mut most = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] > window {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    let threshold = usize::try_from(history.settings.rapid_clicks_threshold).unwrap_or(usize::MAX);
    (most >= threshold).then(|| {
        format!(
            "{most} clicks in {}s",
            history.settings.rapid_clicks_window_seconds
        )
    })
}

fn tor_or_vpn(history: &VisitorHistory<'_>) -> Option<String> {
    let found = history.ip?.anonymity()?;
    Some(if found.is_tor() {
        format!("Tor exit ({})", found.source)
    } else {
        format!("VPN or proxy ({})", found.source)
    })
}

fn gclid_reuse(history: &VisitorHistory<'_>) -> Option<String> {
    let limit = usize::try_from(history.settings.gclid_reuse_threshold).unwrap_or(usize::MAX);
    (history.click_id_sharers > limit).then(|| {
        format!(
            "Click id seen from {} visitors or IPs",
            history.click_id_sharers
        )
    })
}

fn datacenter_ip(history: &VisitorHistory<'_>) -> Option<String> {
    let datacenter = history.ip?.datacenter()?;
    Some(match &datacenter.source {
        DatacenterSource::List(label) => format!("{} IP range", label.to_uppercase()),
        DatacenterSource::HostingAsn if datacenter.organisation.is_empty() => {
            format!("Hosting network AS{}", datacenter.asn)
        }
        DatacenterSource::HostingAsn => format!(
            "Hosting network AS{} ({})",
            datacenter.asn, datacenter.organisation
        ),
    })
}

fn no_js(history: &VisitorHistory<'_>) -> Option<String> {
    let reported: Vec<bool> = history
        .events
        .iter()
        .filter_map(|event| event.js_enabled)
        .collect();
    (!reported.is_empty() && reported.iter().all(|ran| !ran))
        .then(|| "JavaScript did not run".to_string())
}

fn repeat_clicks(history: &VisitorHistory<'_>) -> Option<String> {
    let mut per_ad: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for event in clicks(history) {
        *per_ad.entry(event.ad_key()).or_default() += 1;
    }
    let visitor_most = per_ad.values().copied().max().unwrap_or_default();
    let most = visitor_most.max(history.ip_repeat_clicks);
    let threshold = usize::try_from(history.settings.repeat_clicks_threshold).unwrap_or(usize::MAX);
    (most >= threshold).then(|| format!("{most} clicks on the same ad"))
}

fn short_dwell(history: &VisitorHistory<'_>) -> Option<String> {
    let dwell = history
        .events
        .iter()
        .filter_map(|event| event.time_on_page_ms)
        .max()?;
    (dwell < u64::from(history.settings.short_dwell_ms))
        .then(|| format!("{}s on page", dwell / 1000))
}

fn click_without_page_view(history: &VisitorHistory<'_>) -> Option<String> {
    let first_click = clicks(history).next()?;
    let viewed_before = history
        .events
        .iter()
        .any(|event| event.kind == ClickKind::PageView && event.time_ms <= first_click.time_ms);
    (!viewed_before).then(|| "Click without a page view".to_string())
}

fn conversionless_burst(history: &VisitorHistory<'_>) -> Option<String> {
    let day_ms = 86_400_000;
    let last = history.events.last()?.time_ms;
    let today: Vec<&ClickEvent> = history
        .events
        .iter()
        .filter(|event| event.time_ms > last - day_ms)
        .collect();
    let clicks = today
        .iter()
        .filter(|event| event.kind == ClickKind::Click)
        .count();
    let converted = today
        .iter()
        .any(|event| event.kind == ClickKind::Conversion);
    let threshold =
        usize::try_from(history.settings.conversionless_burst_threshold).unwrap_or(usize::MAX);
    (clicks >= threshold && !converted)
        .then(|| format!("{clicks} clicks in a day without a conversion"))
}

/// The browser's time zone region against the IP's: a browser set to `America/...` on an IP in
/// a `Europe/...` zone is unlikely to be a person at home. Continents, not offsets, so daylight
/// saving and neighbouring zones never count.
fn geo_mismatch(history: &VisitorHistory<'_>) -> Option<String> {
    let browser = history
        .events
        .iter()
        .rev()
        .map(|event| event.timezone.as_str())
        .find(|zone| !zone.is_empty())?;
    let ip_zone = history.ip?.geo.timezone.as_str();
    let region = |zone: &str| zone.split('/').next().unwrap_or_default().to_string();
    if ip_zone.is_empty() || region(browser) == region(ip_zone) || !browser.contains('/') {
        return None;
    }
    let country = &history.ip?.geo.country_code;
    Some(format!(
        "Browser time zone {browser}, IP in {country} ({ip_zone})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::{
        geo::GeoFacts,
        ip_lists::{IpListTables, ListKind, parse_range},
    };

    fn event(kind: ClickKind, time_ms: i64) -> ClickEvent {
        ClickEvent {
            event_id: String::new(),
            visitor_id: "vis_1".into(),
            kind,
            url: "https://shop.example/landing".into(),
            referrer: String::new(),
            click_ids: Default::default(),
            user_agent: String::new(),
            scroll_depth: None,
            time_on_page_ms: None,
            honeypot_hit: false,
            js_enabled: Some(true),
            timezone: String::new(),
            device_id: String::new(),
            ip: "192.0.2.1".into(),
            time_ms,
        }
    }

    fn history<'a>(
        events: &'a [ClickEvent],
        settings: &'a ClickRuleSettings,
    ) -> VisitorHistory<'a> {
        VisitorHistory {
            events,
            ip: None,
            ua: None,
            click_id_sharers: 1,
            ip_repeat_clicks: 0,
            settings,
        }
    }

    fn rules(reasons: &[Reason]) -> Vec<&str> {
        reasons.iter().map(|reason| reason.rule).collect()
    }

    #[test]
    fn a_person_reading_the_page_fires_nothing() {
        let settings = ClickRuleSettings::default();
        let mut view = event(ClickKind::PageView, 0);
        view.time_on_page_ms = Some(45_000);
        let events = [view, event(ClickKind::Click, 40_000)];
        assert!(evaluate(&history(&events, &settings)).is_empty());
    }

    #[test]
    fn rapid_clicks_count_the_busiest_window() {
        let settings = ClickRuleSettings::default();
        let mut events = vec![event(ClickKind::PageView, 0)];
        events.extend((0..15).map(|n| event(ClickKind::Click, 1_000 + n * 3_000)));
        let reasons = evaluate(&history(&events, &settings));
        let rapid = reasons
            .iter()
            .find(|reason| reason.rule == "rapid_clicks")
            .unwrap();
        assert_eq!(rapid.details, "15 clicks in 60s");
        assert!(rules(&reasons).contains(&"repeat_clicks"));
    }

    #[test]
    fn honeypot_no_js_dwell_and_missing_page_view() {
        let settings = ClickRuleSettings::default();
        let mut click = event(ClickKind::Click, 10);
        click.honeypot_hit = true;
        click.js_enabled = Some(false);
        click.time_on_page_ms = Some(3_000 - 1);
        let reasons = evaluate(&history(std::slice::from_ref(&click), &settings));
        for rule in [
            "honeypot",
            "no_js",
            "short_dwell",
            "click_without_page_view",
        ] {
            assert!(rules(&reasons).contains(&rule), "{rule} in {reasons:?}");
        }
        assert_eq!(reasons[0].rule, "honeypot", "most points first");
        let dwell = reasons
            .iter()
            .find(|reason| reason.rule == "short_dwell")
            .unwrap();
        assert_eq!(dwell.details, "2s on page");
    }

    #[test]
    fn weights_override_and_zero_switches_off() {
        let mut settings = ClickRuleSettings::default();
        settings.weights.insert("honeypot".into(), 0);
        settings.weights.insert("no_js".into(), 7);
        let mut click = event(ClickKind::PageView, 10);
        click.honeypot_hit = true;
        click.js_enabled = Some(false);
        let reasons = evaluate(&history(std::slice::from_ref(&click), &settings));
        assert_eq!(rules(&reasons), vec!["no_js"]);
        assert_eq!(reasons[0].score, 7);
    }

    fn listed(kind: ListKind, label: &str) -> IpFacts {
        let mut tables = IpListTables::empty();
        tables.insert(kind, parse_range("192.0.2.1").unwrap(), label);
        let ip = "192.0.2.1".parse().unwrap();
        IpFacts {
            ip,
            geo: GeoFacts::default(),
            lists: tables.lookup(ip),
            hostname: None,
            hostname_match: None,
            hosting: None,
        }
    }

    #[test]
    fn the_network_rules_read_the_shared_ip_facts() {
        let settings = ClickRuleSettings::default();
        let mut view = event(ClickKind::PageView, 0);
        view.time_on_page_ms = Some(45_000);
        let events = [view, event(ClickKind::Click, 40_000)];
        let fired = |ip: &IpFacts| {
            let mut history = history(&events, &settings);
            history.ip = Some(ip);
            evaluate(&history)
        };
        let tor = fired(&listed(ListKind::Tor, "exits"));
        assert_eq!(rules(&tor), vec!["tor_or_vpn"]);
        assert_eq!(tor[0].details, "Tor exit (exits)");
        let proxy = fired(&listed(ListKind::Proxy, "open"));
        assert_eq!(proxy[0].details, "VPN or proxy (open)");
        // The GeoIP database's anonymous-proxy flag counts as it does for the visitor check.
        let mut flagged = listed(ListKind::Reputation, "firehol");
        flagged.geo.is_anonymous_proxy = true;
        assert_eq!(fired(&flagged)[0].details, "VPN or proxy (GeoIP)");
        let datacenter = fired(&listed(ListKind::Datacenter, "aws"));
        assert_eq!(rules(&datacenter), vec!["datacenter_ip"]);
        assert_eq!(datacenter[0].details, "AWS IP range");
    }

    #[test]
    fn bots_shared_click_ids_repeat_clicks_and_time_zones() {
        let settings = ClickRuleSettings::default();
        let mut view = event(ClickKind::PageView, 0);
        view.time_on_page_ms = Some(45_000);
        view.timezone = "America/New_York".into();
        let events = [view, event(ClickKind::Click, 40_000)];
        let bot = UaFacts {
            is_bot: true,
            is_automation: true,
            bot_evidence: "automation: HeadlessChrome".into(),
            claimed_crawler: None,
            browser: String::new(),
            browser_version: String::new(),
            os: String::new(),
            os_version: String::new(),
            device: crate::intel::user_agent::DeviceType::Desktop,
        };
        let mut london = listed(ListKind::Reputation, "none");
        london.geo.timezone = "Europe/London".into();
        london.geo.country_code = "GB".into();
        let history = VisitorHistory {
            events: &events,
            ip: Some(&london),
            ua: Some(&bot),
            click_id_sharers: 2,
            ip_repeat_clicks: 3,
            settings: &settings,
        };
        let reasons = evaluate(&history);
        for rule in [
            "bot_user_agent",
            "gclid_reuse",
            "repeat_clicks",
            "geo_mismatch",
        ] {
            assert!(rules(&reasons).contains(&rule), "{rule} in {reasons:?}");
        }
        let find = |rule: &str| {
            reasons
                .iter()
                .find(|reason| reason.rule == rule)
                .map(|reason| reason.details.clone())
                .unwrap()
        };
        assert_eq!(
            find("bot_user_agent"),
            "Bot user agent (automation: HeadlessChrome)"
        );
        assert_eq!(find("gclid_reuse"), "Click id seen from 2 visitors or IPs");
        assert_eq!(find("repeat_clicks"), "3 clicks on the same ad");
        assert_eq!(
            find("geo_mismatch"),
            "Browser time zone America/New_York, IP in GB (Europe/London)"
        );
    }

    #[test]
    fn every_rule_is_named_and_weighted() {
        for (rule, _) in RULES {
            assert_eq!(rule_named(rule), Some(*rule));
            assert!(
                DEFAULT_WEIGHTS.iter().any(|(name, _)| name == rule),
                "{rule} has a default weight"
            );
        }
        assert_eq!(rule_named("retired_rule"), None);
    }

    #[test]
    fn fired_rules_are_weighed_when_read() {
        let fired = vec![
            Fired {
                rule: "no_js",
                details: "JavaScript did not run".into(),
            },
            Fired {
                rule: "honeypot",
                details: "Clicked hidden link".into(),
            },
        ];
        let mut settings = ClickRuleSettings::default();
        let reasons = weigh(&fired, &settings);
        assert_eq!(rules(&reasons), vec!["honeypot", "no_js"]);
        settings.weights.insert("honeypot".into(), 0);
        assert_eq!(rules(&weigh(&fired, &settings)), vec!["no_js"]);
    }

    #[test]
    fn clicks_without_conversions_make_a_burst() {
        let settings = ClickRuleSettings::default();
        let mut events = vec![event(ClickKind::PageView, 0)];
        events.extend((0..10).map(|n| event(ClickKind::Click, 1_000 + n * 600_000)));
        assert!(rules(&evaluate(&history(&events, &settings))).contains(&"conversionless_burst"));
        events.push(event(ClickKind::Conversion, 7_000_000));
        assert!(!rules(&evaluate(&history(&events, &settings))).contains(&"conversionless_burst"));
    }
}
