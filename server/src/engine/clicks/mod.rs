//! The click-fraud face of the engine: events in; decisions with reasons, a blocklist and
//! statistics out.
//!
//! A visitor is decided when its events arrive: `track_event` runs the rules over the visitor's
//! latest events and records the decision, the blocklist and the day counters in the event's own
//! batch, so the blocklist holds every visitor decided FRAUD and `decision` only reads. What is
//! kept is every rule that fired, without points; the tenant's weights are applied when the
//! decision is read, so a change of weights shows at once. A change of thresholds shows from
//! the visitor's next event. When a click id gains a sharer past the tenant's threshold, the
//! visitors already sharing it are decided again, since their `gclid_reuse` changed.
//!
//! Statistics come from per-day counters kept as decisions are made, never from scanning
//! events. A decision counts once per visitor and day (the day of the visitor's latest event, so
//! imported events land on their own day); a later decision the same day moves the count.

pub mod blocklist;
pub mod records;
pub mod rules;

use std::{collections::BTreeMap, net::IpAddr, sync::Arc};

use rand::RngCore;

use crate::{
    engine::context::{Enricher, Observed},
    engine::locks::Stripes,
    engine::{EngineError, VisitorId},
    intel::Intel,
    store::{
        Store, StoreError, WriteBatch,
        repositories::{ClickDecisions, ClickEvents, ClickIds},
    },
    tenancy::{ClickRuleSettings, TenantId},
    time::{day_label, day_number},
};

use self::{
    blocklist::BlockedIp,
    records::*,
    rules::{Fired, Reason, VisitorHistory, fire, rule_named, weigh},
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
    events: ClickEvents,
    click_ids: ClickIds,
    decisions: ClickDecisions,
    enricher: Enricher,
    locks: Stripes,
}

fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// The score, label and action of weighed reasons.
fn verdict(reasons: &[Reason]) -> (i32, Label, Action) {
    let score = reasons
        .iter()
        .map(|reason| reason.score)
        .sum::<i32>()
        .clamp(0, 100);
    let label = Label::of(score);
    let action = match label {
        Label::Clean => Action::Allow,
        Label::Suspicious => Action::Challenge,
        Label::Fraud => Action::Block,
    };
    (score, label, action)
}

/// The decision a record holds, under the weights in `settings`.
fn decision_of(
    visitor_id: &str,
    record: &DecisionRecord,
    settings: &ClickRuleSettings,
) -> ClickDecision {
    let fired: Vec<Fired> = record
        .fired
        .iter()
        .filter_map(|kept| {
            Some(Fired {
                rule: rule_named(&kept.rule)?,
                details: kept.details.clone(),
            })
        })
        .collect();
    let reasons = weigh(&fired, settings);
    let (score, label, action) = verdict(&reasons);
    ClickDecision {
        visitor_id: visitor_id.to_string(),
        score,
        label,
        action,
        reasons,
        ip: record.ip.clone(),
        decided_ms: record.decided_ms,
    }
}

/// A click id's name and value, as the lock and the repository know it.
fn click_id_lock(name: &str, value: &str) -> String {
    format!("{name}:{value}")
}

impl ClickEngine {
    /// The engine over `store` and `intel`.
    pub fn new(store: Arc<dyn Store>, intel: Arc<Intel>) -> Self {
        Self {
            events: ClickEvents::new(store.clone()),
            click_ids: ClickIds::new(store.clone()),
            decisions: ClickDecisions::new(store.clone()),
            store,
            enricher: Enricher::new(intel),
            locks: Stripes::new(),
        }
    }

    /// Records one event and decides on its visitor, durably; returns the event id and the
    /// visitor id (assigned when absent).
    pub async fn track_event(
        &self,
        tenant: &TenantId,
        settings: &ClickRuleSettings,
        input: TrackInput,
    ) -> Result<(String, VisitorId), EngineError> {
        let visitor = input.visitor_id.clone().unwrap_or_else(VisitorId::generate);
        let visitor_id = visitor.to_string();
        let event_id = random_id("cev");
        let ip = input
            .ip
            .map(|ip| crate::intel::ip_lists::canonical(ip).to_string());
        let click_id_locks: Vec<String> = input
            .click_ids
            .iter()
            .map(|(name, value)| click_id_lock(name, value))
            .collect();
        // The visitor's decision, the shared click facts and the IP's blocklist entry are read
        // and written here; the day counters need no lock (the batch adds to them atomically).
        let visitor_lock = format!("visitor:{visitor_id}");
        let ip_lock = ip.as_ref().map(|ip| format!("ip:{ip}"));
        let mut lock_keys: Vec<&str> = click_id_locks.iter().map(String::as_str).collect();
        lock_keys.push(&visitor_lock);
        lock_keys.extend(ip_lock.as_deref());
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
        ClickEvents::put(&mut batch, tenant, &event)?;
        let mut shared = SharedFacts::default();
        let mut newly_shared = Vec::new();
        for (name, value) in &event.click_ids {
            let mut record = self.click_ids.sharers(tenant, name, value).await?;
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
                ClickIds::put_sharers(&mut batch, tenant, name, value, &record)?;
                let sharers = record.visitors.len().max(record.ips.len());
                let threshold =
                    usize::try_from(settings.gclid_reuse_threshold).unwrap_or(usize::MAX);
                if sharers > threshold {
                    newly_shared.extend(
                        record
                            .visitors
                            .iter()
                            .filter(|other| **other != visitor_id)
                            .cloned(),
                    );
                }
            }
            shared
                .click_ids
                .insert((name.clone(), value.clone()), record);
        }
        if let (Some(ip), ClickKind::Click) = (&ip, event.kind) {
            let mut record = self.click_ids.from_ip(tenant, ip).await?;
            record
                .clicks
                .push((event.time_ms, event.ad_key().to_string()));
            record.clicks.sort_by_key(|(time, _)| *time);
            let excess = record.clicks.len().saturating_sub(MAX_IP_CLICKS);
            record.clicks.drain(..excess);
            ClickIds::put_from_ip(&mut batch, tenant, ip, &record)?;
            shared.ip_clicks = Some((ip.clone(), record));
        }
        ClickDecisions::count(&mut batch, tenant, day_number(event.time_ms), "events", 1);

        let mut events = self
            .events
            .latest(tenant, &visitor_id, MAX_EVENTS_PER_DECISION - 1)
            .await?;
        // Keys order a visitor's events by time: an imported older event goes where it belongs.
        let at = events.partition_point(|earlier| earlier.time_ms <= event.time_ms);
        events.insert(at, event);
        self.decide_into(&mut batch, tenant, settings, &visitor_id, &events, &shared)
            .await?;
        self.store.apply(batch).await?;
        drop(guards);
        self.store.durable().await?;

        newly_shared.sort();
        newly_shared.dedup();
        for other in newly_shared {
            self.decide_again(tenant, settings, &other).await?;
        }
        Ok((event_id, visitor))
    }

    /// Decides on a visitor from its stored events and records the decision (for visitors whose
    /// shared facts changed, and for data dirs of releases that decided only when asked).
    pub async fn decide_again(
        &self,
        tenant: &TenantId,
        settings: &ClickRuleSettings,
        visitor_id: &str,
    ) -> Result<(), EngineError> {
        let visitor_lock = format!("visitor:{visitor_id}");
        // The visitor and its latest IP (whose blocklist entry the decision writes) are locked
        // together, in stripe order, as TrackEvent locks them: locking one and then the other
        // could wait on a TrackEvent that holds the second, or on the same stripe twice. The IP
        // is known only from the events, so they are read first and again under the locks; an
        // event that moved the visitor to another IP meanwhile means one more round.
        let mut expected_ip = latest_ip(
            &self
                .events
                .latest(tenant, visitor_id, MAX_EVENTS_PER_DECISION)
                .await?,
        );
        let (events, _guards) = loop {
            let ip_lock = expected_ip.map(|ip| format!("ip:{ip}"));
            let mut lock_keys = vec![visitor_lock.as_str()];
            lock_keys.extend(ip_lock.as_deref());
            let guards = self.locks.lock_many(tenant, &lock_keys).await;
            let events = self
                .events
                .latest(tenant, visitor_id, MAX_EVENTS_PER_DECISION)
                .await?;
            let latest = latest_ip(&events);
            if latest == expected_ip {
                break (events, guards);
            }
            drop(guards);
            expected_ip = latest;
        };
        if events.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        self.decide_into(
            &mut batch,
            tenant,
            settings,
            visitor_id,
            &events,
            &SharedFacts::default(),
        )
        .await?;
        self.store.apply(batch).await?;
        // Derived data, made again by the visitor's next event: no need to wait for the disk.
        Ok(())
    }

    /// Runs the rules over a visitor's events (oldest first) and adds the decision, its day
    /// counters and the blocklist entry to `batch`. `shared` holds the shared click facts this
    /// batch changes, which the store does not have yet.
    async fn decide_into(
        &self,
        batch: &mut WriteBatch,
        tenant: &TenantId,
        settings: &ClickRuleSettings,
        visitor_id: &str,
        events: &[ClickEvent],
        shared: &SharedFacts,
    ) -> Result<(), StoreError> {
        let Some(latest) = events.last() else {
            return Ok(());
        };
        let latest_time = events
            .iter()
            .map(|event| event.time_ms)
            .max()
            .unwrap_or(latest.time_ms);
        // enrich: the latest IP and user agent the visitor was seen with
        let latest_ip = latest_ip(events);
        let user_agent = events
            .iter()
            .rev()
            .map(|event| event.user_agent.as_str())
            .find(|ua| !ua.is_empty())
            .unwrap_or_default();
        let context = self
            .enricher
            .enrich(Observed {
                ip: latest_ip,
                user_agent,
                ..Observed::default()
            })
            .await;
        let mut click_id_sharers = 0;
        let mut seen = std::collections::BTreeSet::new();
        for event in events {
            for (name, value) in &event.click_ids {
                if !seen.insert((name.as_str(), value.as_str())) {
                    continue;
                }
                let record = match shared.click_ids.get(&(name.clone(), value.clone())) {
                    Some(record) => record.clone(),
                    None => self.click_ids.sharers(tenant, name, value).await?,
                };
                click_id_sharers =
                    click_id_sharers.max(record.visitors.len().max(record.ips.len()));
            }
        }
        let ip_repeat_clicks = match &latest_ip {
            Some(ip) => {
                let ip = ip.to_string();
                let record = match &shared.ip_clicks {
                    Some((changed, record)) if *changed == ip => record.clone(),
                    _ => self.click_ids.from_ip(tenant, &ip).await?,
                };
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
        let fired = fire(&VisitorHistory {
            events,
            ip: context.ip.as_ref(),
            ua: context.ua.as_ref(),
            click_id_sharers,
            ip_repeat_clicks,
            settings,
        });
        let reasons = weigh(&fired, settings);
        let (score, label, _) = verdict(&reasons);
        let record = DecisionRecord {
            day: u32::try_from(day_number(latest_time)).unwrap_or_default(),
            label,
            rules: reasons
                .iter()
                .map(|reason| reason.rule.to_string())
                .collect(),
            fired: fired
                .iter()
                .map(|fired| FiredRule {
                    rule: fired.rule.to_string(),
                    details: fired.details.clone(),
                })
                .collect(),
            ip: latest_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            decided_ms: crate::time::now_ms(),
        };
        // record
        let day = i64::from(record.day);
        match self.decisions.get(tenant, visitor_id).await? {
            // Counted today already, with the same label and rules: nothing to move.
            Some(previous)
                if previous.day == record.day
                    && previous.label == record.label
                    && previous.rules == record.rules => {}
            Some(previous) if previous.day == record.day => {
                // Already counted today: move the count to the new label and rules.
                count_decision(batch, tenant, day, &previous, -1);
                count_decision(batch, tenant, day, &record, 1);
            }
            _ => {
                ClickDecisions::count(batch, tenant, day, "decisions", 1);
                count_decision(batch, tenant, day, &record, 1);
            }
        }
        ClickDecisions::put(batch, tenant, visitor_id, &record)?;
        if record.label != Label::Clean && !record.ip.is_empty() {
            let existing = self.decisions.blocked(tenant, &record.ip).await?;
            let reason = reasons
                .iter()
                .map(|reason| reason.details.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let entry = match existing.clone() {
                Some(mut entry) => {
                    entry.last_seen_ms = entry.last_seen_ms.max(latest_time);
                    if score >= entry.score {
                        entry.score = score;
                        entry.label = record.label;
                        entry.reason = reason;
                    }
                    entry
                }
                None => BlocklistRecord {
                    ip: record.ip.clone(),
                    score,
                    label: record.label,
                    last_seen_ms: latest_time,
                    reason,
                },
            };
            // Nothing new to say about this IP: no write.
            if existing.as_ref() != Some(&entry) {
                ClickDecisions::put_blocked(batch, tenant, &entry, existing.as_ref())?;
            }
        }
        Ok(())
    }

    /// The latest decision about a visitor, under the tenant's weights now. A read: decisions
    /// are made when events arrive.
    pub async fn decision(
        &self,
        tenant: &TenantId,
        settings: &ClickRuleSettings,
        visitor: &VisitorId,
    ) -> Result<ClickDecision, EngineError> {
        let record = self
            .decisions
            .get(tenant, visitor.as_str())
            .await?
            .ok_or_else(|| EngineError::VisitorUnknown(visitor.to_string()))?;
        Ok(decision_of(visitor.as_str(), &record, settings))
    }

    /// Decides every visitor whose decision is missing or was made by a release that decided
    /// only when asked; returns how many. Run once when a data dir of such a release is
    /// migrated.
    pub async fn decide_undecided(
        &self,
        tenant: &TenantId,
        settings: &ClickRuleSettings,
    ) -> Result<usize, EngineError> {
        let mut decided = 0;
        let mut after: Option<String> = None;
        while let Some(visitor_id) = self.events.next_visitor(tenant, after.as_deref()).await? {
            let current = self
                .decisions
                .get(tenant, &visitor_id)
                .await?
                .is_some_and(|record| record.decided_ms != 0);
            if !current {
                self.decide_again(tenant, settings, &visitor_id).await?;
                decided += 1;
            }
            after = Some(visitor_id);
        }
        self.store.durable().await?;
        Ok(decided)
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
        let mut labels = vec![Label::Fraud];
        if include_suspicious {
            labels.push(Label::Suspicious);
        }
        let mut entries = Vec::new();
        for label in labels {
            for record in self.decisions.blocklist(tenant, label, since).await? {
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
        let first = last - days + 1;
        let mut stats = RangeStats::default();
        let mut rules: BTreeMap<String, i64> = BTreeMap::new();
        let mut counters = self
            .decisions
            .counters(tenant, first, last)
            .await?
            .into_iter()
            .peekable();
        for day in first..=last {
            let mut figures = DayStats {
                day: day_label(day),
                ..DayStats::default()
            };
            while let Some(counter) = counters.next_if(|counter| counter.day == day) {
                match counter.name.as_str() {
                    "events" => figures.events = counter.value,
                    "decisions" => figures.decisions = counter.value,
                    "clean" => figures.clean = counter.value,
                    "suspicious" => figures.suspicious = counter.value,
                    "fraud" => figures.fraud = counter.value,
                    other => {
                        if let Some(rule) = other.strip_prefix("rule:") {
                            *rules.entry(rule.to_string()).or_default() += counter.value;
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
        let page = self
            .events
            .page(tenant, visitor_id.map(VisitorId::as_str), &after, page_size)
            .await?;
        Ok((page.events, page.next.map(hex::encode).unwrap_or_default()))
    }

    /// Removes events that happened before `before_ms`; returns how many.
    pub async fn purge_events_before(
        &self,
        tenant: &TenantId,
        before_ms: i64,
    ) -> Result<usize, StoreError> {
        self.events.purge_before(tenant, before_ms).await
    }
}

/// Shared click facts a batch is changing, which decisions in that batch must see.
#[derive(Debug, Default)]
struct SharedFacts {
    click_ids: BTreeMap<(String, String), ClickIdRecord>,
    ip_clicks: Option<(String, IpClicks)>,
}

/// The latest IP among a visitor's events (oldest first).
fn latest_ip(events: &[ClickEvent]) -> Option<IpAddr> {
    events
        .iter()
        .rev()
        .find_map(|event| event.ip.parse::<IpAddr>().ok())
}

/// Adds `sign` to the counters of `record`'s label and rules on `day`.
fn count_decision(
    batch: &mut WriteBatch,
    tenant: &TenantId,
    day: i64,
    record: &DecisionRecord,
    sign: i64,
) {
    ClickDecisions::count(batch, tenant, day, record.label.name(), sign);
    for rule in &record.rules {
        ClickDecisions::count(batch, tenant, day, &format!("rule:{rule}"), sign);
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn visitors_sharing_a_click_id_are_decided_again_without_deadlock() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let intel = Arc::new(Intel::bare(IpListTables::empty()).unwrap());
        let engine = Arc::new(ClickEngine::new(store, intel));
        let tenant = TenantId::parse("tn_0123456789abcdef", "tenant").unwrap();
        // 60 visitors on their own IPs share one gclid, concurrently: each new sharer past the
        // threshold decides the others again, locking visitors and IPs that other TrackEvents
        // hold too (and, with 1 024 stripes, a visitor and an IP on one stripe now and then).
        let now = 1_800_000_000_000;
        let tasks: Vec<_> = (0..60)
            .map(|n| {
                let engine = engine.clone();
                let tenant = tenant.clone();
                tokio::spawn(async move {
                    let mut event = input(&format!("vis_s{n}"), now + n);
                    event.kind = ClickKind::Click;
                    event.click_ids.insert("gclid".into(), "Cj0-shared".into());
                    event.ip = Some(format!("192.0.2.{n}").parse().unwrap());
                    engine
                        .track_event(&tenant, &ClickRuleSettings::default(), event)
                        .await
                        .unwrap();
                })
            })
            .collect();
        let all = async {
            for task in tasks {
                task.await.unwrap();
            }
        };
        // A deadlock never ends; a minute is far beyond what 60 events take.
        tokio::time::timeout(std::time::Duration::from_secs(60), all)
            .await
            .expect("TrackEvent deadlocked");
        let settings = ClickRuleSettings::default();
        let first = engine
            .decision(&tenant, &settings, &VisitorId::parse("vis_s0").unwrap())
            .await
            .unwrap();
        assert!(
            first
                .reasons
                .iter()
                .any(|reason| reason.rule == "gclid_reuse"),
            "{first:?}"
        );
    }

    #[tokio::test]
    async fn deciding_a_sharer_again_locks_its_visitor_and_ip_together() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let intel = Arc::new(Intel::bare(IpListTables::empty()).unwrap());
        let engine = ClickEngine::new(store, intel);
        let tenant = TenantId::parse("tn_0123456789abcdef", "tenant").unwrap();
        // A visitor whose lock falls on the same stripe as its IP's: locking one and then the
        // other would wait on itself for ever.
        let ip = "192.0.2.1";
        let ip_stripe = Stripes::stripe(&tenant, &format!("ip:{ip}"));
        let visitor = (0..100_000)
            .map(|n| format!("vis_c{n}"))
            .find(|visitor| Stripes::stripe(&tenant, &format!("visitor:{visitor}")) == ip_stripe)
            .unwrap();
        let settings = ClickRuleSettings::default();
        let now = 1_800_000_000_000;
        for (n, (who, address)) in [
            (visitor.as_str(), ip),
            ("vis_b", "192.0.2.2"),
            // The third sharer decides the first two again.
            ("vis_c", "192.0.2.3"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut event = input(who, now + i64::try_from(n).unwrap());
            event.kind = ClickKind::Click;
            event.click_ids.insert("gclid".into(), "Cj0-same".into());
            event.ip = Some(address.parse().unwrap());
            tokio::time::timeout(
                std::time::Duration::from_secs(30),
                engine.track_event(&tenant, &settings, event),
            )
            .await
            .expect("TrackEvent waited on its own lock")
            .unwrap();
        }
        let first = engine
            .decision(&tenant, &settings, &VisitorId::parse(&visitor).unwrap())
            .await
            .unwrap();
        let reuse = first
            .reasons
            .iter()
            .find(|reason| reason.rule == "gclid_reuse")
            .unwrap();
        assert_eq!(reuse.details, "Click id seen from 3 visitors or IPs");
    }

    #[tokio::test]
    async fn retention_removes_only_old_events_and_keeps_the_counters() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let intel = Arc::new(Intel::bare(IpListTables::empty()).unwrap());
        let engine = ClickEngine::new(store, intel);
        let tenant = TenantId::parse("tn_0123456789abcdef", "tenant").unwrap();
        let other = TenantId::parse("tn_fedcba9876543210", "tenant").unwrap();
        let settings = ClickRuleSettings::default();
        let now = 1_800_000_000_000;
        let day = 86_400_000;
        for (visitor, age_days) in [
            ("vis_old", 120),
            ("vis_old", 95),
            ("vis_new", 10),
            ("vis_new", 0),
        ] {
            engine
                .track_event(&tenant, &settings, input(visitor, now - age_days * day))
                .await
                .unwrap();
        }
        engine
            .track_event(&other, &settings, input("vis_old", now - 120 * day))
            .await
            .unwrap();

        let removed = engine
            .purge_events_before(&tenant, now - 90 * day)
            .await
            .unwrap();
        assert_eq!(removed, 2);
        assert!(
            engine
                .events
                .latest(&tenant, "vis_old", MAX_EVENTS_PER_DECISION)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            engine
                .events
                .latest(&tenant, "vis_new", MAX_EVENTS_PER_DECISION)
                .await
                .unwrap()
                .len(),
            2
        );
        // Another tenant's events follow that tenant's retention, not this one's.
        assert_eq!(
            engine
                .events
                .latest(&other, "vis_old", MAX_EVENTS_PER_DECISION)
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
