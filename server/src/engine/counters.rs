//! Sliding-window counters: how often something happened lately (threat hits of an IP, verified
//! requests of a device), in one small record per subject.
//!
//! The window is approximated with two fixed buckets (the current and the previous window, the
//! previous one weighted by how much of it still overlaps), so a counter never grows with traffic.

use serde::{Deserialize, Serialize};

/// The window-long bucket `now_ms` falls in: buckets start at multiples of `window_ms`, so
/// every writer (and every server) agrees on them without reading anything first.
pub fn bucket_of(now_ms: i64, window_ms: i64) -> i64 {
    now_ms.div_euclid(window_ms.max(1))
}

/// The two-bucket estimate of the hits within the last `window_ms` at `now_ms`, from the counts
/// of the current bucket and the one before it (weighted by how much of it still overlaps).
pub fn estimate(previous: i64, current: i64, now_ms: i64, window_ms: i64) -> f64 {
    let window_ms = window_ms.max(1);
    let into_bucket = now_ms.rem_euclid(window_ms);
    let overlap = 1.0 - into_bucket as f64 / window_ms as f64;
    previous.max(0) as f64 * overlap + current.max(0) as f64
}

/// Counts in a sliding window of a length the caller gives on every call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlidingCount {
    /// Start of the current bucket (ms).
    pub bucket_start_ms: i64,
    /// Hits in the current bucket.
    pub current_hits: u32,
    /// Hits in the previous bucket.
    pub previous_hits: u32,
}

impl SlidingCount {
    /// The estimated hits within the last `window_ms` at `now_ms`.
    pub fn in_window(&self, now_ms: i64, window_ms: i64) -> f64 {
        if window_ms <= 0 {
            return f64::from(self.current_hits);
        }
        let elapsed = now_ms - self.bucket_start_ms;
        if elapsed >= 2 * window_ms {
            return 0.0;
        }
        if elapsed >= window_ms {
            // The current bucket has become the previous one.
            let overlap = 1.0 - (elapsed - window_ms) as f64 / window_ms as f64;
            return f64::from(self.current_hits) * overlap;
        }
        let overlap = 1.0 - elapsed as f64 / window_ms as f64;
        f64::from(self.previous_hits) * overlap + f64::from(self.current_hits)
    }

    /// Counts one hit at `now_ms` and returns the estimate within the window, this hit included.
    pub fn add(&mut self, now_ms: i64, window_ms: i64) -> f64 {
        let elapsed = now_ms - self.bucket_start_ms;
        if self.bucket_start_ms == 0 || elapsed >= 2 * window_ms {
            *self = SlidingCount {
                bucket_start_ms: now_ms,
                ..SlidingCount::default()
            };
        } else if elapsed >= window_ms {
            self.previous_hits = self.current_hits;
            self.current_hits = 0;
            self.bucket_start_ms += window_ms;
        }
        self.current_hits = self.current_hits.saturating_add(1);
        self.in_window(now_ms, window_ms)
    }

    /// True when nothing was counted within the last two windows: the record can go.
    pub fn is_stale(&self, now_ms: i64, window_ms: i64) -> bool {
        now_ms - self.bucket_start_ms >= 2 * window_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    #[test]
    fn bucket_estimates_weigh_the_previous_bucket_by_its_overlap() {
        assert_eq!(bucket_of(119_999, MINUTE), 1);
        assert_eq!(bucket_of(120_000, MINUTE), 2);
        // At a bucket's start the previous one counts fully; halfway, half of it.
        assert!((estimate(10, 1, 120_000, MINUTE) - 11.0).abs() < 1e-9);
        assert!((estimate(10, 1, 150_000, MINUTE) - 6.0).abs() < 1e-9);
        assert!((estimate(0, 3, 179_999, MINUTE) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn hits_within_the_window_add_up() {
        let mut count = SlidingCount::default();
        let t0 = 1_000_000;
        assert_eq!(count.add(t0, MINUTE), 1.0);
        assert_eq!(count.add(t0 + 1_000, MINUTE), 2.0);
        assert_eq!(count.add(t0 + 2_000, MINUTE), 3.0);
    }

    #[test]
    fn the_previous_bucket_fades_out() {
        let mut count = SlidingCount::default();
        let t0 = 1_000_000;
        count.add(t0, MINUTE);
        count.add(t0 + 55_000, MINUTE);
        // 6 s into the next bucket, 9/10 of the previous one still overlaps.
        let estimate = count.add(t0 + 66_000, MINUTE);
        assert!((estimate - (2.0 * 0.9 + 1.0)).abs() < 1e-9, "{estimate}");
        assert!(!count.is_stale(t0 + 66_000, MINUTE));
        assert_eq!(count.in_window(t0 + 60_000 + 2 * MINUTE, MINUTE), 0.0);
        assert!(count.is_stale(t0 + 60_000 + 2 * MINUTE, MINUTE));
    }

    #[test]
    fn a_long_pause_starts_over() {
        let mut count = SlidingCount::default();
        let t0 = 1_000_000;
        for n in 0..5 {
            count.add(t0 + n, MINUTE);
        }
        assert_eq!(count.add(t0 + 10 * MINUTE, MINUTE), 1.0);
    }
}
