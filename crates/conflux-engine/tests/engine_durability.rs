//! Stateful runs commit their steps behind the run (several steps per commit)
//! yet keep their promises: every action record and journal event lands, in
//! order and once, and a run's completion is reported only after its final
//! status is in the store.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use conflux_engine::{Engine, EngineOptions, StartRun, WorkflowRegistration};
use conflux_store::{
    ActionRecord, HistoryQuery, JournalEvent, Page, RepetitionKey, RunId, RunQuery, RunRecord,
    RunStatus, SqliteStore, Store, StoreError, StoreStats, TriggerHistoryRecord, WorkflowName,
    WorkflowVersion, WriteBatch,
};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

fn chain_with_loop() -> Value {
    common::workflow(json!({
        "A": {"type": "Compose", "inputs": {"x": "@triggerBody()?['x']"}},
        "B": {"type": "Compose", "inputs": "@mul(outputs('A')['x'], 2)", "runAfter": {"A": ["Succeeded"]}},
        "Loop": {"type": "Foreach", "foreach": "@range(0, 4)", "runAfter": {"B": ["Succeeded"]},
                 "actions": {"Sq": {"type": "Compose", "inputs": "@add(mul(item(), item()), outputs('B'))"}}},
        "C": {"type": "Compose", "inputs": "@concat('done-', string(outputs('B')))", "runAfter": {"Loop": ["Succeeded"]}}
    }))
}

async fn outputs(store: &Arc<dyn Store>, run_id: &RunId, name: &str) -> Option<Value> {
    store
        .get_action(run_id, name)
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("{name} of run {run_id} recorded"))
        .outputs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stateful_runs_record_every_step_once_before_completing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(dir.path().join("runs.db"))
            .await
            .expect("open"),
    );
    let engine = Engine::new(EngineOptions::new(store.clone()));
    engine
        .register_workflow(WorkflowRegistration::new(
            "chain",
            common::load(&chain_with_loop()),
        ))
        .expect("register");

    let runs = 48i64;
    let mut handles = Vec::new();
    for x in 0..runs {
        let handle = engine
            .start_run(StartRun::new("chain", "manual", json!({"body": {"x": x}})))
            .await
            .expect("start");
        // The run exists before start_run returns.
        let stored = store.get_run(&handle.run_id).await.expect("read");
        assert!(
            stored.is_some(),
            "run {} not stored at start",
            handle.run_id
        );
        handles.push((x, handle));
    }

    let checks = handles.into_iter().map(|(x, handle)| {
        let store = store.clone();
        async move {
            let outcome = handle.completion.await.expect("completed");
            assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
            let run = store
                .get_run(&handle.run_id)
                .await
                .expect("read")
                .expect("run");
            assert_eq!(
                run.status,
                RunStatus::Succeeded,
                "final status stored before completion"
            );
            assert_eq!(
                outputs(&store, &handle.run_id, "A").await,
                Some(json!({"x": x}))
            );
            assert_eq!(
                outputs(&store, &handle.run_id, "B").await,
                Some(json!(2 * x))
            );
            assert_eq!(
                outputs(&store, &handle.run_id, "C").await,
                Some(json!(format!("done-{}", 2 * x)))
            );
            let reps = store
                .list_repetitions(&handle.run_id, "Sq")
                .await
                .expect("reps");
            let mut got: Vec<Value> = reps.iter().filter_map(|r| r.outputs.clone()).collect();
            got.sort_by_key(|v| v.as_i64());
            let want: Vec<Value> = (0..4i64).map(|i| json!(i * i + 2 * x)).collect();
            assert_eq!(got, want, "every repetition of run {x}");

            let journal = store.load_journal(&handle.run_id).await.expect("journal");
            let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
            let expected: Vec<u64> = (0..journal.len() as u64).collect();
            assert_eq!(seqs, expected, "no gap or duplicate in the journal");
            let kinds: Vec<&str> = journal
                .iter()
                .filter_map(|e| e.payload["type"].as_str())
                .collect();
            assert_eq!(kinds.first(), Some(&"runStarted"));
            assert_eq!(kinds.last(), Some(&"runCompleted"));
            let completed = kinds.iter().filter(|k| **k == "actionCompleted").count();
            // A, B, four Sq, Loop, C.
            assert_eq!(completed, 8, "{kinds:?}");
        }
    });
    futures::future::join_all(checks).await;
}

/// A store that holds back the commit carrying a run's final status until
/// the test lets it through.
struct HoldFinal {
    inner: Arc<dyn Store>,
    arrived: mpsc::UnboundedSender<()>,
    release: Mutex<Option<oneshot::Receiver<()>>>,
}

#[async_trait]
impl Store for HoldFinal {
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.transitions.iter().any(|t| t.to.is_terminal()) {
            let release = self.release.lock().expect("lock").take();
            if let Some(release) = release {
                let _ = self.arrived.send(());
                let _ = release.await;
            }
        }
        self.inner.commit(batch).await
    }
    async fn get_run(&self, run_id: &RunId) -> Result<Option<RunRecord>, StoreError> {
        self.inner.get_run(run_id).await
    }
    async fn list_runs(
        &self,
        workflow: &WorkflowName,
        query: &RunQuery,
    ) -> Result<Page<RunRecord>, StoreError> {
        self.inner.list_runs(workflow, query).await
    }
    async fn count_runs(
        &self,
        workflow: &WorkflowName,
        status: Option<RunStatus>,
    ) -> Result<u64, StoreError> {
        self.inner.count_runs(workflow, status).await
    }
    async fn incomplete_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.inner.incomplete_runs().await
    }
    async fn list_actions(&self, run_id: &RunId) -> Result<Vec<ActionRecord>, StoreError> {
        self.inner.list_actions(run_id).await
    }
    async fn list_repetitions(
        &self,
        run_id: &RunId,
        name: &str,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        self.inner.list_repetitions(run_id, name).await
    }
    async fn get_repetition(
        &self,
        run_id: &RunId,
        name: &str,
        repetition: &RepetitionKey,
    ) -> Result<Option<ActionRecord>, StoreError> {
        self.inner.get_repetition(run_id, name, repetition).await
    }
    async fn load_journal(&self, run_id: &RunId) -> Result<Vec<JournalEvent>, StoreError> {
        self.inner.load_journal(run_id).await
    }
    async fn list_trigger_histories(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
        query: &HistoryQuery,
    ) -> Result<Page<TriggerHistoryRecord>, StoreError> {
        self.inner
            .list_trigger_histories(workflow, trigger, query)
            .await
    }
    async fn get_trigger_history(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
        id: &RunId,
    ) -> Result<Option<TriggerHistoryRecord>, StoreError> {
        self.inner.get_trigger_history(workflow, trigger, id).await
    }
    async fn get_trigger_state(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
    ) -> Result<Option<Value>, StoreError> {
        self.inner.get_trigger_state(workflow, trigger).await
    }
    async fn list_trigger_states(&self) -> Result<Vec<conflux_store::TriggerState>, StoreError> {
        self.inner.list_trigger_states().await
    }
    async fn get_workflow_version(
        &self,
        workflow: &WorkflowName,
        version_id: &str,
    ) -> Result<Option<WorkflowVersion>, StoreError> {
        self.inner.get_workflow_version(workflow, version_id).await
    }

    async fn list_workflow_versions(
        &self,
        workflow: &WorkflowName,
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        self.inner.list_workflow_versions(workflow).await
    }
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.kv_get(ns, key).await
    }
    async fn kv_list(&self, ns: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.kv_list(ns).await
    }
    async fn purge_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.purge_older_than(cutoff).await
    }
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.inner.stats().await
    }
    async fn close(&self) -> Result<(), StoreError> {
        self.inner.close().await
    }
}

#[tokio::test]
async fn completion_waits_for_the_final_status_to_be_stored() {
    let inner: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.expect("store"));
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel();
    let (release_tx, release_rx) = oneshot::channel();
    let store: Arc<dyn Store> = Arc::new(HoldFinal {
        inner: inner.clone(),
        arrived: arrived_tx,
        release: Mutex::new(Some(release_rx)),
    });
    let engine = Engine::new(EngineOptions::new(store));
    engine
        .register_workflow(WorkflowRegistration::new(
            "chain",
            common::load(&chain_with_loop()),
        ))
        .expect("register");
    let mut completions = engine.completions();
    let mut handle = engine
        .start_run(StartRun::new("chain", "manual", json!({"body": {"x": 3}})))
        .await
        .expect("start");

    arrived
        .recv()
        .await
        .expect("the final commit was submitted");
    assert!(
        handle.completion.try_recv().is_err(),
        "completion reported before the final status was stored"
    );
    assert!(completions.try_recv().is_err());
    let run = inner
        .get_run(&handle.run_id)
        .await
        .expect("read")
        .expect("run");
    assert_eq!(run.status, RunStatus::Running);

    release_tx.send(()).expect("release");
    let outcome = completions.recv().await.expect("completed");
    assert_eq!(outcome.run_id, handle.run_id);
    let run = inner
        .get_run(&handle.run_id)
        .await
        .expect("read")
        .expect("run");
    assert_eq!(run.status, RunStatus::Succeeded);
    let c = inner
        .get_action(&handle.run_id, "C")
        .await
        .expect("read")
        .expect("C recorded with the final status");
    assert_eq!(c.outputs, Some(json!("done-6")));
}

#[tokio::test]
async fn a_stateful_run_starts_even_when_its_caller_goes_away_while_it_is_created() {
    let h = common::harness().await;
    h.register("chain", &chain_with_loop());
    let mut done = h.engine.completions();
    let mut start = Box::pin(h.engine.start_run(StartRun::new(
        "chain",
        "manual",
        json!({"body": {"x": 3}}),
    )));
    // One poll: the run's creation is under way (a store write), then the
    // caller is dropped, as when its client disconnects.
    let first = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::future::Future::poll(start.as_mut(), cx))
    })
    .await;
    assert!(
        first.is_pending(),
        "creating a stateful run waits for the store"
    );
    drop(start);
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(30), done.recv())
        .await
        .expect("the created run is started and ends")
        .expect("completion");
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let stored = h
        .store
        .get_run(&outcome.run_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.status, RunStatus::Succeeded);
}
