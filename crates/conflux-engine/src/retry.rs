//! Retry policies (§6.5): how long to wait before the next attempt, and the
//! `retryHistory` of an action.

use std::time::Duration;

use chrono::{DateTime, Utc};
use conflux_definition::RetryPolicy;
use conflux_expr::Value;
use rand::Rng as _;

use crate::state::fmt_time;

/// The `default` policy: exponential with a 7.5 s scale, each wait clamped to 5–45 s, 4 retries.
const DEFAULT_COUNT: u32 = 4;
const DEFAULT_SCALE: Duration = Duration::from_millis(7500);
const DEFAULT_MIN: Duration = Duration::from_secs(5);
const DEFAULT_MAX: Duration = Duration::from_secs(45);

/// The retries of one operation under its policy: the Http action's, and the
/// server's Http polling trigger's.
pub struct RetryState {
    policy: RetryPolicy,
    retries_done: u32,
    pub history: Vec<serde_json::Value>,
}

impl RetryState {
    pub fn new(policy: &RetryPolicy, _now: DateTime<Utc>) -> RetryState {
        RetryState {
            policy: policy.clone(),
            retries_done: 0,
            history: Vec::new(),
        }
    }

    /// The wait before the next retry, or `None` when the policy allows no more.
    /// A `Retry-After` from the server replaces the computed wait.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        let k = self.retries_done + 1;
        let computed = match &self.policy {
            RetryPolicy::None => return None,
            RetryPolicy::Fixed { count, interval } => {
                if k > *count {
                    return None;
                }
                *interval
            }
            RetryPolicy::Default => {
                if k > DEFAULT_COUNT {
                    return None;
                }
                exponential(k, DEFAULT_SCALE, DEFAULT_MIN, DEFAULT_MAX)
            }
            RetryPolicy::Exponential {
                count,
                interval,
                minimum_interval,
                maximum_interval,
            } => {
                if k > *count {
                    return None;
                }
                exponential(k, *interval, *minimum_interval, *maximum_interval)
            }
        };
        self.retries_done = k;
        Some(retry_after.unwrap_or(computed))
    }

    /// Records a failed attempt that is about to be retried.
    pub fn record(&mut self, start: DateTime<Utc>, end: DateTime<Utc>, code: &str, error: &Value) {
        self.history.push(serde_json::json!({
            "startTime": fmt_time(start),
            "endTime": fmt_time(end),
            "code": code,
            "error": error.to_json(),
        }));
    }
}

/// Retry k waits a uniformly random time in
/// `[max(2^(k-2)·interval, min), min(2^(k-1)·interval, max)]` (retry 1 from `min`).
fn exponential(k: u32, interval: Duration, min: Duration, max: Duration) -> Duration {
    let upper = interval.saturating_mul(1u32 << (k - 1).min(20)).min(max);
    let lower = if k == 1 {
        min
    } else {
        interval.saturating_mul(1u32 << (k - 2).min(20)).max(min)
    };
    if lower >= upper {
        return upper;
    }
    let span = (upper - lower).as_millis() as u64;
    lower + Duration::from_millis(rand::thread_rng().gen_range(0..=span))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_retries_four_times_within_bounds() {
        let mut s = RetryState::new(&RetryPolicy::Default, Utc::now());
        for _ in 0..4 {
            let d = s.next_delay(None).expect("retry allowed");
            assert!(d >= DEFAULT_MIN && d <= DEFAULT_MAX, "{d:?}");
        }
        assert_eq!(s.next_delay(None), None);
    }

    #[test]
    fn fixed_policy_uses_interval_and_retry_after_wins() {
        let p = RetryPolicy::Fixed {
            count: 2,
            interval: Duration::from_secs(30),
        };
        let mut s = RetryState::new(&p, Utc::now());
        assert_eq!(s.next_delay(None), Some(Duration::from_secs(30)));
        assert_eq!(
            s.next_delay(Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(s.next_delay(None), None);
        assert_eq!(
            RetryState::new(&RetryPolicy::None, Utc::now()).next_delay(None),
            None
        );
    }

    #[test]
    fn exponential_grows_and_respects_maximum() {
        let i = Duration::from_secs(10);
        let max = Duration::from_secs(25);
        assert!(exponential(1, i, Duration::from_secs(5), max) <= i);
        let third = exponential(3, i, Duration::from_secs(5), max);
        assert!(
            third >= Duration::from_secs(20) && third <= max,
            "{third:?}"
        );
        assert_eq!(exponential(5, i, Duration::from_secs(5), max), max);
    }
}
