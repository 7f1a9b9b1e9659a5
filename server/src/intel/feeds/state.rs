//! What is remembered about each feed between runs: the validators for conditional requests,
//! when it last succeeded, changed and failed, how many entries it gave and its last error. Kept
//! as one JSON file in the intel folder, replaced atomically, shared by `gatehouse intel update`
//! and the server's schedule.

use std::{
    collections::BTreeMap,
    path::Path,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

/// One feed's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedState {
    /// The `ETag` of the data in use, sent back as `If-None-Match`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` of the data in use, sent back as `If-Modified-Since`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// When an update was last tried (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<u64>,
    /// When the data was last confirmed current: replaced, or answered `304 Not Modified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<u64>,
    /// When the data was last replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_changed: Option<u64>,
    /// Entries in the data in use.
    pub entries: usize,
    /// The last failure's message, cleared by a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the last failure happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<u64>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
}

/// Every feed's state, by feed name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedStates {
    /// The states.
    pub feeds: BTreeMap<String, FeedState>,
}

impl FeedStates {
    /// Reads the state file; a missing or unreadable one is an empty state (the next update
    /// then fetches everything without validators, which is always safe).
    pub fn read(path: &Path) -> Self {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(path = %path.display(), %error, "feed state unreadable; starting afresh");
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }

    /// Writes the state file atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        super::write_atomically(path, &bytes)
    }
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(seconds: u64) -> String {
    let (year, month, day) = crate::intel::geo::civil_date(seconds);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_broken_file_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds-state.json");
        assert_eq!(FeedStates::read(&path), FeedStates::default());
        let mut states = FeedStates::default();
        states.feeds.insert(
            "tor-exits".into(),
            FeedState {
                etag: Some("\"abc\"".into()),
                entries: 3,
                ..Default::default()
            },
        );
        states.write(&path).unwrap();
        assert_eq!(FeedStates::read(&path), states);
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(FeedStates::read(&path), FeedStates::default());
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_716_193_549), "2024-05-20T08:25:49Z");
    }
}
