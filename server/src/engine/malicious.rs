//! Malicious activity: per-IP threat-URL counters in the store, in a sliding window, so repeated
//! probing blocks an IP for a while.
//!
//! Every hit is an atomic counter addition to the bucket of the current window (`WriteOp::Add`,
//! applied inside the store's transaction), never a read-change-write of a record: concurrent
//! probes all count, so the block starts at exactly the threshold however many arrive at once,
//! and the same holds for several servers on one store. The window is the engine's two-bucket
//! estimate ([`super::counters::estimate`]). Only threat hits write, and only while the tenant's
//! malicious-activity rule is on; a clean request reads one key.

use std::net::IpAddr;

use super::counters::{bucket_of, estimate};
use crate::{
    store::{Store, StoreError, WriteBatch, repositories::IpActivity},
    tenancy::{BlockerSettings, TenantId},
};

/// Until when `ip` is blocked for `tenant`, if it is at `now_ms`.
pub async fn blocked_until(
    activity: &IpActivity,
    tenant: &TenantId,
    ip: IpAddr,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let until = activity.blocked_until(tenant, ip).await?;
    Ok((until > now_ms).then_some(until))
}

/// Counts a threat hit of `ip` for `tenant`; true when this hit starts a block. Not awaited for
/// durability: losing a few counts in a crash only delays a block.
pub async fn record_threat_hit(
    store: &dyn Store,
    activity: &IpActivity,
    tenant: &TenantId,
    ip: IpAddr,
    now_ms: i64,
    settings: &BlockerSettings,
) -> Result<bool, StoreError> {
    let window_ms = i64::from(settings.malicious_window_seconds.max(1)) * 1000;
    let bucket = bucket_of(now_ms, window_ms);
    let mut batch = WriteBatch::new();
    // The bucket before the previous one no longer counts: drop it as we go.
    IpActivity::add_hit(&mut batch, tenant, ip, bucket, bucket - 2);
    store.apply(batch).await?;

    let current = activity.hits(tenant, ip, bucket).await?;
    let previous = activity.hits(tenant, ip, bucket - 1).await?;
    let hits = estimate(previous, current, now_ms, window_ms);
    if hits < f64::from(settings.malicious_threshold) {
        return Ok(false);
    }
    if blocked_until(activity, tenant, ip, now_ms).await?.is_some() {
        return Ok(false);
    }
    // Writers that cross the threshold together all write about the same time: any of them is
    // right, and no count is lost either way.
    let until = now_ms + i64::from(settings.malicious_block_seconds) * 1000;
    let mut batch = WriteBatch::new();
    IpActivity::put_block(&mut batch, tenant, ip, until);
    store.apply(batch).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::SledStore;

    fn settings(threshold: u32) -> BlockerSettings {
        BlockerSettings {
            malicious_threshold: threshold,
            // A day: a test never straddles two buckets.
            malicious_window_seconds: 86_400,
            malicious_block_seconds: 600,
            ..BlockerSettings::default()
        }
    }

    fn tenant() -> TenantId {
        TenantId::parse("tn_0123456789abcdef", "tenant_id").unwrap()
    }

    async fn probes(store: Arc<SledStore>, count: usize, threshold: u32) -> usize {
        let ip: IpAddr = "198.51.100.9".parse().unwrap();
        let now = crate::time::now_ms();
        let tasks: Vec<_> = (0..count)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let activity = IpActivity::new(store.clone());
                    record_threat_hit(&*store, &activity, &tenant(), ip, now, &settings(threshold))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut started = 0;
        for task in tasks {
            started += usize::from(task.await.unwrap());
        }
        started
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_probes_block_at_exactly_the_threshold() {
        let ip: IpAddr = "198.51.100.9".parse().unwrap();
        let now = crate::time::now_ms();
        // 47 probes at once against a threshold of 48: not blocked.
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        assert_eq!(probes(store.clone(), 47, 48).await, 0);
        assert_eq!(
            blocked_until(&IpActivity::new(store.clone()), &tenant(), ip, now)
                .await
                .unwrap(),
            None
        );
        // 48 at once against 48: blocked, and the block is started once or by the few that
        // crossed together, never missed.
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        assert!(probes(store.clone(), 48, 48).await >= 1);
        assert!(
            blocked_until(&IpActivity::new(store.clone()), &tenant(), ip, now)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn hits_spread_beyond_the_window_do_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        let activity = IpActivity::new(store.clone());
        let ip: IpAddr = "198.51.100.9".parse().unwrap();
        let settings = BlockerSettings {
            malicious_threshold: 3,
            malicious_window_seconds: 60,
            malicious_block_seconds: 600,
            ..BlockerSettings::default()
        };
        // At the start of a bucket, three windows apart: no hit sees another.
        let t0 = 1_000_020_000;
        for n in 0..10 {
            let started = record_threat_hit(
                &*store,
                &activity,
                &tenant(),
                ip,
                t0 + n * 180_000,
                &settings,
            )
            .await
            .unwrap();
            assert!(!started, "hit {n}");
        }
        let t1 = t0 + 10 * 180_000;
        for n in 0..3 {
            let started =
                record_threat_hit(&*store, &activity, &tenant(), ip, t1 + n * 1_000, &settings)
                    .await
                    .unwrap();
            assert_eq!(started, n == 2, "hit {n} in one burst");
        }
        assert!(
            blocked_until(&activity, &tenant(), ip, t1 + 3_000)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            blocked_until(&activity, &tenant(), ip, t1 + 700_000)
                .await
                .unwrap()
                .is_none(),
            "the block ends"
        );
    }
}
