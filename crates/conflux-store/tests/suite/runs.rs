//! Runs, actions, repetitions and journals.

use super::*;

pub async fn run_lifecycle(h: &dyn Harness) {
    let store = h.open().await.store;
    let version = WorkflowVersion::new(wf("orders"), json!({"definition": {"triggers": {}}}), t0());
    store.put_workflow_version(version.clone()).await.unwrap();
    store.put_workflow_version(version.clone()).await.unwrap();
    assert_eq!(
        store
            .get_workflow_version(&wf("orders"), &version.version_id)
            .await
            .unwrap(),
        Some(version.clone())
    );
    assert_eq!(
        store
            .get_workflow_version(&wf("orders"), "other")
            .await
            .unwrap(),
        None
    );

    let mut record = run("orders", 0);
    record.version_id = version.version_id.clone();
    record.client_tracking_id = Some("client-1".into());
    let id = record.run_id.clone();
    let mut started = ActionRecord::new(id.clone(), "Compose", ActionStatus::Running);
    started.start_time = Some(t0());
    commit_one(&store, |b| {
        b.create_run(record.clone())
            .append_event(event(&id, 1, json!({"type": "RunStarted"})))
            .upsert_action(started.clone());
    })
    .await
    .unwrap();
    assert_eq!(store.get_run(&id).await.unwrap(), Some(record.clone()));
    assert_eq!(store.incomplete_runs().await.unwrap().len(), 1);

    // A Response action answers while the run keeps running.
    let mut respond = RunTransition::new(id.clone(), RunStatus::Running);
    respond.response = Some(json!({"statusCode": 202}));
    let mut done = started.clone();
    done.status = ActionStatus::Succeeded;
    done.end_time = Some(t0() + Duration::seconds(1));
    done.inputs = Some(json!({"a": 1}));
    done.outputs = Some(json!([1, 2]));
    done.tracked_properties = Some(json!({"order": "o-1"}));
    done.retry_history = vec![json!({"code": "BadGateway"})];
    commit_one(&store, |b| {
        b.upsert_action(done.clone()).transition(respond);
    })
    .await
    .unwrap();
    let running = store.get_run(&id).await.unwrap().unwrap();
    assert_eq!(running.status, RunStatus::Running);
    assert_eq!(running.response, Some(json!({"statusCode": 202})));

    let mut end = RunTransition::new(id.clone(), RunStatus::Succeeded);
    end.end_time = Some(t0() + Duration::seconds(2));
    end.outputs = Some(json!({"total": 3}));
    commit_one(&store, |b| {
        b.transition(end);
    })
    .await
    .unwrap();
    let finished = store.get_run(&id).await.unwrap().unwrap();
    assert_eq!(finished.status, RunStatus::Succeeded);
    assert_eq!(finished.end_time, Some(t0() + Duration::seconds(2)));
    assert_eq!(finished.outputs, Some(json!({"total": 3})));
    assert_eq!(
        finished.response,
        Some(json!({"statusCode": 202})),
        "fields left None keep their value"
    );
    assert_eq!(finished.client_tracking_id.as_deref(), Some("client-1"));
    assert!(store.incomplete_runs().await.unwrap().is_empty());

    assert_eq!(store.list_actions(&id).await.unwrap(), vec![done.clone()]);
    assert_eq!(store.get_action(&id, "Compose").await.unwrap(), Some(done));
    assert_eq!(store.get_action(&id, "Missing").await.unwrap(), None);
    assert_eq!(store.get_run(&RunId::new("nope")).await.unwrap(), None);
}

pub async fn checked_transitions(h: &dyn Harness) {
    let store = h.open().await.store;
    let record = run("w", 0);
    let id = record.run_id.clone();
    create(&store, &record).await;
    finish(&store, &id, RunStatus::Succeeded).await;

    // A finished run never flips back, and the refused batch leaves no trace.
    let refused = commit_one(&store, |b| {
        b.append_event(event(&id, 7, json!("late")))
            .transition(RunTransition::new(id.clone(), RunStatus::Running));
    })
    .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    assert!(store.load_journal(&id).await.unwrap().is_empty());
    let other = commit_one(&store, |b| {
        b.transition(RunTransition::new(id.clone(), RunStatus::Failed));
    })
    .await;
    assert!(matches!(other, Err(StoreError::Conflict { .. })));
    assert_eq!(
        store.get_run(&id).await.unwrap().unwrap().status,
        RunStatus::Succeeded
    );

    // Replaying the same final transition is accepted.
    finish(&store, &id, RunStatus::Succeeded).await;

    let unknown = RunId::new("unknown");
    let missing = commit_one(&store, |b| {
        b.transition(RunTransition::new(unknown.clone(), RunStatus::Failed));
    })
    .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    let orphan = commit_one(&store, |b| {
        b.append_event(event(&unknown, 1, json!({})));
    })
    .await;
    assert!(
        matches!(orphan, Err(StoreError::NotFound { .. })),
        "{orphan:?}"
    );
    let duplicate = commit_one(&store, |b| {
        b.create_run(record.clone());
    })
    .await;
    assert!(matches!(duplicate, Err(StoreError::Conflict { .. })));

    // A finished action is final too: a late Running upsert is ignored.
    let mut action = ActionRecord::new(id.clone(), "Http", ActionStatus::Failed);
    action.code = Some("BadRequest".into());
    commit_one(&store, |b| {
        b.upsert_action(action.clone());
    })
    .await
    .unwrap();
    let late = ActionRecord::new(id.clone(), "Http", ActionStatus::Running);
    commit_one(&store, |b| {
        b.upsert_action(late);
    })
    .await
    .unwrap();
    assert_eq!(store.get_action(&id, "Http").await.unwrap(), Some(action));

    let stats = store.stats().await.unwrap();
    assert!(stats.batches_failed >= 4, "{stats:?}");
}

pub async fn journal_append_is_idempotent_and_ordered(h: &dyn Harness) {
    let store = h.open().await.store;
    let record = run("w", 0);
    let id = record.run_id.clone();
    create(&store, &record).await;
    commit_one(&store, |b| {
        b.append_event(event(&id, 1, json!({"n": 1})))
            .append_event(event(&id, 2, json!({"n": 2})))
            .append_event(event(&id, 5, json!({"n": 5})));
    })
    .await
    .unwrap();
    // Replay after a crash: 2 again (with whatever payload), then new events out of order.
    commit_one(&store, |b| {
        b.append_event(event(&id, 2, json!({"n": "replayed"})))
            .append_event(event(&id, 4, json!({"n": 4})))
            .append_event(event(&id, 3, json!({"n": 3})));
    })
    .await
    .unwrap();
    let journal = store.load_journal(&id).await.unwrap();
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(
        journal[1].payload,
        json!({"n": 2}),
        "the first write of a seq wins"
    );
    assert_eq!(journal[4], event(&id, 5, json!({"n": 5})));

    let other = run("w", 1);
    create(&store, &other).await;
    assert!(store.load_journal(&other.run_id).await.unwrap().is_empty());
}

pub async fn runs_page_newest_first_with_status_filter(h: &dyn Harness) {
    let store = h.open().await.store;
    let mut batch = WriteBatch::new();
    for i in 0..75 {
        let mut r = run("paged", i);
        if i % 3 == 0 {
            r.status = RunStatus::Failed;
        }
        batch.create_run(r);
    }
    batch.create_run(run("elsewhere", 1000));
    store.commit(batch).await.unwrap();

    let mut seen = Vec::new();
    let mut query = RunQuery::default();
    let mut pages = 0;
    loop {
        let page = store.list_runs(&wf("paged"), &query).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 30);
        seen.extend(page.items.iter().map(|r| r.start_time));
        match page.next {
            Some(next) => query.continuation = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<_> = (0..75).rev().map(|i| t0() + Duration::seconds(i)).collect();
    assert_eq!(seen, expected, "all runs, newest first, each once");

    let failed = store
        .list_runs(
            &wf("paged"),
            &RunQuery {
                status: Some(RunStatus::Failed),
                top: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let offsets: Vec<i64> = failed
        .items
        .iter()
        .map(|r| (r.start_time - t0()).num_seconds())
        .collect();
    assert_eq!(offsets, [72, 69, 66, 63, 60, 57, 54, 51, 48, 45]);
    assert!(failed.items.iter().all(|r| r.status == RunStatus::Failed));
    assert!(failed.next.is_some());

    let recent = RunQuery {
        started_after: Some(t0() + Duration::seconds(70)),
        top: Some(1000),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_runs(&wf("paged"), &recent)
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    let all = store
        .list_runs(
            &wf("paged"),
            &RunQuery {
                top: Some(1000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((all.items.len(), all.next), (75, None));

    assert_eq!(store.count_runs(&wf("paged"), None).await.unwrap(), 75);
    assert_eq!(
        store
            .count_runs(&wf("paged"), Some(RunStatus::Failed))
            .await
            .unwrap(),
        25
    );
    assert_eq!(
        store
            .count_runs(&wf("paged"), Some(RunStatus::Waiting))
            .await
            .unwrap(),
        0
    );

    let bad = RunQuery {
        continuation: Some(ContinuationToken::new("garbage")),
        ..Default::default()
    };
    assert!(matches!(
        store.list_runs(&wf("paged"), &bad).await,
        Err(StoreError::InvalidInput { .. })
    ));
    assert!(store
        .list_runs(&wf("unknown"), &RunQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

pub async fn repetitions_and_summaries(h: &dyn Harness) {
    let store = h.open().await.store;
    let record = run("loops", 0);
    let id = record.run_id.clone();
    create(&store, &record).await;

    let rep = |index: u32, status: ActionStatus| {
        let mut a = ActionRecord::new(id.clone(), "Inner", status);
        a.repetition = RepetitionKey::from_indexes(&[index]);
        a.repetition_indexes = vec![("For_each".into(), index)];
        a.start_time = Some(t0() + Duration::seconds(i64::from(index)));
        a.outputs = Some(json!({"i": index}));
        a
    };
    for index in 0..3 {
        commit_one(&store, |b| {
            b.upsert_action(rep(index, ActionStatus::Running));
        })
        .await
        .unwrap();
        let status = if index == 1 {
            ActionStatus::Failed
        } else {
            ActionStatus::Succeeded
        };
        commit_one(&store, |b| {
            b.upsert_action(rep(index, status));
        })
        .await
        .unwrap();
    }
    let mut container = ActionRecord::new(id.clone(), "For_each", ActionStatus::Failed);
    container.iteration_count = Some(3);
    container.start_time = Some(t0());
    commit_one(&store, |b| {
        b.upsert_action(container.clone());
    })
    .await
    .unwrap();

    let reps = store.list_repetitions(&id, "Inner").await.unwrap();
    assert_eq!(
        reps.iter()
            .map(|r| r.repetition.as_str())
            .collect::<Vec<_>>(),
        ["000000", "000001", "000002"]
    );
    assert_eq!(reps[1].status, ActionStatus::Failed);
    assert_eq!(reps[1].repetition_indexes, vec![("For_each".to_owned(), 1)]);
    assert_eq!(reps[2].outputs, Some(json!({"i": 2})));
    assert_eq!(
        store
            .get_repetition(&id, "Inner", &RepetitionKey::from_indexes(&[1]))
            .await
            .unwrap(),
        Some(reps[1].clone())
    );

    let summary = store
        .get_action(&id, "Inner")
        .await
        .unwrap()
        .expect("summary record");
    assert_eq!(
        summary.status,
        ActionStatus::Succeeded,
        "status of the last written repetition"
    );
    assert_eq!(summary.iteration_count, Some(3));
    assert_eq!(
        summary.start_time,
        Some(t0()),
        "the first repetition's start"
    );
    assert_eq!(summary.outputs, None);

    let top: Vec<String> = store
        .list_actions(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(top, ["For_each", "Inner"]);

    // Nested loops: keys join the indexes outermost first.
    let mut nested = ActionRecord::new(id.clone(), "Deep", ActionStatus::Succeeded);
    nested.repetition = RepetitionKey::from_indexes(&[1, 3]);
    commit_one(&store, |b| {
        b.upsert_action(nested);
    })
    .await
    .unwrap();
    let deep = store.list_repetitions(&id, "Deep").await.unwrap();
    assert_eq!(deep[0].repetition.as_str(), "000001-000003");
}

pub async fn secured_sections_never_stored(h: &dyn Harness) {
    let store = h.open().await.store;
    let record = run("w", 0);
    create(&store, &record).await;
    let mut action = ActionRecord::new(record.run_id.clone(), "Login", ActionStatus::Succeeded);
    action.inputs = Some(json!({"password": "hunter2"}));
    action.outputs = Some(json!({"token": "abc"}));
    action.secured_sections = vec!["inputs".into()];
    commit_one(&store, |b| {
        b.upsert_action(action);
    })
    .await
    .unwrap();
    let stored = store
        .get_action(&record.run_id, "Login")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.inputs, None);
    assert_eq!(stored.outputs, Some(json!({"token": "abc"})));
    assert_eq!(stored.secured_sections, ["inputs"]);
}

pub async fn workflow_versions_dedupe_and_list_newest_first(h: &dyn Harness) {
    let store = h.open().await.store;
    let first_doc = json!({"definition": {"actions": {"A": {"type": "Compose", "inputs": 1}}}});
    let second_doc = json!({"definition": {"actions": {"A": {"type": "Compose", "inputs": 2}}}});
    let first = WorkflowVersion::new(wf("orders"), first_doc.clone(), t0());
    let second = WorkflowVersion::new(wf("orders"), second_doc, t0() + Duration::minutes(5));
    assert_ne!(first.version_id, second.version_id);

    // The same document stored again later keeps its id and first creation time.
    let again = WorkflowVersion::new(wf("orders"), first_doc.clone(), t0() + Duration::hours(1));
    assert_eq!(again.version_id, first.version_id);
    // The same document under another workflow is that workflow's own version.
    let other = WorkflowVersion::new(wf("billing"), first_doc, t0() + Duration::minutes(1));
    commit_one(&store, |b| {
        b.put_workflow_version(first.clone())
            .put_workflow_version(other.clone());
    })
    .await
    .unwrap();
    store.put_workflow_version(second.clone()).await.unwrap();
    store.put_workflow_version(again).await.unwrap();

    let listed = store.list_workflow_versions(&wf("orders")).await.unwrap();
    assert_eq!(
        listed,
        vec![second.clone(), first.clone()],
        "newest first, deduplicated"
    );
    assert_eq!(
        store.list_workflow_versions(&wf("billing")).await.unwrap(),
        vec![other]
    );
    assert!(store
        .list_workflow_versions(&wf("nothing"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .get_workflow_version(&wf("orders"), &first.version_id)
            .await
            .unwrap()
            .map(|v| v.created),
        Some(t0())
    );
}
