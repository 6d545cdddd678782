//! When to try a feed again. Pure: takes the facts, returns a time.
//!
//! After a failure: exponential back-off from [`BASE`] doubling per consecutive failure, capped
//! at `[poll] max_backoff`, with ±20 % jitter (so feeds that failed together do not retry
//! together), and never earlier than a `Retry-After` the server sent (RFC 9110 §10.2.3; itself
//! capped at [`MAX_RETRY_AFTER`]). It never gives up: the cap is a ceiling, not an end.
//! After a success: the next scheduled tick, but not before a `Cache-Control: max-age` /
//! `Expires` the server asked for (capped at [`MAX_CACHE_INTERVAL`], so a bad header cannot
//! silence a feed for weeks). Scheduled ticks before the next attempt are skipped, not queued.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The delay after the first failure.
pub const BASE: Duration = Duration::from_secs(60);
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The longest minimum interval a cache header can impose.
pub const MAX_CACHE_INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// The next attempt after `failures` consecutive failures (1 for the first). `jitter` is a
/// number in [0, 1) (the caller draws it; tests pass fixed values).
pub fn after_failure(
    now: DateTime<Utc>,
    failures: u32,
    retry_after: Option<Duration>,
    max_backoff: Duration,
    jitter: f64,
) -> DateTime<Utc> {
    let exp = failures.saturating_sub(1).min(30);
    let raw = BASE.saturating_mul(1u32 << exp.min(20)).min(max_backoff);
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    let mut delay = raw.mul_f64(factor).min(max_backoff);
    if let Some(ra) = retry_after {
        delay = delay.max(ra.min(MAX_RETRY_AFTER));
    }
    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
}

/// The next attempt after a success: the schedule's next tick, or later if the server asked.
pub fn after_success(
    scheduled: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    min_interval: Option<Duration>,
) -> Option<DateTime<Utc>> {
    let floor = min_interval
        .map(|d| now + chrono::Duration::from_std(d.min(MAX_CACHE_INTERVAL)).unwrap_or_default());
    match (scheduled, floor) {
        (Some(s), Some(f)) => Some(s.max(f)),
        (s, f) => s.or(f),
    }
}

/// A cheap jitter source in [0, 1): the sub-second clock mixed with a key (no RNG needed for
/// spreading retries).
pub fn jitter(key: &str) -> f64 {
    let nanos = Utc::now().timestamp_subsec_nanos() as u64;
    let h = crate::schedule::stable_hash(key) ^ nanos.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h % 10_000) as f64 / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    fn delay(t: DateTime<Utc>) -> i64 {
        (t - now()).num_seconds()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_stops() {
        let cap = Duration::from_secs(4 * 3600);
        let mid = 0.5; // factor 1.0
        let delays: Vec<i64> = (1..=10)
            .map(|n| delay(after_failure(now(), n, None, cap, mid)))
            .collect();
        assert_eq!(&delays[..5], &[60, 120, 240, 480, 960]);
        assert_eq!(delays[9], 4 * 3600, "capped");
        assert_eq!(delay(after_failure(now(), 1000, None, cap, mid)), 4 * 3600);
    }

    #[test]
    fn jitter_spreads_within_twenty_percent() {
        let cap = Duration::from_secs(3600);
        assert_eq!(delay(after_failure(now(), 3, None, cap, 0.0)), 192);
        assert_eq!(delay(after_failure(now(), 3, None, cap, 0.999_999)), 287);
        let j = jitter("feed");
        assert!((0.0..1.0).contains(&j));
    }

    #[test]
    fn retry_after_is_a_floor_with_a_ceiling() {
        let cap = Duration::from_secs(3600);
        let t = after_failure(now(), 1, Some(Duration::from_secs(600)), cap, 0.5);
        assert_eq!(delay(t), 600);
        let t = after_failure(
            now(),
            1,
            Some(Duration::from_secs(90 * 24 * 3600)),
            cap,
            0.5,
        );
        assert_eq!(delay(t), 24 * 3600);
    }

    #[test]
    fn cache_headers_delay_but_cannot_silence() {
        let tick = now() + chrono::Duration::minutes(5);
        assert_eq!(after_success(Some(tick), now(), None), Some(tick));
        let t = after_success(Some(tick), now(), Some(Duration::from_secs(1800)));
        assert_eq!(delay(t.unwrap()), 1800);
        let t = after_success(Some(tick), now(), Some(Duration::from_secs(30 * 24 * 3600)));
        assert_eq!(delay(t.unwrap()), 6 * 3600);
    }
}
