//! Recurrence triggers: the occurrence arithmetic (a pure function, tested
//! below) and one scheduler task per trigger.
//!
//! The next occurrence is kept in the trigger's state in the store, so a
//! restart neither forgets nor repeats one. Occurrences missed while the
//! host was down fire **once** at start-up, then the schedule continues from
//! the current time (documented in docs/server.md). Nothing fires after
//! `endTime`.

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
    /// Days of the month; negative values count from the end (-1 is the last day).
    pub month_days: Vec<i32>,
    /// `monthlyOccurrences`: (day, occurrence) with occurrence 1..=5 or -5..=-1
    /// (-1 is the last such weekday of the month).
    pub monthly_occurrences: Vec<(Weekday, i32)>,
    /// Wall-clock end in `zone`: no occurrence comes after it.
    pub end: Option<NaiveDateTime>,
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
        let month_days = match value.pointer("/schedule/monthDays") {
            None => Vec::new(),
            Some(list) => {
                let mut days = list
                    .as_array()
                    .ok_or("recurrence.schedule.monthDays must be an array")?
                    .iter()
                    .map(|v| {
                        v.as_i64()
                            .filter(|n| (1..=31).contains(n) || (-31..=-1).contains(n))
                            .map(|n| n as i32)
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or(
                        "recurrence.schedule.monthDays values must be 1..=31, or -31..=-1 counted from the end of the month",
                    )?;
                days.sort_unstable();
                days.dedup();
                days
            }
        };
        let monthly_occurrences = match value.pointer("/schedule/monthlyOccurrences") {
            None => Vec::new(),
            Some(list) => {
                let items = list
                    .as_array()
                    .ok_or("recurrence.schedule.monthlyOccurrences must be an array")?;
                if !items.is_empty() && frequency != Frequency::Month {
                    return Err(
                        "recurrence.schedule.monthlyOccurrences applies only to frequency Month"
                            .into(),
                    );
                }
                items
                    .iter()
                    .map(|item| {
                        let day = item
                            .get("day")
                            .and_then(Value::as_str)
                            .and_then(|s| s.parse::<Weekday>().ok());
                        let occurrence = item
                            .get("occurrence")
                            .and_then(Value::as_i64)
                            .filter(|n| (1..=5).contains(n) || (-5..=-1).contains(n));
                        day.zip(occurrence.map(|n| n as i32))
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or(
                        "recurrence.schedule.monthlyOccurrences items must be {\"day\": \"Monday\"..\"Sunday\", \"occurrence\": 1..=5 or -5..=-1}",
                    )?
            }
        };
        let end = match value.get("endTime").and_then(Value::as_str) {
            None => None,
            Some(text) => Some(parse_start(text, zone).ok_or_else(|| {
                format!("recurrence.endTime '{text}' is not an ISO 8601 date-time")
            })?),
        };
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                return Err("recurrence.endTime must be after recurrence.startTime".into());
            }
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
            monthly_occurrences,
            end,
        })
    }

    fn has_schedule(&self) -> bool {
        matches!(
            self.frequency,
            Frequency::Day | Frequency::Week | Frequency::Month
        ) && !(self.hours.is_empty()
            && self.minutes.is_empty()
            && self.week_days.is_empty()
            && self.month_days.is_empty()
            && self.monthly_occurrences.is_empty())
    }

    /// Whether `at` comes no later than `endTime` (always, without one).
    pub fn within_end(&self, at: DateTime<Utc>) -> bool {
        match self.end {
            None => true,
            // An end time skipped by a daylight-saving change ends the hour after.
            Some(end) => to_utc(self.zone, end)
                .or_else(|| to_utc(self.zone, end + Duration::hours(1)))
                .is_none_or(|end| at <= end),
        }
    }

    /// The first occurrence strictly after `after`, or `None` once the
    /// schedule has passed its `endTime`. `anchor` stands in for a missing
    /// `startTime` (the moment the trigger was first scheduled).
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_unbounded(after, anchor)
            .filter(|at| self.within_end(*at))
    }

    fn next_unbounded(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
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
                let days_ok = if self.month_days.is_empty() && self.monthly_occurrences.is_empty() {
                    day.day() == start_day.day()
                } else {
                    // A day matches when either list names it.
                    let last = days_in_month(day);
                    let from_end = last as i32 - day.day() as i32 + 1;
                    self.month_days
                        .iter()
                        .any(|d| *d == day.day() as i32 || *d == -from_end)
                        || self.monthly_occurrences.iter().any(|(weekday, n)| {
                            day.weekday() == *weekday
                                && (*n == (day.day() as i32 - 1) / 7 + 1
                                    || *n == -((from_end - 1) / 7 + 1))
                        })
                };
                i64::from(months) % interval == 0 && days_ok
            }
            _ => true,
        }
    }
}

/// The number of days in `day`'s month.
fn days_in_month(day: NaiveDate) -> u32 {
    let first = day.with_day(1).unwrap_or(day);
    first
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .map_or(31, |last| last.day())
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

/// Every trigger of type `type_name` (`Recurrence`, or `Http` that polls)
/// with its parsed recurrence. A trigger without a valid recurrence is
/// logged (it will not `act`: fire, poll) and left out.
pub(crate) fn recurring_triggers(
    state: &HostState,
    type_name: &str,
    act: &str,
) -> Vec<(Arc<HostedWorkflow>, String, Recurrence)> {
    let mut out = Vec::new();
    for wf in &state.workflows {
        for (name, trigger) in &wf.workflow.triggers {
            if !trigger.type_name.eq_ignore_ascii_case(type_name) {
                continue;
            }
            let Some(raw) = trigger
                .recurrence
                .as_ref()
                .or_else(|| trigger.raw.get("recurrence"))
            else {
                tracing::warn!(workflow = %wf.name, trigger = %name, "{type_name} trigger has no recurrence object; it will not {act}.");
                continue;
            };
            match Recurrence::parse(raw) {
                Ok(recurrence) => out.push((wf.clone(), name.clone(), recurrence)),
                Err(err) => {
                    tracing::warn!(workflow = %wf.name, trigger = %name, error = %err, "{type_name} trigger has an invalid recurrence; it will not {act}.")
                }
            }
        }
    }
    out
}

/// Starts a scheduler for every Recurrence trigger.
pub fn spawn_all(state: Arc<HostState>) -> Vec<tokio::task::JoinHandle<()>> {
    recurring_triggers(&state, "Recurrence", "fire")
        .into_iter()
        .map(|(wf, name, recurrence)| tokio::spawn(schedule(state.clone(), wf, name, recurrence)))
        .collect()
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

/// What a scheduler stored for its trigger; null when nothing was stored or
/// the store cannot be read (the schedule then starts afresh).
pub(crate) async fn stored_state(
    state: &HostState,
    workflow: &WorkflowName,
    trigger: &str,
) -> Value {
    state
        .store
        .get_trigger_state(workflow, trigger)
        .await
        .ok()
        .flatten()
        .unwrap_or(Value::Null)
}

async fn schedule(
    state: Arc<HostState>,
    wf: Arc<HostedWorkflow>,
    trigger: String,
    recurrence: Recurrence,
) {
    let workflow = WorkflowName::new(wf.name.as_str());
    let stored = stored_state(&state, &workflow, &trigger).await;
    let now = state.clock.now();
    let anchor = parse_time(&stored, "anchor").unwrap_or(now);
    let mut next = first_occurrence(
        &recurrence,
        &stored,
        "nextOccurrence",
        anchor,
        now,
        Missed::Skip,
    );
    if next.is_none() {
        tracing::info!(workflow = %wf.name, trigger = %trigger, "Recurrence trigger is past its endTime; it will not fire.");
    }
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
                    outputs.into(),
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

/// How a restarting scheduler treats an occurrence that fell due while the
/// host was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missed {
    /// Logic Apps' Recurrence trigger: missed occurrences are not processed;
    /// the series continues with its next occurrence after now.
    Skip,
    /// Polling triggers: poll once at start-up, then continue the series.
    FireOnce,
}

/// The occurrence a (re)starting scheduler waits for first. A stored future
/// occurrence is kept; a stored past one is skipped or fired once (`missed`);
/// a trigger that has never run fires at once without a `startTime`, as in
/// Logic Apps, and otherwise at the first occurrence from now. A stored state
/// without a next occurrence had passed its `endTime`; it is recomputed in
/// case the definition changed.
pub(crate) fn first_occurrence(
    recurrence: &Recurrence,
    stored: &Value,
    field: &str,
    anchor: DateTime<Utc>,
    now: DateTime<Utc>,
    missed: Missed,
) -> Option<DateTime<Utc>> {
    let from_now = || recurrence.next_after(now - Duration::nanoseconds(1), anchor);
    if stored.get("anchor").is_some() {
        return match parse_time(stored, field) {
            Some(at) if at < now && missed == Missed::Skip => from_now(),
            Some(at) => Some(at).filter(|at| recurrence.within_end(*at)),
            None => from_now(),
        };
    }
    if recurrence.start.is_none() {
        return Some(now).filter(|at| recurrence.within_end(*at));
    }
    from_now()
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
    fn monthly_occurrences_pick_the_nth_and_last_weekday() {
        let r = rec(
            json!({"frequency": "Month", "interval": 1, "startTime": "2024-01-01T00:00:00Z",
            "schedule": {"monthlyOccurrences": [{"day": "Monday", "occurrence": 1}, {"day": "Friday", "occurrence": -1}],
                         "hours": [9], "minutes": [0]}}),
        );
        assert_eq!(
            series(&r, "2024-01-01T00:00:00Z", 6),
            [
                "2024-01-01T09:00:00Z",
                "2024-01-26T09:00:00Z",
                "2024-02-05T09:00:00Z",
                "2024-02-23T09:00:00Z",
                "2024-03-04T09:00:00Z",
                "2024-03-29T09:00:00Z"
            ]
        );
        // A fifth Thursday exists only in some months; every other month skips March.
        let fifth = rec(
            json!({"frequency": "Month", "interval": 1, "startTime": "2024-01-01T06:30:00Z",
            "schedule": {"monthlyOccurrences": [{"day": "thursday", "occurrence": 5}]}}),
        );
        assert_eq!(
            series(&fifth, "2024-01-01T00:00:00Z", 2),
            ["2024-02-29T06:30:00Z", "2024-05-30T06:30:00Z"]
        );
        let second_to_last = rec(
            json!({"frequency": "Month", "interval": 2, "startTime": "2024-01-01T00:00:00Z",
            "schedule": {"monthlyOccurrences": [{"day": "Sunday", "occurrence": -2}], "hours": [0]}}),
        );
        // January 2024: Sundays 7..28, so the 21st; March: 3..31, so the 24th.
        assert_eq!(
            series(&second_to_last, "2024-01-01T00:00:00Z", 2),
            ["2024-01-21T00:00:00Z", "2024-03-24T00:00:00Z"]
        );
    }

    #[test]
    fn negative_month_days_count_from_the_end() {
        let r = rec(
            json!({"frequency": "Month", "interval": 1, "startTime": "2024-01-01T00:00:00Z",
            "schedule": {"monthDays": [-1, 10], "hours": [23], "minutes": [15]}}),
        );
        assert_eq!(
            series(&r, "2024-01-11T00:00:00Z", 4),
            [
                "2024-01-31T23:15:00Z",
                "2024-02-10T23:15:00Z",
                "2024-02-29T23:15:00Z",
                "2024-03-10T23:15:00Z"
            ]
        );
    }

    #[test]
    fn nothing_occurs_after_the_end_time() {
        let r = rec(
            json!({"frequency": "Minute", "interval": 15, "startTime": "2024-01-01T10:00:00Z", "endTime": "2024-01-01T10:30:00Z"}),
        );
        let anchor = utc("2024-01-01T00:00:00Z");
        assert_eq!(
            series(&r, "2024-01-01T09:00:00Z", 3),
            [
                "2024-01-01T10:00:00Z",
                "2024-01-01T10:15:00Z",
                "2024-01-01T10:30:00Z"
            ]
        );
        assert_eq!(r.next_after(utc("2024-01-01T10:30:00Z"), anchor), None);
        // Wall-clock end in the trigger's zone: 12:00 CET is 11:00Z.
        let zoned = rec(
            json!({"frequency": "Hour", "interval": 1, "startTime": "2024-01-01T09:00:00",
            "endTime": "2024-01-01T12:00:00", "timeZone": "W. Europe Standard Time"}),
        );
        assert_eq!(
            zoned.next_after(utc("2024-01-01T10:00:00Z"), anchor),
            Some(utc("2024-01-01T11:00:00Z"))
        );
        assert_eq!(zoned.next_after(utc("2024-01-01T11:00:00Z"), anchor), None);
        // Advanced schedules stop at the end too.
        let daily = rec(
            json!({"frequency": "Day", "interval": 1, "startTime": "2024-01-01T00:00:00Z",
            "endTime": "2024-01-03T12:00:00Z", "schedule": {"hours": [8, 16]}}),
        );
        assert_eq!(
            series(&daily, "2024-01-03T00:00:00Z", 1),
            ["2024-01-03T08:00:00Z"]
        );
        assert_eq!(daily.next_after(utc("2024-01-03T08:00:00Z"), anchor), None);
    }

    #[test]
    fn first_occurrence_after_a_start_or_restart() {
        let now = utc("2024-03-05T12:07:00Z");
        let past = rec(
            json!({"frequency": "Minute", "interval": 15, "startTime": "2024-01-01T10:00:00Z"}),
        );
        // A startTime in the past: the next occurrence of its series, not now.
        assert_eq!(
            first_occurrence(
                &past,
                &Value::Null,
                "nextOccurrence",
                now,
                now,
                Missed::FireOnce
            ),
            Some(utc("2024-03-05T12:15:00Z"))
        );
        // A startTime in the future: the start itself.
        let future =
            rec(json!({"frequency": "Day", "interval": 1, "startTime": "2024-04-01T06:00:00Z"}));
        assert_eq!(
            first_occurrence(
                &future,
                &Value::Null,
                "nextOccurrence",
                now,
                now,
                Missed::FireOnce
            ),
            Some(utc("2024-04-01T06:00:00Z"))
        );
        // No startTime: at once, unless already past the end.
        let open = rec(json!({"frequency": "Hour", "interval": 1}));
        assert_eq!(
            first_occurrence(
                &open,
                &Value::Null,
                "nextOccurrence",
                now,
                now,
                Missed::FireOnce
            ),
            Some(now)
        );
        let ended =
            rec(json!({"frequency": "Hour", "interval": 1, "endTime": "2024-03-01T00:00:00Z"}));
        assert_eq!(
            first_occurrence(
                &ended,
                &Value::Null,
                "nextOccurrence",
                now,
                now,
                Missed::FireOnce
            ),
            None
        );
        let anchor = utc("2024-01-01T00:00:00Z");
        // A stored (missed) occurrence fires once for a polling trigger, is
        // skipped for a Recurrence trigger, and is kept when still ahead...
        let stored =
            json!({"anchor": "2024-01-01T00:00:00Z", "nextOccurrence": "2024-03-05T11:00:00Z"});
        assert_eq!(
            first_occurrence(&open, &stored, "nextOccurrence", now, now, Missed::FireOnce),
            Some(utc("2024-03-05T11:00:00Z"))
        );
        assert_eq!(
            first_occurrence(&open, &stored, "nextOccurrence", anchor, now, Missed::Skip),
            Some(utc("2024-03-05T13:00:00Z"))
        );
        let ahead =
            json!({"anchor": "2024-01-01T00:00:00Z", "nextOccurrence": "2024-03-05T13:00:00Z"});
        assert_eq!(
            first_occurrence(&open, &ahead, "nextOccurrence", anchor, now, Missed::Skip),
            Some(utc("2024-03-05T13:00:00Z"))
        );
        // ...and a finished schedule does not start again after a restart.
        let finished = json!({"anchor": "2024-01-01T00:00:00Z", "nextOccurrence": null});
        assert_eq!(
            first_occurrence(
                &ended,
                &finished,
                "nextOccurrence",
                now,
                now,
                Missed::FireOnce
            ),
            None
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
            (
                json!({"frequency": "Week", "schedule": {"monthlyOccurrences": [{"day": "Monday", "occurrence": 1}]}}),
                "monthlyOccurrences",
            ),
            (
                json!({"frequency": "Month", "schedule": {"monthlyOccurrences": [{"day": "Monday", "occurrence": 6}]}}),
                "monthlyOccurrences",
            ),
            (
                json!({"frequency": "Month", "schedule": {"monthlyOccurrences": [{"day": "Someday", "occurrence": 1}]}}),
                "monthlyOccurrences",
            ),
            (
                json!({"frequency": "Month", "schedule": {"monthDays": [0]}}),
                "monthDays",
            ),
            (json!({"frequency": "Day", "endTime": "later"}), "endTime"),
            (
                json!({"frequency": "Day", "startTime": "2024-01-02T00:00:00Z", "endTime": "2024-01-01T00:00:00Z"}),
                "endTime",
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
