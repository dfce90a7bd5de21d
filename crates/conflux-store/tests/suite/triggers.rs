//! Trigger histories, trigger state, reopening and the key-value area.

use super::*;

pub async fn trigger_histories_page_newest_first(h: &dyn Harness) {
    let store = h.open().await.store;
    let mut batch = WriteBatch::new();
    let mut fired_run = None;
    for i in 0..35 {
        let start = t0() + Duration::seconds(i);
        let id = RunId::from_parts(start, 7);
        let fired = i % 5 == 0;
        if fired {
            let mut r = run("poller", i);
            r.run_id = id.clone();
            batch.create_run(r);
            fired_run = Some(id.clone());
        }
        batch.record_trigger_history(TriggerHistoryRecord {
            workflow: wf("poller"),
            trigger: "check".into(),
            id: id.clone(),
            status: if fired {
                ActionStatus::Succeeded
            } else {
                ActionStatus::Skipped
            },
            code: None,
            error: None,
            start_time: start,
            end_time: Some(start),
            fired,
            run_id: fired.then(|| id.clone()),
            inputs: Some(json!({"uri": "http://127.0.0.1/items"})),
            outputs: fired.then(|| json!({"body": [i]})),
        });
    }
    store.commit(batch).await.unwrap();

    let first = store
        .list_trigger_histories(&wf("poller"), "check", &HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(first.items.len(), 30);
    assert_eq!(first.items[0].start_time, t0() + Duration::seconds(34));
    let second = store
        .list_trigger_histories(
            &wf("poller"),
            "check",
            &HistoryQuery {
                continuation: first.next.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.items.len(), 5);
    assert_eq!(second.next, None);
    assert_eq!(second.items[4].start_time, t0());

    let fired_id = fired_run.expect("some entry fired");
    let entry = store
        .get_trigger_history(&wf("poller"), "check", &fired_id)
        .await
        .unwrap()
        .expect("entry");
    assert!(entry.fired);
    assert_eq!(entry.run_id.as_ref(), Some(&fired_id));
    assert_eq!(entry.outputs, Some(json!({"body": [30]})));

    let mut updated = entry.clone();
    updated.status = ActionStatus::Failed;
    updated.code = Some("Gone".into());
    commit_one(&store, |b| {
        b.record_trigger_history(updated.clone());
    })
    .await
    .unwrap();
    assert_eq!(
        store
            .get_trigger_history(&wf("poller"), "check", &fired_id)
            .await
            .unwrap(),
        Some(updated)
    );
    assert!(store
        .list_trigger_histories(&wf("poller"), "other", &HistoryQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

pub async fn trigger_state_set_and_reset(h: &dyn Harness) {
    let store = h.open().await.store;
    let (w, t) = (wf("poller"), "check");
    assert_eq!(store.get_trigger_state(&w, t).await.unwrap(), None);
    store
        .put_trigger_state(&w, t, Some(json!({"cursor": 10})))
        .await
        .unwrap();
    store
        .put_trigger_state(&w, t, Some(json!({"cursor": 11})))
        .await
        .unwrap();
    store
        .put_trigger_state(&w, "other", Some(json!({"next": "2026-03-02T00:00:00Z"})))
        .await
        .unwrap();
    assert_eq!(
        store.get_trigger_state(&w, t).await.unwrap(),
        Some(json!({"cursor": 11}))
    );
    store
        .put_trigger_state(&wf("gone"), "hook", Some(json!({"subscription": "x"})))
        .await
        .unwrap();
    let listed = |states: Vec<TriggerState>| {
        states
            .into_iter()
            .map(|s| (s.workflow.as_str().to_string(), s.trigger, s.state))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(store.list_trigger_states().await.unwrap()),
        vec![
            ("gone".into(), "hook".into(), json!({"subscription": "x"})),
            ("poller".into(), "check".into(), json!({"cursor": 11})),
            (
                "poller".into(),
                "other".into(),
                json!({"next": "2026-03-02T00:00:00Z"})
            ),
        ]
    );
    store.put_trigger_state(&w, t, None).await.unwrap();
    assert_eq!(store.get_trigger_state(&w, t).await.unwrap(), None);
    assert!(store
        .get_trigger_state(&w, "other")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        listed(store.list_trigger_states().await.unwrap())
            .into_iter()
            .map(|(w, t, _)| format!("{w}/{t}"))
            .collect::<Vec<_>>(),
        ["gone/hook", "poller/other"]
    );
}

pub async fn trigger_state_survives_reopen(h: &dyn Harness) {
    let store = h.open().await.store;
    store
        .put_trigger_state(&wf("poller"), "check", Some(json!({"cursor": "abc"})))
        .await
        .unwrap();
    store.close().await.unwrap();
    drop(store);
    let reopened = h.open().await.store;
    assert_eq!(
        reopened
            .get_trigger_state(&wf("poller"), "check")
            .await
            .unwrap(),
        Some(json!({"cursor": "abc"}))
    );
}

pub async fn runs_and_journal_survive_reopen(h: &dyn Harness) {
    let store = h.open().await.store;
    let record = run("w", 0);
    let id = record.run_id.clone();
    commit_one(&store, |b| {
        b.create_run(record.clone())
            .append_event(event(&id, 1, json!({"type": "RunStarted"})));
    })
    .await
    .unwrap();
    store.close().await.unwrap();
    drop(store);
    let reopened = h.open().await.store;
    assert_eq!(reopened.incomplete_runs().await.unwrap(), vec![record]);
    assert_eq!(reopened.load_journal(&id).await.unwrap().len(), 1);
}

pub async fn kv_namespaces(h: &dyn Harness) {
    let store = h.open().await.store;
    store
        .kv_put("connections", "sql", b"v1".to_vec())
        .await
        .unwrap();
    store
        .kv_put("connections", "sql", b"v2".to_vec())
        .await
        .unwrap();
    store
        .kv_put("connections", "amqp", vec![0, 159, 146, 150])
        .await
        .unwrap();
    store
        .kv_put("keys", "sql", b"other".to_vec())
        .await
        .unwrap();
    assert_eq!(
        store.kv_get("connections", "sql").await.unwrap(),
        Some(b"v2".to_vec())
    );
    assert_eq!(
        store.kv_list("connections").await.unwrap(),
        vec![
            ("amqp".to_owned(), vec![0, 159, 146, 150]),
            ("sql".to_owned(), b"v2".to_vec())
        ]
    );
    store.kv_delete("connections", "sql").await.unwrap();
    store.kv_delete("connections", "never").await.unwrap();
    assert_eq!(store.kv_get("connections", "sql").await.unwrap(), None);
    assert_eq!(
        store.kv_get("keys", "sql").await.unwrap(),
        Some(b"other".to_vec())
    );
}
