//! The one shape of a rule that fired, whatever the face: the visitor check, the identity face
//! and the click face each report their rules as [`Reason`]s.

/// One rule that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The rule's stable name (`tor_or_vpn`, `gclid_reuse`, `proxy_vpn_tor`, ...); rule names
    /// are API and never change.
    pub rule: &'static str,
    /// What the rule adds, on the face's own scale: click-fraud points (0-100 in all), the risk
    /// points an identity event adds, and for the visitor check 100 for a reason that keeps the
    /// visitor out and 0 for one that lets it in.
    pub score: i32,
    /// Human-readable evidence, for example "15 clicks in 60s".
    pub details: String,
}
