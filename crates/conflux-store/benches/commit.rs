//! Commit throughput of the SQLite store: many tasks each committing a small
//! engine-step batch (1 new run, 5 journal events, 3 action upserts), so the
//! writer's group commit shares each fsync among them.
//!
//! `cargo bench -p conflux-store -- --quick`

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use conflux_store::{
    ActionRecord, ActionStatus, JournalEvent, RunId, RunRecord, SqliteConfig, SqliteStore, Store,
    Synchronous, WorkflowName, WriteBatch,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::json;

static NEXT: AtomicI64 = AtomicI64::new(0);

fn step_batch() -> WriteBatch {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
        + Duration::microseconds(n);
    let run_id = RunId::generate(start);
    let mut batch = WriteBatch::new();
    batch.create_run(RunRecord::new(
        run_id.clone(),
        WorkflowName::new("bench"),
        "v1",
        "manual",
        start,
    ));
    for seq in 1..=5 {
        batch.append_event(JournalEvent {
            run_id: run_id.clone(),
            seq,
            at: start,
            payload: json!({"type": "ActionCompleted", "seq": seq}),
        });
    }
    for name in ["Parse", "Compose", "Send"] {
        let mut action = ActionRecord::new(run_id.clone(), name, ActionStatus::Succeeded);
        action.start_time = Some(start);
        action.outputs = Some(json!({"statusCode": 200, "body": {"id": n, "name": name}}));
        batch.upsert_action(action);
    }
    batch
}

fn commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut group = c.benchmark_group("commit");
    for (label, synchronous) in [("full", Synchronous::Full), ("normal", Synchronous::Normal)] {
        let config = SqliteConfig {
            synchronous,
            ..SqliteConfig::default()
        };
        let path = dir.path().join(format!("{label}.db"));
        let store: Arc<dyn Store> = Arc::new(
            rt.block_on(SqliteStore::open_with(path, config))
                .expect("open store"),
        );
        for tasks in [1usize, 64] {
            group.throughput(Throughput::Elements(tasks as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("sync_{label}"), format!("{tasks}_tasks")),
                &tasks,
                |b, &tasks| {
                    b.to_async(&rt).iter(|| {
                        let store = Arc::clone(&store);
                        async move {
                            let handles: Vec<_> = (0..tasks)
                                .map(|_| {
                                    let store = Arc::clone(&store);
                                    tokio::spawn(async move { store.commit(step_batch()).await })
                                })
                                .collect();
                            for handle in handles {
                                handle.await.expect("task").expect("commit");
                            }
                        }
                    });
                },
            );
        }
        let stats = rt.block_on(store.stats()).expect("stats");
        println!(
            "sync_{label}: {} batches in {} transactions ({:.1} batches per transaction)",
            stats.batches_committed,
            stats.transactions,
            stats.batches_committed as f64 / stats.transactions.max(1) as f64
        );
    }
    group.finish();
}

criterion_group!(benches, commit);
criterion_main!(benches);
