//! The click-fraud face of the engine: events in; decisions with reasons, a blocklist and
//! statistics out.
//!
//! Statistics come from per-day counters kept as events and decisions arrive, never from scanning
//! events. A decision counts once per visitor and day (the day of the visitor's latest event, so
//! imported events land on their own day); a later decision the same day moves the count.

pub mod blocklist;
pub mod records;
pub mod rules;

use std::{collections::BTreeMap, net::IpAddr, sync::Arc};

use rand::RngCore;

use crate::{
    engine::locks::Stripes,
    engine::{EngineError, VisitorId},
    intel::Intel,
    store::{
        Keyspace, Store, StoreError, WriteBatch, decode, decode_counter, encode, tenant_key,
        tenant_prefix,
    },
    tenancy::{ClickRuleSettings, TenantId},
    time::{day_label, day_number},
};

use self::{
    blocklist::BlockedIp,
    records::*,
    rules::{Reason, VisitorHistory, evaluate},
};

/// How many of a visitor's latest events a decision looks at.
pub const MAX_EVENTS_PER_DECISION: usize = 1000;

/// A checked event, ready for the engine.
#[derive(Debug, Clone)]
pub struct TrackInput {
    /// What happened.
    pub kind: ClickKind,
    /// The visitor, or `None` for a new one.
    pub visitor_id: Option<VisitorId>,
    /// The page URL.
    pub url: String,
    /// The referrer.
    pub referrer: String,
    /// Click ids by name.
    pub click_ids: BTreeMap<String, String>,
    /// The user agent.
    pub user_agent: String,
    /// Scroll depth in percent.
    pub scroll_depth: Option<u32>,
    /// Time on page in milliseconds.
    pub time_on_page_ms: Option<u64>,
    /// The honeypot link was followed.
    pub honeypot_hit: bool,
    /// Whether JavaScript ran.
    pub js_enabled: Option<bool>,
    /// The browser's time zone.
    pub timezone: String,
    /// The browser's device id.
    pub device_id: String,
    /// The visitor's IP.
    pub ip: Option<IpAddr>,
    /// When it happened.
    pub time_ms: i64,
}

/// What to do with a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let through.
    Allow,
    /// Ask for proof of being human.
    Challenge,
    /// Keep out.
    Block,
}

/// A decision about a visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickDecision {
    /// The visitor.
    pub visitor_id: String,
    /// 0-100.
    pub score: i32,
    /// The band.
    pub label: Label,
    /// What to do.
    pub action: Action,
    /// The rules that fired, most points first.
    pub reasons: Vec<Reason>,
    /// The visitor's latest IP.
    pub ip: String,
    /// When it was made.
    pub decided_ms: i64,
}

/// One day's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayStats {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Events tracked.
    pub events: i64,
    /// Decisions (visitors decided).
    pub decisions: i64,
    /// CLEAN.
    pub clean: i64,
    /// SUSPICIOUS.
    pub suspicious: i64,
    /// FRAUD.
    pub fraud: i64,
}

/// Figures for a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeStats {
    /// The days, oldest first.
    pub daily: Vec<DayStats>,
    /// Rule name to decisions it fired in, most first.
    pub top_rules: Vec<(String, i64)>,
}

/// Click events, decisions, blocklist and stats over the store.
pub struct ClickEngine {
    store: Arc<dyn Store>,
    intel: Arc<Intel>,
    locks: Stripes,
}

fn key(tenant: &TenantId, rest: &str) -> Vec<u8> {
    tenant_key(tenant.as_str(), rest.as_bytes())
}

fn day_key(tenant: &TenantId, day: i64) -> Vec<u8> {
    let mut key = tenant_prefix(tenant.as_str());
    key.extend_from_slice(&u32::try_from(day).unwrap_or_default().to_be_bytes());
    key
}

fn counter_key(tenant: &TenantId, day: i64, name: &str) -> Vec<u8> {
    let mut key = day_key(tenant, day);
    key.push(b'/');
    key.extend_from_slice(name.as_bytes());
    key
}

fn time_key(tenant: &TenantId, time_ms: i64, event_id: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant.as_str());
    key.extend_from_slice(&u64::try_from(time_ms).unwrap_or_default().to_be_bytes());
    key.extend_from_slice(event_id.as_bytes());
    key
}

fn event_key(tenant: &TenantId, visitor_id: &str, time_ms: i64, event_id: &str) -> Vec<u8> {
    let mut key = tenant_key(tenant.as_str(), visitor_id.as_bytes());
    key.push(b'/');
    key.extend_from_slice(&u64::try_from(time_ms).unwrap_or_default().to_be_bytes());
    key.extend_from_slice(event_id.as_bytes());
    key
}

fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

impl ClickEngine {
    /// The engine over `store` and `intel`.
    pub fn new(store: Arc<dyn Store>, intel: Arc<Intel>) -> Self {
        Self {
            store,
            intel,
            locks: Stripes::new(),
        }
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        space: Keyspace,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        self.store
            .get(space, key)
            .await?
            .map(|bytes| decode(space, &bytes))
            .transpose()
    }

    /// Records one event, durably; returns its id and the visitor id (assigned when absent).
    pub async fn track_event(
        &self,
        tenant: &TenantId,
        input: TrackInput,
    ) -> Result<(String, VisitorId), EngineError> {
        let visitor = input.visitor_id.clone().unwrap_or_else(VisitorId::generate);
        let visitor_id = visitor.to_string();
        let event_id = random_id("cev");
        let ip = input
            .ip
            .map(|ip| crate::intel::ip_lists::canonical(ip).to_string());
        let day = day_number(input.time_ms);
        let click_id_keys: Vec<String> = input
            .click_ids
            .iter()
            .map(|(name, value)| format!("{name}:{value}"))
            .collect();
        let ip_key = ip.clone().map(|ip| format!("ip:{ip}"));
        // The day counters need no lock: the batch adds to them atomically.
        let mut lock_keys: Vec<&str> = click_id_keys.iter().map(String::as_str).collect();
        lock_keys.extend(ip_key.as_deref());
        let guards = self.locks.lock_many(tenant, &lock_keys).await;

        let event = ClickEvent {
            event_id: event_id.clone(),
            visitor_id: visitor_id.clone(),
            kind: input.kind,
            url: input.url,
            referrer: input.referrer,
            click_ids: input.click_ids,
            user_agent: input.user_agent,
            scroll_depth: input.scroll_depth,
            time_on_page_ms: input.time_on_page_ms,
            honeypot_hit: input.honeypot_hit,
            js_enabled: input.js_enabled,
            timezone: input.timezone,
            device_id: input.device_id,
            ip: ip.clone().unwrap_or_default(),
            time_ms: input.time_ms,
        };
        let mut batch = WriteBatch::new();
        let stored_at = event_key(tenant, &visitor_id, event.time_ms, &event_id);
        batch.put(
            Keyspace::ClickEventTimes,
            time_key(tenant, event.time_ms, &event_id),
            stored_at.clone(),
        );
        batch.put(Keyspace::ClickEvents, stored_at, encode(&event)?);
        for click_id in &click_id_keys {
            let id_key = key(tenant, click_id);
            let mut record: ClickIdRecord = self
                .read(Keyspace::ClickIds, &id_key)
                .await?
                .unwrap_or_default();
            let mut changed = false;
            if record.visitors.len() < MAX_SHARERS && !record.visitors.contains(&visitor_id) {
                record.visitors.push(visitor_id.clone());
                changed = true;
            }
            if let Some(ip) = &ip {
                if record.ips.len() < MAX_SHARERS && !record.ips.contains(ip) {
                    record.ips.push(ip.clone());
                    changed = true;
                }
            }
            if changed {
                batch.put(Keyspace::ClickIds, id_key, encode(&record)?);
            }
        }
        if let (Some(ip), ClickKind::Click) = (&ip, event.kind) {
            let ip_key = key(tenant, ip);
            let mut record: IpClicks = self
                .read(Keyspace::IpClicks, &ip_key)
                .await?
                .unwrap_or_default();
            record
                .clicks
                .push((event.time_ms, event.ad_key().to_string()));
            record.clicks.sort_by_key(|(time, _)| *time);
            let excess = record.clicks.len().saturating_sub(MAX_IP_CLICKS);
            record.clicks.drain(..excess);
            batch.put(Keyspace::IpClicks, ip_key, encode(&record)?);
        }
        batch.add(Keyspace::ClickStats, counter_key(tenant, day, "events"), 1);
        self.store.apply(batch).await?;
        drop(guards);
        self.store.durable().await?;
        Ok((event_id, visitor))
    }

    /// A visitor's latest events, oldest first.
    async fn visitor_events(
        &self,
        tenant: &TenantId,
        visitor_id: &str,
    ) -> Result<Vec<ClickEvent>, StoreError> {
        let mut prefix = tenant_key(tenant.as_str(), visitor_id.as_bytes());
        prefix.push(b'/');
        self.store
            .scan_prefix_last(Keyspace::ClickEvents, &prefix, MAX_EVENTS_PER_DECISION)
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::ClickEvents, &bytes))
            .collect()
    }

    /// Decides on a visitor, and keeps the stats and the blocklist up to date.
    pub async fn decide(
        &self,
        tenant: &TenantId,
        settings: &ClickRuleSettings,
        visitor: &VisitorId,
        now_ms: i64,
    ) -> Result<ClickDecision, EngineError> {
        let visitor_id = visitor.as_str();
        let events = self.visitor_events(tenant, visitor_id).await?;
        let Some(latest) = events.last() else {
            return Err(EngineError::VisitorUnknown(visitor_id.to_string()));
        };
        // enrich
        let latest_ip = events
            .iter()
            .rev()
            .find_map(|event| event.ip.parse::<IpAddr>().ok());
        let ip_facts = match latest_ip {
            Some(ip) => Some(self.intel.ip_facts(ip, false).await),
            None => None,
        };
        let user_agent = events
            .iter()
            .rev()
            .map(|event| event.user_agent.as_str())
            .find(|ua| !ua.is_empty());
        let ua_facts = user_agent.map(|ua| self.intel.user_agents.classify(ua));
        let mut click_id_sharers = 0;
        for event in &events {
            for (name, value) in &event.click_ids {
                if let Some(record) = self
                    .read::<ClickIdRecord>(
                        Keyspace::ClickIds,
                        &key(tenant, &format!("{name}:{value}")),
                    )
                    .await?
                {
                    click_id_sharers =
                        click_id_sharers.max(record.visitors.len().max(record.ips.len()));
                }
            }
        }
        let ip_repeat_clicks = match &latest_ip {
            Some(ip) => {
                let record: IpClicks = self
                    .read(Keyspace::IpClicks, &key(tenant, &ip.to_string()))
                    .await?
                    .unwrap_or_default();
                let since = latest.time_ms - 86_400_000;
                let mut per_ad: BTreeMap<&str, usize> = BTreeMap::new();
                for (time, ad) in &record.clicks {
                    if *time > since {
                        *per_ad.entry(ad.as_str()).or_default() += 1;
                    }
                }
                per_ad.values().copied().max().unwrap_or_default()
            }
            None => 0,
        };
        // rules
        let reasons = evaluate(&VisitorHistory {
            events: &events,
            ip: ip_facts.as_ref(),
            ua: ua_facts.as_ref(),
            click_id_sharers,
            ip_repeat_clicks,
            settings,
        });
        let score = reasons
            .iter()
            .map(|reason| reason.score)
            .sum::<i32>()
            .clamp(0, 100);
        let label = Label::of(score);
        let decision = ClickDecision {
            visitor_id: visitor_id.to_string(),
            score,
            label,
            action: match label {
                Label::Clean => Action::Allow,
                Label::Suspicious => Action::Challenge,
                Label::Fraud => Action::Block,
            },
            reasons,
            ip: latest_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            decided_ms: now_ms,
        };
        // record
        self.record_decision(tenant, &decision, latest.time_ms)
            .await?;
        Ok(decision)
    }

    async fn record_decision(
        &self,
        tenant: &TenantId,
        decision: &ClickDecision,
        last_event_ms: i64,
    ) -> Result<(), StoreError> {
        let day = day_number(last_event_ms);
        // The day counters need no lock: the batch adds to them atomically.
        let visitor_lock = format!("visitor:{}", decision.visitor_id);
        let ip_lock = format!("ip:{}", decision.ip);
        let guards = self
            .locks
            .lock_many(tenant, &[&visitor_lock, &ip_lock])
            .await;
        let mut batch = WriteBatch::new();
        let decision_key = key(tenant, &decision.visitor_id);
        let previous: Option<DecisionRecord> =
            self.read(Keyspace::ClickDecisions, &decision_key).await?;
        let record = DecisionRecord {
            day: u32::try_from(day).unwrap_or_default(),
            label: decision.label,
            rules: decision
                .reasons
                .iter()
                .map(|reason| reason.rule.to_string())
                .collect(),
        };
        match &previous {
            // Asked again and nothing changed: the counters and the record already say this, so
            // a repeated GetDecision stays a read.
            Some(previous) if *previous == record => {}
            Some(previous) if previous.day == record.day => {
                // Already counted today: move the count to the new label and rules.
                self.count_decision(&mut batch, tenant, day, previous, -1);
                self.count_decision(&mut batch, tenant, day, &record, 1);
                batch.put(Keyspace::ClickDecisions, decision_key, encode(&record)?);
            }
            _ => {
                batch.add(
                    Keyspace::ClickStats,
                    counter_key(tenant, day, "decisions"),
                    1,
                );
                self.count_decision(&mut batch, tenant, day, &record, 1);
                batch.put(Keyspace::ClickDecisions, decision_key, encode(&record)?);
            }
        }
        if decision.label != Label::Clean && !decision.ip.is_empty() {
            let block_key = key(tenant, &decision.ip);
            let existing: Option<BlocklistRecord> =
                self.read(Keyspace::ClickBlocklist, &block_key).await?;
            let reason = decision
                .reasons
                .iter()
                .map(|reason| reason.details.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let record = match existing.clone() {
                Some(mut record) => {
                    record.last_seen_ms = record.last_seen_ms.max(last_event_ms);
                    if decision.score >= record.score {
                        record.score = decision.score;
                        record.label = decision.label;
                        record.reason = reason;
                    }
                    record
                }
                None => BlocklistRecord {
                    ip: decision.ip.clone(),
                    score: decision.score,
                    label: decision.label,
                    last_seen_ms: last_event_ms,
                    reason,
                },
            };
            // Nothing new to say about this IP: no write.
            if existing.as_ref() != Some(&record) {
                batch.put(Keyspace::ClickBlocklist, block_key, encode(&record)?);
            }
        }
        self.store.apply(batch).await?;
        drop(guards);
        // Derived data, recomputed by the next decision: no need to wait for the disk.
        Ok(())
    }

    /// Adds `sign` to the counters of `record`'s label and rules on `day`.
    fn count_decision(
        &self,
        batch: &mut WriteBatch,
        tenant: &TenantId,
        day: i64,
        record: &DecisionRecord,
        sign: i64,
    ) {
        batch.add(
            Keyspace::ClickStats,
            counter_key(tenant, day, record.label.name()),
            sign,
        );
        for rule in &record.rules {
            batch.add(
                Keyspace::ClickStats,
                counter_key(tenant, day, &format!("rule:{rule}")),
                sign,
            );
        }
    }

    /// The IPs to exclude: decided FRAUD (and SUSPICIOUS when asked) and seen within `days`.
    pub async fn blocklist(
        &self,
        tenant: &TenantId,
        days: i64,
        include_suspicious: bool,
        now_ms: i64,
    ) -> Result<Vec<BlockedIp>, StoreError> {
        let since = now_ms - days * 86_400_000;
        let mut entries = Vec::new();
        for (_, bytes) in self
            .store
            .scan_prefix(
                Keyspace::ClickBlocklist,
                &tenant_prefix(tenant.as_str()),
                None,
                usize::MAX,
            )
            .await?
        {
            let record: BlocklistRecord = decode(Keyspace::ClickBlocklist, &bytes)?;
            let wanted = record.label == Label::Fraud
                || (include_suspicious && record.label == Label::Suspicious);
            if !wanted || record.last_seen_ms < since {
                continue;
            }
            if let Ok(ip) = record.ip.parse() {
                entries.push(BlockedIp {
                    ip,
                    score: record.score,
                    last_seen_ms: record.last_seen_ms,
                    reason: record.reason,
                    fraud: record.label == Label::Fraud,
                });
            }
        }
        blocklist::sort_worst_first(&mut entries);
        Ok(entries)
    }

    /// Figures for the `days` days ending with the day of `as_of_ms`, from the day counters.
    pub async fn stats(
        &self,
        tenant: &TenantId,
        days: i64,
        as_of_ms: i64,
    ) -> Result<RangeStats, StoreError> {
        let last = day_number(as_of_ms);
        let mut stats = RangeStats::default();
        let mut rules: BTreeMap<String, i64> = BTreeMap::new();
        let first = last - days + 1;
        // One pass over the whole range: day keys sort by day within the tenant.
        let counters = self
            .store
            .scan_range(
                Keyspace::ClickStats,
                &day_key(tenant, first),
                &day_key(tenant, last + 1),
                usize::MAX,
            )
            .await?;
        let prefix_len = day_key(tenant, first).len();
        let mut counters = counters.into_iter().peekable();
        for day in first..=last {
            let prefix = day_key(tenant, day);
            let mut figures = DayStats {
                day: day_label(day),
                ..DayStats::default()
            };
            while let Some((counter, value)) =
                counters.next_if(|(counter, _)| counter.starts_with(&prefix))
            {
                let name = String::from_utf8_lossy(&counter[prefix_len + 1..]).into_owned();
                let value = decode_counter(&value);
                match name.as_str() {
                    "events" => figures.events = value,
                    "decisions" => figures.decisions = value,
                    "clean" => figures.clean = value,
                    "suspicious" => figures.suspicious = value,
                    "fraud" => figures.fraud = value,
                    other => {
                        if let Some(rule) = other.strip_prefix("rule:") {
                            *rules.entry(rule.to_string()).or_default() += value;
                        }
                    }
                }
            }
            stats.daily.push(figures);
        }
        let mut top: Vec<(String, i64)> =
            rules.into_iter().filter(|(_, count)| *count > 0).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        stats.top_rules = top;
        Ok(stats)
    }

    /// A page of events, oldest first: of `visitor_id` when given, else of the whole tenant.
    /// The page token is the position after the last event returned, relative to the tenant, so
    /// a token can never reach another tenant's events.
    pub async fn list_events(
        &self,
        tenant: &TenantId,
        visitor_id: Option<&VisitorId>,
        page_size: usize,
        page_token: &str,
    ) -> Result<(Vec<ClickEvent>, String), EngineError> {
        let after = hex::decode(page_token).map_err(|_| EngineError::PageTokenInvalid)?;
        // Per visitor, events sit under `tenant/visitor/`; for the tenant, the time index leads.
        let (space, prefix) = match visitor_id {
            Some(visitor) => {
                let mut prefix = key(tenant, visitor.as_str());
                prefix.push(b'/');
                (Keyspace::ClickEvents, prefix)
            }
            None => (Keyspace::ClickEventTimes, tenant_prefix(tenant.as_str())),
        };
        let start_after = (!after.is_empty()).then(|| [prefix.as_slice(), &after].concat());
        let entries = self
            .store
            .scan_prefix(space, &prefix, start_after.as_deref(), page_size + 1)
            .await?;
        let more = entries.len() > page_size;
        let mut events = Vec::with_capacity(page_size.min(entries.len()));
        let mut last_key = Vec::new();
        for (entry_key, value) in entries.into_iter().take(page_size) {
            let event = match space {
                Keyspace::ClickEventTimes => self.read(Keyspace::ClickEvents, &value).await?,
                _ => Some(decode(Keyspace::ClickEvents, &value)?),
            };
            // An index entry whose event retention just removed is skipped, not an error.
            if let Some(event) = event {
                events.push(event);
            }
            last_key = entry_key;
        }
        let next = if more {
            hex::encode(&last_key[prefix.len()..])
        } else {
            String::new()
        };
        Ok((events, next))
    }

    /// Removes events that happened before `before_ms`; returns how many.
    pub async fn purge_events_before(
        &self,
        tenant: &TenantId,
        before_ms: i64,
    ) -> Result<usize, StoreError> {
        let prefix = tenant_prefix(tenant.as_str());
        let limit = time_key(tenant, before_ms, "");
        let mut removed = 0;
        loop {
            let old: Vec<_> = self
                .store
                .scan_prefix(Keyspace::ClickEventTimes, &prefix, None, 1000)
                .await?
                .into_iter()
                .take_while(|(time_key, _)| time_key.as_slice() < limit.as_slice())
                .collect();
            if old.is_empty() {
                return Ok(removed);
            }
            let mut batch = WriteBatch::new();
            for (time_key, event_key) in &old {
                batch.delete(Keyspace::ClickEvents, event_key.clone());
                batch.delete(Keyspace::ClickEventTimes, time_key.clone());
            }
            removed += old.len();
            self.store.apply(batch).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{intel::ip_lists::IpListTables, store::SledStore};

    fn input(visitor: &str, time_ms: i64) -> TrackInput {
        TrackInput {
            kind: ClickKind::PageView,
            visitor_id: Some(VisitorId::parse(visitor).unwrap()),
            url: "https://shop.example/".into(),
            referrer: String::new(),
            click_ids: BTreeMap::new(),
            user_agent: String::new(),
            scroll_depth: None,
            time_on_page_ms: Some(30_000),
            honeypot_hit: false,
            js_enabled: Some(true),
            timezone: String::new(),
            device_id: String::new(),
            ip: None,
            time_ms,
        }
    }

    #[tokio::test]
    async fn retention_removes_only_old_events_and_keeps_the_counters() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let intel = Arc::new(Intel::bare(IpListTables::empty()).unwrap());
        let engine = ClickEngine::new(store, intel);
        let tenant = TenantId::parse("tn_0123456789abcdef", "tenant").unwrap();
        let other = TenantId::parse("tn_fedcba9876543210", "tenant").unwrap();
        let now = 1_800_000_000_000;
        let day = 86_400_000;
        for (visitor, age_days) in [
            ("vis_old", 120),
            ("vis_old", 95),
            ("vis_new", 10),
            ("vis_new", 0),
        ] {
            engine
                .track_event(&tenant, input(visitor, now - age_days * day))
                .await
                .unwrap();
        }
        engine
            .track_event(&other, input("vis_old", now - 120 * day))
            .await
            .unwrap();

        let removed = engine
            .purge_events_before(&tenant, now - 90 * day)
            .await
            .unwrap();
        assert_eq!(removed, 2);
        assert!(
            engine
                .visitor_events(&tenant, "vis_old")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            engine
                .visitor_events(&tenant, "vis_new")
                .await
                .unwrap()
                .len(),
            2
        );
        // Another tenant's events follow that tenant's retention, not this one's.
        assert_eq!(
            engine
                .visitor_events(&other, "vis_old")
                .await
                .unwrap()
                .len(),
            1
        );
        // The day counters stay: stats of past days do not change when their events go.
        let stats = engine.stats(&tenant, 365, now).await.unwrap();
        assert_eq!(stats.daily.iter().map(|day| day.events).sum::<i64>(), 4);
    }
}
