//! [`WriteBatch`]: everything one engine step writes, committed atomically.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::{
    ActionRecord, JournalEvent, RunId, RunRecord, RunStatus, TriggerHistoryRecord, WorkflowName,
    WorkflowVersion,
};

/// A set of writes committed all together or not at all.
///
/// Within a batch the store applies, in this order: workflow versions, new
/// runs, journal events, action upserts, run transitions, trigger histories,
/// trigger states, key-value writes. If any part is refused (see
/// [`crate::Store::commit`]) nothing of the batch is kept.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    /// Workflow versions to record (an existing `(workflow, version_id)` is kept as is).
    pub workflow_versions: Vec<WorkflowVersion>,
    /// Runs to create; an existing run id is a [`crate::StoreError::Conflict`].
    pub new_runs: Vec<RunRecord>,
    /// Journal events to append; an already stored `(run_id, seq)` is skipped,
    /// so replaying a step after a crash records nothing twice.
    pub events: Vec<JournalEvent>,
    /// Action (or repetition) records to insert or replace.
    pub actions: Vec<ActionRecord>,
    /// Checked run status changes.
    pub transitions: Vec<RunTransition>,
    /// Trigger history entries to insert or replace (keyed by workflow, trigger, id).
    pub trigger_histories: Vec<TriggerHistoryRecord>,
    /// Trigger state writes.
    pub trigger_states: Vec<TriggerStatePut>,
    /// Key-value writes.
    pub kv: Vec<KvWrite>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.workflow_versions.is_empty()
            && self.new_runs.is_empty()
            && self.events.is_empty()
            && self.actions.is_empty()
            && self.transitions.is_empty()
            && self.trigger_histories.is_empty()
            && self.trigger_states.is_empty()
            && self.kv.is_empty()
    }

    /// Moves every write of `later` behind the writes of this batch, so one
    /// commit carries several steps. Within each kind of write the order is
    /// kept; the store's fixed order of kinds (see [`WriteBatch`]) still applies,
    /// so a step's run transition lands after every event and action merged here.
    pub fn append(&mut self, later: WriteBatch) -> &mut Self {
        let WriteBatch {
            workflow_versions,
            new_runs,
            events,
            actions,
            transitions,
            trigger_histories,
            trigger_states,
            kv,
        } = later;
        self.workflow_versions.extend(workflow_versions);
        self.new_runs.extend(new_runs);
        self.events.extend(events);
        self.actions.extend(actions);
        self.transitions.extend(transitions);
        self.trigger_histories.extend(trigger_histories);
        self.trigger_states.extend(trigger_states);
        self.kv.extend(kv);
        self
    }

    /// Adds a workflow version.
    pub fn put_workflow_version(&mut self, version: WorkflowVersion) -> &mut Self {
        self.workflow_versions.push(version);
        self
    }

    /// Adds a run to create.
    pub fn create_run(&mut self, run: RunRecord) -> &mut Self {
        self.new_runs.push(run);
        self
    }

    /// Adds a journal event.
    pub fn append_event(&mut self, event: JournalEvent) -> &mut Self {
        self.events.push(event);
        self
    }

    /// Adds an action record to insert or replace, keyed by
    /// `(run_id, name, repetition)`.
    ///
    /// A stored record whose status is terminal is final: a later upsert of
    /// the same key is ignored (so a replayed step cannot resurrect it).
    /// Sections listed in `secured_sections` are dropped before writing.
    ///
    /// For an action inside a loop, write one record per repetition (non-empty
    /// [`crate::RepetitionKey`]) and no record with the empty key: the store
    /// keeps the action's summary record (empty key) itself, holding the
    /// status, code, error and times of the most recently written repetition,
    /// no inputs or outputs, and `iteration_count` = repetitions recorded.
    pub fn upsert_action(&mut self, action: ActionRecord) -> &mut Self {
        self.actions.push(action);
        self
    }

    /// Adds a checked run status change (see [`RunTransition`]).
    pub fn transition(&mut self, transition: RunTransition) -> &mut Self {
        self.transitions.push(transition);
        self
    }

    /// Adds a trigger history entry.
    pub fn record_trigger_history(&mut self, entry: TriggerHistoryRecord) -> &mut Self {
        self.trigger_histories.push(entry);
        self
    }

    /// Sets (`Some`) or clears (`None`, "reset trigger") a trigger's state.
    pub fn put_trigger_state(
        &mut self,
        workflow: WorkflowName,
        trigger: impl Into<String>,
        state: Option<Value>,
    ) -> &mut Self {
        self.trigger_states.push(TriggerStatePut {
            workflow,
            trigger: trigger.into(),
            state,
        });
        self
    }

    /// Stores `value` under `(ns, key)`, replacing what was there.
    pub fn kv_put(
        &mut self,
        ns: impl Into<String>,
        key: impl Into<String>,
        value: Vec<u8>,
    ) -> &mut Self {
        self.kv.push(KvWrite::Put {
            ns: ns.into(),
            key: key.into(),
            value,
        });
        self
    }

    /// Removes `(ns, key)` if present.
    pub fn kv_delete(&mut self, ns: impl Into<String>, key: impl Into<String>) -> &mut Self {
        self.kv.push(KvWrite::Delete {
            ns: ns.into(),
            key: key.into(),
        });
        self
    }
}

/// A checked change of a run's status, applied only while the run is not
/// finished (`Waiting` or `Running`), so a finished run never flips back.
///
/// Fields left `None` keep their stored value. A transition to the status a
/// finished run already has is accepted and changes nothing (replay after a
/// crash); any other transition of a finished run is a
/// [`crate::StoreError::Conflict`] and the batch is rolled back. A transition
/// of an unknown run is [`crate::StoreError::NotFound`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunTransition {
    /// The run to change.
    pub run_id: RunId,
    /// The new status (may equal the current non-terminal one, to update other fields).
    pub to: RunStatus,
    /// Outcome code, e.g. `Terminated`, `ActionFailed`.
    pub code: Option<String>,
    /// The run's error object.
    pub error: Option<Value>,
    /// When the run finished.
    pub end_time: Option<DateTime<Utc>>,
    /// Until when a waiting run waits.
    pub wait_end_time: Option<DateTime<Utc>>,
    /// The workflow outputs.
    pub outputs: Option<Value>,
    /// The Response action's response (may be set while the run keeps running).
    pub response: Option<Value>,
    /// The trigger record, when it changed after the run was created.
    pub trigger: Option<Value>,
}

impl RunTransition {
    /// A transition of `run_id` to `to` that changes nothing else.
    pub fn new(run_id: RunId, to: RunStatus) -> Self {
        Self {
            run_id,
            to,
            code: None,
            error: None,
            end_time: None,
            wait_end_time: None,
            outputs: None,
            response: None,
            trigger: None,
        }
    }
}

/// Sets or clears the state of one trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerStatePut {
    /// The workflow the trigger belongs to.
    pub workflow: WorkflowName,
    /// The trigger's name.
    pub trigger: String,
    /// The new state; `None` deletes it.
    pub state: Option<Value>,
}

/// One write to the key-value area.
#[derive(Clone, PartialEq)]
pub enum KvWrite {
    /// Stores a value, replacing any previous one.
    Put {
        /// Namespace, e.g. `connections`.
        ns: String,
        /// Key within the namespace.
        key: String,
        /// Opaque bytes (callers encrypt secrets before).
        value: Vec<u8>,
    },
    /// Removes a key if present.
    Delete {
        /// Namespace.
        ns: String,
        /// Key within the namespace.
        key: String,
    },
}

impl std::fmt::Debug for KvWrite {
    // Values may be (encrypted) secrets: show only their size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvWrite::Put { ns, key, value } => {
                write!(f, "KvWrite::Put({ns}/{key}, {} bytes)", value.len())
            }
            KvWrite::Delete { ns, key } => write!(f, "KvWrite::Delete({ns}/{key})"),
        }
    }
}
