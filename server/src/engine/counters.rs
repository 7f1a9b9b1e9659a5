//! Sliding-window counting: how often something happened lately (threat hits of an IP, verified
//! requests of a device).
//!
//! Counts go to window-long buckets that start at multiples of the window, as atomic store
//! additions, so concurrent writers (and servers sharing a store) never lose one. The window is
//! estimated from two buckets: the current one, and the previous one weighted by how much of it
//! still overlaps. A subject's state never grows with its traffic.

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
}
