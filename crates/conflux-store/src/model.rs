//! The records the store keeps: ids, statuses, runs, actions, journal events,
//! trigger histories and workflow versions.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Identifies one run (and the trigger history entry that created it).
///
/// Generated ids sort **newest first**: the id starts with the start time
/// subtracted from a fixed maximum, so ascending id order is descending start
/// time. That lets every backend page through history with a plain index on
/// the id. The shape (29 digits) resembles Logic Apps run ids.
///
/// Shared text: a run's id is handed to many places (its context, its
/// caller, its records, the map of running runs), and a clone is a count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(std::sync::Arc<str>);

/// Microseconds since the epoch that the inverted prefix counts down from
/// (about the year 5138); later instants clamp to it.
const RUN_ID_MAX_MICROS: i64 = 99_999_999_999_999_999;

/// "00", "01", ... "99": two decimal digits per entry.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

impl RunId {
    /// A new id for a run starting at `now`; a random suffix keeps ids of
    /// runs started in the same microsecond apart.
    pub fn generate(now: DateTime<Utc>) -> Self {
        Self::from_parts(now, rand::random::<u64>() % 1_000_000_000_000)
    }

    /// The id for `now` with a chosen suffix (below 10^12), for deterministic ids.
    pub fn from_parts(now: DateTime<Utc>, suffix: u64) -> Self {
        let micros = now.timestamp_micros().clamp(0, RUN_ID_MAX_MICROS);
        let inverted = RUN_ID_MAX_MICROS - micros;
        // Written in place: the id's one allocation is its shared text.
        let mut digits = [b'0'; 29];
        // Two digits at a time, from the end.
        let fill = |mut value: u64, field: &mut [u8]| {
            let mut pairs = field.rchunks_exact_mut(2);
            for pair in &mut pairs {
                let at = (value % 100) as usize * 2;
                pair.copy_from_slice(&DIGIT_PAIRS[at..at + 2]);
                value /= 100;
            }
            if let [first] = pairs.into_remainder() {
                *first = b'0' + (value % 10) as u8;
            }
        };
        let (prefix, rest) = digits.split_at_mut(17);
        fill(inverted.unsigned_abs(), prefix);
        fill(suffix % 1_000_000_000_000, rest);
        Self(std::str::from_utf8(&digits).unwrap_or_default().into())
    }

    /// Wraps an existing id (e.g. one read from a URL) without checking its shape.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into().into())
    }

    /// The start time encoded in a generated id, or `None` for other ids.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        let prefix = self.0.get(..17)?;
        if self.0.len() != 29 || !self.0.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let inverted: i64 = prefix.parse().ok()?;
        DateTime::from_timestamp_micros(RUN_ID_MAX_MICROS - inverted)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as shared text (no copy).
    pub fn shared(&self) -> std::sync::Arc<str> {
        self.0.clone()
    }
}

/// Maps keyed by run id are looked up with the id's text.
impl std::borrow::Borrow<str> for RunId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a workflow (its folder name in a project).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkflowName(String);

impl WorkflowName {
    /// Wraps a workflow name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkflowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for WorkflowName {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

/// Declares a status enum with PascalCase text, case-insensitive parsing and a
/// terminal flag per variant.
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $terminal:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// True once nothing can change this status any more.
            pub fn is_terminal(self) -> bool {
                match self {
                    $($name::$variant => $terminal),+
                }
            }

            /// The PascalCase text used on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = StoreError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|s| s.as_str().eq_ignore_ascii_case(text))
                    .ok_or_else(|| StoreError::InvalidInput {
                        what: format!(
                            "unknown {} {text:?}; expected one of {}",
                            $what,
                            Self::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    })
            }
        }
    };
}

status_enum!(
    /// Lifecycle of a run (wdl-spec §6.2).
    RunStatus, "run status" {
        /// Created but not started, e.g. behind a concurrency limit.
        Waiting => false,
        /// In progress.
        Running => false,
        /// Finished; every failure was handled.
        Succeeded => true,
        /// Finished with an unhandled failure.
        Failed => true,
        /// Cancelled by request or by Terminate.
        Cancelled => true,
        /// Exceeded the run-duration limit.
        TimedOut => true,
        /// Stopped by an infrastructure problem.
        Aborted => true,
    }
);

status_enum!(
    /// Lifecycle of an action, a loop repetition or a trigger history entry (wdl-spec §6.2).
    ActionStatus, "action status" {
        /// Not started yet.
        Waiting => false,
        /// In progress (also between retries).
        Running => false,
        /// Finished successfully.
        Succeeded => true,
        /// Finished with an error.
        Failed => true,
        /// Not run because its runAfter conditions did not hold (or, for a trigger, nothing fired).
        Skipped => true,
        /// Exceeded its timeout.
        TimedOut => true,
        /// Cancelled with the run.
        Cancelled => true,
        /// Stopped by an infrastructure problem.
        Aborted => true,
        /// Deliberately not evaluated.
        Ignored => true,
    }
);

/// Which repetition of an action a record describes.
///
/// Empty for an action outside any loop (and for the summary record of a
/// looped action); otherwise the six-digit zero-padded iteration indexes from
/// the outermost loop inwards, joined by `-` (`000001`, `000000-000003`), as
/// Logic Apps names repetitions. Keys of one action sort in iteration order.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RepetitionKey(String);

impl RepetitionKey {
    /// The key of a record outside any loop.
    pub fn none() -> Self {
        Self(String::new())
    }

    /// The key for the given loop indexes, outermost first.
    pub fn from_indexes(indexes: &[u32]) -> Self {
        let parts: Vec<String> = indexes.iter().map(|i| format!("{i:06}")).collect();
        Self(parts.join("-"))
    }

    /// Parses a key as it appears in an API path; rejects anything but digit groups.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let key = Self(text.to_owned());
        key.indexes().map(|_| key.clone())
    }

    /// The loop indexes, outermost first (empty for [`RepetitionKey::none`]).
    pub fn indexes(&self) -> Result<Vec<u32>, StoreError> {
        if self.0.is_empty() {
            return Ok(Vec::new());
        }
        self.0
            .split('-')
            .map(|part| {
                part.parse::<u32>().ok().filter(|_| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())).ok_or_else(|| {
                    StoreError::InvalidInput {
                        what: format!("repetition {:?}: expected digit groups joined by '-', e.g. 000000-000003", self.0),
                    }
                })
            })
            .collect()
    }

    /// True for the key of a record outside any loop.
    pub fn is_none(&self) -> bool {
        self.0.is_empty()
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepetitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One deployed version of a workflow definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowVersion {
    /// The workflow this is a version of.
    pub workflow: WorkflowName,
    /// Content hash of `definition` (see [`WorkflowVersion::new`]).
    pub version_id: String,
    /// The `workflow.json` document as deployed.
    pub definition: Value,
    /// When this version was first stored.
    pub created: DateTime<Utc>,
}

impl WorkflowVersion {
    /// A version whose id is the SHA-256 (hex, first 32 digits) of the
    /// definition's JSON text, so deploying the same definition twice yields
    /// the same version.
    pub fn new(workflow: WorkflowName, definition: Value, created: DateTime<Utc>) -> Self {
        let digest = Sha256::digest(definition.to_string().as_bytes());
        let version_id = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Self {
            workflow,
            version_id,
            definition,
            created,
        }
    }
}

/// One run of a workflow: what the runs API lists and shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The run's id (sorts newest first).
    pub run_id: RunId,
    /// The workflow that ran.
    pub workflow: WorkflowName,
    /// The [`WorkflowVersion::version_id`] that ran.
    pub version_id: String,
    /// The trigger that started the run.
    pub trigger_name: String,
    /// Current status; changed only through [`crate::RunTransition`].
    pub status: RunStatus,
    /// Short machine-readable outcome, e.g. `ActionFailed`.
    pub code: Option<String>,
    /// The error object of a failed run.
    pub error: Option<Value>,
    /// When the run was created.
    pub start_time: DateTime<Utc>,
    /// When the run finished.
    pub end_time: Option<DateTime<Utc>>,
    /// Until when a waiting run waits (e.g. behind a concurrency limit).
    pub wait_end_time: Option<DateTime<Utc>>,
    /// The caller's `x-ms-client-tracking-id`, or one chosen by the engine.
    pub client_tracking_id: Option<String>,
    /// The trigger record as the API shows it (`name`, `inputs`, `outputs`,
    /// `startTime`, `status`, ...), with secured parts already removed.
    pub trigger: Value,
    /// The workflow's `outputs` once the run finished.
    pub outputs: Option<Value>,
    /// The response sent by a Response action, if any.
    pub response: Option<Value>,
    /// True for runs of stateless workflows.
    pub stateless: bool,
}

impl RunRecord {
    /// A `Running` run with the given identity and everything else empty.
    pub fn new(
        run_id: RunId,
        workflow: WorkflowName,
        version_id: impl Into<String>,
        trigger_name: impl Into<String>,
        start_time: DateTime<Utc>,
    ) -> Self {
        let trigger_name = trigger_name.into();
        Self {
            run_id,
            workflow,
            version_id: version_id.into(),
            trigger: serde_json::json!({ "name": trigger_name }),
            trigger_name,
            status: RunStatus::Running,
            code: None,
            error: None,
            start_time,
            end_time: None,
            wait_end_time: None,
            client_tracking_id: None,
            outputs: None,
            response: None,
            stateless: false,
        }
    }
}

/// The result of one action (or one repetition of an action inside a loop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRecord {
    /// The run the action belongs to.
    pub run_id: RunId,
    /// The action's name in the definition.
    pub name: String,
    /// Which repetition this record describes ([`RepetitionKey::none`] outside loops).
    pub repetition: RepetitionKey,
    /// Current status; a terminal status is final (see [`crate::WriteBatch::upsert_action`]).
    pub status: ActionStatus,
    /// Short machine-readable outcome, e.g. `BadRequest`, `ActionTimedOut`.
    pub code: Option<String>,
    /// The error object of a failed action.
    pub error: Option<Value>,
    /// When the action started (absent while waiting).
    pub start_time: Option<DateTime<Utc>>,
    /// When the action finished.
    pub end_time: Option<DateTime<Utc>>,
    /// Evaluated inputs; always `None` when `secured_sections` holds `"inputs"`.
    pub inputs: Option<Value>,
    /// Outputs; always `None` when `secured_sections` holds `"outputs"`.
    pub outputs: Option<Value>,
    /// Sections hidden by secure inputs/outputs: `"inputs"`, `"outputs"`.
    /// The store drops the content of listed sections before writing it.
    pub secured_sections: Vec<String>,
    /// One entry per failed attempt before the last (`startTime`, `endTime`, `code`, `error`).
    pub retry_history: Vec<Value>,
    /// Evaluated `trackedProperties`.
    pub tracked_properties: Option<Value>,
    /// For loops (Foreach/Until) and summary records: how many iterations ran.
    pub iteration_count: Option<u32>,
    /// The enclosing loops and the index in each, outermost first.
    pub repetition_indexes: Vec<(String, u32)>,
    /// The action's tracking id.
    pub tracking_id: Option<String>,
}

impl ActionRecord {
    /// A record with only the identifying fields and a status; fill in the rest as needed.
    pub fn new(run_id: RunId, name: impl Into<String>, status: ActionStatus) -> Self {
        Self {
            run_id,
            name: name.into(),
            repetition: RepetitionKey::none(),
            status,
            code: None,
            error: None,
            start_time: None,
            end_time: None,
            inputs: None,
            outputs: None,
            secured_sections: Vec::new(),
            retry_history: Vec::new(),
            tracked_properties: None,
            iteration_count: None,
            repetition_indexes: Vec::new(),
            tracking_id: None,
        }
    }

    /// True when `section` (`"inputs"` or `"outputs"`) is secured.
    pub fn is_secured(&self, section: &str) -> bool {
        self.secured_sections
            .iter()
            .any(|s| s.eq_ignore_ascii_case(section))
    }
}

/// One entry of a run's append-only journal. The payload belongs to the
/// engine; the store only keeps it in `seq` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEvent {
    /// The run the event belongs to.
    pub run_id: RunId,
    /// Position in the run's journal; `(run_id, seq)` is unique.
    pub seq: u64,
    /// When the event happened.
    pub at: DateTime<Utc>,
    /// Engine-defined content.
    pub payload: Value,
}

/// One evaluation of a trigger, fired or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerHistoryRecord {
    /// The workflow the trigger belongs to.
    pub workflow: WorkflowName,
    /// The trigger's name.
    pub trigger: String,
    /// The entry's id: the run id when the trigger fired, else a fresh
    /// [`RunId::generate`] (so entries sort newest first as well).
    pub id: RunId,
    /// Outcome: Succeeded (fired), Skipped (nothing to do), Failed, Running, ...
    pub status: ActionStatus,
    /// Short machine-readable outcome.
    pub code: Option<String>,
    /// The error object of a failed evaluation.
    pub error: Option<Value>,
    /// When the evaluation started.
    pub start_time: DateTime<Utc>,
    /// When the evaluation finished.
    pub end_time: Option<DateTime<Utc>>,
    /// True when a run was started.
    pub fired: bool,
    /// The run started, when fired.
    pub run_id: Option<RunId>,
    /// The trigger's inputs (absent when secured).
    pub inputs: Option<Value>,
    /// The trigger's outputs (absent when secured); resubmit replays these.
    pub outputs: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn run_ids_sort_newest_first_and_decode_their_time() {
        let earlier = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let later = earlier + chrono::Duration::microseconds(1);
        let (a, b) = (RunId::generate(earlier), RunId::generate(later));
        assert!(b < a, "a later run must sort first");
        assert_eq!(a.as_str().len(), 29);
        assert_eq!(a.timestamp(), Some(earlier));
        assert_eq!(RunId::new("custom").timestamp(), None);
        assert_ne!(RunId::generate(earlier), RunId::generate(earlier));
        let expected = format!(
            "{:017}{:012}",
            RUN_ID_MAX_MICROS - earlier.timestamp_micros(),
            42
        );
        assert_eq!(RunId::from_parts(earlier, 42).as_str(), expected);
        let odd = Utc.with_ymd_and_hms(2031, 7, 19, 13, 57, 41).unwrap()
            + chrono::Duration::microseconds(123_457);
        for suffix in [0, 7, 10, 99, 100, 123_456_789_012, 999_999_999_999] {
            let expected = format!(
                "{:017}{:012}",
                RUN_ID_MAX_MICROS - odd.timestamp_micros(),
                suffix
            );
            assert_eq!(RunId::from_parts(odd, suffix).as_str(), expected);
        }
    }

    #[test]
    fn statuses_parse_case_insensitively_and_serialise_pascal_case() {
        assert_eq!(
            "timedout".parse::<RunStatus>().unwrap(),
            RunStatus::TimedOut
        );
        assert_eq!(
            "IGNORED".parse::<ActionStatus>().unwrap(),
            ActionStatus::Ignored
        );
        assert!("Paused".parse::<RunStatus>().is_err());
        assert_eq!(
            serde_json::to_value(RunStatus::TimedOut).unwrap(),
            "TimedOut"
        );
        assert_eq!(RunStatus::Cancelled.to_string(), "Cancelled");
        let unfinished: Vec<_> = RunStatus::ALL.iter().filter(|s| !s.is_terminal()).collect();
        assert_eq!(unfinished, [&RunStatus::Waiting, &RunStatus::Running]);
        let unfinished: Vec<_> = ActionStatus::ALL
            .iter()
            .filter(|s| !s.is_terminal())
            .collect();
        assert_eq!(unfinished, [&ActionStatus::Waiting, &ActionStatus::Running]);
    }

    #[test]
    fn repetition_keys_follow_logic_apps_naming() {
        assert_eq!(RepetitionKey::from_indexes(&[]).as_str(), "");
        assert_eq!(RepetitionKey::from_indexes(&[1]).as_str(), "000001");
        assert_eq!(
            RepetitionKey::from_indexes(&[0, 3]).as_str(),
            "000000-000003"
        );
        assert_eq!(
            RepetitionKey::parse("000000-000003")
                .unwrap()
                .indexes()
                .unwrap(),
            [0, 3]
        );
        for bad in ["-", "0a", "000001-", "+1"] {
            assert!(RepetitionKey::parse(bad).is_err(), "{bad}");
        }
        assert!(RepetitionKey::from_indexes(&[2]) < RepetitionKey::from_indexes(&[10]));
    }

    #[test]
    fn workflow_versions_are_content_addressed() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let def = serde_json::json!({"definition": {"actions": {}}});
        let a = WorkflowVersion::new("w".into(), def.clone(), at);
        assert_eq!(
            a.version_id,
            WorkflowVersion::new("w".into(), def, at).version_id
        );
        assert_ne!(
            a.version_id,
            WorkflowVersion::new("w".into(), serde_json::json!({}), at).version_id
        );
    }
}

/// The stored state of one trigger, as [`crate::Store::list_trigger_states`]
/// lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerState {
    /// The workflow the trigger belongs to (it may no longer be hosted).
    pub workflow: WorkflowName,
    /// The trigger's name.
    pub trigger: String,
    /// What the trigger keeps (cursor, next occurrence, subscription, ...).
    pub state: Value,
}
