//! Engine throughput: a chain of 100 Compose actions (actions/s), a Foreach over
//! 100,000 items (peak RSS printed), and stateful (SQLite on disk) against
//! stateless runs of a small workflow, one at a time and with 64 in flight
//! (the concurrent case shows what the store's group commit gives).

use std::sync::Arc;

use conflux_definition::Workflow;
use conflux_engine::{Engine, EngineOptions, StartRun, WorkflowRegistration};
use conflux_store::{SqliteStore, Store};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Map, Value};

fn chain(n: usize, kind: &str) -> Value {
    let mut actions = Map::new();
    for i in 0..n {
        let mut a = json!({"type": "Compose", "inputs": {"step": i, "prev": if i == 0 { json!("@triggerBody()") } else { json!(format!("@outputs('C{}')", i - 1)) }}});
        if i > 0 {
            a["runAfter"] = json!({format!("C{}", i - 1): ["Succeeded"]});
        }
        actions.insert(format!("C{i}"), a);
    }
    json!({"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}}, "actions": actions}, "kind": kind})
}

fn foreach(items: usize) -> Value {
    json!({"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}}, "actions": {
        "Loop": {"type": "Foreach", "foreach": format!("@range(0, {items})"), "runtimeConfiguration": {"concurrency": {"repetitions": 50}},
                 "actions": {"Square": {"type": "Compose", "inputs": "@mul(item(), item())"}}}
    }}, "kind": "Stateless"})
}

fn engine_with(
    rt: &tokio::runtime::Runtime,
    store: Arc<dyn Store>,
    docs: &[(&str, Value)],
) -> Engine {
    let _guard = rt.enter();
    let engine = Engine::new(EngineOptions::new(store));
    for (name, doc) in docs {
        let wf = Workflow::from_json(doc).expect("valid benchmark workflow");
        engine
            .register_workflow(WorkflowRegistration::new(*name, Arc::new(wf)))
            .expect("registered");
    }
    engine
}

async fn run_once(engine: &Engine, name: &str) {
    let handle = engine
        .start_run(StartRun::new(name, "manual", json!({"body": {"x": 1}})))
        .await
        .expect("started");
    let outcome = handle.completion.await.expect("finished");
    assert_eq!(outcome.status, conflux_store::RunStatus::Succeeded);
}

/// Runs `total` runs, keeping `in_flight` of them going at any time, as a
/// busy server would.
async fn run_many(engine: &Engine, name: &str, total: usize, in_flight: usize) {
    use futures::StreamExt;
    futures::stream::iter(0..total)
        .map(|_| run_once(engine, name))
        .buffer_unordered(in_flight)
        .collect::<Vec<()>>()
        .await;
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let memory: Arc<dyn Store> =
        rt.block_on(async { Arc::new(SqliteStore::open_in_memory().await.expect("store")) });
    let dir = tempfile::tempdir().expect("temp dir");
    let disk: Arc<dyn Store> = rt.block_on(async {
        Arc::new(
            SqliteStore::open(dir.path().join("bench.db"))
                .await
                .expect("store"),
        )
    });

    let stateless = engine_with(
        &rt,
        memory.clone(),
        &[
            ("chain", chain(100, "Stateless")),
            ("small", chain(5, "Stateless")),
            ("loop", foreach(100_000)),
        ],
    );
    let stateful = engine_with(&rt, disk.clone(), &[("small", chain(5, "Stateful"))]);

    let mut g = c.benchmark_group("chain_100_compose");
    g.throughput(Throughput::Elements(100));
    g.bench_function("in_memory", |b| {
        b.to_async(&rt).iter(|| run_once(&stateless, "chain"))
    });
    g.finish();

    let mut g = c.benchmark_group("runs_of_5_compose");
    g.throughput(Throughput::Elements(1));
    g.bench_function("stateless", |b| {
        b.to_async(&rt).iter(|| run_once(&stateless, "small"))
    });
    g.bench_function("stateful_sqlite", |b| {
        b.to_async(&rt).iter(|| run_once(&stateful, "small"))
    });
    g.finish();

    let mut g = c.benchmark_group("runs_of_5_compose_64_in_flight");
    g.throughput(Throughput::Elements(512));
    g.bench_function("stateful_sqlite", |b| {
        b.to_async(&rt)
            .iter(|| run_many(&stateful, "small", 512, 64))
    });
    g.finish();
    if let Ok(stats) = rt.block_on(disk.stats()) {
        println!(
            "stateful store: {} batches in {} transactions",
            stats.batches_committed, stats.transactions
        );
    }

    let mut g = c.benchmark_group("foreach_100k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("stateless", |b| {
        b.to_async(&rt).iter(|| run_once(&stateless, "loop"))
    });
    g.finish();
    if let Some(kib) = peak_rss_kib() {
        println!("peak RSS after foreach_100k: {} MiB", kib / 1024);
    }
}

criterion_group!(engine, benches);
criterion_main!(engine);
