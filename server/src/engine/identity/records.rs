//! What the identity face stores: identities, devices, signals, events, bans and approvals.
//!
//! Ids carry an inverted timestamp (`evt_<16 hex of u64::MAX - ms><8 hex random>`), so a scan of a
//! tenant's keys returns the newest first without a separate time index.

use std::collections::BTreeMap;

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// A new id with `prefix`, ordered newest first.
pub fn new_id(prefix: &str, now_ms: i64) -> String {
    let inverted = u64::MAX - u64::try_from(now_ms).unwrap_or_default();
    format!("{prefix}_{inverted:016x}{:08x}", rand::rng().next_u32())
}

/// A device risk the SDK reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum EnvRisk {
    /// Rooted or jailbroken.
    Root,
    /// Hooking, tampering or a debugger.
    Hack,
    /// Emulator or virtual machine.
    VirtualEnv,
    /// Headless or automated browser.
    Crawler,
}

/// A mobile carrier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierInfo {
    /// Operator name.
    pub name: String,
    /// Mobile country code.
    pub mcc: String,
    /// Mobile network code.
    pub mnc: String,
    /// ISO country code.
    pub country_code: String,
}

/// A device as the SDK described it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Stable device id.
    pub device_id: String,
    /// Platform number, as in `gatehouse.v1.DevicePlatform`.
    pub platform: i32,
    /// OS name.
    pub os_name: String,
    /// OS version.
    pub os_version: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// The tenant's app version.
    pub app_version: String,
    /// Locale.
    pub locale: String,
    /// IANA time zone.
    pub timezone: String,
    /// Screen width.
    pub screen_width: u32,
    /// Screen height.
    pub screen_height: u32,
    /// Risks found.
    pub env_risks: Vec<EnvRisk>,
    /// Carrier.
    pub carrier: Option<CarrierInfo>,
    /// Fingerprint component hashes.
    pub components: BTreeMap<String, String>,
}

/// A device seen for an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenDevice {
    /// The device as last reported.
    pub device: DeviceInfo,
    /// First seen.
    pub first_seen_ms: i64,
    /// Last seen.
    pub last_seen_ms: i64,
}

/// An IP seen for an identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenIp {
    /// The IP.
    pub ip: String,
    /// ISO country code, when known.
    pub country_code: String,
    /// City, when known.
    pub city: String,
    /// AS number.
    pub asn: u32,
    /// AS organisation.
    pub company: String,
    /// Tor exit.
    pub tor: bool,
    /// VPN or proxy.
    pub vpn: bool,
    /// First seen.
    pub first_seen_ms: i64,
    /// Last seen.
    pub last_seen_ms: i64,
}

/// A location seen for an identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenLocation {
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
    /// City, when known.
    pub city: String,
    /// Region, when known.
    pub region: String,
    /// Country code, when known.
    pub country_code: String,
    /// "device" or "ip".
    pub source: String,
    /// When.
    pub seen_ms: i64,
}

/// Where an identity stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityStatus {
    /// Nothing against it.
    Active,
    /// Recommended for review, or the user denied an approval.
    UnderReview,
    /// Banned.
    Banned,
    /// The user approved the latest approval.
    Approved,
}

/// How many locations and recent signal times an identity keeps.
pub const MAX_LOCATIONS: usize = 20;
/// How many devices and IPs an identity keeps (least recently seen dropped first).
pub const MAX_SEEN: usize = 50;

/// A user of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityRecord {
    /// `idt_...`.
    pub identity_id: String,
    /// Linked user ids.
    pub user_ids: Vec<String>,
    /// Devices seen.
    pub devices: Vec<SeenDevice>,
    /// IPs seen.
    pub ips: Vec<SeenIp>,
    /// Locations seen, newest last.
    pub locations: Vec<SeenLocation>,
    /// Carriers seen.
    pub carriers: Vec<CarrierInfo>,
    /// First seen.
    pub first_seen_ms: i64,
    /// Last seen.
    pub last_seen_ms: i64,
    /// Status.
    pub status: IdentityStatus,
    /// Risk score 0-100.
    pub risk_score: i32,
    /// Times of recent signals, oldest first (for velocity).
    pub recent_signal_ms: Vec<i64>,
}

/// The identities a device has been used by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Identity ids, in first-use order.
    pub identities: Vec<String>,
}

/// What kind of risk an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// A device never seen for the identity.
    NewDevice,
    /// Locations too far apart for the time between them.
    ImpossibleTravel,
    /// A Tor exit.
    Tor,
    /// A VPN or proxy.
    Vpn,
    /// One device used by too many identities.
    SharedDevice,
    /// Too many signals in the window.
    SignalVelocity,
    /// A signal from a banned subject.
    BannedActivity,
    /// The user approved.
    ApprovalApproved,
    /// The user denied.
    ApprovalDenied,
    /// The device reported root, hooking, emulator or automation.
    DeviceRisk,
}

impl EventType {
    /// The name used in webhooks and filters (the proto enum without its prefix).
    pub fn name(self) -> &'static str {
        match self {
            EventType::NewDevice => "NEW_DEVICE",
            EventType::ImpossibleTravel => "IMPOSSIBLE_TRAVEL",
            EventType::Tor => "TOR",
            EventType::Vpn => "VPN",
            EventType::SharedDevice => "SHARED_DEVICE",
            EventType::SignalVelocity => "SIGNAL_VELOCITY",
            EventType::BannedActivity => "BANNED_ACTIVITY",
            EventType::ApprovalApproved => "APPROVAL_APPROVED",
            EventType::ApprovalDenied => "APPROVAL_DENIED",
            EventType::DeviceRisk => "DEVICE_RISK",
        }
    }
}

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventLevel {
    /// Worth knowing.
    Low,
    /// Worth a look.
    Medium,
    /// Likely fraud.
    High,
    /// Act now.
    Critical,
}

impl EventLevel {
    /// Points the level adds to the identity's risk score.
    pub fn risk_points(self) -> i32 {
        match self {
            EventLevel::Low => 5,
            EventLevel::Medium => 15,
            EventLevel::High => 30,
            EventLevel::Critical => 50,
        }
    }
}

/// What a ban does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanAction {
    /// Refuse.
    Block,
    /// Flag silently.
    Shadow,
}

/// What Gatehouse suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Recommendation {
    /// Nothing.
    None,
    /// A person should look.
    Review,
    /// Ban.
    Ban {
        /// What the ban should do.
        action: BanAction,
        /// How long, in seconds; 0 = until lifted.
        duration_seconds: i64,
    },
}

/// A signal behind an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSignalRef {
    /// `sig_...`.
    pub signal_id: String,
    /// The signal's custom type.
    pub signal_type: String,
    /// When it happened.
    pub time_ms: i64,
}

/// A risk raised over an identity's signals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// `evt_...`.
    pub event_id: String,
    /// The identity.
    pub identity_id: String,
    /// What kind.
    pub event_type: EventType,
    /// How serious.
    pub level: EventLevel,
    /// The signals behind it.
    pub signals: Vec<EventSignalRef>,
    /// The suggestion.
    pub recommendation: Recommendation,
    /// Evidence.
    pub details: String,
    /// When raised.
    pub created_ms: i64,
    /// The approval asked about it, if any.
    pub approval_id: Option<String>,
}

/// What kind of subject a ban covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanSubjectKind {
    /// An identity id.
    Identity,
    /// A device id.
    Device,
    /// An IP.
    Ip,
}

impl BanSubjectKind {
    /// The tag in index keys.
    pub fn tag(self) -> &'static str {
        match self {
            BanSubjectKind::Identity => "identity",
            BanSubjectKind::Device => "device",
            BanSubjectKind::Ip => "ip",
        }
    }
}

/// A ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    /// `ban_...`.
    pub ban_id: String,
    /// Subject kind.
    pub subject_kind: BanSubjectKind,
    /// Subject.
    pub subject: String,
    /// Action.
    pub action: BanAction,
    /// Why.
    pub reason: String,
    /// Created.
    pub created_ms: i64,
    /// Expires; 0 = never.
    pub expires_ms: i64,
    /// Lifted at; 0 while not lifted.
    pub lifted_ms: i64,
}

impl BanRecord {
    /// True when the ban applies at `now_ms`: not lifted, not expired.
    pub fn active_at(&self, now_ms: i64) -> bool {
        self.lifted_ms == 0 && (self.expires_ms == 0 || self.expires_ms > now_ms)
    }
}

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting.
    Pending,
    /// Approved.
    Approved,
    /// Denied.
    Denied,
}

/// An approval asked of the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// `apv_...`.
    pub approval_id: String,
    /// The event asked about.
    pub event_id: String,
    /// The identity asked.
    pub identity_id: String,
    /// Where it stands (expiry is computed from `expires_ms`).
    pub status: ApprovalStatus,
    /// Text for the user.
    pub message: String,
    /// Created.
    pub created_ms: i64,
    /// Answerable until.
    pub expires_ms: i64,
    /// Answered at; 0 while pending.
    pub resolved_ms: i64,
    /// SHA-256 of the one-time token, hex.
    pub token_hash: String,
}

/// One thing a signal showed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImmediateKind {
    /// Banned (block).
    Banned,
    /// Tor exit.
    Tor,
    /// VPN or proxy.
    Vpn,
    /// New device.
    NewDevice,
    /// Impossible travel.
    ImpossibleTravel,
    /// Too many accounts on the device.
    TooManyAccounts,
    /// Signal velocity.
    Velocity,
    /// Device risk.
    DeviceRisk,
    /// Shadow-banned.
    ShadowBanned,
}

/// One immediate result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmediateResult {
    /// What.
    pub kind: ImmediateKind,
    /// Evidence.
    pub details: String,
    /// The event raised for it.
    pub event_id: Option<String>,
    /// The ban behind it.
    pub ban: Option<BanRecord>,
}

/// What a signal stored and answered; kept per idempotency key so a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalOutcome {
    /// `sig_...`.
    pub signal_id: String,
    /// Handling started.
    pub started_ms: i64,
    /// Handling finished.
    pub finished_ms: i64,
    /// The device as stored.
    pub device: Option<DeviceInfo>,
    /// The user id the signal named, if any.
    pub user_id: String,
    /// The identity after the signal.
    pub identity: IdentityRecord,
    /// Immediate results.
    pub immediate_results: Vec<ImmediateResult>,
}

/// A stored signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalRecord {
    /// `sig_...`.
    pub signal_id: String,
    /// The identity.
    pub identity_id: String,
    /// Custom type.
    pub signal_type: String,
    /// "app", "browser" or "server".
    pub source: String,
    /// When it happened.
    pub time_ms: i64,
    /// When it was received.
    pub received_ms: i64,
    /// The device id, if any.
    pub device_id: String,
    /// The IP, if any.
    pub ip: String,
    /// The user agent, if any.
    pub user_agent: String,
    /// Latitude/longitude sent by the device, if any.
    pub location: Option<(f64, f64)>,
    /// Custom metadata.
    pub metadata: BTreeMap<String, String>,
    /// The idempotency key, if any.
    pub idempotency_key: String,
}

/// The stored answer of an idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// When the key was first used.
    pub created_ms: i64,
    /// SHA-256 (hex) of what the first signal was about, so a reused key with another signal is
    /// refused instead of answered with someone else's identity.
    #[serde(default)]
    pub request_hash: String,
    /// The answer given then.
    pub outcome: SignalOutcome,
}
