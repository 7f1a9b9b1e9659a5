//! The identity rules: small, pure functions over an identity's history and one new signal,
//! each raising an event (and an immediate result) when it fires. Thresholds are the tenant's.

use crate::{engine::reason::Reason, intel::IpFacts, tenancy::IdentityRuleSettings};

use super::records::{
    BanAction, DeviceInfo, EnvRisk, EventLevel, EventType, IdentityRecord, ImmediateKind,
    Recommendation,
};

/// Travel shorter than this is never "impossible": GeoIP is not that precise.
pub const MIN_TRAVEL_KM: f64 = 200.0;

/// One signal, as the rules see it.
#[derive(Debug, Clone)]
pub struct SignalFacts<'a> {
    /// When it happened.
    pub time_ms: i64,
    /// The device, if the client sent one.
    pub device: Option<&'a DeviceInfo>,
    /// What is known of the IP, if there is one.
    pub ip: Option<&'a IpFacts>,
    /// Where the signal came from: device coordinates first, else GeoIP.
    pub location: Option<(f64, f64)>,
}

/// Everything the rules look at.
#[derive(Debug, Clone)]
pub struct RuleInput<'a> {
    /// The identity before this signal.
    pub before: &'a IdentityRecord,
    /// The signal.
    pub signal: SignalFacts<'a>,
    /// How many identities use the signal's device, this one included.
    pub device_identities: usize,
    /// True when this signal is the identity's first on the device.
    pub first_use_of_device: bool,
    /// The tenant's thresholds.
    pub settings: &'a IdentityRuleSettings,
}

/// A rule that fired: the event it raises, and its [`Reason`] (its score is the risk points
/// the event adds to the identity).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The event to raise.
    pub event_type: EventType,
    /// Its level.
    pub level: EventLevel,
    /// What to do.
    pub recommendation: Recommendation,
    /// The immediate result to answer.
    pub immediate: ImmediateKind,
    /// The rule, its points and its evidence.
    pub reason: Reason,
}

/// What a rule raises, before it is named.
struct Raised {
    event_type: EventType,
    level: EventLevel,
    recommendation: Recommendation,
    details: String,
    immediate: ImmediateKind,
}

type Rule = fn(&RuleInput<'_>) -> Option<Raised>;

/// Every rule, by its stable name.
const RULES: &[(&str, Rule)] = &[
    ("new_device", new_device),
    ("impossible_travel", impossible_travel),
    ("tor_or_vpn", tor_or_vpn),
    ("shared_device", shared_device),
    ("velocity", velocity),
    ("device_risk", device_risk),
];

/// Runs every rule.
pub fn evaluate(input: &RuleInput<'_>) -> Vec<Finding> {
    RULES
        .iter()
        .filter_map(|(rule, check)| {
            let raised = check(input)?;
            Some(Finding {
                event_type: raised.event_type,
                level: raised.level,
                recommendation: raised.recommendation,
                immediate: raised.immediate,
                reason: Reason {
                    rule,
                    score: raised.level.risk_points(),
                    details: raised.details,
                },
            })
        })
        .collect()
}

fn new_device(input: &RuleInput<'_>) -> Option<Raised> {
    let device = input.signal.device?;
    let known = input
        .before
        .devices
        .iter()
        .any(|seen| seen.device.device_id == device.device_id);
    // An identity's first device is not "new": there is nothing to compare with.
    if !input.settings.new_device_events || known || input.before.devices.is_empty() {
        return None;
    }
    Some(Raised {
        event_type: EventType::NewDevice,
        level: EventLevel::Low,
        recommendation: Recommendation::None,
        details: format!(
            "device {} ({} {}) never seen for this identity",
            device.device_id, device.manufacturer, device.model
        )
        .replace(" ( )", ""),
        immediate: ImmediateKind::NewDevice,
    })
}

/// Great-circle distance in km.
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

fn impossible_travel(input: &RuleInput<'_>) -> Option<Raised> {
    let here = input.signal.location?;
    let last = input.before.locations.last()?;
    let km = haversine_km((last.latitude, last.longitude), here);
    if km < MIN_TRAVEL_KM {
        return None;
    }
    let hours = (input.signal.time_ms - last.seen_ms).max(0) as f64 / 3_600_000.0;
    let kmh = if hours > 0.0 {
        km / hours
    } else {
        f64::INFINITY
    };
    if kmh <= f64::from(input.settings.impossible_travel_kmh) {
        return None;
    }
    let minutes = (hours * 60.0).round();
    Some(Raised {
        event_type: EventType::ImpossibleTravel,
        level: EventLevel::High,
        recommendation: Recommendation::Review,
        details: format!("{km:.0} km in {minutes} min"),
        immediate: ImmediateKind::ImpossibleTravel,
    })
}

fn tor_or_vpn(input: &RuleInput<'_>) -> Option<Raised> {
    let ip = input.signal.ip?;
    let found = ip.anonymity()?;
    if found.is_tor() {
        return Some(Raised {
            event_type: EventType::Tor,
            level: EventLevel::Medium,
            recommendation: Recommendation::Review,
            details: format!("{} is a Tor exit ({})", ip.ip, found.source),
            immediate: ImmediateKind::Tor,
        });
    }
    Some(Raised {
        event_type: EventType::Vpn,
        level: EventLevel::Low,
        recommendation: Recommendation::None,
        details: format!("{} is a VPN or proxy ({})", ip.ip, found.source),
        immediate: ImmediateKind::Vpn,
    })
}

fn shared_device(input: &RuleInput<'_>) -> Option<Raised> {
    let device = input.signal.device?;
    let limit = usize::try_from(input.settings.max_identities_per_device).unwrap_or(usize::MAX);
    // Raised when this identity pushes the device over the limit, not on every later signal.
    if !input.first_use_of_device || input.device_identities <= limit {
        return None;
    }
    Some(Raised {
        event_type: EventType::SharedDevice,
        level: EventLevel::High,
        recommendation: Recommendation::Ban {
            action: BanAction::Shadow,
            duration_seconds: 30 * 86_400,
        },
        details: format!(
            "device {} is used by {} identities (limit {limit})",
            device.device_id, input.device_identities
        ),
        immediate: ImmediateKind::TooManyAccounts,
    })
}

fn velocity(input: &RuleInput<'_>) -> Option<Raised> {
    let window_ms = i64::from(input.settings.velocity_window_seconds) * 1000;
    let since = input.signal.time_ms - window_ms;
    let in_window = input
        .before
        .recent_signal_ms
        .iter()
        .filter(|time| **time > since)
        .count()
        + 1;
    let limit = usize::try_from(input.settings.velocity_max_signals).unwrap_or(usize::MAX);
    // Raised once per burst: when the count first goes over the limit.
    if in_window != limit + 1 {
        return None;
    }
    Some(Raised {
        event_type: EventType::SignalVelocity,
        level: EventLevel::Medium,
        recommendation: Recommendation::Review,
        details: format!(
            "{in_window} signals in {}s",
            input.settings.velocity_window_seconds
        ),
        immediate: ImmediateKind::Velocity,
    })
}

fn device_risk(input: &RuleInput<'_>) -> Option<Raised> {
    let device = input.signal.device?;
    if device.env_risks.is_empty() {
        return None;
    }
    let unchanged = input.before.devices.iter().any(|seen| {
        seen.device.device_id == device.device_id && seen.device.env_risks == device.env_risks
    });
    if unchanged {
        return None;
    }
    let serious = device
        .env_risks
        .iter()
        .any(|risk| matches!(risk, EnvRisk::Hack | EnvRisk::Crawler));
    let names: Vec<&str> = device
        .env_risks
        .iter()
        .map(|risk| match risk {
            EnvRisk::Root => "root",
            EnvRisk::Hack => "hack",
            EnvRisk::VirtualEnv => "virtualEnv",
            EnvRisk::Crawler => "crawler",
        })
        .collect();
    Some(Raised {
        event_type: EventType::DeviceRisk,
        level: if serious {
            EventLevel::High
        } else {
            EventLevel::Medium
        },
        recommendation: Recommendation::Review,
        details: format!("device {} reports {}", device.device_id, names.join(", ")),
        immediate: ImmediateKind::DeviceRisk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::identity::records::{IdentityStatus, SeenDevice, SeenLocation};

    fn identity() -> IdentityRecord {
        IdentityRecord {
            identity_id: "idt_1".into(),
            user_ids: vec!["u1".into()],
            devices: Vec::new(),
            ips: Vec::new(),
            locations: Vec::new(),
            carriers: Vec::new(),
            first_seen_ms: 0,
            last_seen_ms: 0,
            status: IdentityStatus::Active,
            risk_score: 0,
            recent_signal_ms: Vec::new(),
        }
    }

    fn device(id: &str) -> DeviceInfo {
        DeviceInfo {
            device_id: id.into(),
            model: "Pixel 8".into(),
            manufacturer: "Google".into(),
            ..DeviceInfo::default()
        }
    }

    fn input<'a>(
        before: &'a IdentityRecord,
        device: Option<&'a DeviceInfo>,
        settings: &'a IdentityRuleSettings,
    ) -> RuleInput<'a> {
        RuleInput {
            before,
            signal: SignalFacts {
                time_ms: 10_000_000,
                device,
                ip: None,
                location: None,
            },
            device_identities: 1,
            first_use_of_device: false,
            settings,
        }
    }

    #[test]
    fn a_second_device_is_new_but_the_first_is_not() {
        let settings = IdentityRuleSettings::default();
        let mut before = identity();
        let phone = device("dev_a");
        assert!(evaluate(&input(&before, Some(&phone), &settings)).is_empty());
        before.devices.push(SeenDevice {
            device: phone.clone(),
            first_seen_ms: 0,
            last_seen_ms: 0,
        });
        let tablet = device("dev_b");
        let found = evaluate(&input(&before, Some(&tablet), &settings));
        assert_eq!(found[0].event_type, EventType::NewDevice);
    }

    #[test]
    fn berlin_to_sydney_in_an_hour_is_impossible_but_in_a_day_is_not() {
        let settings = IdentityRuleSettings::default();
        let mut before = identity();
        before.locations.push(SeenLocation {
            latitude: 52.52,
            longitude: 13.40,
            city: "Berlin".into(),
            region: String::new(),
            country_code: "DE".into(),
            source: "device".into(),
            seen_ms: 10_000_000 - 3_600_000,
        });
        let mut facts = input(&before, None, &settings);
        facts.signal.location = Some((-33.87, 151.21));
        let found = evaluate(&facts);
        assert_eq!(found[0].event_type, EventType::ImpossibleTravel);
        assert!(
            found[0].reason.details.starts_with("160"),
            "{}",
            found[0].reason.details
        );
        facts.signal.time_ms += 23 * 3_600_000;
        assert!(evaluate(&facts).is_empty());
    }

    #[test]
    fn velocity_fires_once_when_the_limit_is_crossed() {
        let settings = IdentityRuleSettings {
            velocity_max_signals: 3,
            velocity_window_seconds: 60,
            ..IdentityRuleSettings::default()
        };
        let mut before = identity();
        let now = 10_000_000;
        before.recent_signal_ms = vec![now - 3_000, now - 2_000, now - 1_000];
        let facts = input(&before, None, &settings);
        assert_eq!(evaluate(&facts)[0].event_type, EventType::SignalVelocity);
        before.recent_signal_ms.push(now - 500);
        assert!(evaluate(&input(&before, None, &settings)).is_empty());
    }

    #[test]
    fn a_device_over_the_identity_limit_is_shared() {
        let settings = IdentityRuleSettings {
            max_identities_per_device: 2,
            ..IdentityRuleSettings::default()
        };
        let before = identity();
        let phone = device("dev_a");
        let mut facts = input(&before, Some(&phone), &settings);
        facts.first_use_of_device = true;
        facts.device_identities = 2;
        assert!(evaluate(&facts).is_empty());
        facts.device_identities = 3;
        assert_eq!(evaluate(&facts)[0].event_type, EventType::SharedDevice);
    }

    #[test]
    fn tor_vpn_and_geoip_anonymous_proxies_raise_their_events() {
        use crate::intel::{
            geo::GeoFacts,
            ip_lists::{IpListTables, ListKind, parse_range},
        };
        let settings = IdentityRuleSettings::default();
        let before = identity();
        let facts = |kind: Option<ListKind>, anonymous_proxy: bool| {
            let mut tables = IpListTables::empty();
            if let Some(kind) = kind {
                tables.insert(kind, parse_range("192.0.2.1").unwrap(), "list");
            }
            let ip = "192.0.2.1".parse().unwrap();
            IpFacts {
                ip,
                geo: GeoFacts {
                    is_anonymous_proxy: anonymous_proxy,
                    ..GeoFacts::default()
                },
                lists: tables.lookup(ip),
                hostname: None,
                hostname_match: None,
                hosting: None,
            }
        };
        for (ip, event_type, details) in [
            (
                facts(Some(ListKind::Tor), false),
                EventType::Tor,
                "192.0.2.1 is a Tor exit (list)",
            ),
            (
                facts(Some(ListKind::Vpn), false),
                EventType::Vpn,
                "192.0.2.1 is a VPN or proxy (list)",
            ),
            (
                facts(None, true),
                EventType::Vpn,
                "192.0.2.1 is a VPN or proxy (GeoIP)",
            ),
        ] {
            let found = evaluate(&RuleInput {
                before: &before,
                signal: SignalFacts {
                    time_ms: 1,
                    device: None,
                    ip: Some(&ip),
                    location: None,
                },
                device_identities: 0,
                first_use_of_device: false,
                settings: &settings,
            });
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].event_type, event_type);
            assert_eq!(found[0].reason.rule, "tor_or_vpn");
            assert_eq!(found[0].reason.details, details);
            assert_eq!(found[0].reason.score, found[0].level.risk_points());
        }
    }

    #[test]
    fn reported_device_risks_raise_an_event_once() {
        let settings = IdentityRuleSettings::default();
        let mut before = identity();
        let mut rooted = device("dev_a");
        rooted.env_risks = vec![EnvRisk::Root, EnvRisk::Hack];
        let found = evaluate(&input(&before, Some(&rooted), &settings));
        assert_eq!(found[0].event_type, EventType::DeviceRisk);
        assert_eq!(found[0].level, EventLevel::High);
        before.devices.push(SeenDevice {
            device: rooted.clone(),
            first_seen_ms: 0,
            last_seen_ms: 0,
        });
        assert!(evaluate(&input(&before, Some(&rooted), &settings)).is_empty());
    }
}
