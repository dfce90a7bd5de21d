//! Recurrence triggers: the occurrence arithmetic (a pure function, tested
//! below) and one scheduler task per trigger.
//!
//! The next occurrence is kept in the trigger's state in the store, so a
//! restart neither forgets nor repeats one. Occurrences missed while the
//! host was down fire **once** at start-up, then the schedule continues from
//! the current time (documented in docs/server.md).

use std::sync::Arc;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use conflux_store::{RunQuery, WorkflowName};
use serde_json::{json, Value};

use crate::state::{HostState, HostedWorkflow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

/// A parsed `recurrence` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurrence {
    pub frequency: Frequency,
    pub interval: u32,
    /// Wall-clock start in `zone`; `None` means "from when the trigger was first scheduled".
    pub start: Option<NaiveDateTime>,
    pub zone: Tz,
    pub hours: Vec<u32>,
    pub minutes: Vec<u32>,
    pub week_days: Vec<Weekday>,
    pub month_days: Vec<u32>,
}

impl Recurrence {
    /// Parses a `recurrence` object; the error names the offending field.
    pub fn parse(value: &Value) -> Result<Recurrence, String> {
        let frequency = match value.get("frequency").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("second") => Frequency::Second,
            Some("minute") => Frequency::Minute,
            Some("hour") => Frequency::Hour,
            Some("day") => Frequency::Day,
            Some("week") => Frequency::Week,
            Some("month") => Frequency::Month,
            other => return Err(format!("recurrence.frequency {other:?} is not one of Second, Minute, Hour, Day, Week, Month")),
        };
        let interval = match value.get("interval") {
            None => 1,
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|n| *n >= 1 && *n <= 10_000_000)
                .ok_or("recurrence.interval must be a positive whole number")?
                as u32,
        };
        let zone = match value.get("timeZone").and_then(Value::as_str) {
            None => Tz::UTC,
            Some(name) => conflux_expr::time::windows_zone(name).ok_or_else(|| {
                format!("recurrence.timeZone '{name}' is not a known Windows time zone name")
            })?,
        };
        let start = match value.get("startTime").and_then(Value::as_str) {
            None => None,
            Some(text) => Some(parse_start(text, zone).ok_or_else(|| {
                format!("recurrence.startTime '{text}' is not an ISO 8601 date-time")
            })?),
        };
        let numbers = |field: &str, max: u32| -> Result<Vec<u32>, String> {
            let Some(list) = value.pointer(&format!("/schedule/{field}")) else {
                return Ok(Vec::new());
            };
            let mut out: Vec<u32> = list
                .as_array()
                .ok_or(format!("recurrence.schedule.{field} must be an array"))?
                .iter()
                .map(|v| {
                    v.as_u64()
                        .filter(|n| *n <= u64::from(max))
                        .map(|n| n as u32)
                })
                .collect::<Option<_>>()
                .ok_or(format!(
                    "recurrence.schedule.{field} values must be 0..={max}"
                ))?;
            out.sort_unstable();
            out.dedup();
            Ok(out)
        };
        let week_days = match value.pointer("/schedule/weekDays") {
            None => Vec::new(),
            Some(list) => list
                .as_array()
                .ok_or("recurrence.schedule.weekDays must be an array")?
                .iter()
                .map(|d| d.as_str().and_then(|s| s.parse::<Weekday>().ok()))
                .collect::<Option<Vec<_>>>()
                .ok_or("recurrence.schedule.weekDays must name days such as Monday")?,
        };
        let month_days = numbers("monthDays", 31)?;
        if month_days.contains(&0) {
            return Err("recurrence.schedule.monthDays values must be 1..=31".into());
        }
        Ok(Recurrence {
            frequency,
            interval,
            start,
            zone,
            hours: numbers("hours", 23)?,
            minutes: numbers("minutes", 59)?,
            week_days,
            month_days,
        })
    }

    fn has_schedule(&self) -> bool {
        matches!(
            self.frequency,
            Frequency::Day | Frequency::Week | Frequency::Month
        ) && !(self.hours.is_empty()
            && self.minutes.is_empty()
            && self.week_days.is_empty()
            && self.month_days.is_empty())
    }

    /// The first occurrence strictly after `after`. `anchor` stands in for a
    /// missing `startTime` (the moment the trigger was first scheduled).
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start_local = self
            .start
            .unwrap_or_else(|| anchor.with_timezone(&self.zone).naive_local());
        let start_utc = to_utc(self.zone, start_local)?;
        if self.has_schedule() {
            return self.next_scheduled(after, start_local, start_utc);
        }
        if after < start_utc {
            return Some(start_utc);
        }
        let interval = i64::from(self.interval);
        match self.frequency {
            Frequency::Second | Frequency::Minute | Frequency::Hour => {
                let unit = match self.frequency {
                    Frequency::Second => 1,
                    Frequency::Minute => 60,
                    _ => 3600,
                };
                let step = unit * interval;
                let elapsed = (after - start_utc).num_seconds();
                let k = elapsed / step + 1;
                Some(start_utc + Duration::seconds(k * step))
            }
            Frequency::Day | Frequency::Week => {
                let days = if self.frequency == Frequency::Week {
                    7 * interval
                } else {
                    interval
                };
                let elapsed =
                    (after.with_timezone(&self.zone).naive_local() - start_local).num_days();
                let mut k = (elapsed / days).max(0);
                loop {
                    let at = to_utc(self.zone, start_local + Duration::days(k * days));
                    if let Some(at) = at.filter(|at| *at > after) {
                        return Some(at);
                    }
                    k += 1;
                    if k > 1_000_000 {
                        return None;
                    }
                }
            }
            Frequency::Month => {
                let after_local = after.with_timezone(&self.zone).naive_local();
                let months = (after_local.year() - start_local.year()) * 12
                    + after_local.month() as i32
                    - start_local.month() as i32;
                let mut k = (i64::from(months.max(0)) / interval).max(0);
                loop {
                    let local = start_local
                        .checked_add_months(Months::new(u32::try_from(k * interval).ok()?))?;
                    if let Some(at) = to_utc(self.zone, local).filter(|at| *at > after) {
                        return Some(at);
                    }
                    k += 1;
                    if k > 100_000 {
                        return None;
                    }
                }
            }
        }
    }

    fn next_scheduled(
        &self,
        after: DateTime<Utc>,
        start_local: NaiveDateTime,
        start_utc: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let hours = if self.hours.is_empty() {
            vec![start_local.hour()]
        } else {
            self.hours.clone()
        };
        let minutes = if self.minutes.is_empty() {
            vec![start_local.minute()]
        } else {
            self.minutes.clone()
        };
        let seconds = if self.start.is_some() {
            start_local.second()
        } else {
            0
        };
        let lower = after.max(start_utc - Duration::nanoseconds(1));
        let mut day = lower.with_timezone(&self.zone).date_naive() - Duration::days(1);
        let start_day = start_local.date();
        for _ in 0..(366 * 20 + 7 * self.interval as usize) {
            if self.day_matches(day, start_day) {
                for hour in &hours {
                    for minute in &minutes {
                        let Some(time) = NaiveTime::from_hms_opt(*hour, *minute, seconds) else {
                            continue;
                        };
                        if let Some(at) = to_utc(self.zone, day.and_time(time)) {
                            if at > lower && at >= start_utc {
                                return Some(at);
                            }
                        }
                    }
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    fn day_matches(&self, day: NaiveDate, start_day: NaiveDate) -> bool {
        if day < start_day {
            return false;
        }
        let interval = i64::from(self.interval);
        match self.frequency {
            Frequency::Day => (day - start_day).num_days() % interval == 0,
            Frequency::Week => {
                let week_of = |d: NaiveDate| {
                    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
                };
                let weeks = (week_of(day) - week_of(start_day)).num_days() / 7;
                let days_ok = if self.week_days.is_empty() {
                    day.weekday() == start_day.weekday()
                } else {
                    self.week_days.contains(&day.weekday())
                };
                weeks % interval == 0 && days_ok
            }
            Frequency::Month => {
                let months = (day.year() - start_day.year()) * 12 + day.month() as i32
                    - start_day.month() as i32;
                let days_ok = if self.month_days.is_empty() {
                    day.day() == start_day.day()
                } else {
                    self.month_days.contains(&day.day())
                };
                i64::from(months) % interval == 0 && days_ok
            }
            _ => true,
        }
    }
}

fn parse_start(text: &str, zone: Tz) -> Option<NaiveDateTime> {
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Some(with_offset.with_timezone(&zone).naive_local());
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .ok()
}

/// Local wall-clock time to UTC: a time skipped by a DST change does not
/// occur; a repeated one occurs at its first instance.
fn to_utc(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// Starts a scheduler for every Recurrence trigger.
pub fn spawn_all(state: Arc<HostState>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    for wf in &state.workflows {
        for (name, trigger) in &wf.workflow.triggers {
            if !trigger.type_name.eq_ignore_ascii_case("Recurrence") {
                continue;
            }
            let Some(raw) = trigger
                .recurrence
                .as_ref()
                .or_else(|| trigger.raw.get("recurrence"))
            else {
                tracing::warn!(workflow = %wf.name, trigger = %name, "Recurrence trigger has no recurrence object; it will not fire.");
                continue;
            };
            match Recurrence::parse(raw) {
                Ok(recurrence) => {
                    handles.push(tokio::spawn(schedule(
                        state.clone(),
                        wf.clone(),
                        name.clone(),
                        recurrence,
                    )));
                }
                Err(err) => {
                    tracing::warn!(workflow = %wf.name, trigger = %name, error = %err, "Recurrence trigger is invalid; it will not fire.")
                }
            }
        }
    }
    handles
}

pub(crate) fn tracking_id(trigger: &str, at: DateTime<Utc>) -> String {
    format!(
        "{trigger}-{}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

pub(crate) fn parse_time(state: &Value, field: &str) -> Option<DateTime<Utc>> {
    state
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

async fn schedule(
    state: Arc<HostState>,
    wf: Arc<HostedWorkflow>,
    trigger: String,
    recurrence: Recurrence,
) {
    let workflow = WorkflowName::new(wf.name.as_str());
    let stored = state
        .store
        .get_trigger_state(&workflow, &trigger)
        .await
        .ok()
        .flatten()
        .unwrap_or(Value::Null);
    let now = state.clock.now();
    let anchor = parse_time(&stored, "anchor").unwrap_or(now);
    // Without a startTime the first run is immediate, as in Logic Apps.
    let mut next = match parse_time(&stored, "nextOccurrence") {
        Some(at) => Some(at),
        None if recurrence.start.is_none() => Some(now),
        None => recurrence.next_after(now - Duration::nanoseconds(1), anchor),
    };
    while let Some(at) = next {
        let persisted = json!({"anchor": anchor, "nextOccurrence": at, "lastOccurrence": stored.get("lastOccurrence")});
        if let Err(err) = state
            .store
            .put_trigger_state(&workflow, &trigger, Some(persisted))
            .await
        {
            tracing::warn!(workflow = %wf.name, trigger = %trigger, error = %err, "Could not store the next occurrence.");
        }
        state.clock.sleep_until(at).await;
        if wf.is_enabled() && !already_fired(&state, &workflow, &trigger, at).await {
            if let Some(def) = wf.workflow.triggers.get(&trigger) {
                let outputs = json!({"headers": {}, "body": {"scheduledTime": at}});
                if let Err(err) = crate::triggers::fire(
                    &state,
                    &wf,
                    def,
                    outputs,
                    Some(tracking_id(&trigger, at)),
                )
                .await
                {
                    tracing::warn!(workflow = %wf.name, trigger = %trigger, error = %err.message, "Scheduled run could not start.");
                }
            }
        }
        // After downtime, continue from now rather than replaying every missed occurrence.
        let after = at.max(state.clock.now());
        next = recurrence.next_after(after, anchor);
        let persisted = json!({"anchor": anchor, "nextOccurrence": next, "lastOccurrence": at});
        if let Err(err) = state
            .store
            .put_trigger_state(&workflow, &trigger, Some(persisted))
            .await
        {
            tracing::warn!(workflow = %wf.name, trigger = %trigger, error = %err, "Could not store the next occurrence.");
        }
    }
}

/// True when the newest run already belongs to this occurrence (the host
/// stopped after starting it but before recording the next occurrence).
pub(crate) async fn already_fired(
    state: &HostState,
    workflow: &WorkflowName,
    trigger: &str,
    at: DateTime<Utc>,
) -> bool {
    let query = RunQuery {
        top: Some(1),
        ..RunQuery::default()
    };
    match state.store.list_runs(workflow, &query).await {
        Ok(page) => {
            page.items
                .first()
                .and_then(|r| r.client_tracking_id.as_deref())
                == Some(tracking_id(trigger, at).as_str())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn rec(json: Value) -> Recurrence {
        Recurrence::parse(&json).unwrap()
    }

    /// The first `n` occurrences after `from`.
    fn series(r: &Recurrence, from: &str, n: usize) -> Vec<String> {
        let anchor = utc(from);
        let mut at = anchor - Duration::seconds(1);
        let mut out = Vec::new();
        for _ in 0..n {
            at = r.next_after(at, anchor).unwrap();
            out.push(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        out
    }

    #[test]
    fn simple_intervals_from_start_time() {
        let r = rec(
            json!({"frequency": "Minute", "interval": 15, "startTime": "2024-01-01T10:00:00Z"}),
        );
        assert_eq!(
            series(&r, "2024-01-01T10:20:00Z", 2),
            ["2024-01-01T10:30:00Z", "2024-01-01T10:45:00Z"]
        );
        assert_eq!(
            r.next_after(utc("2023-06-01T00:00:00Z"), utc("2023-06-01T00:00:00Z")),
            Some(utc("2024-01-01T10:00:00Z"))
        );
        let s = rec(json!({"frequency": "Second", "interval": 30}));
        assert_eq!(
            series(&s, "2024-01-01T00:00:10Z", 3),
            [
                "2024-01-01T00:00:10Z",
                "2024-01-01T00:00:40Z",
                "2024-01-01T00:01:10Z"
            ]
        );
    }

    #[test]
    fn daily_keeps_wall_clock_across_daylight_saving() {
        let r = rec(
            json!({"frequency": "Day", "interval": 1, "startTime": "2024-03-09T09:00:00", "timeZone": "Pacific Standard Time"}),
        );
        // 09:00 PST is 17:00Z; after the March 10 change 09:00 PDT is 16:00Z.
        assert_eq!(
            series(&r, "2024-03-09T00:00:00Z", 3),
            [
                "2024-03-09T17:00:00Z",
                "2024-03-10T16:00:00Z",
                "2024-03-11T16:00:00Z"
            ]
        );
    }

    #[test]
    fn weekly_schedule_with_days_hours_and_minutes() {
        let r = rec(
            json!({"frequency": "Week", "interval": 1, "startTime": "2024-01-01T00:00:00Z",
            "schedule": {"weekDays": ["Monday", "Wednesday"], "hours": [9, 17], "minutes": [30]}}),
        );
        assert_eq!(
            series(&r, "2024-01-01T12:00:00Z", 4),
            [
                "2024-01-01T17:30:00Z",
                "2024-01-03T09:30:00Z",
                "2024-01-03T17:30:00Z",
                "2024-01-08T09:30:00Z"
            ]
        );
        let biweekly = rec(
            json!({"frequency": "Week", "interval": 2, "startTime": "2024-01-01T00:00:00Z",
            "schedule": {"weekDays": ["Friday"], "hours": [8], "minutes": [0]}}),
        );
        assert_eq!(
            series(&biweekly, "2024-01-01T00:00:00Z", 2),
            ["2024-01-05T08:00:00Z", "2024-01-19T08:00:00Z"]
        );
    }

    #[test]
    fn monthly_days_and_month_end_clamping() {
        let r =
            rec(json!({"frequency": "Month", "interval": 1, "startTime": "2024-01-31T06:00:00Z"}));
        assert_eq!(
            series(&r, "2024-01-31T00:00:00Z", 3),
            [
                "2024-01-31T06:00:00Z",
                "2024-02-29T06:00:00Z",
                "2024-03-31T06:00:00Z"
            ]
        );
        let days = rec(
            json!({"frequency": "Month", "interval": 1, "startTime": "2024-01-01T00:00:00Z",
            "schedule": {"monthDays": [1, 15], "hours": [12], "minutes": [0]}}),
        );
        assert_eq!(
            series(&days, "2024-01-02T00:00:00Z", 3),
            [
                "2024-01-15T12:00:00Z",
                "2024-02-01T12:00:00Z",
                "2024-02-15T12:00:00Z"
            ]
        );
    }

    #[test]
    fn daily_schedule_never_before_start() {
        let r = rec(
            json!({"frequency": "Day", "interval": 2, "startTime": "2024-05-10T12:00:00Z", "schedule": {"hours": [8, 20]}}),
        );
        assert_eq!(
            series(&r, "2024-05-01T00:00:00Z", 3),
            [
                "2024-05-10T20:00:00Z",
                "2024-05-12T08:00:00Z",
                "2024-05-12T20:00:00Z"
            ]
        );
    }

    #[test]
    fn invalid_recurrences_name_the_field() {
        for (json, field) in [
            (json!({"frequency": "Fortnight"}), "frequency"),
            (json!({"frequency": "Day", "interval": 0}), "interval"),
            (
                json!({"frequency": "Day", "timeZone": "Mars Standard Time"}),
                "timeZone",
            ),
            (
                json!({"frequency": "Day", "schedule": {"hours": [24]}}),
                "hours",
            ),
            (
                json!({"frequency": "Week", "schedule": {"weekDays": ["Funday"]}}),
                "weekDays",
            ),
            (
                json!({"frequency": "Day", "startTime": "soon"}),
                "startTime",
            ),
        ] {
            let err = Recurrence::parse(&json).unwrap_err();
            assert!(err.contains(field), "{err}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn occurrences_are_strictly_increasing(
            frequency in prop::sample::select(vec!["Second", "Minute", "Hour", "Day", "Week", "Month"]),
            interval in 1u32..40,
            hours in prop::collection::vec(0u32..24, 0..3),
            offset_secs in 0i64..10_000_000,
        ) {
            let mut json = json!({"frequency": frequency, "interval": interval, "startTime": "2024-01-01T03:04:05", "timeZone": "W. Europe Standard Time"});
            if !hours.is_empty() {
                json["schedule"] = json!({"hours": hours});
            }
            let r = Recurrence::parse(&json).unwrap();
            let anchor = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
            let mut at = anchor + Duration::seconds(offset_secs);
            for _ in 0..5 {
                let next = r.next_after(at, anchor).unwrap();
                prop_assert!(next > at);
                at = next;
            }
        }
    }
}
