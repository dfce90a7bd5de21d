//! A finished action with secured outputs and a run that is interrupted after
//! it: with a sealer (the host's master key) the action's outputs are
//! journaled encrypted and the resumed run replays it instead of calling the
//! service again; without one it runs again. Either way the secret never
//! reaches the SQLite files in plain text.

mod common;

use common::Gate;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use conflux_engine::{
    Engine, EngineOptions, FnSealer, SealError, Sealer, StartRun, WorkflowRegistration,
};
use conflux_security::MasterKey;
use conflux_store::{RunStatus, SqliteStore, Store};
use serde_json::json;
use tokio::sync::{mpsc, Mutex};

const SECRET: &str = "s3cr3t-token-4f9a2c71";

#[derive(Default)]
struct Service {
    issued: AtomicUsize,
    received: StdMutex<Vec<String>>,
}

async fn service() -> (String, Arc<Service>) {
    let state = Arc::new(Service::default());
    let app = Router::new()
        .route(
            "/token",
            get(|State(s): State<Arc<Service>>| async move {
                s.issued.fetch_add(1, Ordering::SeqCst);
                Json(json!({"token": SECRET}))
            }),
        )
        .route(
            "/use",
            post(|State(s): State<Arc<Service>>, body: String| async move {
                s.received.lock().expect("lock").push(body);
                "used"
            }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (base, state)
}

fn definition(base: &str) -> serde_json::Value {
    json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": {
            "Get_token": {"type": "Http", "inputs": {"method": "GET", "uri": format!("{base}/token")},
                          "runtimeConfiguration": {"secureData": {"properties": ["inputs", "outputs"]}}},
            "Gate": {"type": "Gate", "inputs": {}, "runAfter": {"Get_token": ["Succeeded"]}},
            "Use_token": {"type": "Http", "inputs": {"method": "POST", "uri": format!("{base}/use"),
                          "body": "@body('Get_token')?['token']"},
                          "runAfter": {"Gate": ["Succeeded"]}}
        }
    }, "kind": "Stateful"})
}

fn master_key_sealer(key: Arc<MasterKey>) -> Arc<dyn Sealer> {
    let opener = key.clone();
    Arc::new(FnSealer::new(
        move |plain, context| key.seal(plain, context),
        move |sealed, context| {
            opener
                .open(sealed, context)
                .map_err(|e| SealError(e.to_string()))
        },
    ))
}

/// Every byte of the database and its WAL.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("conflux.db"))
        {
            // SQLite may remove its -wal/-shm side files between the listing and
            // the read (the last connection closing checkpoints them away).
            match std::fs::read(&path) {
                Ok(bytes) => all.extend(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("read {}: {e}", path.display()),
            }
        }
    }
    assert!(!all.is_empty());
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Runs until the Gate, shuts down, resumes in a second engine; returns how
/// often the token was issued, what the service received and the run's journal.
async fn interrupt_and_resume(
    dir: &Path,
    sealer: Option<Arc<dyn Sealer>>,
) -> (usize, Vec<String>, Vec<serde_json::Value>) {
    let (base, service) = service().await;
    let run = interrupt_and_resume_with(dir, sealer, &definition(&base), json!({"body": {}})).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    // The API view never holds the secured sections.
    let record = run
        .store
        .get_action(&run.run_id, "Get_token")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(record.secured_sections, ["inputs", "outputs"]);
    assert!(record.inputs.is_none() && record.outputs.is_none());
    let used = run
        .store
        .get_action(&run.run_id, "Use_token")
        .await
        .expect("read")
        .expect("recorded");
    assert!(
        used.inputs.is_none(),
        "inputs reading secured outputs are hidden"
    );
    let issued = service.issued.load(Ordering::SeqCst);
    let received = service.received.lock().expect("lock").clone();
    (issued, received, run.journal)
}

/// A run interrupted at the Gate and resumed by a second engine.
struct Resumed {
    store: Arc<dyn Store>,
    run_id: conflux_store::RunId,
    status: RunStatus,
    journal: Vec<serde_json::Value>,
}

async fn interrupt_and_resume_with(
    dir: &Path,
    sealer: Option<Arc<dyn Sealer>>,
    doc: &serde_json::Value,
    trigger_outputs: serde_json::Value,
) -> Resumed {
    let path = dir.join("conflux.db");
    let workflow = Arc::new(conflux_definition::Workflow::from_json(doc).expect("valid"));
    let (entered_tx, mut entered_rx) = mpsc::unbounded_channel();
    let (_release_tx, release_rx) = mpsc::unbounded_channel();
    let run_id = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
        let mut options = EngineOptions::new(store);
        options.sealer = sealer.clone();
        options.executors = vec![Arc::new(Gate {
            entered: entered_tx.clone(),
            release: Some(Arc::new(Mutex::new(release_rx))),
        })];
        let engine = Engine::new(options);
        engine
            .register_workflow(WorkflowRegistration::new("secure", workflow.clone()))
            .expect("register");
        let handle = engine
            .start_run(StartRun::new("secure", "manual", trigger_outputs))
            .await
            .expect("start");
        entered_rx.recv().await.expect("the gate was reached");
        engine.shutdown().await;
        handle.run_id
    };

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
    let mut options = EngineOptions::new(store.clone());
    options.sealer = sealer;
    options.executors = vec![Arc::new(Gate {
        entered: entered_tx,
        release: None,
    })];
    let engine = Engine::new(options);
    engine
        .register_workflow(WorkflowRegistration::new("secure", workflow))
        .expect("register");
    let mut done = engine.completions();
    assert_eq!(engine.resume_incomplete().await.expect("resume"), 1);
    let outcome = done.recv().await.expect("the resumed run finished");
    assert_eq!(outcome.run_id, run_id);
    let journal = store
        .load_journal(&run_id)
        .await
        .expect("journal")
        .into_iter()
        .map(|e| e.payload)
        .collect();
    engine.shutdown().await;
    Resumed {
        store,
        run_id,
        status: outcome.status,
        journal,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_sealer_a_finished_secured_action_is_replayed_not_repeated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = Arc::new(MasterKey::from_keys(&[[7u8; 32]]));
    let (issued, received, journal) =
        interrupt_and_resume(dir.path(), Some(master_key_sealer(key))).await;
    assert_eq!(issued, 1, "the secured action was not called again");
    assert_eq!(
        received,
        [SECRET],
        "the replayed outputs carried the secret to the next action"
    );
    let completed = journal
        .iter()
        .find(|p| p["type"] == "actionCompleted" && p["name"] == "Get_token")
        .expect("the secured completion is journaled");
    assert_eq!(completed["secured"], json!(true));
    assert!(completed["outputs"].is_null());
    assert!(completed["sealed"].as_str().is_some_and(|s| !s.is_empty()));
    let bytes = database_bytes(dir.path());
    assert!(
        !contains(&bytes, SECRET),
        "the secret is on disk in plain text"
    );
    assert!(
        contains(&bytes, "Get_token"),
        "the scan reads the database that holds the run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_sealer_a_secured_action_runs_again_and_nothing_leaks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (issued, received, journal) = interrupt_and_resume(dir.path(), None).await;
    assert_eq!(
        issued, 2,
        "its outputs were not journaled, so it ran again on resume"
    );
    assert_eq!(received, [SECRET]);
    assert!(journal.iter().all(|p| p.get("sealed").is_none()));
    let bytes = database_bytes(dir.path());
    assert!(!contains(&bytes, SECRET));
    assert!(contains(&bytes, "Get_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_journal_opened_with_another_key_runs_the_action_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Sealer whose open always refuses, as after losing the key.
    let key = Arc::new(MasterKey::from_keys(&[[9u8; 32]]));
    let sealing = key.clone();
    let refusing: Arc<dyn Sealer> = Arc::new(FnSealer::new(
        move |plain, context| sealing.seal(plain, context),
        |_, _| Err(SealError("unknown key".into())),
    ));
    let (issued, received, _) = interrupt_and_resume(dir.path(), Some(refusing)).await;
    assert_eq!(issued, 2);
    assert_eq!(received, [SECRET]);
}

const TRIGGER_SECRET: &str = "pa55-from-the-caller-81d3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secured_trigger_outputs_are_sealed_and_reach_the_resumed_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (base, service) = service().await;
    let doc = json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http",
                                "runtimeConfiguration": {"secureData": {"properties": ["outputs"]}}}},
        "actions": {
            "Gate": {"type": "Gate", "inputs": {}},
            "Use_password": {"type": "Http", "inputs": {"method": "POST", "uri": format!("{base}/use"),
                             "body": "@triggerBody()?['password']"},
                             "runAfter": {"Gate": ["Succeeded"]}}
        }
    }, "kind": "Stateful"});
    let key = Arc::new(MasterKey::from_keys(&[[5u8; 32]]));
    let run = interrupt_and_resume_with(
        dir.path(),
        Some(master_key_sealer(key)),
        &doc,
        json!({"headers": {}, "body": {"password": TRIGGER_SECRET}}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(
        service.received.lock().expect("lock").clone(),
        [TRIGGER_SECRET],
        "the resumed run read the trigger outputs from the sealed journal"
    );
    let record = run
        .store
        .get_run(&run.run_id)
        .await
        .expect("read")
        .expect("stored");
    assert!(
        record.trigger.get("outputs").is_none(),
        "{:?}",
        record.trigger
    );
    assert_eq!(
        record.trigger["secureData"]["properties"],
        json!(["outputs"])
    );
    let used = run
        .store
        .get_action(&run.run_id, "Use_password")
        .await
        .expect("read")
        .expect("recorded");
    assert!(
        used.inputs.is_none(),
        "inputs reading the trigger are hidden"
    );
    let bytes = database_bytes(dir.path());
    assert!(
        !contains(&bytes, TRIGGER_SECRET),
        "the trigger's secret is on disk in plain text"
    );
    assert!(contains(&bytes, "Use_password"));
}
