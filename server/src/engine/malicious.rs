//! Malicious activity: per-IP threat-URL counters in the store, in a sliding window, so repeated
//! probing blocks an IP for a while.
//!
//! The window is the engine's [`SlidingCount`], one small record per IP. Only threat hits write;
//! a clean request only reads, so the hot path stays cheap.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::counters::SlidingCount;
use crate::{
    store::{Keyspace, Store, StoreError, WriteBatch, decode, encode, tenant_key},
    tenancy::{BlockerSettings, TenantId},
};

/// One IP's threat counters for one tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpActivity {
    /// Threat hits lately; flattened so records written before the counter was shared still read.
    #[serde(flatten)]
    pub hits: SlidingCount,
    /// Until when the IP is blocked (ms); 0 when it is not.
    pub blocked_until_ms: i64,
}

impl IpActivity {
    /// The estimated hits within the last window at `now_ms`.
    pub fn hits_in_window(&self, now_ms: i64, window_ms: i64) -> f64 {
        self.hits.in_window(now_ms, window_ms)
    }

    /// Counts one threat hit at `now_ms`; returns true when this hit starts a block.
    pub fn record_hit(&mut self, now_ms: i64, settings: &BlockerSettings) -> bool {
        let window_ms = i64::from(settings.malicious_window_seconds) * 1000;
        let hits = self.hits.add(now_ms, window_ms);
        let already_blocked = self.blocked_until_ms > now_ms;
        if !already_blocked && hits >= f64::from(settings.malicious_threshold) {
            self.blocked_until_ms = now_ms + i64::from(settings.malicious_block_seconds) * 1000;
            return true;
        }
        false
    }
}

fn key(tenant: &TenantId, ip: IpAddr) -> Vec<u8> {
    tenant_key(tenant.as_str(), ip.to_string().as_bytes())
}

/// Until when `ip` is blocked for `tenant`, if it is at `now_ms`.
pub fn blocked_until(
    store: &dyn Store,
    tenant: &TenantId,
    ip: IpAddr,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let Some(bytes) = store.get(Keyspace::IpActivity, &key(tenant, ip))? else {
        return Ok(None);
    };
    let activity: IpActivity = decode(Keyspace::IpActivity, &bytes)?;
    Ok((activity.blocked_until_ms > now_ms).then_some(activity.blocked_until_ms))
}

/// Counts a threat hit of `ip` for `tenant`. Not awaited for durability: losing a few counts in a
/// crash only delays a block.
pub async fn record_threat_hit(
    store: &dyn Store,
    tenant: &TenantId,
    ip: IpAddr,
    now_ms: i64,
    settings: &BlockerSettings,
) -> Result<bool, StoreError> {
    let key = key(tenant, ip);
    let mut activity: IpActivity = match store.get(Keyspace::IpActivity, &key)? {
        Some(bytes) => decode(Keyspace::IpActivity, &bytes)?,
        None => IpActivity::default(),
    };
    let started_block = activity.record_hit(now_ms, settings);
    let mut batch = WriteBatch::new();
    batch.put(Keyspace::IpActivity, key, encode(&activity)?);
    store.apply(batch).await?;
    Ok(started_block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BlockerSettings {
        BlockerSettings {
            malicious_threshold: 3,
            malicious_window_seconds: 60,
            malicious_block_seconds: 600,
            ..BlockerSettings::default()
        }
    }

    #[test]
    fn the_threshold_within_the_window_blocks() {
        let mut activity = IpActivity::default();
        let t0 = 1_000_000;
        assert!(!activity.record_hit(t0, &settings()));
        assert!(!activity.record_hit(t0 + 1_000, &settings()));
        assert!(activity.record_hit(t0 + 2_000, &settings()));
        assert_eq!(activity.blocked_until_ms, t0 + 2_000 + 600_000);
    }

    #[test]
    fn hits_spread_beyond_the_window_do_not_block() {
        let mut activity = IpActivity::default();
        let t0 = 1_000_000;
        for n in 0..10 {
            assert!(
                !activity.record_hit(t0 + n * 61_000, &settings()),
                "hit {n}"
            );
        }
        assert_eq!(activity.blocked_until_ms, 0);
    }

    #[test]
    fn the_previous_bucket_counts_while_it_overlaps() {
        let mut activity = IpActivity::default();
        let t0 = 1_000_000;
        // The first hit starts a bucket at t0.
        activity.record_hit(t0, &settings());
        activity.record_hit(t0 + 55_000, &settings());
        // 5 s into the next bucket, 11/12 of the previous one still overlaps: 2 * 0.92 + 1 < 3.
        assert!(!activity.record_hit(t0 + 65_000, &settings()));
        // A fourth hit right after: 2 * 0.9 + 2 = 3.8 >= 3.
        assert!(activity.record_hit(t0 + 66_000, &settings()));
    }
}
