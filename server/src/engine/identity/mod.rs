//! The identity face of the engine: signals in; identities, events, bans and approvals kept.
//!
//! A signal is one trip through the pipeline: resolve the identity (creating it for an unknown
//! user id when the caller may), enrich (IP intelligence, device history), run the identity rules,
//! look up bans, then write the identity, the signal, the events and the idempotency answer in one
//! atomic batch, and acknowledge only once that batch is durable.

pub mod records;
pub mod rules;

use std::{collections::BTreeMap, net::IpAddr, sync::Arc};

use sha2::{Digest, Sha256};

use crate::{
    engine::{
        EngineError,
        context::{Enricher, Observed},
        locks::Stripes,
    },
    intel::{Intel, IpFacts},
    store::{
        Store, StoreError, WriteBatch, encode,
        repositories::{Approvals, Bans, EventFilter, EventLog, Identities, Signals},
    },
    tenancy::{IdentityRuleSettings, TenantId},
    time::now_ms,
    webhooks::Webhooks,
};

use self::{
    records::*,
    rules::{RuleInput, SignalFacts, evaluate},
};

/// How long an idempotency key's answer is kept.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3_600_000;
/// How many user ids one identity links (more are refused by the index, not stored here).
pub const MAX_USER_IDS: usize = 20;
/// How many carriers one identity keeps.
pub const MAX_CARRIERS: usize = 10;
/// How long an approval stays answerable unless asked otherwise.
pub const DEFAULT_APPROVAL_TTL_SECONDS: i64 = 15 * 60;

/// Where a signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalSource {
    /// An app.
    App,
    /// A browser.
    Browser,
    /// The tenant's server.
    Server,
}

impl SignalSource {
    fn name(self) -> &'static str {
        match self {
            SignalSource::App => "app",
            SignalSource::Browser => "browser",
            SignalSource::Server => "server",
        }
    }
}

/// A checked signal, ready for the engine.
#[derive(Debug, Clone)]
pub struct SignalInput {
    /// Idempotency key, empty when none.
    pub idempotency_key: String,
    /// Custom type.
    pub signal_type: String,
    /// Where it came from.
    pub source: SignalSource,
    /// The device, if sent.
    pub device: Option<DeviceInfo>,
    /// The tenant's user id, empty when not sent.
    pub user_id: String,
    /// Gatehouse's identity id, empty when not sent.
    pub identity_id: String,
    /// The user's IP (from the server, or the connection for client signals).
    pub ip: Option<IpAddr>,
    /// The user's user agent.
    pub user_agent: String,
    /// Device coordinates.
    pub location: Option<(f64, f64)>,
    /// Custom metadata.
    pub metadata: BTreeMap<String, String>,
    /// When it happened; now when unset.
    pub time_ms: Option<i64>,
    /// True when an unknown user id may create an identity (secret key).
    pub may_create_identity: bool,
}

/// An identity's status with what is in force right now.
#[derive(Debug, Clone)]
pub struct IdentityStanding {
    /// The identity, its status computed now (a ban that expired no longer counts).
    pub identity: IdentityRecord,
    /// Bans in force on the identity, its devices or its IPs.
    pub active_bans: Vec<BanRecord>,
    /// Approvals waiting for the user.
    pub pending_approvals: Vec<ApprovalRecord>,
}

/// The JSON body of a webhook delivery.
#[derive(Debug, serde::Serialize)]
pub struct WebhookPayload<'a> {
    /// The event's id; receivers de-duplicate on it (delivery is at least once).
    pub event_id: &'a str,
    /// The event type name, for example `TOR`.
    pub event_type: &'a str,
    /// The tenant.
    pub tenant_id: &'a str,
    /// When the event was raised.
    pub created_ms: i64,
    /// The event.
    pub event: &'a EventRecord,
}

/// Identities, events, bans and approvals over the store.
pub struct IdentityEngine {
    store: Arc<dyn Store>,
    identities: Identities,
    signals: Signals,
    events: EventLog,
    bans: Bans,
    approvals: Approvals,
    enricher: Enricher,
    webhooks: Arc<Webhooks>,
    idempotency_locks: Stripes,
    user_locks: Stripes,
    identity_locks: Stripes,
}

impl IdentityEngine {
    /// The engine over `store` and `intel`; events go out through `webhooks`.
    pub fn new(store: Arc<dyn Store>, intel: Arc<Intel>, webhooks: Arc<Webhooks>) -> Self {
        Self {
            identities: Identities::new(store.clone()),
            signals: Signals::new(store.clone()),
            events: EventLog::new(store.clone()),
            bans: Bans::new(store.clone()),
            approvals: Approvals::new(store.clone()),
            store,
            enricher: Enricher::new(intel),
            webhooks,
            idempotency_locks: Stripes::new(),
            user_locks: Stripes::new(),
            identity_locks: Stripes::new(),
        }
    }

    /// Handles one signal. Returns the answer and whether it is a replay of an earlier answer for
    /// the same idempotency key.
    pub async fn send_signal(
        &self,
        tenant: &TenantId,
        settings: &IdentityRuleSettings,
        input: SignalInput,
    ) -> Result<(SignalOutcome, bool), EngineError> {
        let started_ms = now_ms();
        let _idempotency_guard = if input.idempotency_key.is_empty() {
            None
        } else {
            let guard = self
                .idempotency_locks
                .lock(tenant, &input.idempotency_key)
                .await;
            if let Some(stored) = self.signals.answer(tenant, &input.idempotency_key).await? {
                if stored.created_ms + IDEMPOTENCY_WINDOW_MS > started_ms {
                    if stored.request_hash != request_hash(&input) {
                        return Err(EngineError::IdempotencyKeyReused);
                    }
                    drop(guard);
                    // The first answer may still be on its way to disk: never acknowledge a
                    // replay of something that is not durable yet.
                    self.store.durable().await?;
                    return Ok((stored.outcome, true));
                }
            }
            Some(guard)
        };

        let identity_id = self.resolve_identity(tenant, &input, started_ms).await?;
        // The device record is shared by identities: lock it with the identity.
        let device_lock = input
            .device
            .as_ref()
            .map(|device| format!("device:{}", device.device_id))
            .unwrap_or_default();
        let mut lock_keys = vec![identity_id.as_str()];
        if !device_lock.is_empty() {
            lock_keys.push(device_lock.as_str());
        }
        let identity_guard = self.identity_locks.lock_many(tenant, &lock_keys).await;
        let before = self
            .identities
            .get(tenant, &identity_id)
            .await?
            .ok_or_else(|| EngineError::IdentityMissing(identity_id.clone()))?;
        let time_ms = input.time_ms.unwrap_or(started_ms);
        let signal_id = new_id("sig", started_ms);

        // enrich
        let ip_facts = self
            .enricher
            .enrich(Observed {
                ip: input.ip,
                ..Observed::default()
            })
            .await
            .ip;
        let location = input
            .location
            .map(|(lat, lon)| (lat, lon, "device"))
            .or_else(|| {
                let geo = &ip_facts.as_ref()?.geo;
                Some((geo.latitude?, geo.longitude?, "ip"))
            });
        let mut batch = WriteBatch::new();
        let (device_identities, first_use_of_device) = match &input.device {
            Some(device) if !device.device_id.is_empty() => {
                let mut record = self.identities.device(tenant, &device.device_id).await?;
                let first_use = !record.identities.contains(&identity_id);
                if first_use {
                    record.identities.push(identity_id.clone());
                    Identities::put_device(&mut batch, tenant, &device.device_id, &record)?;
                }
                (record.identities.len(), first_use)
            }
            _ => (0, false),
        };

        // rules
        let findings = evaluate(&RuleInput {
            before: &before,
            signal: SignalFacts {
                time_ms,
                device: input.device.as_ref(),
                ip: ip_facts.as_ref(),
                location: location.map(|(lat, lon, _)| (lat, lon)),
            },
            device_identities,
            first_use_of_device,
            settings,
        });
        let subjects = subjects_of(&identity_id, input.device.as_ref(), input.ip);
        let bans = self.bans.active_on(tenant, &subjects, started_ms).await?;

        // record
        let signal_ref = EventSignalRef {
            signal_id: signal_id.clone(),
            signal_type: input.signal_type.clone(),
            time_ms,
        };
        let mut identity = before.clone();
        let mut immediate_results = Vec::new();
        let mut events = Vec::new();
        for ban in &bans {
            let kind = match ban.action {
                BanAction::Block => ImmediateKind::Banned,
                BanAction::Shadow => ImmediateKind::ShadowBanned,
            };
            immediate_results.push(ImmediateResult {
                kind,
                details: format!(
                    "{} {} is banned: {}",
                    ban.subject_kind.tag(),
                    ban.subject,
                    ban.reason
                ),
                event_id: None,
                ban: Some(ban.clone()),
            });
        }
        if let Some(ban) = bans.first() {
            events.push(EventRecord {
                event_id: new_id("evt", started_ms),
                identity_id: identity_id.clone(),
                event_type: EventType::BannedActivity,
                level: EventLevel::High,
                signals: vec![signal_ref.clone()],
                recommendation: Recommendation::None,
                details: format!(
                    "signal from banned {} {}",
                    ban.subject_kind.tag(),
                    ban.subject
                ),
                created_ms: started_ms,
                approval_id: None,
            });
        }
        for finding in findings {
            let event = EventRecord {
                event_id: new_id("evt", started_ms),
                identity_id: identity_id.clone(),
                event_type: finding.event_type,
                level: finding.level,
                signals: vec![signal_ref.clone()],
                recommendation: finding.recommendation,
                details: finding.reason.details.clone(),
                created_ms: started_ms,
                approval_id: None,
            };
            immediate_results.push(ImmediateResult {
                kind: finding.immediate,
                details: finding.reason.details,
                event_id: Some(event.event_id.clone()),
                ban: None,
            });
            events.push(event);
        }
        update_identity(
            &mut identity,
            &input,
            ip_facts.as_ref(),
            location,
            time_ms,
            settings,
        );
        for event in &events {
            identity.risk_score = (identity.risk_score + event.level.risk_points()).min(100);
            if !matches!(event.recommendation, Recommendation::None) {
                identity.status = IdentityStatus::UnderReview;
            }
            self.record_event(&mut batch, tenant, event).await?;
        }
        Identities::put(&mut batch, tenant, &identity)?;
        let signal = SignalRecord {
            signal_id: signal_id.clone(),
            identity_id: identity_id.clone(),
            signal_type: input.signal_type.clone(),
            source: input.source.name().to_string(),
            time_ms,
            received_ms: started_ms,
            device_id: input
                .device
                .as_ref()
                .map(|device| device.device_id.clone())
                .unwrap_or_default(),
            ip: input.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            user_agent: input.user_agent.clone(),
            location: input.location,
            metadata: input.metadata.clone(),
            idempotency_key: input.idempotency_key.clone(),
        };
        Signals::put(&mut batch, tenant, &signal)?;
        let mut answered = identity.clone();
        answered.status = standing_status(&identity, &bans);
        let outcome = SignalOutcome {
            signal_id,
            started_ms,
            finished_ms: now_ms(),
            device: input.device.clone(),
            user_id: input.user_id.clone(),
            identity: answered,
            immediate_results,
        };
        if !input.idempotency_key.is_empty() {
            Signals::put_answer(
                &mut batch,
                tenant,
                &input.idempotency_key,
                &IdempotencyRecord {
                    created_ms: started_ms,
                    request_hash: request_hash(&input),
                    outcome: outcome.clone(),
                },
            )?;
        }
        self.store.apply(batch).await?;
        drop(identity_guard);
        drop(_idempotency_guard);
        self.store.durable().await?;
        if !events.is_empty() {
            self.webhooks.notify();
        }
        Ok((outcome, false))
    }

    /// Adds an event and its webhook deliveries to `batch`: both commit together, so an
    /// acknowledged event always has its deliveries queued.
    async fn record_event(
        &self,
        batch: &mut WriteBatch,
        tenant: &TenantId,
        event: &EventRecord,
    ) -> Result<(), StoreError> {
        EventLog::put(batch, tenant, event)?;
        let payload = encode(&WebhookPayload {
            event_id: &event.event_id,
            event_type: event.event_type.name(),
            tenant_id: tenant.as_str(),
            created_ms: event.created_ms,
            event,
        })?;
        self.webhooks
            .enqueue(
                batch,
                tenant,
                event.event_type.name(),
                &event.event_id,
                &payload,
            )
            .await?;
        Ok(())
    }

    /// Finds the signal's identity; creates it for an unknown user id when allowed.
    async fn resolve_identity(
        &self,
        tenant: &TenantId,
        input: &SignalInput,
        now: i64,
    ) -> Result<String, EngineError> {
        if !input.identity_id.is_empty() {
            let exists = self
                .identities
                .get(tenant, &input.identity_id)
                .await?
                .is_some();
            if !exists {
                return Err(EngineError::SignalIdentityMissing(
                    input.identity_id.clone(),
                ));
            }
            if !input.user_id.is_empty() {
                // Only the tenant's server may say which user an identity is: a client that could
                // link any user id to its own identity could later read that user's signals.
                if !input.may_create_identity {
                    let linked = self.identities.of_user(tenant, &input.user_id).await?;
                    if linked.as_deref() != Some(input.identity_id.as_str()) {
                        return Err(EngineError::ClientMayNotLink);
                    }
                } else {
                    self.link_user(tenant, &input.user_id, &input.identity_id)
                        .await?;
                }
            }
            return Ok(input.identity_id.clone());
        }
        if let Some(found) = self.identities.of_user(tenant, &input.user_id).await? {
            return Ok(found);
        }
        if !input.may_create_identity {
            return Err(EngineError::UserUnknown(input.user_id.clone()));
        }
        // Two first signals of one user must not make two identities.
        let _guard = self.user_locks.lock(tenant, &input.user_id).await;
        if let Some(found) = self.identities.of_user(tenant, &input.user_id).await? {
            return Ok(found);
        }
        let identity = IdentityRecord {
            identity_id: new_id("idt", now),
            user_ids: vec![input.user_id.clone()],
            devices: Vec::new(),
            ips: Vec::new(),
            locations: Vec::new(),
            carriers: Vec::new(),
            first_seen_ms: now,
            last_seen_ms: now,
            status: IdentityStatus::Active,
            risk_score: 0,
            recent_signal_ms: Vec::new(),
        };
        let mut batch = WriteBatch::new();
        Identities::link_user(&mut batch, tenant, &input.user_id, &identity.identity_id)?;
        Identities::put(&mut batch, tenant, &identity)?;
        // Made durable together with the signal that follows.
        self.store.apply(batch).await?;
        Ok(identity.identity_id)
    }

    /// Links a user id to an identity when it is not linked to another one.
    async fn link_user(
        &self,
        tenant: &TenantId,
        user_id: &str,
        identity_id: &str,
    ) -> Result<(), EngineError> {
        let _guard = self.user_locks.lock(tenant, user_id).await;
        match self.identities.of_user(tenant, user_id).await? {
            Some(existing) if existing == identity_id => Ok(()),
            Some(existing) => Err(EngineError::UserOfAnotherIdentity {
                user_id: user_id.to_string(),
                linked: existing,
                identity_id: identity_id.to_string(),
            }),
            None => {
                let mut batch = WriteBatch::new();
                Identities::link_user(&mut batch, tenant, user_id, identity_id)?;
                self.store.apply(batch).await?;
                Ok(())
            }
        }
    }

    /// Finds an identity by id or user id.
    pub async fn find_identity(
        &self,
        tenant: &TenantId,
        identity_id: &str,
        user_id: &str,
    ) -> Result<IdentityRecord, EngineError> {
        let id = if !identity_id.is_empty() {
            identity_id.to_string()
        } else if !user_id.is_empty() {
            self.identities
                .of_user(tenant, user_id)
                .await?
                .ok_or_else(|| EngineError::UserWithoutIdentity(user_id.to_string()))?
        } else {
            return Err(EngineError::NoIdentityNamed);
        };
        self.identities
            .get(tenant, &id)
            .await?
            .ok_or_else(|| EngineError::IdentityMissing(id.to_string()))
    }

    /// An identity with its status, bans and approvals as they are now.
    pub async fn standing(
        &self,
        tenant: &TenantId,
        identity_id: &str,
        user_id: &str,
    ) -> Result<IdentityStanding, EngineError> {
        let mut identity = self.find_identity(tenant, identity_id, user_id).await?;
        let now = now_ms();
        let mut subjects = vec![(BanSubjectKind::Identity, identity.identity_id.clone())];
        subjects.extend(
            identity
                .devices
                .iter()
                .map(|seen| (BanSubjectKind::Device, seen.device.device_id.clone())),
        );
        subjects.extend(
            identity
                .ips
                .iter()
                .map(|seen| (BanSubjectKind::Ip, seen.ip.clone())),
        );
        let active_bans = self.bans.active_on(tenant, &subjects, now).await?;
        identity.status = standing_status(&identity, &active_bans);
        let pending_approvals = self
            .approvals
            .of_identity(tenant, &identity.identity_id)
            .await?
            .into_iter()
            .filter(|approval| {
                approval.status == ApprovalStatus::Pending && approval.expires_ms > now
            })
            .collect();
        Ok(IdentityStanding {
            identity,
            active_bans,
            pending_approvals,
        })
    }

    /// A page of identities, newest first; returns the next page token.
    pub async fn list_identities(
        &self,
        tenant: &TenantId,
        page_size: usize,
        page_token: &str,
        status: Option<IdentityStatus>,
    ) -> Result<(Vec<IdentityStanding>, String), EngineError> {
        let mut page = Vec::new();
        let mut after = (!page_token.is_empty()).then(|| page_token.to_string());
        loop {
            let batch = self
                .identities
                .page(tenant, after.as_deref(), page_size + 1)
                .await?;
            let exhausted = batch.len() <= page_size;
            let count = batch.len();
            for (position, record) in batch.into_iter().enumerate() {
                after = Some(record.identity_id.clone());
                let standing = self.standing(tenant, &record.identity_id, "").await?;
                if status.is_none_or(|wanted| standing.identity.status == wanted) {
                    page.push(standing);
                    if page.len() == page_size {
                        // More may follow: later records of this batch, or later batches.
                        let more = position + 1 < count || !exhausted;
                        let next = if more {
                            after.unwrap_or_default()
                        } else {
                            String::new()
                        };
                        return Ok((page, next));
                    }
                }
            }
            if exhausted {
                return Ok((page, String::new()));
            }
        }
    }

    /// A page of events, newest first, optionally of one identity or type.
    pub async fn list_events(
        &self,
        tenant: &TenantId,
        identity_id: &str,
        event_type: Option<EventType>,
        page_size: usize,
        page_token: &str,
    ) -> Result<(Vec<EventRecord>, String), EngineError> {
        let filter = EventFilter {
            identity_id: (!identity_id.is_empty()).then_some(identity_id),
            event_type,
        };
        let after = (!page_token.is_empty()).then_some(page_token);
        let page = self.events.page(tenant, filter, after, page_size).await?;
        let next = match page.last() {
            Some(last) if page.len() == page_size => last.event_id.clone(),
            _ => String::new(),
        };
        Ok((page, next))
    }

    /// Reads one event.
    pub async fn event(
        &self,
        tenant: &TenantId,
        event_id: &str,
    ) -> Result<EventRecord, EngineError> {
        self.events
            .get(tenant, event_id)
            .await?
            .ok_or_else(|| EngineError::EventMissing(event_id.to_string()))
    }

    /// Bans a subject, durably.
    pub async fn create_ban(
        &self,
        tenant: &TenantId,
        subject_kind: BanSubjectKind,
        subject: String,
        action: BanAction,
        reason: String,
        duration_seconds: i64,
    ) -> Result<BanRecord, EngineError> {
        let now = now_ms();
        if subject_kind == BanSubjectKind::Identity {
            self.find_identity(tenant, &subject, "").await?;
        }
        let ban = BanRecord {
            ban_id: new_id("ban", now),
            subject_kind,
            subject: subject.clone(),
            action,
            reason,
            created_ms: now,
            expires_ms: if duration_seconds > 0 {
                now.saturating_add(duration_seconds.saturating_mul(1000))
            } else {
                0
            },
            lifted_ms: 0,
        };
        let mut batch = WriteBatch::new();
        Bans::put(&mut batch, tenant, &ban)?;
        self.store.apply(batch).await?;
        self.store.durable().await?;
        Ok(ban)
    }

    /// Lifts a ban, durably.
    pub async fn delete_ban(
        &self,
        tenant: &TenantId,
        ban_id: &str,
    ) -> Result<BanRecord, EngineError> {
        let mut ban = self
            .bans
            .get(tenant, ban_id)
            .await?
            .ok_or_else(|| EngineError::BanMissing(ban_id.to_string()))?;
        if ban.lifted_ms == 0 {
            ban.lifted_ms = now_ms();
            let mut batch = WriteBatch::new();
            // A lifted ban no longer needs finding by subject: the repository drops its index.
            Bans::put(&mut batch, tenant, &ban)?;
            self.store.apply(batch).await?;
            self.store.durable().await?;
        }
        Ok(ban)
    }

    /// A page of bans, newest first.
    pub async fn list_bans(
        &self,
        tenant: &TenantId,
        include_inactive: bool,
        page_size: usize,
        page_token: &str,
    ) -> Result<(Vec<BanRecord>, String), EngineError> {
        let now = now_ms();
        let mut page = Vec::new();
        let mut after = (!page_token.is_empty()).then(|| page_token.to_string());
        loop {
            // Without the lifted and expired ones, the bans in force are an index of their own.
            let batch = if include_inactive {
                self.bans.page(tenant, after.as_deref(), 500).await?
            } else {
                self.bans
                    .in_force_page(tenant, after.as_deref(), 500)
                    .await?
            };
            let exhausted = batch.len() < 500;
            for ban in batch {
                after = Some(ban.ban_id.clone());
                if include_inactive || ban.active_at(now) {
                    page.push(ban);
                    if page.len() == page_size {
                        return Ok((page, after.unwrap_or_default()));
                    }
                }
            }
            if exhausted {
                return Ok((page, String::new()));
            }
        }
    }

    /// Makes an event approvable; returns the approval and its one-time token.
    pub async fn create_approval(
        &self,
        tenant: &TenantId,
        event_id: &str,
        message: String,
        ttl_seconds: i64,
    ) -> Result<(ApprovalRecord, String), EngineError> {
        let now = now_ms();
        let mut event = self.event(tenant, event_id).await?;
        if event.approval_id.is_some() {
            return Err(EngineError::EventHasApproval(event_id.to_string()));
        }
        let token = format!("apt_{}", crate::tenancy::random_token(24));
        let ttl = if ttl_seconds > 0 {
            ttl_seconds
        } else {
            DEFAULT_APPROVAL_TTL_SECONDS
        };
        let approval = ApprovalRecord {
            approval_id: new_id("apv", now),
            event_id: event_id.to_string(),
            identity_id: event.identity_id.clone(),
            status: ApprovalStatus::Pending,
            message,
            created_ms: now,
            expires_ms: now.saturating_add(ttl.saturating_mul(1000)),
            resolved_ms: 0,
            token_hash: hex::encode(Sha256::digest(token.as_bytes())),
        };
        event.approval_id = Some(approval.approval_id.clone());
        let mut batch = WriteBatch::new();
        Approvals::put(&mut batch, tenant, &approval, Some(&token))?;
        EventLog::put(&mut batch, tenant, &event)?;
        self.store.apply(batch).await?;
        self.store.durable().await?;
        Ok((approval, token))
    }

    /// Reads one approval.
    pub async fn approval(
        &self,
        tenant: &TenantId,
        identity_id: &str,
        approval_id: &str,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        self.approvals.get(tenant, identity_id, approval_id).await
    }

    /// Removes signals received before `before_ms` (the tenant's retention); returns how many.
    pub async fn purge_signals_before(
        &self,
        tenant: &TenantId,
        before_ms: i64,
    ) -> Result<usize, StoreError> {
        self.signals.purge_before(tenant, before_ms).await
    }

    /// Removes bans that expired from the indexes of bans in force; returns how many.
    pub async fn unindex_expired_bans(
        &self,
        tenant: &TenantId,
        now_ms: i64,
    ) -> Result<usize, StoreError> {
        self.bans.unindex_expired(tenant, now_ms).await
    }

    /// Removes idempotency answers older than the idempotency window; returns how many.
    pub async fn purge_idempotency_before(
        &self,
        tenant: &TenantId,
        before_ms: i64,
    ) -> Result<usize, StoreError> {
        self.signals.purge_answers_before(tenant, before_ms).await
    }

    /// The user's answer: updates the approval and the identity and raises an event.
    pub async fn resolve_approval(
        &self,
        tenant: &TenantId,
        token: &str,
        approve: bool,
    ) -> Result<(ApprovalRecord, IdentityStatus), EngineError> {
        let now = now_ms();
        let unknown = || EngineError::ApprovalTokenUnknown;
        let identity_id = self
            .approvals
            .by_token(tenant, token)
            .await?
            .ok_or_else(unknown)?
            .identity_id;
        // Check and answer under the identity's lock, so two answers cannot both pass the check.
        let _guard = self.identity_locks.lock(tenant, &identity_id).await;
        let mut approval = self
            .approvals
            .by_token(tenant, token)
            .await?
            .ok_or_else(unknown)?;
        if approval.status != ApprovalStatus::Pending {
            return Err(EngineError::ApprovalAnswered(approval.approval_id.clone()));
        }
        if approval.expires_ms <= now {
            return Err(EngineError::ApprovalExpired);
        }
        let mut identity = self
            .identities
            .get(tenant, &approval.identity_id)
            .await?
            .ok_or(EngineError::ApprovalIdentityGone)?;
        approval.status = if approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Denied
        };
        approval.resolved_ms = now;
        identity.status = if approve {
            IdentityStatus::Approved
        } else {
            IdentityStatus::UnderReview
        };
        let event = EventRecord {
            event_id: new_id("evt", now),
            identity_id: identity.identity_id.clone(),
            event_type: if approve {
                EventType::ApprovalApproved
            } else {
                EventType::ApprovalDenied
            },
            level: if approve {
                EventLevel::Low
            } else {
                EventLevel::High
            },
            signals: Vec::new(),
            recommendation: if approve {
                Recommendation::None
            } else {
                Recommendation::Review
            },
            details: format!(
                "the user {} event {}",
                if approve { "approved" } else { "denied" },
                approval.event_id
            ),
            created_ms: now,
            approval_id: Some(approval.approval_id.clone()),
        };
        identity.risk_score = (identity.risk_score + event.level.risk_points()).min(100);
        let mut batch = WriteBatch::new();
        Approvals::put(&mut batch, tenant, &approval, None)?;
        Identities::put(&mut batch, tenant, &identity)?;
        self.record_event(&mut batch, tenant, &event).await?;
        self.store.apply(batch).await?;
        self.store.durable().await?;
        self.webhooks.notify();
        Ok((approval, identity.status))
    }
}

/// What a signal is about, hashed: a retry has the same, another signal does not.
fn request_hash(input: &SignalInput) -> String {
    let mut hasher = Sha256::new();
    for part in [
        input.user_id.as_str(),
        input.identity_id.as_str(),
        input.signal_type.as_str(),
        input.source.name(),
        input
            .device
            .as_ref()
            .map(|device| device.device_id.as_str())
            .unwrap_or_default(),
        &input.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        &input
            .time_ms
            .map(|time| time.to_string())
            .unwrap_or_default(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

fn subjects_of(
    identity_id: &str,
    device: Option<&DeviceInfo>,
    ip: Option<IpAddr>,
) -> Vec<(BanSubjectKind, String)> {
    let mut subjects = vec![(BanSubjectKind::Identity, identity_id.to_string())];
    if let Some(device) = device.filter(|device| !device.device_id.is_empty()) {
        subjects.push((BanSubjectKind::Device, device.device_id.clone()));
    }
    if let Some(ip) = ip {
        subjects.push((BanSubjectKind::Ip, ip.to_string()));
    }
    subjects
}

/// The status in force: a blocking ban wins; otherwise what the events and approvals left.
fn standing_status(identity: &IdentityRecord, bans: &[BanRecord]) -> IdentityStatus {
    if bans.iter().any(|ban| ban.action == BanAction::Block) {
        IdentityStatus::Banned
    } else if identity.status == IdentityStatus::Banned {
        IdentityStatus::Active
    } else {
        identity.status
    }
}

/// Folds a signal into the identity's history.
fn update_identity(
    identity: &mut IdentityRecord,
    input: &SignalInput,
    ip: Option<&IpFacts>,
    location: Option<(f64, f64, &str)>,
    time_ms: i64,
    settings: &IdentityRuleSettings,
) {
    identity.last_seen_ms = identity.last_seen_ms.max(time_ms);
    if !input.user_id.is_empty()
        && !identity.user_ids.contains(&input.user_id)
        && identity.user_ids.len() < MAX_USER_IDS
    {
        identity.user_ids.push(input.user_id.clone());
    }
    if let Some(device) = input
        .device
        .as_ref()
        .filter(|device| !device.device_id.is_empty())
    {
        match identity
            .devices
            .iter_mut()
            .find(|seen| seen.device.device_id == device.device_id)
        {
            Some(seen) => {
                seen.device = device.clone();
                seen.last_seen_ms = seen.last_seen_ms.max(time_ms);
            }
            None => identity.devices.push(SeenDevice {
                device: device.clone(),
                first_seen_ms: time_ms,
                last_seen_ms: time_ms,
            }),
        }
        if let Some(carrier) = &device.carrier {
            if !identity.carriers.contains(carrier) && identity.carriers.len() < MAX_CARRIERS {
                identity.carriers.push(carrier.clone());
            }
        }
        keep_recent(&mut identity.devices, |seen| seen.last_seen_ms);
    }
    if let Some(facts) = ip {
        let address = facts.ip.to_string();
        let anonymity = facts.anonymity();
        let tor = anonymity.as_ref().is_some_and(|found| found.is_tor());
        let vpn = anonymity.is_some_and(|found| !found.is_tor());
        match identity.ips.iter_mut().find(|seen| seen.ip == address) {
            Some(seen) => {
                seen.last_seen_ms = seen.last_seen_ms.max(time_ms);
                seen.tor = tor;
                seen.vpn = vpn;
            }
            None => identity.ips.push(SeenIp {
                ip: address,
                country_code: facts.geo.country_code.clone(),
                city: facts.geo.city.clone(),
                asn: facts.geo.asn,
                company: facts.geo.company.clone(),
                tor,
                vpn,
                first_seen_ms: time_ms,
                last_seen_ms: time_ms,
            }),
        }
        keep_recent(&mut identity.ips, |seen| seen.last_seen_ms);
    }
    if let Some((latitude, longitude, source)) = location {
        let geo = ip.map(|facts| &facts.geo);
        identity.locations.push(SeenLocation {
            latitude,
            longitude,
            city: geo.map(|geo| geo.city.clone()).unwrap_or_default(),
            region: geo.map(|geo| geo.region.clone()).unwrap_or_default(),
            country_code: geo.map(|geo| geo.country_code.clone()).unwrap_or_default(),
            source: source.to_string(),
            seen_ms: time_ms,
        });
        identity.locations.sort_by_key(|seen| seen.seen_ms);
        let excess = identity.locations.len().saturating_sub(MAX_LOCATIONS);
        identity.locations.drain(..excess);
    }
    identity.recent_signal_ms.push(time_ms);
    identity.recent_signal_ms.sort_unstable();
    let keep = usize::try_from(settings.velocity_max_signals)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let excess = identity.recent_signal_ms.len().saturating_sub(keep);
    identity.recent_signal_ms.drain(..excess);
}

/// Keeps the `MAX_SEEN` most recently seen entries.
fn keep_recent<T>(items: &mut Vec<T>, last_seen: impl Fn(&T) -> i64) {
    if items.len() > MAX_SEEN {
        items.sort_by_key(|item| std::cmp::Reverse(last_seen(item)));
        items.truncate(MAX_SEEN);
    }
}
