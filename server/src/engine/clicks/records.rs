//! What the click-fraud face stores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a visitor did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClickKind {
    /// The landing page was shown.
    PageView,
    /// An ad or tracked link was clicked.
    Click,
    /// The visitor converted.
    Conversion,
}

/// One tracked event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickEvent {
    /// `cev_...`.
    pub event_id: String,
    /// `vis_...`.
    pub visitor_id: String,
    /// What happened.
    pub kind: ClickKind,
    /// The page URL.
    pub url: String,
    /// The referrer.
    pub referrer: String,
    /// Click ids by name (`gclid`, `gbraid`, `wbraid`, `msclkid`, `fbclid`).
    pub click_ids: BTreeMap<String, String>,
    /// The user agent.
    pub user_agent: String,
    /// Scroll depth in percent.
    pub scroll_depth: Option<u32>,
    /// Time on page in milliseconds.
    pub time_on_page_ms: Option<u64>,
    /// The honeypot link was followed.
    pub honeypot_hit: bool,
    /// Whether JavaScript ran; unknown for server-side events.
    pub js_enabled: Option<bool>,
    /// The browser's time zone.
    pub timezone: String,
    /// The browser's device id.
    pub device_id: String,
    /// The visitor's IP.
    pub ip: String,
    /// When it happened.
    pub time_ms: i64,
}

impl ClickEvent {
    /// Which ad a click was on: its landing page without the query (click ids and UTM
    /// parameters differ per click; the page does not).
    pub fn ad_key(&self) -> &str {
        self.url.split(['?', '#']).next().unwrap_or_default()
    }
}

/// Who shared a click id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickIdRecord {
    /// Visitors seen with it (at most [`MAX_SHARERS`]).
    pub visitors: Vec<String>,
    /// IPs seen with it (at most [`MAX_SHARERS`]).
    pub ips: Vec<String>,
}

/// How many sharers of a click id are remembered; more is as bad as this many.
pub const MAX_SHARERS: usize = 50;

/// Recent clicks from one IP, across visitors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpClicks {
    /// (time, ad) of recent clicks, oldest first, at most [`MAX_IP_CLICKS`].
    pub clicks: Vec<(i64, String)>,
}

/// How many recent clicks per IP are remembered.
pub const MAX_IP_CLICKS: usize = 200;

/// The band a score falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// 0-39.
    Clean,
    /// 40-69.
    Suspicious,
    /// 70-100.
    Fraud,
}

impl Label {
    /// The label of a score.
    pub fn of(score: i32) -> Self {
        match score {
            ..=39 => Label::Clean,
            40..=69 => Label::Suspicious,
            _ => Label::Fraud,
        }
    }

    /// The name used in counters.
    pub fn name(self) -> &'static str {
        match self {
            Label::Clean => "clean",
            Label::Suspicious => "suspicious",
            Label::Fraud => "fraud",
        }
    }
}

/// A rule that fired, as kept: its name and evidence, without points (the weights in force
/// when the decision is read apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredRule {
    /// Rule name.
    pub rule: String,
    /// Evidence.
    pub details: String,
}

/// The latest decision about a visitor, made when its latest event arrived. It is what
/// GetDecision reads, and it counts each visitor once per day in the stats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The day number of the visitor's latest event.
    pub day: u32,
    /// The label under the weights in force when it was made.
    pub label: Label,
    /// The rules that counted under those weights.
    pub rules: Vec<String>,
    /// Every rule that fired, whatever its weight.
    #[serde(default)]
    pub fired: Vec<FiredRule>,
    /// The visitor's latest IP.
    #[serde(default)]
    pub ip: String,
    /// When it was made; 0 in records of releases that decided only when asked (those are
    /// decided again when the data dir is migrated).
    #[serde(default)]
    pub decided_ms: i64,
}

/// An IP on the blocklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocklistRecord {
    /// The IP.
    pub ip: String,
    /// The worst score.
    pub score: i32,
    /// The worst label.
    pub label: Label,
    /// When the IP was last seen.
    pub last_seen_ms: i64,
    /// The reasons of the worst decision, joined.
    pub reason: String,
}
