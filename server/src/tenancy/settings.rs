//! A tenant's settings as stored, with their defaults.

use serde::{Deserialize, Serialize};

/// Requests per minute a tenant may make unless configured otherwise.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 1000;
/// Days click events and signals are kept unless configured otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// Seconds a smart URL JavaScript confirmation holds.
pub const DEFAULT_JS_CONFIRMATION_SECONDS: u32 = 86_400;
/// Seconds a signed SDK token stays valid.
pub const DEFAULT_SIGNATURE_VALIDITY_SECONDS: u32 = 300;
/// Verified requests per device and minute before Verify answers 1602.
pub const DEFAULT_VERIFY_VELOCITY_PER_MINUTE: u32 = 120;

/// The most requests per minute a tenant can be given.
pub const MAX_RATE_LIMIT_PER_MINUTE: u32 = 10_000_000;
/// The longest retention, in days.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Which services a tenant may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSwitches {
    /// SignalService and IdentityService.
    pub identity: bool,
    /// DecisionService.
    pub decision: bool,
    /// BlockerService.
    pub blocker: bool,
    /// SmartUrlService.
    pub smart_url: bool,
    /// VerifyService.
    pub verify: bool,
}

/// The service switch a call falls under (see [`ServiceSwitches`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceArea {
    /// SignalService and IdentityService.
    Identity,
    /// DecisionService.
    Decision,
    /// BlockerService.
    Blocker,
    /// SmartUrlService and the `/r/` links.
    SmartUrl,
    /// VerifyService.
    Verify,
    /// AdminService: always open to its tenant, so a switched-off tenant can still be managed.
    Admin,
}

/// Why a tenant's switches refuse a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchedOff {
    /// All of the tenant's traffic is off.
    Traffic,
    /// This service is off for the tenant.
    Service,
}

impl TenantSettings {
    /// Whether the tenant's switches let a call of `area` through: the one check every entry
    /// (the gRPC gate, Verify's envelope, the `/r/` links) makes, each answering in its own shape.
    pub fn admits(&self, area: ServiceArea) -> Result<(), SwitchedOff> {
        let service = match area {
            ServiceArea::Admin => return Ok(()),
            ServiceArea::Identity => self.services.identity,
            ServiceArea::Decision => self.services.decision,
            ServiceArea::Blocker => self.services.blocker,
            ServiceArea::SmartUrl => self.services.smart_url,
            ServiceArea::Verify => self.services.verify,
        };
        if !self.traffic_enabled {
            return Err(SwitchedOff::Traffic);
        }
        if !service {
            return Err(SwitchedOff::Service);
        }
        Ok(())
    }
}

impl Default for ServiceSwitches {
    fn default() -> Self {
        Self {
            identity: true,
            decision: true,
            blocker: true,
            smart_url: true,
            verify: true,
        }
    }
}

/// A tenant's settings. Fields added later default when an older record is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// Requests per minute before RATE_LIMITED.
    pub rate_limit_per_minute: u32,
    /// False switches all of the tenant's traffic off.
    pub traffic_enabled: bool,
    /// Which services the tenant may use.
    pub services: ServiceSwitches,
    /// Days click events and signals are kept.
    pub retention_days: u32,
    /// Browser origins allowed to call publishable-key RPCs over grpc-web.
    pub allowed_origins: Vec<String>,
    /// Seconds a smart URL JavaScript confirmation holds.
    pub js_confirmation_seconds: u32,
    /// Seconds a signed SDK token stays valid.
    pub signature_validity_seconds: u32,
    /// Verified requests per device and minute before 1602.
    pub verify_velocity_per_minute: u32,
    /// Visitor checks.
    pub blocker: BlockerSettings,
    /// Identity rules.
    pub identity_rules: IdentityRuleSettings,
    /// Click-fraud rules.
    pub click_rules: ClickRuleSettings,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
            traffic_enabled: true,
            services: ServiceSwitches::default(),
            retention_days: DEFAULT_RETENTION_DAYS,
            allowed_origins: Vec::new(),
            js_confirmation_seconds: DEFAULT_JS_CONFIRMATION_SECONDS,
            signature_validity_seconds: DEFAULT_SIGNATURE_VALIDITY_SECONDS,
            verify_velocity_per_minute: DEFAULT_VERIFY_VELOCITY_PER_MINUTE,
            blocker: BlockerSettings::default(),
            identity_rules: IdentityRuleSettings::default(),
            click_rules: ClickRuleSettings::default(),
        }
    }
}

/// Threat-URL hits from one IP within the window that block it for malicious activity.
pub const DEFAULT_MALICIOUS_THRESHOLD: u32 = 5;
/// The sliding window for counting threat-URL hits, in seconds.
pub const DEFAULT_MALICIOUS_WINDOW_SECONDS: u32 = 600;
/// How long an IP stays blocked for malicious activity, in seconds.
pub const DEFAULT_MALICIOUS_BLOCK_SECONDS: u32 = 3600;

/// Which DetectActivity reasons apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockerReasons {
    /// Honour the tenant's whitelist.
    pub whitelist_ip: bool,
    /// Honour the tenant's blacklist.
    pub blacklist_ip: bool,
    /// Block IPs on reputation lists.
    pub ip_database: bool,
    /// Block IPs that keep probing.
    pub malicious_activity: bool,
    /// Block IPs whose hostname is in the hostname database.
    pub hostname_database: bool,
    /// Block proxies, VPNs and Tor exits.
    pub proxy_vpn_tor: bool,
    /// Block the configured countries.
    pub country: bool,
    /// Block datacenter and hosting IPs.
    pub ip_non_isp: bool,
    /// Block bots and crawlers.
    pub spider_crawler: bool,
    /// Block attack and scanner URLs.
    pub threat_url: bool,
    /// Block desktop devices.
    pub device_desktop: bool,
    /// Block mobile devices (tablets included).
    pub device_mobile: bool,
}

impl Default for BlockerReasons {
    fn default() -> Self {
        Self {
            whitelist_ip: true,
            blacklist_ip: true,
            ip_database: true,
            malicious_activity: true,
            hostname_database: true,
            proxy_vpn_tor: true,
            country: true,
            ip_non_isp: true,
            spider_crawler: true,
            threat_url: true,
            // Blocking whole device classes is a deliberate choice, never a default.
            device_desktop: false,
            device_mobile: false,
        }
    }
}

/// How visitors are checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockerSettings {
    /// Which reasons apply.
    pub reasons: BlockerReasons,
    /// ISO alpha-2 codes of blocked countries, upper case.
    pub blocked_countries: Vec<String>,
    /// Threat-URL hits within the window that block an IP.
    pub malicious_threshold: u32,
    /// The window for counting threat-URL hits, in seconds.
    pub malicious_window_seconds: u32,
    /// How long an IP stays blocked, in seconds.
    pub malicious_block_seconds: u32,
    /// Let verified search-engine crawlers in.
    pub allow_verified_crawlers: bool,
}

impl Default for BlockerSettings {
    fn default() -> Self {
        Self {
            reasons: BlockerReasons::default(),
            blocked_countries: Vec::new(),
            malicious_threshold: DEFAULT_MALICIOUS_THRESHOLD,
            malicious_window_seconds: DEFAULT_MALICIOUS_WINDOW_SECONDS,
            malicious_block_seconds: DEFAULT_MALICIOUS_BLOCK_SECONDS,
            allow_verified_crawlers: true,
        }
    }
}

/// Identities one device may be used by before SHARED_DEVICE is raised.
pub const DEFAULT_MAX_IDENTITIES_PER_DEVICE: u32 = 3;
/// Speed above which travel is impossible, in km/h (faster than an airliner).
pub const DEFAULT_IMPOSSIBLE_TRAVEL_KMH: u32 = 1000;
/// Signals from one identity within the window that raise SIGNAL_VELOCITY.
pub const DEFAULT_VELOCITY_MAX_SIGNALS: u32 = 30;
/// The window for signal velocity, in seconds.
pub const DEFAULT_VELOCITY_WINDOW_SECONDS: u32 = 60;

/// Thresholds of the identity rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityRuleSettings {
    /// Identities one device may be used by before SHARED_DEVICE.
    pub max_identities_per_device: u32,
    /// Speed above which travel is impossible, in km/h.
    pub impossible_travel_kmh: u32,
    /// Signals within the window that raise SIGNAL_VELOCITY.
    pub velocity_max_signals: u32,
    /// The velocity window, in seconds.
    pub velocity_window_seconds: u32,
    /// Raise NEW_DEVICE events.
    pub new_device_events: bool,
}

impl Default for IdentityRuleSettings {
    fn default() -> Self {
        Self {
            max_identities_per_device: DEFAULT_MAX_IDENTITIES_PER_DEVICE,
            impossible_travel_kmh: DEFAULT_IMPOSSIBLE_TRAVEL_KMH,
            velocity_max_signals: DEFAULT_VELOCITY_MAX_SIGNALS,
            velocity_window_seconds: DEFAULT_VELOCITY_WINDOW_SECONDS,
            new_device_events: true,
        }
    }
}

/// Clicks within the window that fire `rapid_clicks`.
pub const DEFAULT_RAPID_CLICKS_THRESHOLD: u32 = 5;
/// The `rapid_clicks` window, in seconds.
pub const DEFAULT_RAPID_CLICKS_WINDOW_SECONDS: u32 = 60;
/// Time on page below which `short_dwell` fires, in milliseconds.
pub const DEFAULT_SHORT_DWELL_MS: u32 = 3000;
/// Clicks on the same ad from one IP or visitor that fire `repeat_clicks`.
pub const DEFAULT_REPEAT_CLICKS_THRESHOLD: u32 = 3;
/// Visitors or IPs one click id may be seen from before `gclid_reuse` fires.
pub const DEFAULT_GCLID_REUSE_THRESHOLD: u32 = 1;
/// Clicks in a day without a conversion that fire `conversionless_burst`.
pub const DEFAULT_CONVERSIONLESS_BURST_THRESHOLD: u32 = 10;

/// Weights, windows and thresholds of the click-fraud rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClickRuleSettings {
    /// Per-rule points overriding the defaults; 0 switches a rule off.
    pub weights: std::collections::BTreeMap<String, i32>,
    /// Clicks within the window that fire `rapid_clicks`.
    pub rapid_clicks_threshold: u32,
    /// The `rapid_clicks` window, in seconds.
    pub rapid_clicks_window_seconds: u32,
    /// Time on page below which `short_dwell` fires, in milliseconds.
    pub short_dwell_ms: u32,
    /// Clicks on one ad from one IP or visitor that fire `repeat_clicks`.
    pub repeat_clicks_threshold: u32,
    /// Visitors or IPs one click id may be seen from before `gclid_reuse` fires.
    pub gclid_reuse_threshold: u32,
    /// Clicks in a day without a conversion that fire `conversionless_burst`.
    pub conversionless_burst_threshold: u32,
}

impl Default for ClickRuleSettings {
    fn default() -> Self {
        Self {
            weights: std::collections::BTreeMap::new(),
            rapid_clicks_threshold: DEFAULT_RAPID_CLICKS_THRESHOLD,
            rapid_clicks_window_seconds: DEFAULT_RAPID_CLICKS_WINDOW_SECONDS,
            short_dwell_ms: DEFAULT_SHORT_DWELL_MS,
            repeat_clicks_threshold: DEFAULT_REPEAT_CLICKS_THRESHOLD,
            gclid_reuse_threshold: DEFAULT_GCLID_REUSE_THRESHOLD,
            conversionless_burst_threshold: DEFAULT_CONVERSIONLESS_BURST_THRESHOLD,
        }
    }
}
