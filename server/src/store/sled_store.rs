//! The embedded store: one sled database under `--data-dir`, one tree per [`Keyspace`].

use std::path::Path;

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::{
    Entry, Keyspace, Store, StoreError, StoreFuture, WriteBatch, WriteOp, decode_counter,
    encode_counter, group_apply::GroupApply, group_commit::GroupCommit,
};

/// [`Store`] over sled 0.34.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    group: GroupApply,
    commit: GroupCommit,
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        StoreError::Backend(error.to_string())
    }
}

impl SledStore {
    /// Opens (or creates) the database in `dir` with the default cache
    /// ([`super::DEFAULT_CACHE_MB`]). Must be called inside a tokio runtime: it starts the
    /// group-commit task.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, super::DEFAULT_CACHE_MB)
    }

    /// Opens (or creates) the database in `dir` with a page cache of `cache_mb` MiB.
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_mb.saturating_mul(1024 * 1024))
            // Durability comes from explicit flushes (group commit); the background flush only
            // bounds how much unacknowledged work a crash can lose.
            .flush_every_ms(Some(1000))
            .open()
            .map_err(|error| {
                StoreError::Backend(format!(
                    "cannot open the store in {}: {error}",
                    dir.display()
                ))
            })?;
        let trees = Keyspace::ALL
            .iter()
            .map(|space| db.open_tree(space.tree_name()))
            .collect::<Result<Vec<_>, _>>()?;
        let flush_db = db.clone();
        let commit = GroupCommit::start(move || {
            flush_db.flush()?;
            Ok(())
        });
        let group = GroupApply::start({
            let trees = trees.clone();
            move |batches| transaction(&trees, batches)
        })?;
        Ok(Self {
            db,
            trees,
            group,
            commit,
        })
    }

    fn tree(&self, space: Keyspace) -> &sled::Tree {
        &self.trees[space.index()]
    }

    /// Flushes everything to disk now (used at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// Applies `batches`, in order, in one sled transaction: all of them or none.
fn transaction(trees: &[sled::Tree], batches: &[WriteBatch]) -> Result<(), StoreError> {
    // The trees the batches touch, and where each sits in the transaction's view.
    let mut spaces: Vec<Keyspace> = Vec::new();
    for op in batches.iter().flat_map(WriteBatch::ops) {
        let space = op.space();
        if !spaces.contains(&space) {
            spaces.push(space);
        }
    }
    let touched: Vec<&sled::Tree> = spaces.iter().map(|space| &trees[space.index()]).collect();
    let position = |space: &Keyspace| spaces.iter().position(|s| s == space).unwrap_or(0);
    let outcome: Result<(), TransactionError<()>> = touched.as_slice().transaction(|views| {
        for op in batches.iter().flat_map(WriteBatch::ops) {
            match op {
                WriteOp::Put { space, key, value } => {
                    views[position(space)].insert(key.as_slice(), value.as_slice())?;
                }
                WriteOp::Delete { space, key } => {
                    views[position(space)].remove(key.as_slice())?;
                }
                WriteOp::Add { space, key, delta } => {
                    // sled runs the whole transaction under its exclusive commit lock, so
                    // this read-modify-write cannot interleave with another; a read inside
                    // the transaction sees the batch's (and the group's) earlier writes.
                    let view = &views[position(space)];
                    let current = view
                        .get(key.as_slice())?
                        .map(|bytes| decode_counter(&bytes))
                        .unwrap_or_default();
                    view.insert(
                        key.as_slice(),
                        &encode_counter(current.saturating_add(*delta))[..],
                    )?;
                }
            }
        }
        Ok::<(), ConflictableTransactionError<()>>(())
    });
    outcome.map_err(|error| match error {
        TransactionError::Storage(error) => StoreError::from(error),
        TransactionError::Abort(()) => StoreError::Backend("write batch aborted".into()),
    })
}

// sled answers from its page cache (or a page read) without waiting on anything else, so the
// reads run at once and hand back a ready future: no task, no thread hop.
impl SledStore {
    fn read(&self, space: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree(space).get(key)?.map(|value| value.to_vec()))
    }

    fn read_prefix(
        &self,
        space: Keyspace,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let tree = self.tree(space);
        let mut out = Vec::new();
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            match start_after {
                Some(after) if after.starts_with(prefix) => {
                    let mut start = after.to_vec();
                    // The smallest key greater than `after`.
                    start.push(0);
                    Box::new(tree.range(start..).take_while(|item| match item {
                        Ok((key, _)) => key.starts_with(prefix),
                        Err(_) => true,
                    }))
                }
                _ => Box::new(tree.scan_prefix(prefix)),
            };
        for item in iter.take(limit) {
            let (key, value) = item?;
            out.push((key.to_vec(), value.to_vec()));
        }
        Ok(out)
    }

    fn read_range(
        &self,
        space: Keyspace,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for item in self.tree(space).range(start..end).take(limit) {
            let (key, value) = item?;
            out.push((key.to_vec(), value.to_vec()));
        }
        Ok(out)
    }

    fn read_prefix_last(
        &self,
        space: Keyspace,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree(space).scan_prefix(prefix).rev().take(limit) {
            let (key, value) = item?;
            out.push((key.to_vec(), value.to_vec()));
        }
        out.reverse();
        Ok(out)
    }
}

impl Store for SledStore {
    fn get<'a>(&'a self, space: Keyspace, key: &'a [u8]) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(std::future::ready(self.read(space, key)))
    }

    fn scan_prefix<'a>(
        &'a self,
        space: Keyspace,
        prefix: &'a [u8],
        start_after: Option<&'a [u8]>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>> {
        Box::pin(std::future::ready(self.read_prefix(
            space,
            prefix,
            start_after,
            limit,
        )))
    }

    fn scan_range<'a>(
        &'a self,
        space: Keyspace,
        start: &'a [u8],
        end: &'a [u8],
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>> {
        Box::pin(std::future::ready(
            self.read_range(space, start, end, limit),
        ))
    }

    fn scan_prefix_last<'a>(
        &'a self,
        space: Keyspace,
        prefix: &'a [u8],
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>> {
        Box::pin(std::future::ready(
            self.read_prefix_last(space, prefix, limit),
        ))
    }

    fn apply(&self, batch: WriteBatch) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if batch.is_empty() {
                return Ok(());
            }
            self.group.apply(batch).await
        })
    }

    fn durable(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.commit.wait_durable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{read_counter, tenant_key};

    #[tokio::test]
    async fn batch_spans_keyspaces_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            let mut batch = WriteBatch::new();
            batch.put(Keyspace::Tenants, b"tn_a".to_vec(), b"{}".to_vec());
            batch.put(
                Keyspace::ApiKeys,
                tenant_key("tn_a", b"key_1"),
                b"1".to_vec(),
            );
            store.apply(batch).await.unwrap();
            store.durable().await.unwrap();
        }
        // The group-commit task holds the database until it sees the channel close.
        let store = reopen(dir.path()).await;
        assert_eq!(
            store
                .get(Keyspace::Tenants, b"tn_a")
                .await
                .unwrap()
                .unwrap(),
            b"{}"
        );
        assert_eq!(
            store
                .get(Keyspace::ApiKeys, &tenant_key("tn_a", b"key_1"))
                .await
                .unwrap()
                .unwrap(),
            b"1"
        );
    }

    async fn reopen(dir: &Path) -> SledStore {
        for _ in 0..500 {
            match SledStore::open(dir) {
                Ok(store) => return store,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
        panic!("the store was never released");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_counter_additions_are_never_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        // Many writers at once, so batches share transactions (group apply) as well as queue.
        let writers: Vec<_> = (0..16)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    for _ in 0..250 {
                        let mut batch = WriteBatch::new();
                        batch.add(Keyspace::ClickStats, b"tn_a/day".to_vec(), 1);
                        // The same key twice in one batch reads its own first addition.
                        batch.add(Keyspace::ClickStats, b"tn_a/day".to_vec(), 2);
                        batch.add(Keyspace::ClickStats, b"tn_a/other".to_vec(), -1);
                        store.apply(batch).await.unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let day = read_counter(&store, Keyspace::ClickStats, b"tn_a/day").await;
        assert_eq!(day.unwrap(), 3 * 16 * 250);
        let other = read_counter(&store, Keyspace::ClickStats, b"tn_a/other").await;
        assert_eq!(other.unwrap(), -16 * 250);
    }

    #[tokio::test]
    async fn range_scans_stop_before_the_end_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        for day in 1u32..=5 {
            let mut key = b"tn_a/".to_vec();
            key.extend_from_slice(&day.to_be_bytes());
            key.extend_from_slice(b"/events");
            batch.put(Keyspace::ClickStats, key, vec![0]);
        }
        store.apply(batch).await.unwrap();
        let bound = |day: u32| [b"tn_a/".as_slice(), &day.to_be_bytes()].concat();
        let days = store
            .scan_range(Keyspace::ClickStats, &bound(2), &bound(4), usize::MAX)
            .await
            .unwrap();
        assert_eq!(days.len(), 2, "days 2 and 3");
        assert!(
            store
                .scan_range(Keyspace::ClickStats, &bound(4), &bound(2), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn prefix_scans_stay_inside_the_tenant_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        for tenant in ["tn_a", "tn_ab", "tn_b"] {
            for n in 0..3u8 {
                batch.put(
                    Keyspace::ApiKeys,
                    tenant_key(tenant, &[b'k', b'0' + n]),
                    vec![n],
                );
            }
        }
        store.apply(batch).await.unwrap();
        let prefix = crate::store::tenant_prefix("tn_a");
        let all = store
            .scan_prefix(Keyspace::ApiKeys, &prefix, None, 100)
            .await
            .unwrap();
        assert_eq!(all.len(), 3, "tn_ab must not leak into tn_a's scan");
        let first = store
            .scan_prefix(Keyspace::ApiKeys, &prefix, None, 2)
            .await
            .unwrap();
        let rest = store
            .scan_prefix(Keyspace::ApiKeys, &prefix, Some(&first[1].0), 2)
            .await
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0, tenant_key("tn_a", b"k2"));
        let last = store
            .scan_prefix_last(Keyspace::ApiKeys, &prefix, 2)
            .await
            .unwrap();
        assert_eq!(
            last.iter().map(|(key, _)| key.clone()).collect::<Vec<_>>(),
            vec![tenant_key("tn_a", b"k1"), tenant_key("tn_a", b"k2")],
            "the newest two, oldest first, and none of tn_ab's"
        );
    }
}
