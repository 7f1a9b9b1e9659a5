//! The server's feed schedule: each runnable feed is updated when its interval has passed since
//! its last attempt (a feed never tried runs at once, so a fresh server fetches its data on
//! first start), one feed at a time so a refresh never takes more than one core from the
//! request path. A failed feed is tried again after [`RETRY_AFTER_FAILURE`], doubling per
//! failure up to its interval.

use std::time::Duration;

use super::{
    FeedDefinition, FeedSettings, RETRY_AFTER_FAILURE, state::FeedState, state::FeedStates,
};

/// How often the schedule looks for due feeds.
const TICK: Duration = Duration::from_secs(30);

/// When `feed` is next due (Unix seconds), given its state.
pub fn next_due(feed: &FeedDefinition, state: Option<&FeedState>) -> u64 {
    let Some(state) = state else {
        return 0;
    };
    let Some(attempt) = state.last_attempt else {
        return 0;
    };
    let wait = if state.consecutive_failures > 0 {
        let factor = 1u32 << state.consecutive_failures.saturating_sub(1).min(16);
        (RETRY_AFTER_FAILURE * factor).min(feed.interval)
    } else {
        feed.interval
    };
    attempt.saturating_add(wait.as_secs())
}

/// Runs the schedule until the task is dropped.
pub fn spawn(settings: FeedSettings) -> Option<tokio::task::JoinHandle<()>> {
    let client = match settings.client() {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "intel feeds not scheduled");
            return None;
        }
    };
    let runnable: Vec<String> = settings.runnable().map(|feed| feed.name.clone()).collect();
    tracing::info!(feeds = ?runnable, "intel feeds scheduled");
    for feed in &settings.feeds {
        if feed.enabled && feed.needs_license_key() && settings.maxmind_license_key.is_none() {
            tracing::info!(feed = %feed.name, "intel feed skipped: set maxmind_license_key");
        }
    }
    let states = FeedStates::read(&settings.state_file);
    for (name, state) in &states.feeds {
        super::record_state_metrics(name, state);
    }
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            // Re-read each round: `gatehouse intel update` may have run meanwhile.
            let mut states = FeedStates::read(&settings.state_file);
            let due: Vec<FeedDefinition> = settings
                .runnable()
                .filter(|feed| next_due(feed, states.feeds.get(&feed.name)) <= super::state::now())
                .cloned()
                .collect();
            for feed in due {
                super::update_feed(&client, &settings, &feed, &mut states).await;
                if let Err(error) = super::write_state(&settings, &states) {
                    tracing::warn!(%error, "intel feed state not written");
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_tried_is_due_and_failures_back_off_up_to_the_interval() {
        let feed = super::super::builtin_feeds(false).remove(0);
        assert_eq!(next_due(&feed, None), 0);
        let mut state = FeedState {
            last_attempt: Some(1_000),
            ..Default::default()
        };
        assert_eq!(
            next_due(&feed, Some(&state)),
            1_000 + feed.interval.as_secs()
        );
        state.consecutive_failures = 1;
        assert_eq!(next_due(&feed, Some(&state)), 1_000 + 900);
        state.consecutive_failures = 10;
        assert_eq!(
            next_due(&feed, Some(&state)),
            1_000 + feed.interval.as_secs()
        );
    }
}
