//! Group commit: many writers waiting for durability share one flush.
//!
//! A writer applies its change in memory, then asks for durability. The committer task takes every
//! request waiting at that moment, flushes once, and answers them all; requests that arrive during
//! the flush are served by the next one, so a request is only answered by a flush that started
//! after it was made.

use tokio::sync::{mpsc, oneshot};

use super::StoreError;

type Waiter = oneshot::Sender<Result<(), StoreError>>;

/// Handle to the committer task.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    requests: mpsc::UnboundedSender<Waiter>,
}

impl GroupCommit {
    /// Starts the committer task on the current tokio runtime. `flush` runs on the blocking pool.
    pub(crate) fn start<F>(flush: F) -> Self
    where
        F: Fn() -> Result<(), StoreError> + Send + Sync + Clone + 'static,
    {
        let (requests, mut receiver) = mpsc::unbounded_channel::<Waiter>();
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut waiters = vec![first];
                while let Ok(next) = receiver.try_recv() {
                    waiters.push(next);
                }
                let flush = flush.clone();
                let started = std::time::Instant::now();
                let outcome = tokio::task::spawn_blocking(flush)
                    .await
                    .unwrap_or_else(|join_error| Err(StoreError::Backend(join_error.to_string())));
                crate::telemetry::metrics()
                    .store_flush_seconds
                    .observe(started.elapsed().as_secs_f64());
                tracing::trace!(writers = waiters.len(), "group commit flushed");
                for waiter in waiters {
                    // A writer that gave up waiting (its request was cancelled) is no error.
                    let _ = waiter.send(outcome.clone());
                }
            }
        });
        Self { requests }
    }

    /// Waits until a flush that started after this call has finished.
    pub(crate) async fn wait_durable(&self) -> Result<(), StoreError> {
        let (waiter, answer) = oneshot::channel();
        self.requests.send(waiter).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_flushes() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let counter = flushes.clone();
        let commit = GroupCommit::start(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(())
        });
        let writers: Vec<_> = (0..64)
            .map(|_| {
                let commit = commit.clone();
                tokio::spawn(async move { commit.wait_durable().await })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        let flushed = flushes.load(Ordering::SeqCst);
        assert!(flushed >= 1);
        assert!(flushed < 64, "64 writers needed {flushed} flushes");
    }

    #[tokio::test]
    async fn flush_errors_reach_every_writer() {
        let commit = GroupCommit::start(|| Err(StoreError::Backend("disk full".into())));
        let error = commit.wait_durable().await.unwrap_err();
        assert!(error.to_string().contains("disk full"));
    }
}
