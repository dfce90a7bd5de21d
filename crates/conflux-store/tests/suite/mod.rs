//! The storage test suite: every case runs against every backend through
//! `Arc<dyn Store>`. A backend provides a [`Harness`] and instantiates the
//! cases with `storage_suite!(harness)` (and `storage_suite!(harness, durable)` when its data
//! survives closing the store).

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use conflux_store::*;
use serde_json::json;

/// Guard returned by [`Harness::pause_writer`]; writes resume when it is dropped.
pub type Pause = Box<dyn Send>;

/// What a backend provides to the suite.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Opens the backend's database (again, for durable backends: same data).
    async fn open(&self) -> Opened;
}

/// An open store plus backend-specific hooks.
pub struct Opened {
    pub store: Arc<dyn Store>,
    /// Holds the writer so that concurrent commits queue up; `None` when the
    /// backend cannot (then group commit is not asserted).
    pub pause_writer: Option<Box<dyn Fn() -> Pause + Send + Sync>>,
}

/// Generates one test per case for a harness expression.
#[macro_export]
macro_rules! storage_suite {
    ($harness:expr) => {
        $crate::storage_suite!(@cases $harness;
            run_lifecycle, checked_transitions, journal_append_is_idempotent_and_ordered,
            runs_page_newest_first_with_status_filter, repetitions_and_summaries, trigger_histories_page_newest_first,
            workflow_versions_dedupe_and_list_newest_first,
            trigger_state_set_and_reset, kv_namespaces, purge_removes_old_finished_runs, purge_returns_space,
            concurrent_commits_are_durable_and_grouped,
            refused_batch_does_not_spoil_its_group,
            close_finishes_queued_writes_then_refuses, secured_sections_never_stored);
    };
    ($harness:expr, durable) => {
        $crate::storage_suite!(@cases $harness; trigger_state_survives_reopen, runs_and_journal_survive_reopen,
            closed_writes_are_there_after_reopen);
    };
    (@cases $harness:expr; $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = $harness;
                $crate::suite::$case(&harness).await;
            }
        )+
    };
}

mod maintenance;
mod runs;
mod triggers;

pub use maintenance::*;
pub use runs::*;
pub use triggers::*;

// ---------------------------------------------------------------- helpers

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("valid date")
}

fn wf(name: &str) -> WorkflowName {
    WorkflowName::new(name)
}

/// A running run of `workflow` started `offset_secs` after t0, with a deterministic id.
fn run(workflow: &str, offset_secs: i64) -> RunRecord {
    let start = t0() + Duration::seconds(offset_secs);
    let mut run = RunRecord::new(
        RunId::from_parts(start, offset_secs.unsigned_abs()),
        wf(workflow),
        "v1",
        "manual",
        start,
    );
    run.trigger =
        json!({"name": "manual", "status": "Succeeded", "outputs": {"body": {"n": offset_secs}}});
    run
}

fn event(run_id: &RunId, seq: u64, payload: serde_json::Value) -> JournalEvent {
    JournalEvent {
        run_id: run_id.clone(),
        seq,
        at: t0() + Duration::milliseconds(seq as i64),
        payload,
    }
}

async fn commit_one(
    store: &Arc<dyn Store>,
    fill: impl FnOnce(&mut WriteBatch),
) -> Result<(), StoreError> {
    let mut batch = WriteBatch::new();
    fill(&mut batch);
    store.commit(batch).await
}

async fn create(store: &Arc<dyn Store>, run: &RunRecord) {
    commit_one(store, |b| {
        b.create_run(run.clone());
    })
    .await
    .expect("create run");
}

async fn finish(store: &Arc<dyn Store>, run_id: &RunId, status: RunStatus) {
    let mut t = RunTransition::new(run_id.clone(), status);
    t.end_time = Some(t0() + Duration::hours(1));
    commit_one(store, |b| {
        b.transition(t);
    })
    .await
    .expect("finish run");
}
