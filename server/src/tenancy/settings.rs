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
        }
    }
}
