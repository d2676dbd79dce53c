//! When to try a call again, and how long to wait first.

use std::time::{Duration, SystemTime};

/// First backoff step; doubled on every further retry.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Longest backoff step before jitter.
const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Longest wait a `Retry-After` header can impose; a server asking for more is told no by
/// failing sooner rather than hanging a Terraform run.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

/// Statuses that say "try again later" without the request having had an effect worth fearing.
pub(super) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Whether a failed attempt may be repeated. A refused connection or a 429 means the server did
/// not act on the request, so even a non-idempotent call may repeat it; anything else (a 5xx from
/// a gateway, a timeout, a connection dropped mid-answer) may have had an effect.
pub(super) fn may_retry(idempotent: bool, status: Option<u16>, connect_failed: bool) -> bool {
    match status {
        Some(429) => true,
        Some(status) => idempotent && is_retryable_status(status),
        None => idempotent || connect_failed,
    }
}

/// Exponential backoff with "equal jitter": half the step is fixed, the other half random, so
/// clients that failed together do not retry together. `retry` counts from 1; `jitter` is in 0..1.
pub(super) fn backoff(retry: u32, jitter: f64) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
        .min(BACKOFF_CAP);
    step / 2 + (step / 2).mul_f64(jitter.clamp(0.0, 1.0))
}

/// The wait a `Retry-After` header asks for: delta-seconds or an HTTP date, capped.
pub(super) fn retry_after(header: &str, now: SystemTime) -> Option<Duration> {
    let header = header.trim();
    let wait = match header.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = httpdate::parse_http_date(header).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(RETRY_AFTER_CAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let fixed: Vec<_> = (1..=7).map(|retry| backoff(retry, 0.0)).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            fixed,
            [
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(2500),
                ms(2500)
            ]
        );
        assert_eq!(backoff(3, 1.0), ms(800));
        assert_eq!(backoff(u32::MAX, 1.0), BACKOFF_CAP);
        assert!((ms(400)..=ms(800)).contains(&backoff(3, 0.5)));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after(" 2 ", now), Some(Duration::from_secs(2)));
        assert_eq!(retry_after("3600", now), Some(RETRY_AFTER_CAP));
        let in_four = httpdate::fmt_http_date(now + Duration::from_secs(4));
        assert_eq!(retry_after(&in_four, now), Some(Duration::from_secs(4)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(60));
        assert_eq!(retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
    }

    #[test]
    fn only_safe_failures_are_retried_for_non_idempotent_calls() {
        for status in [429, 502, 503, 504] {
            assert!(may_retry(true, Some(status), false));
        }
        for status in [400, 401, 404, 409, 422, 424, 500, 501] {
            assert!(!may_retry(true, Some(status), false));
        }
        assert!(may_retry(false, Some(429), false));
        assert!(!may_retry(false, Some(503), false));
        assert!(may_retry(false, None, true));
        assert!(!may_retry(false, None, false));
        assert!(may_retry(true, None, false));
    }
}
