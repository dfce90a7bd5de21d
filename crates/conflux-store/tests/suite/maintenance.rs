//! Retention and concurrent writers.

use super::*;

pub async fn purge_removes_old_finished_runs(h: &dyn Harness) {
    let store = h.open().await.store;
    let cutoff = t0() + Duration::days(1);
    let old_done = run("w", 0);
    let old_running = run("w", 10);
    let new_done = run("w", 2 * 86_400);
    let mut batch = WriteBatch::new();
    for r in [&old_done, &old_running, &new_done] {
        batch
            .create_run(r.clone())
            .append_event(event(&r.run_id, 1, json!({})))
            .upsert_action(ActionRecord::new(
                r.run_id.clone(),
                "A",
                ActionStatus::Succeeded,
            ));
        batch.record_trigger_history(history(&r.run_id, r.start_time, true));
    }
    let unfired_old = RunId::from_parts(t0() + Duration::seconds(5), 1);
    let unfired_new = RunId::from_parts(cutoff + Duration::seconds(5), 1);
    batch.record_trigger_history(history(&unfired_old, t0() + Duration::seconds(5), false));
    batch.record_trigger_history(history(&unfired_new, cutoff + Duration::seconds(5), false));
    store.commit(batch).await.unwrap();
    finish(&store, &old_done.run_id, RunStatus::Succeeded).await;
    finish(&store, &new_done.run_id, RunStatus::Failed).await;

    assert_eq!(store.purge_older_than(cutoff).await.unwrap(), 1);
    assert_eq!(store.get_run(&old_done.run_id).await.unwrap(), None);
    assert!(store
        .load_journal(&old_done.run_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .list_actions(&old_done.run_id)
        .await
        .unwrap()
        .is_empty());
    assert!(
        store.get_run(&old_running.run_id).await.unwrap().is_some(),
        "unfinished runs are kept"
    );
    assert!(store.get_run(&new_done.run_id).await.unwrap().is_some());
    assert_eq!(store.list_actions(&new_done.run_id).await.unwrap().len(), 1);
    let remaining: Vec<RunId> = store
        .list_trigger_histories(&wf("w"), "manual", &HistoryQuery::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.id)
        .collect();
    let mut expected = vec![
        old_running.run_id.clone(),
        new_done.run_id.clone(),
        unfired_new,
    ];
    expected.sort();
    assert_eq!(remaining, expected);
    assert_eq!(store.purge_older_than(cutoff).await.unwrap(), 0);
}

fn history(id: &RunId, start: DateTime<Utc>, fired: bool) -> TriggerHistoryRecord {
    TriggerHistoryRecord {
        workflow: wf("w"),
        trigger: "manual".into(),
        id: id.clone(),
        status: if fired {
            ActionStatus::Succeeded
        } else {
            ActionStatus::Skipped
        },
        code: None,
        error: None,
        start_time: start,
        end_time: None,
        fired,
        run_id: fired.then(|| id.clone()),
        inputs: None,
        outputs: None,
    }
}

pub async fn purge_returns_space(h: &dyn Harness) {
    let store = h.open().await.store;
    let blob = "x".repeat(16 * 1024);
    let mut peaks = Vec::new();
    let mut after_purge = Vec::new();
    for round in 0..3i64 {
        for chunk in 0..4i64 {
            let mut batch = WriteBatch::new();
            for i in 0..50 {
                let mut r = run("big", round * 10_000 + chunk * 100 + i);
                r.status = RunStatus::Succeeded;
                let mut a = ActionRecord::new(r.run_id.clone(), "Blob", ActionStatus::Succeeded);
                a.outputs = Some(json!({ "body": blob }));
                batch
                    .create_run(r.clone())
                    .upsert_action(a)
                    .append_event(event(&r.run_id, 1, json!({ "body": blob })));
            }
            store.commit(batch).await.unwrap();
        }
        peaks.push(
            store
                .stats()
                .await
                .unwrap()
                .size_bytes
                .expect("backend reports its size"),
        );
        assert_eq!(
            store
                .purge_older_than(t0() + Duration::days(365))
                .await
                .unwrap(),
            200
        );
        after_purge.push(store.stats().await.unwrap().size_bytes.expect("size"));
    }
    assert!(
        peaks[0] > 200 * 2 * 16 * 1024,
        "the payloads are stored: {peaks:?}"
    );
    for (peak, after) in peaks.iter().zip(&after_purge) {
        assert!(
            *after < peak / 4,
            "purging gives the space back: peak {peak}, after {after}"
        );
    }
    assert!(
        peaks[2] <= peaks[0] + peaks[0] / 10,
        "the file does not keep growing: {peaks:?}"
    );
}

pub async fn concurrent_commits_are_durable_and_grouped(h: &dyn Harness) {
    let opened = h.open().await;
    let store = opened.store;
    let before = store.stats().await.unwrap();
    let pause = opened.pause_writer.as_ref().map(|pause| pause());
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let r = run("busy", i);
                let mut batch = WriteBatch::new();
                batch.create_run(r.clone());
                for seq in 1..=5 {
                    batch.append_event(event(&r.run_id, seq, json!({"seq": seq})));
                }
                store.commit(batch).await.map(|()| r.run_id)
            })
        })
        .collect();
    if pause.is_some() {
        // All 50 batches are queued behind the paused writer before it resumes.
        while store.stats().await.unwrap().pending < 50 {
            tokio::task::yield_now().await;
        }
    }
    drop(pause);
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task").expect("commit"));
    }
    for id in &ids {
        assert_eq!(store.load_journal(id).await.unwrap().len(), 5);
    }
    let all = store
        .list_runs(
            &wf("busy"),
            &RunQuery {
                top: Some(100),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 50);
    let after = store.stats().await.unwrap();
    assert_eq!(after.batches_committed - before.batches_committed, 50);
    assert_eq!(after.pending, 0);
    let transactions = after.transactions - before.transactions;
    if opened.pause_writer.is_some() {
        assert!(
            transactions < 50,
            "group commit: {transactions} transactions for 50 batches"
        );
    }
}

pub async fn refused_batch_does_not_spoil_its_group(h: &dyn Harness) {
    let opened = h.open().await;
    let store = opened.store;
    let finished = run("w", 0);
    create(&store, &finished).await;
    finish(&store, &finished.run_id, RunStatus::Failed).await;

    let pause = opened.pause_writer.as_ref().map(|pause| pause());
    let good_a = run("w", 1);
    let good_b = run("w", 2);
    let submit = |fill: WriteBatch| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.commit(fill).await })
    };
    let mut a = WriteBatch::new();
    a.create_run(good_a.clone());
    let mut bad = WriteBatch::new();
    bad.create_run(run("w", 3)).transition(RunTransition::new(
        finished.run_id.clone(),
        RunStatus::Succeeded,
    ));
    let mut b = WriteBatch::new();
    b.create_run(good_b.clone());
    let tasks = [submit(a), submit(bad), submit(b)];
    if pause.is_some() {
        while store.stats().await.unwrap().pending < 3 {
            tokio::task::yield_now().await;
        }
    }
    drop(pause);
    let [a, bad, b] = tasks;
    assert!(a.await.unwrap().is_ok());
    assert!(matches!(
        bad.await.unwrap(),
        Err(StoreError::Conflict { .. })
    ));
    assert!(b.await.unwrap().is_ok());
    assert!(store.get_run(&good_a.run_id).await.unwrap().is_some());
    assert!(store.get_run(&good_b.run_id).await.unwrap().is_some());
    assert_eq!(
        store.get_run(&run("w", 3).run_id).await.unwrap(),
        None,
        "the refused batch left nothing"
    );
    assert_eq!(
        store
            .get_run(&finished.run_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        RunStatus::Failed
    );
}

pub async fn close_finishes_queued_writes_then_refuses(h: &dyn Harness) {
    let opened = h.open().await;
    let store = opened.store;
    let queued = run("w", 0);
    let pause = opened.pause_writer.as_ref().map(|pause| pause());
    let mut write = {
        let (store, queued) = (Arc::clone(&store), queued.clone());
        Box::pin(async move {
            let mut batch = WriteBatch::new();
            batch.create_run(queued);
            store.commit(batch).await
        })
    };
    // One poll hands the write to the writer's queue (there is room in it):
    // from then on it is ahead of the close, whichever thread runs what.
    let mut early = None;
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(result) = std::future::Future::poll(write.as_mut(), cx) {
            early = Some(result);
        }
        std::task::Poll::Ready(())
    })
    .await;
    let closing = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.close().await })
    };
    drop(pause);
    let written = match early {
        Some(result) => result,
        None => write.await,
    };
    written.expect("a write queued before close is committed");
    closing.await.unwrap().unwrap();

    let late = commit_one(&store, |b| {
        b.create_run(run("w", 1));
    })
    .await;
    assert!(matches!(late, Err(StoreError::Closed { .. })), "{late:?}");
    assert!(matches!(
        store.get_run(&queued.run_id).await,
        Err(StoreError::Closed { .. })
    ));
    store.close().await.expect("closing twice is fine");
}

pub async fn closed_writes_are_there_after_reopen(h: &dyn Harness) {
    let store = h.open().await.store;
    let record = run("w", 0);
    create(&store, &record).await;
    store.close().await.unwrap();
    let reopened = h.open().await.store;
    assert_eq!(
        reopened.get_run(&record.run_id).await.unwrap(),
        Some(record)
    );
}
