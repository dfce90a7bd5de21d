//! Peak memory of one Foreach run as its item count grows, to check that the
//! engine's memory stays bounded rather than growing with the history it writes.
//!
//!   cargo run --release -p conflux-engine --example foreach_memory -- 100000 Stateful
//!
//! Prints the item count, the workflow kind, the run's wall time and the
//! process's peak RSS (VmHWM). The store is a SQLite file in a temp folder.

use std::sync::Arc;
use std::time::Instant;

use conflux_definition::Workflow;
use conflux_engine::{Engine, EngineOptions, StartRun, WorkflowRegistration};
use conflux_store::{RunStatus, SqliteStore, Store};
use serde_json::json;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let items: usize = args.next().as_deref().unwrap_or("100000").parse()?;
    let kind = args.next().unwrap_or_else(|| "Stateful".to_string());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("m.db")).await?);
        let engine = Engine::new(EngineOptions::new(store));
        let doc = json!({"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}}, "actions": {
            "Loop": {"type": "Foreach", "foreach": format!("@range(0, {items})"),
                     "runtimeConfiguration": {"concurrency": {"repetitions": 50}},
                     "actions": {"Square": {"type": "Compose", "inputs": "@mul(item(), item())"}}}
        }}, "kind": kind});
        let workflow = Workflow::from_json(&doc).map_err(|e| format!("{e:?}"))?;
        engine.register_workflow(WorkflowRegistration::new("loop", Arc::new(workflow)))?;
        let started = Instant::now();
        let handle = engine
            .start_run(StartRun::new("loop", "manual", json!({"body": {}})))
            .await?;
        let outcome = handle.completion.await?;
        let took = started.elapsed();
        if outcome.status != RunStatus::Succeeded {
            return Err(format!("the run ended {:?}", outcome.status).into());
        }
        engine.shutdown().await;
        println!(
            "{items} items, {kind}: {:.2} s, peak RSS {} MiB",
            took.as_secs_f64(),
            peak_rss_kib() / 1024
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
