//! The request files `ghz` cycles through (`--data-file`, a JSON array: ghz sends its elements in
//! turn), one per RPC, in the JSON mapping of the protos. They use the seeded ids (users, visitors)
//! and the same address and user-agent mix as the seeded data, so reads find what was written.
//! Files that write (SendSignal, TrackEvent) carry a `tag` in their new ids and idempotency keys,
//! so that a second run never replays the first one's keys.

use std::path::Path;

use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde_json::{Value, json};

use crate::{
    BenchError, io_error,
    lists::ListFile,
    population::{
        Addresses, TIME_ZONES, UserAgents, click_id, device, mix, page_url, user_id, visitor_id,
    },
};

/// What the request files are made of.
#[derive(Debug, Clone)]
pub struct RequestPlan {
    /// The seed the data was made with.
    pub seed: u64,
    /// Seeded identities (`user-0000000` ...).
    pub identities: u64,
    /// Seeded visitors (`vis-0000000` ...).
    pub visitors: u64,
    /// Requests per file.
    pub count: usize,
    /// The smart URL keyname SmartUrl Check asks about.
    pub keyname: String,
    /// Tells new ids and idempotency keys of this run apart from other runs'.
    pub tag: String,
}

/// The request files: (file name, requests).
pub fn build(plan: &RequestPlan, lists: &[ListFile]) -> Vec<(&'static str, Vec<Value>)> {
    let addresses = Addresses::new(lists);
    let agents = UserAgents::new(plan.seed);
    let mut rng = SmallRng::seed_from_u64(mix(plan.seed, u64::from_le_bytes(*b"requests")));
    let tag_salt = plan.tag.bytes().fold(0u64, |acc, byte| {
        acc.wrapping_mul(31).wrapping_add(u64::from(byte))
    });
    let mut tagged = SmallRng::seed_from_u64(mix(plan.seed, tag_salt));
    let visitor = |rng: &mut SmallRng| -> (String, String, String) {
        let ua = if rng.random_range(0..10u32) == 0 {
            agents.bot(rng).to_string()
        } else {
            agents.browser(rng).to_string()
        };
        let ip = addresses.draw(rng).to_string();
        (ip, ua, page_url(rng, 3))
    };

    let check_visitor = (0..plan.count)
        .map(|_| {
            let (ip, ua, url) = visitor(&mut rng);
            json!({ "ip": ip, "ua": ua, "url": url })
        })
        .collect();
    let smart_url = (0..plan.count)
        .map(|_| {
            let (ip, ua, url) = visitor(&mut rng);
            json!({ "keyname": plan.keyname, "ip": ip, "ua": ua, "url": url })
        })
        .collect();
    let get_decision = (0..plan.count)
        .map(|_| json!({ "visitor_id": visitor_id(rng.random_range(0..plan.visitors.max(1))) }))
        .collect();
    let get_stats = [
        "STATS_RANGE_TODAY",
        "STATS_RANGE_LAST_7_DAYS",
        "STATS_RANGE_LAST_30_DAYS",
        "STATS_RANGE_LAST_90_DAYS",
    ]
    .iter()
    .map(|range| json!({ "range": range }))
    .collect();
    let send_signal = (0..plan.count)
        .map(|i| send_signal(plan, &addresses, &agents, &mut tagged, i))
        .collect();
    let track_event = (0..plan.count)
        .map(|i| track_event(plan, &addresses, &agents, &mut tagged, i))
        .collect();
    vec![
        ("check_visitor.json", check_visitor),
        ("smart_url.json", smart_url),
        ("get_decision.json", get_decision),
        ("get_stats.json", get_stats),
        ("send_signal.json", send_signal),
        ("track_event.json", track_event),
    ]
}

/// A server-side signal: mostly known users on their own device, some on a new device, a tenth
/// new users (created on the fly).
fn send_signal(
    plan: &RequestPlan,
    addresses: &Addresses,
    agents: &UserAgents,
    rng: &mut SmallRng,
    i: usize,
) -> Value {
    let roll = rng.random_range(0..10u32);
    let known = rng.random_range(0..plan.identities.max(1));
    let (user, device_index) = match roll {
        0 => (format!("user-{}-{i}", plan.tag), u64::MAX - known),
        1 => (user_id(known), u64::MAX / 2 - known),
        _ => (user_id(known), known),
    };
    let sketch = device(plan.seed, device_index);
    let kind = [
        "login",
        "login",
        "purchase",
        "password_change",
        "view_profile",
    ][rng.random_range(0..5usize)];
    json!({
        "idempotency_key": format!("bench-{}-{i}", plan.tag),
        "type": kind,
        "source": "SIGNAL_SOURCE_SERVER",
        "identifiers": { "user_id": user },
        "device": {
            "device_id": sketch.device_id,
            "platform": sketch.platform_name,
            "os_name": sketch.os_name,
            "os_version": sketch.os_version,
            "manufacturer": sketch.manufacturer,
            "model": sketch.model,
            "app_version": sketch.app_version,
            "locale": sketch.locale,
            "timezone": sketch.timezone,
            "screen_width": sketch.screen_width,
            "screen_height": sketch.screen_height,
        },
        "ip": addresses.draw(rng).to_string(),
        "user_agent": agents.browser(rng),
        "metadata": { "plan": if i % 2 == 0 { "free" } else { "pro" } },
    })
}

/// A landing-page event from the visitor's server: seven in ten from seeded visitors.
fn track_event(
    plan: &RequestPlan,
    addresses: &Addresses,
    agents: &UserAgents,
    rng: &mut SmallRng,
    i: usize,
) -> Value {
    let visitor = if rng.random_range(0..10u32) < 7 {
        visitor_id(rng.random_range(0..plan.visitors.max(1)))
    } else {
        format!("vis-{}-{i}", plan.tag)
    };
    let kind = match rng.random_range(0..10u32) {
        0..4 => "CLICK_EVENT_TYPE_PAGE_VIEW",
        4..9 => "CLICK_EVENT_TYPE_CLICK",
        _ => "CLICK_EVENT_TYPE_CONVERSION",
    };
    let mut event = json!({
        "type": kind,
        "url": format!("https://shop.example/landing/c{}", rng.random_range(1..200u32)),
        "referrer": "https://www.google.com/",
        "visitor_id": visitor,
        "ip": addresses.draw(rng).to_string(),
        "data": {
            "user_agent": agents.browser(rng),
            "scroll_depth": rng.random_range(0..100u32),
            "time_on_page_ms": rng.random_range(0..120_000u64).to_string(),
            "js_enabled": rng.random_range(0..20u32) != 0,
            "timezone": TIME_ZONES[rng.random_range(0..TIME_ZONES.len())].0,
        },
    });
    if kind == "CLICK_EVENT_TYPE_CLICK" {
        event["gclid"] = Value::String(click_id(rng));
    }
    event
}

/// Writes `requests` as a JSON array to `path`.
pub fn write(path: &Path, requests: &[Value]) -> Result<(), BenchError> {
    let file = std::fs::File::create(path)
        .map_err(io_error(format!("cannot write {}", path.display())))?;
    serde_json::to_writer(std::io::BufWriter::new(file), requests)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use gatehouse_proto::v1 as pb;

    use super::*;

    fn plan(tag: &str) -> RequestPlan {
        RequestPlan {
            seed: 1,
            identities: 1000,
            visitors: 500,
            count: 200,
            keyname: "bench-landing".into(),
            tag: tag.into(),
        }
    }

    #[test]
    fn files_are_arrays_of_requests_in_the_json_mapping() {
        let lists = crate::lists::generate(1, 0.001);
        let files = build(&plan("a"), &lists);
        assert_eq!(files.len(), 6);
        for (name, requests) in &files {
            assert!(!requests.is_empty(), "{name}");
        }
        let (_, checks) = &files[0];
        let first = &checks[0];
        assert!(
            first["ip"]
                .as_str()
                .unwrap()
                .parse::<std::net::IpAddr>()
                .is_ok()
        );
        // The enum names are the proto's own.
        let (_, signals) = &files[4];
        let platform = signals[0]["device"]["platform"].as_str().unwrap();
        assert!(
            pb::DevicePlatform::from_str_name(platform).is_some(),
            "{platform}"
        );
        assert_eq!(signals[0]["source"], "SIGNAL_SOURCE_SERVER");
        let (_, events) = &files[5];
        for event in events {
            let kind = event["type"].as_str().unwrap();
            assert!(pb::ClickEventType::from_str_name(kind).is_some(), "{kind}");
        }
        let (_, stats) = &files[3];
        for request in stats {
            let range = request["range"].as_str().unwrap();
            assert!(pb::StatsRange::from_str_name(range).is_some(), "{range}");
        }
    }

    #[test]
    fn tags_keep_idempotency_keys_apart_and_reads_stay_the_same() {
        let lists = crate::lists::generate(1, 0.001);
        let a = build(&plan("a"), &lists);
        let b = build(&plan("b"), &lists);
        assert_eq!(a[0].1, b[0].1, "read files do not depend on the tag");
        assert_ne!(
            a[4].1[0]["idempotency_key"], b[4].1[0]["idempotency_key"],
            "write files do"
        );
    }
}
