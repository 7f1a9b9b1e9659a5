//! Per-tenant request limits in fixed one-minute windows.
//!
//! The counters live in memory: a limit protects the server and meters usage, and losing the
//! current minute's count on restart is harmless.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// The tenant's limit per minute.
    pub limit: u32,
    /// Requests left in the current window (after this one, when it was allowed).
    pub remaining: u32,
    /// When the window resets, in Unix seconds.
    pub reset_unix_seconds: u64,
    /// True when the request is within the limit.
    pub allowed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    minute: u64,
    count: u32,
}

/// Counts requests per tenant.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

impl RateLimiter {
    /// A limiter with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request of `tenant_id` against `limit` per minute, at the current time.
    pub fn check(&self, tenant_id: &str, limit: u32) -> RateDecision {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        self.check_at(tenant_id, limit, now)
    }

    /// Counts one request at `now_unix_seconds`.
    pub fn check_at(&self, tenant_id: &str, limit: u32, now_unix_seconds: u64) -> RateDecision {
        let minute = now_unix_seconds / 60;
        let reset_unix_seconds = (minute + 1) * 60;
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = windows
            .entry(tenant_id.to_string())
            .or_insert(Window { minute, count: 0 });
        if window.minute != minute {
            *window = Window { minute, count: 0 };
        }
        let allowed = window.count < limit;
        if allowed {
            window.count += 1;
        }
        RateDecision {
            limit,
            remaining: limit.saturating_sub(window.count),
            reset_unix_seconds,
            allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_tenant_and_resets_each_minute() {
        let limiter = RateLimiter::new();
        let t0 = 1_700_000_040;
        for expected_remaining in (0..3).rev() {
            let decision = limiter.check_at("tn_a", 3, t0);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
            // 1_700_000_040 is on a minute boundary, so the window ends 60 s later.
            assert_eq!(decision.reset_unix_seconds, 1_700_000_100);
        }
        let refused = limiter.check_at("tn_a", 3, t0 + 1);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(
            limiter.check_at("tn_b", 3, t0).allowed,
            "another tenant has its own window"
        );
        assert!(
            limiter.check_at("tn_a", 3, t0 + 60).allowed,
            "a new minute starts afresh"
        );
    }
}
