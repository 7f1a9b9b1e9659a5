//! Group apply: write batches that arrive together share one atomic transaction.
//!
//! sled 0.34 writes its log buffer out (a `pwrite` and a `sync_file_range`) for every atomic
//! batch, so each one costs about 0.3 ms of kernel time whatever its size, and all of them queue on
//! sled's single commit lock anyway. Writers hand their batch to one applier thread and await the
//! outcome; the thread takes every batch waiting at that moment (up to [`MAX_GROUP`]) and applies
//! them in one transaction, so under load a transaction carries many requests' writes. Every op is
//! unconditional (put, delete, counter addition), so one transaction over batches A then B leaves
//! exactly what A followed by B would; a failure fails every batch of the group, and none of them
//! is partly written.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::mpsc,
};

use tokio::sync::oneshot;

use super::{StoreError, WriteBatch};

/// The most batches one transaction takes; it bounds the transaction's size and the wait of the
/// writers in it.
pub(crate) const MAX_GROUP: usize = 256;

type Waiter = oneshot::Sender<Result<(), StoreError>>;

/// Handle to the applier thread; the thread ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct GroupApply {
    requests: mpsc::Sender<(WriteBatch, Waiter)>,
}

impl GroupApply {
    /// Starts the applier thread. `commit` applies the batches it is given, in order, atomically.
    pub(crate) fn start<F>(commit: F) -> Result<Self, StoreError>
    where
        F: Fn(&[WriteBatch]) -> Result<(), StoreError> + Send + 'static,
    {
        let (requests, receiver) = mpsc::channel::<(WriteBatch, Waiter)>();
        std::thread::Builder::new()
            .name("gatehouse-apply".into())
            .spawn(move || {
                while let Ok(first) = receiver.recv() {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match receiver.try_recv() {
                            Ok(next) => group.push(next),
                            Err(_) => break,
                        }
                    }
                    let (batches, waiters): (Vec<WriteBatch>, Vec<Waiter>) =
                        group.into_iter().unzip();
                    let started = std::time::Instant::now();
                    // A panic inside the backend must fail these writes, not every later one.
                    let outcome = catch_unwind(AssertUnwindSafe(|| commit(&batches)))
                        .unwrap_or_else(|_| {
                            Err(StoreError::Backend(
                                "the storage backend panicked while writing".into(),
                            ))
                        });
                    let metrics = crate::telemetry::metrics();
                    metrics
                        .store_apply_seconds
                        .observe(started.elapsed().as_secs_f64());
                    metrics.store_group_batches.observe(batches.len() as f64);
                    tracing::trace!(batches = batches.len(), "group applied");
                    for waiter in waiters {
                        // A writer whose request was cancelled is no error: its batch is applied.
                        let _ = waiter.send(outcome.clone());
                    }
                }
            })
            .map_err(|error| {
                StoreError::Backend(format!("cannot start the store's applier thread: {error}"))
            })?;
        Ok(Self { requests })
    }

    /// Applies `batch` atomically, in one transaction with the batches of the writers waiting at
    /// the same time; resolves once it is applied (visible to reads, not yet durable).
    pub(crate) async fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let (waiter, answer) = oneshot::channel();
        self.requests
            .send((batch, waiter))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;
    use crate::store::{Keyspace, WriteOp};

    fn batch(n: u16) -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch.put(Keyspace::Meta, n.to_be_bytes().to_vec(), vec![]);
        batch
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_transactions_in_order() {
        let commits = Arc::new(AtomicUsize::new(0));
        let applied = Arc::new(Mutex::new(Vec::new()));
        let (counter, log) = (commits.clone(), applied.clone());
        let group = GroupApply::start(move |batches| {
            counter.fetch_add(1, Ordering::SeqCst);
            // Slow enough that the other writers queue up behind it.
            std::thread::sleep(std::time::Duration::from_millis(2));
            let mut log = log.lock().unwrap();
            for batch in batches {
                for op in batch.ops() {
                    if let WriteOp::Put { key, .. } = op {
                        log.push(u16::from_be_bytes([key[0], key[1]]));
                    }
                }
            }
            Ok(())
        })
        .unwrap();
        let writers: Vec<_> = (0..64u16)
            .map(|writer| {
                let group = group.clone();
                tokio::spawn(async move {
                    for n in 0..4 {
                        group.apply(batch(writer * 4 + n)).await.unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let applied = applied.lock().unwrap().clone();
        let mut sorted = applied.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 256, "every batch exactly once");
        for writer in 0..64u16 {
            let own: Vec<u16> = applied
                .iter()
                .copied()
                .filter(|n| n / 4 == writer)
                .collect();
            assert!(own.is_sorted(), "writer {writer}'s batches out of order");
        }
        let commits = commits.load(Ordering::SeqCst);
        assert!(commits < 128, "256 batches took {commits} transactions");
    }

    #[tokio::test]
    async fn a_failed_or_panicking_commit_reaches_its_writer_and_the_next_one_runs() {
        let calls = AtomicUsize::new(0);
        let group = GroupApply::start(move |_| match calls.fetch_add(1, Ordering::SeqCst) {
            0 => Err(StoreError::Backend("disk full".into())),
            1 => panic!("backend bug"),
            _ => Ok(()),
        })
        .unwrap();
        let error = group.apply(batch(1)).await.unwrap_err();
        assert!(error.to_string().contains("disk full"));
        let error = group.apply(batch(2)).await.unwrap_err();
        assert!(error.to_string().contains("panicked"));
        group.apply(batch(3)).await.unwrap();
    }
}
