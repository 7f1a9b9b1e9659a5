//! The dispatcher: finds due outbox entries, POSTs them, logs every attempt and reschedules
//! failures.
//!
//! It works in rounds: one range scan takes the earliest entries of the outbox, those already due
//! are delivered concurrently (bounded), each attempt's outcome is written in one batch, and the
//! next round starts at once. When nothing is due it sleeps until the earliest entry's due time
//! or a [`Webhooks::notify`]. A slow receiver delays a round by at most the request timeout.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use tokio::{sync::Semaphore, task::JoinSet};

use crate::telemetry::metrics;

use super::{
    DeliveryRecord, OutboxEntry, WebhookEndpoint, Webhooks, random_hex, signature_header, target,
};
use crate::{
    store::{StoreError, WriteBatch, repositories::WebhookRecords},
    time::now_ms,
};

/// How many outbox entries one round looks at.
const ROUND_SIZE: usize = 64;
/// How many deliveries run at once.
const CONCURRENT_DELIVERIES: usize = 16;
/// How often the outbox is counted for `gatehouse_webhook_outbox_depth` while a backlog drains.
const DEPTH_COUNT_EVERY: Duration = Duration::from_secs(15);
/// The outbox depth is counted up to this many entries.
const DEPTH_COUNT_CAP: usize = 100_000;
/// The longest sleep with nothing due, so the dispatcher looks again now and then regardless.
const IDLE_WAKE: Duration = Duration::from_secs(60);
/// The pause after a store failure before the next round.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// The longest error text kept in a delivery record.
const MAX_ERROR_CHARS: usize = 500;

/// What a round found.
enum Round {
    /// Due entries were handled; more may be due.
    Worked,
    /// Nothing is due before this time.
    NextAt(i64),
    /// The outbox is empty.
    Empty,
}

/// How one attempt went.
struct Outcome {
    http_status: u16,
    error: String,
}

impl Outcome {
    fn delivered(&self) -> bool {
        self.error.is_empty()
    }

    fn failed(http_status: u16, error: impl Into<String>) -> Self {
        let mut error: String = error.into();
        if error.chars().count() > MAX_ERROR_CHARS {
            error = error.chars().take(MAX_ERROR_CHARS).collect();
        }
        if error.is_empty() {
            error = "failed".into();
        }
        Self { http_status, error }
    }
}

impl Webhooks {
    /// Starts the dispatcher task: it delivers due outbox entries, logs every attempt, reschedules
    /// failures with exponential backoff plus jitter, and gives an entry up (logging a final
    /// failed attempt) once [`super::WebhookSettings::retry_for`] has passed since its first
    /// attempt. The outbox is in the store, so after a restart it picks up whatever is due. It
    /// sleeps until the earliest due entry or a [`Webhooks::notify`]. Abort the handle to stop
    /// it; an attempt cut short is simply made again later.
    pub fn spawn_dispatcher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let webhooks = Arc::clone(self);
        tokio::spawn(async move { webhooks.run_dispatcher().await })
    }

    async fn run_dispatcher(self: Arc<Self>) {
        tracing::info!("webhook dispatcher started");
        let mut last_count: Option<std::time::Instant> = None;
        loop {
            let round = Arc::clone(&self).round().await;
            // Counting is a scan: while working through a backlog, count now and then only.
            if !matches!(round, Ok(Round::Worked))
                || last_count.is_none_or(|at| at.elapsed() >= DEPTH_COUNT_EVERY)
            {
                match self.outbox_depth().await {
                    Ok(depth) => metrics().webhook_outbox_depth.set(depth),
                    Err(error) => tracing::warn!(%error, "cannot count the webhook outbox"),
                }
                last_count = Some(std::time::Instant::now());
            }
            let wait = match round {
                Ok(Round::Worked) => continue,
                Ok(Round::NextAt(due_ms)) => {
                    let millis = u64::try_from(due_ms.saturating_sub(now_ms())).unwrap_or(0);
                    Duration::from_millis(millis).min(IDLE_WAKE)
                }
                Ok(Round::Empty) => IDLE_WAKE,
                Err(error) => {
                    tracing::error!(%error, "webhook dispatcher cannot read the outbox");
                    STORE_RETRY
                }
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// How many deliveries wait in the outbox (counted up to [`DEPTH_COUNT_CAP`]).
    async fn outbox_depth(&self) -> Result<i64, StoreError> {
        let count = self.records.depth(DEPTH_COUNT_CAP).await?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }

    /// One round: scan the head of the outbox and deliver what is due.
    async fn round(self: Arc<Self>) -> Result<Round, StoreError> {
        let now = now_ms();
        let head = self.records.head(ROUND_SIZE).await?;
        let mut next = Round::Empty;
        let mut due = Vec::new();
        for queued in head {
            if queued.due_ms > now {
                next = Round::NextAt(queued.due_ms);
                break;
            }
            match queued.entry {
                Ok(entry) => due.push((queued.position, entry)),
                Err(error) => {
                    // It can never be delivered; left in place it would block the head forever.
                    tracing::error!(%error, "dropping an unreadable webhook outbox entry");
                    let mut batch = WriteBatch::new();
                    WebhookRecords::unqueue(&mut batch, queued.position, None);
                    self.store.apply(batch).await?;
                }
            }
        }
        if due.is_empty() {
            return Ok(next);
        }
        let permits = Arc::new(Semaphore::new(CONCURRENT_DELIVERIES));
        let mut tasks = JoinSet::new();
        for (key, entry) in due {
            let webhooks = Arc::clone(&self);
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                webhooks.attempt(key, entry).await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(%error, "webhook dispatcher cannot record an attempt")
                }
                Err(error) => tracing::error!(%error, "webhook delivery task failed"),
            }
        }
        Ok(Round::Worked)
    }

    /// Makes one attempt of one outbox entry and records it, with the entry's removal or its
    /// rescheduling, in one batch.
    async fn attempt(&self, outbox_key: Vec<u8>, entry: OutboxEntry) -> Result<(), StoreError> {
        let Some(endpoint) = self
            .get_endpoint(&entry.tenant_id, &entry.webhook_id)
            .await?
        else {
            // The endpoint was deleted (perhaps while this entry was in flight): drop the entry.
            let mut batch = WriteBatch::new();
            WebhookRecords::unqueue(&mut batch, outbox_key, Some(&entry));
            return self.store.apply(batch).await;
        };
        let attempt = entry.attempts.saturating_add(1);
        let attempted_ms = now_ms();
        let outcome = self.post(&endpoint, &entry, attempt, attempted_ms).await;
        let first_attempt_ms = if entry.first_attempt_ms > 0 {
            entry.first_attempt_ms
        } else {
            attempted_ms
        };
        let retry_for = i64::try_from(self.settings.retry_for.as_millis()).unwrap_or(i64::MAX);
        let next_attempt_ms =
            if outcome.delivered() || attempted_ms.saturating_sub(first_attempt_ms) >= retry_for {
                0
            } else {
                now_ms().saturating_add(self.backoff_ms(attempt))
            };
        let record = DeliveryRecord {
            delivery_id: format!("dlv_{}", random_hex(12)),
            webhook_id: entry.webhook_id.clone(),
            event_id: entry.event_id.clone(),
            attempt,
            http_status: outcome.http_status,
            error: outcome.error.clone(),
            attempted_ms,
            delivered: outcome.delivered(),
            next_attempt_ms,
        };
        let mut batch = WriteBatch::new();
        WebhookRecords::log_attempt(&mut batch, &entry.tenant_id, &record)?;
        if next_attempt_ms > 0 {
            WebhookRecords::unqueue(&mut batch, outbox_key, None);
            let retry = OutboxEntry {
                attempts: attempt,
                first_attempt_ms,
                ..entry.clone()
            };
            // Replaces the pending index entry too: same key, new outbox key.
            WebhookRecords::queue(&mut batch, &retry, next_attempt_ms)?;
        } else {
            WebhookRecords::unqueue(&mut batch, outbox_key, Some(&entry));
        }
        self.store.apply(batch).await?;
        let outcome = match (record.delivered, next_attempt_ms) {
            (true, _) => "delivered",
            (false, 0) => "gave_up",
            (false, _) => "failed",
        };
        metrics()
            .webhook_deliveries
            .with_label_values(&[outcome])
            .inc();
        if record.delivered {
            tracing::info!(
                tenant_id = %entry.tenant_id,
                webhook_id = %entry.webhook_id,
                event_id = %entry.event_id,
                attempt,
                http_status = record.http_status,
                "webhook delivered"
            );
        } else {
            tracing::warn!(
                tenant_id = %entry.tenant_id,
                webhook_id = %entry.webhook_id,
                event_id = %entry.event_id,
                attempt,
                http_status = record.http_status,
                error = %record.error,
                next_attempt_ms,
                gave_up = next_attempt_ms == 0,
                "webhook delivery failed"
            );
        }
        Ok(())
    }

    /// The delay after failed attempt number `attempt`: the base doubled per earlier failure,
    /// capped, plus up to a fifth more at random so that receivers coming back are not hit by
    /// every sender at once.
    fn backoff_ms(&self, attempt: u32) -> i64 {
        let base = u64::try_from(self.settings.base_backoff.as_millis()).unwrap_or(u64::MAX);
        let cap = u64::try_from(self.settings.max_backoff.as_millis()).unwrap_or(u64::MAX);
        let doublings = attempt.saturating_sub(1).min(63);
        let delay = base.saturating_mul(1u64 << doublings).min(cap).max(1);
        let jitter = rand::rng().random_range(0..=delay / 5);
        i64::try_from(delay.saturating_add(jitter)).unwrap_or(i64::MAX)
    }

    /// POSTs the entry's payload, signed, to the endpoint.
    async fn post(
        &self,
        endpoint: &WebhookEndpoint,
        entry: &OutboxEntry,
        attempt: u32,
        attempted_ms: i64,
    ) -> Outcome {
        let client = match &self.client {
            Ok(client) => client,
            Err(error) => return Outcome::failed(0, error.clone()),
        };
        let url = match target::parse_url(&endpoint.url) {
            Ok(url) => url,
            Err(error) => return Outcome::failed(0, format!("url: {error}")),
        };
        // A literal address never reaches the resolver's check, so it is checked here; names are
        // checked by the resolver on every connection.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && let Err(error) = target::check_address(ip, self.settings.allow_private_targets)
        {
            return Outcome::failed(0, format!("url: {error}"));
        }
        let signature = signature_header(
            &endpoint.secret,
            attempted_ms.div_euclid(1000),
            entry.payload.as_bytes(),
        );
        let sent = client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(super::SIGNATURE_HEADER, signature)
            .header("x-gatehouse-event-id", entry.event_id.as_str())
            .header("x-gatehouse-event-type", entry.event_type.as_str())
            .header("x-gatehouse-delivery-attempt", attempt.to_string())
            .body(entry.payload.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Outcome {
                http_status: response.status().as_u16(),
                error: String::new(),
            },
            Ok(response) if response.status().is_redirection() => Outcome::failed(
                response.status().as_u16(),
                format!(
                    "receiver answered {} (redirects are not followed; register the final URL)",
                    response.status()
                ),
            ),
            Ok(response) => Outcome::failed(
                response.status().as_u16(),
                format!("receiver answered {}", response.status()),
            ),
            Err(error) => Outcome::failed(0, self.describe(&error)),
        }
    }

    /// A sending error in words: the target refusal itself when that was the cause, else the
    /// chain of causes.
    fn describe(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!(
                "no answer within {} ms",
                self.settings.request_timeout.as_millis()
            );
        }
        let mut parts = vec![error.to_string()];
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            if let Some(refusal) = cause.downcast_ref::<target::TargetError>() {
                return format!("url: {refusal}");
            }
            parts.push(cause.to_string());
            source = cause.source();
        }
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{store::SledStore, webhooks::WebhookSettings};

    fn webhooks(settings: WebhookSettings) -> (tempfile::TempDir, Webhooks) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        (dir, Webhooks::new(Arc::new(store), settings))
    }

    #[tokio::test]
    async fn backoff_doubles_caps_and_jitters() {
        let (_dir, webhooks) = webhooks(WebhookSettings {
            base_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            ..WebhookSettings::default()
        });
        for (attempt, expected) in [
            (1, 5_000),
            (2, 10_000),
            (3, 20_000),
            (4, 40_000),
            (5, 60_000),
        ] {
            for _ in 0..20 {
                let delay = webhooks.backoff_ms(attempt);
                assert!(
                    (expected..=expected + expected / 5).contains(&delay),
                    "attempt {attempt}: {delay}"
                );
            }
        }
        assert!(webhooks.backoff_ms(u32::MAX) <= 72_000);
    }
}
