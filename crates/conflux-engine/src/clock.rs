//! The injected clock: Wait, retry delays, timeouts and `utcNow()` all read it,
//! so tests drive time with a [`ManualClock`] instead of sleeping.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

/// A source of time.
#[async_trait]
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Returns once `now() >= deadline`.
    async fn sleep_until(&self, deadline: DateTime<Utc>);

    /// Returns once `now() >= deadline`, for a watchdog over a whole run (the
    /// run duration limit) rather than a step of it. [`ManualClock`] does not
    /// count these waits among its sleepers, so a test that waits for an
    /// action to sleep is not misled by the watchdog.
    async fn watch_until(&self, deadline: DateTime<Utc>) {
        self.sleep_until(deadline).await;
    }
}

/// Real time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// The time `secs` + `nanos` after the Unix epoch. A run reads the clock a few
/// times per action; the calendar date of the day is kept per thread, so only
/// the first reading of a day pays for turning a day count into a date.
fn from_unix(secs: u64, nanos: u32) -> DateTime<Utc> {
    use std::cell::Cell;

    use chrono::{NaiveDate, NaiveTime};
    const DAY: u64 = 86_400;
    thread_local! {
        static TODAY: Cell<Option<(u64, NaiveDate)>> = const { Cell::new(None) };
    }
    let day = secs / DAY;
    let date = TODAY.with(|today| match today.get() {
        Some((cached, date)) if cached == day => Some(date),
        _ => {
            let date = i64::try_from(secs - secs % DAY)
                .ok()
                .and_then(|start| DateTime::from_timestamp(start, 0))?
                .date_naive();
            today.set(Some((day, date)));
            Some(date)
        }
    });
    // Seconds of the day are below 86,400; nanos above a second mark a leap second.
    let time = u32::try_from(secs % DAY)
        .ok()
        .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, nanos));
    match (date, time) {
        (Some(date), Some(time)) => date.and_time(time).and_utc(),
        _ => i64::try_from(secs)
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, nanos))
            .unwrap_or_default(),
    }
}

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let Ok(since) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
            return Utc::now();
        };
        from_unix(since.as_secs(), since.subsec_nanos())
    }

    async fn sleep_until(&self, deadline: DateTime<Utc>) {
        let now = Utc::now();
        if let Ok(d) = (deadline - now).to_std() {
            tokio::time::sleep(d).await;
        }
    }
}

/// Time that moves only when a test calls [`ManualClock::advance`].
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    changed: Notify,
    sleepers: AtomicUsize,
    started: AtomicUsize,
    sleepers_changed: Notify,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
            changed: Notify::new(),
            sleepers: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            sleepers_changed: Notify::new(),
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline passed.
    pub fn advance(&self, by: std::time::Duration) {
        {
            let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
            *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        }
        self.changed.notify_waiters();
    }

    /// How many tasks are waiting in `sleep_until`.
    pub fn sleepers(&self) -> usize {
        self.sleepers.load(Ordering::SeqCst)
    }

    /// Waits until `n` sleeps in total have begun since the clock was made, so a
    /// test can advance exactly once per sleep.
    pub async fn wait_for_sleeps_started(&self, n: usize) {
        loop {
            let notified = self.sleepers_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.started.load(Ordering::SeqCst) >= n {
                return;
            }
            notified.await;
        }
    }

    /// Waits until at least `n` tasks sleep on this clock (the engine reached
    /// its Wait, retry delay or timeout).
    pub async fn wait_for_sleepers(&self, n: usize) {
        loop {
            let notified = self.sleepers_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.sleepers() >= n {
                return;
            }
            notified.await;
        }
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn sleep_until(&self, deadline: DateTime<Utc>) {
        struct Sleeping<'a>(&'a ManualClock);
        impl Drop for Sleeping<'_> {
            fn drop(&mut self) {
                self.0.sleepers.fetch_sub(1, Ordering::SeqCst);
                self.0.sleepers_changed.notify_waiters();
            }
        }
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
        self.sleepers_changed.notify_waiters();
        let _guard = Sleeping(self);
        self.wait_for(deadline).await;
    }

    async fn watch_until(&self, deadline: DateTime<Utc>) {
        self.wait_for(deadline).await;
    }
}

impl ManualClock {
    async fn wait_for(&self, deadline: DateTime<Utc>) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.now() >= deadline {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    #[test]
    fn the_system_clock_reads_what_chrono_reads() {
        // Around day boundaries, leap days and far dates, with and without nanos.
        for secs in [
            0u64,
            1,
            86_399,
            86_400,
            951_782_399,
            951_782_400,
            1_709_251_199,
            1_709_251_200,
            1_795_000_000,
            4_102_444_799,
            4_102_444_800,
        ] {
            for nanos in [0, 1, 999_999_999] {
                let expected = DateTime::from_timestamp(secs as i64, nanos).unwrap();
                assert_eq!(super::from_unix(secs, nanos), expected, "{secs}.{nanos}");
            }
        }
        let before = Utc::now();
        let read = super::Clock::now(&super::SystemClock);
        let after = Utc::now();
        assert!(before <= read && read <= after);
    }
}
