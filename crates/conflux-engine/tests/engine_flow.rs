//! Scheduling, final run status and control actions over real definitions.

mod common;

use std::sync::Arc;

use common::{harness, status, workflow};
use conflux_engine::{Clock, ManualClock};
use conflux_store::{ActionStatus, RunStatus};
use serde_json::json;

#[tokio::test]
async fn variables_conditions_scopes_and_response() {
    let h = harness().await;
    let (outcome, response) = h.run_fixture("basics", json!({"name": "Ada"})).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    let response = response.expect("the Response action replied");
    assert_eq!(response.status, 201);
    assert_eq!(
        response.headers,
        vec![("X-Greeting".to_string(), "Hello, Ada!".to_string())]
    );
    assert_eq!(
        response.body.to_json(),
        json!({"count": 4, "log": "big", "items": [4]})
    );
    assert_eq!(status(&outcome, "Small"), ActionStatus::Skipped);
    assert_eq!(status(&outcome, "Big"), ActionStatus::Succeeded);
    assert_eq!(
        outcome.outputs,
        Some(json!({"greeting": {"type": "String", "value": "Hello, Ada!"}}))
    );
    let rec = h.record(&outcome, "Bump").await;
    assert_eq!(
        rec.outputs,
        Some(json!({"body": {"name": "count", "value": 5}}))
    );
}

#[tokio::test]
async fn try_catch_with_skipped_success_response_ends_failed() {
    let h = harness().await;
    let (outcome, response) = h.run_fixture("try_catch", json!({})).await;
    let response = response.expect("the catch branch responded");
    assert_eq!(response.status, 500);
    assert_eq!(
        response.body.to_json(),
        json!({"failed": "Failed", "code": "InvalidTemplate"})
    );
    assert_eq!(status(&outcome, "Boom"), ActionStatus::Failed);
    assert_eq!(status(&outcome, "After_boom"), ActionStatus::Skipped);
    assert_eq!(status(&outcome, "Try"), ActionStatus::Failed);
    assert_eq!(status(&outcome, "Success_response"), ActionStatus::Skipped);
    assert_eq!(status(&outcome, "Catch"), ActionStatus::Succeeded);
    // The skipped success Response is a branch tail whose cause is the failed Try.
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.code.as_deref(), Some("ActionFailed"));
}

#[tokio::test]
async fn failure_handled_on_the_same_branch_succeeds() {
    let h = harness().await;
    let doc = workflow(json!({
        "Boom": {"type": "Compose", "inputs": "@div(1, 0)"},
        "Handler": {"type": "Compose", "inputs": "handled", "runAfter": {"Boom": ["Failed"]}},
        "Cleanup": {"type": "Compose", "inputs": "always", "runAfter": {"Handler": ["Succeeded", "Skipped"]}}
    }));
    h.register("handled", &doc);
    let (outcome, _) = h.run("handled", json!({})).await;
    assert_eq!(status(&outcome, "Boom"), ActionStatus::Failed);
    assert_eq!(status(&outcome, "Handler"), ActionStatus::Succeeded);
    assert_eq!(outcome.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn skipped_tail_takes_the_status_of_its_cause() {
    let h = harness().await;
    // Catch handler skipped because the guarded action succeeded: run Succeeded.
    let ok = workflow(json!({
        "Work": {"type": "Compose", "inputs": 1},
        "On_error": {"type": "Compose", "inputs": 2, "runAfter": {"Work": ["Failed"]}},
        "After_error": {"type": "Compose", "inputs": 3, "runAfter": {"On_error": ["Succeeded"]}}
    }));
    h.register("ok", &ok);
    let (outcome, _) = h.run("ok", json!({})).await;
    assert_eq!(status(&outcome, "After_error"), ActionStatus::Skipped);
    assert_eq!(outcome.status, RunStatus::Succeeded);

    // Unhandled failure: the tail is skipped two levels down from it.
    let bad = workflow(json!({
        "Work": {"type": "Compose", "inputs": "@div(1, 0)"},
        "Next": {"type": "Compose", "inputs": 2, "runAfter": {"Work": ["Succeeded"]}},
        "Last": {"type": "Compose", "inputs": 3, "runAfter": {"Next": ["Succeeded"]}},
        "Other_branch": {"type": "Compose", "inputs": 4}
    }));
    h.register("bad", &bad);
    let (outcome, _) = h.run("bad", json!({})).await;
    assert_eq!(status(&outcome, "Last"), ActionStatus::Skipped);
    assert_eq!(status(&outcome, "Other_branch"), ActionStatus::Succeeded);
    assert_eq!(outcome.status, RunStatus::Failed);
}

#[tokio::test]
async fn run_after_skipped_and_timed_out_statuses() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let h = common::harness_with(Vec::new(), Some(clock.clone() as Arc<dyn Clock>)).await;
    // Once the Wait and its timeout both sleep, move past the timeout.
    let ticker = tokio::spawn(async move {
        clock.wait_for_sleepers(2).await;
        clock.advance(std::time::Duration::from_secs(2));
    });
    let doc = workflow(json!({
        "Cond": {"type": "If", "expression": "@equals(1, 2)", "actions": {"Never": {"type": "Compose", "inputs": 1}}},
        "After_skip": {"type": "Compose", "inputs": "ran after skipped", "runAfter": {"Cond": ["Succeeded"]}},
        "Slow": {"type": "Wait", "inputs": {"interval": {"count": 1, "unit": "Hour"}}, "limit": {"timeout": "PT1S"}},
        "On_timeout": {"type": "Compose", "inputs": "@actions('Slow')?['code']", "runAfter": {"Slow": ["TimedOut"]}},
        "Mixed": {"type": "Compose", "inputs": "x", "runAfter": {"On_timeout": ["Succeeded"], "After_skip": ["Skipped", "Succeeded"]}}
    }));
    h.register("statuses", &doc);
    let (outcome, _) = h.run("statuses", json!({})).await;
    ticker.await.expect("ticker");
    assert_eq!(status(&outcome, "Never"), ActionStatus::Skipped);
    assert_eq!(status(&outcome, "Cond"), ActionStatus::Succeeded);
    assert_eq!(status(&outcome, "Slow"), ActionStatus::TimedOut);
    assert_eq!(status(&outcome, "On_timeout"), ActionStatus::Succeeded);
    assert_eq!(status(&outcome, "Mixed"), ActionStatus::Succeeded);
    let rec = h.record(&outcome, "On_timeout").await;
    assert_eq!(rec.outputs, Some(json!("ActionTimedOut")));
    assert_eq!(outcome.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn terminate_overrides_the_run_status() {
    let h = harness().await;
    let doc = workflow(json!({
        "First": {"type": "Compose", "inputs": 1},
        "Stop": {"type": "Terminate", "inputs": {"runStatus": "Failed", "runError": {"code": "Nope", "message": "stopped on purpose"}}, "runAfter": {"First": ["Succeeded"]}},
        "Never": {"type": "Compose", "inputs": 2, "runAfter": {"Stop": ["Succeeded"]}}
    }));
    h.register("terminate", &doc);
    let (outcome, _) = h.run("terminate", json!({})).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.code.as_deref(), Some("Terminated"));
    assert_eq!(
        outcome.error,
        Some(json!({"code": "Nope", "message": "stopped on purpose"}))
    );
    assert_eq!(status(&outcome, "Never"), ActionStatus::Skipped);
    assert_eq!(status(&outcome, "Stop"), ActionStatus::Succeeded);

    let ok = workflow(json!({
        "Boom": {"type": "Compose", "inputs": "@div(1, 0)"},
        "Stop": {"type": "Terminate", "inputs": {"runStatus": "Succeeded"}, "runAfter": {"Boom": ["Failed"]}}
    }));
    h.register("terminate_ok", &ok);
    let (outcome, _) = h.run("terminate_ok", json!({})).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn foreach_sequential_and_parallel_with_repetitions() {
    let h = harness().await;
    let (outcome, _) = h
        .run_fixture("foreach", json!({"items": [1, 2, 3, 4, 5, 6, 7]}))
        .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    let rec = h.record(&outcome, "Result").await;
    assert_eq!(
        rec.outputs,
        Some(json!({"seen": [2, 4, 6, 8, 10, 12, 14], "total": 28}))
    );
    let reps = h
        .store
        .list_repetitions(&outcome.run_id, "Square")
        .await
        .expect("repetitions");
    assert_eq!(reps.len(), 7);
    let mut squares: Vec<serde_json::Value> = reps
        .iter()
        .map(|r| r.outputs.clone().expect("outputs"))
        .collect();
    squares.sort_by_key(|v| v.as_i64());
    assert_eq!(
        squares,
        vec![
            json!(1),
            json!(4),
            json!(9),
            json!(16),
            json!(25),
            json!(36),
            json!(49)
        ]
    );
    let each = h.record(&outcome, "Each").await;
    assert_eq!(each.iteration_count, Some(7));
}

#[tokio::test]
async fn foreach_fails_when_an_iteration_fails_and_rejects_non_arrays() {
    let h = harness().await;
    let doc = workflow(json!({
        "Loop": {"type": "Foreach", "foreach": "@createArray(1, 0, 2)", "actions": {"Inverse": {"type": "Compose", "inputs": "@div(10, item())"}}},
        "Not_array": {"type": "Foreach", "foreach": "@createObject", "actions": {}}
    }));
    // createObject is not a function: the definition is rejected at load.
    assert!(conflux_definition::Workflow::from_json(&doc).is_err());
    let doc = workflow(json!({
        "Loop": {"type": "Foreach", "foreach": "@createArray(1, 0, 2)", "actions": {"Inverse": {"type": "Compose", "inputs": "@div(10, item())"}}},
        "Not_array": {"type": "Foreach", "foreach": "@triggerBody()", "actions": {}}
    }));
    h.register("loops", &doc);
    let (outcome, _) = h.run("loops", json!({"a": 1})).await;
    assert_eq!(status(&outcome, "Loop"), ActionStatus::Failed);
    assert_eq!(status(&outcome, "Not_array"), ActionStatus::Failed);
    let reps = h
        .store
        .list_repetitions(&outcome.run_id, "Inverse")
        .await
        .expect("repetitions");
    let failed = reps
        .iter()
        .filter(|r| r.status == ActionStatus::Failed)
        .count();
    assert_eq!((reps.len(), failed), (3, 1));
    assert_eq!(outcome.status, RunStatus::Failed);
}

#[tokio::test]
async fn until_runs_do_while_and_honours_limits() {
    let h = harness().await;
    let doc = workflow(json!({
        "Init": {"type": "InitializeVariable", "inputs": {"variables": [{"name": "n", "type": "integer", "value": 0}]}},
        "Count": {"type": "Until", "expression": "@equals(variables('n'), 3)", "limit": {"count": 10, "timeout": "PT1H"},
          "actions": {"Inc": {"type": "IncrementVariable", "inputs": {"name": "n"}}}, "runAfter": {"Init": ["Succeeded"]}},
        "Capped": {"type": "Until", "expression": "@equals(1, 2)", "limit": {"count": 4},
          "actions": {"Inc2": {"type": "IncrementVariable", "inputs": {"name": "n", "value": 10}}}, "runAfter": {"Count": ["Succeeded"]}},
        "Strict": {"type": "Until", "expression": "@equals(1, 2)", "limit": {"count": 2}, "operationOptions": "FailWhenLimitsReached",
          "actions": {"Noop": {"type": "Compose", "inputs": "@iterationIndexes('Strict')"}}, "runAfter": {"Capped": ["Succeeded"]}},
        "Final": {"type": "Compose", "inputs": "@variables('n')", "runAfter": {"Strict": ["Failed"]}}
    }));
    h.register("until", &doc);
    let (outcome, _) = h.run("until", json!({})).await;
    assert_eq!(status(&outcome, "Count"), ActionStatus::Succeeded);
    assert_eq!(status(&outcome, "Capped"), ActionStatus::Succeeded);
    assert_eq!(status(&outcome, "Strict"), ActionStatus::Failed);
    assert_eq!(h.record(&outcome, "Final").await.outputs, Some(json!(43)));
    assert_eq!(h.record(&outcome, "Capped").await.iteration_count, Some(4));
    let idx = h
        .store
        .list_repetitions(&outcome.run_id, "Noop")
        .await
        .expect("reps");
    assert_eq!(
        idx.iter()
            .map(|r| r.outputs.clone().expect("out"))
            .collect::<Vec<_>>(),
        vec![json!(0), json!(1)]
    );
    assert_eq!(outcome.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn data_operations_and_switch() {
    let h = harness().await;
    let body = json!({"people": [{"name": "Ann", "age": 30}, {"name": "Bob", "age": 12}, {"name": "Cy, Jr.", "age": 18}]});
    let (outcome, _) = h.run_fixture("data_ops", body).await;
    let out = |o: &conflux_store::ActionRecord| o.outputs.clone().expect("outputs");
    assert_eq!(
        out(&h.record(&outcome, "Adults").await)["body"],
        json!([{"name": "Ann", "age": 30}, {"name": "Cy, Jr.", "age": 18}])
    );
    assert_eq!(
        out(&h.record(&outcome, "Names").await)["body"],
        json!([{"who": "Ann", "Ann_age": 30}, {"who": "Cy, Jr.", "Cy, Jr._age": 18}])
    );
    assert_eq!(
        out(&h.record(&outcome, "Joined").await)["body"],
        json!("Ann;Cy, Jr.")
    );
    assert_eq!(
        out(&h.record(&outcome, "Csv").await)["body"],
        json!("name,age\r\nAnn,30\r\nBob,12\r\n\"Cy, Jr.\",18\r\n")
    );
    assert_eq!(
        out(&h.record(&outcome, "Html").await)["body"],
        json!("<table><thead><tr><th>Person</th></tr></thead><tbody><tr><td>Ann</td></tr><tr><td>Cy, Jr.</td></tr></tbody></table>")
    );
    assert_eq!(status(&outcome, "Bad_parse"), ActionStatus::Failed);
    assert_eq!(
        h.record(&outcome, "Bad_parse").await.code.as_deref(),
        Some("SchemaValidationFailed")
    );
    assert_eq!(status(&outcome, "Was_two"), ActionStatus::Succeeded);
    assert_eq!(status(&outcome, "Was_one"), ActionStatus::Skipped);
    assert_eq!(status(&outcome, "Was_other"), ActionStatus::Skipped);
    assert_eq!(outcome.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn static_results_mock_actions() {
    let h = harness().await;
    let doc = json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": {
            "Call": {"type": "Http", "inputs": {"method": "GET", "uri": "http://127.0.0.1:9/never"},
                     "runtimeConfiguration": {"staticResult": {"name": "Call0", "staticResultOptions": "Enabled"}}},
            "Use": {"type": "Compose", "inputs": "@outputs('Call')?['statusCode']", "runAfter": {"Call": ["Succeeded"]}}
        },
        "staticResults": {"Call0": {"status": "Succeeded", "outputs": {"statusCode": "OK", "headers": {}}}}
    }});
    h.register("mocked", &doc);
    let (outcome, _) = h.run("mocked", json!({})).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(h.record(&outcome, "Use").await.outputs, Some(json!("OK")));
}

#[tokio::test]
async fn secure_data_is_redacted_in_the_store_and_propagates() {
    let h = harness().await;
    let doc = workflow(json!({
        "Secret": {"type": "Compose", "inputs": "s3cr3t", "runtimeConfiguration": {"secureData": {"properties": ["inputs"]}}},
        "Token": {"type": "Http", "inputs": {"method": "GET", "uri": "http://127.0.0.1:9/token"},
                  "runtimeConfiguration": {"secureData": {"properties": ["outputs"], "staticResult": null},
                                           "staticResult": {"name": "Tok", "staticResultOptions": "Enabled"}}},
        "Use_token": {"type": "Compose", "inputs": "@body('Token')", "runAfter": {"Token": ["Succeeded"]}},
        "Use_secret": {"type": "Compose", "inputs": "@outputs('Secret')", "runAfter": {"Secret": ["Succeeded"]}}
    }));
    let mut doc = doc;
    doc["definition"]["parameters"] =
        json!({"apiKey": {"type": "SecureString", "defaultValue": "k-123"}});
    doc["definition"]["actions"]["Keyed"] =
        json!({"type": "Compose", "inputs": {"key": "@parameters('apiKey')"}});
    doc["definition"]["staticResults"] = json!({"Tok": {"status": "Succeeded", "outputs": {"statusCode": 200, "body": "token-value"}}});
    h.register("secure", &doc);
    let (outcome, _) = h.run("secure", json!({})).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    let secret = h.record(&outcome, "Secret").await;
    assert_eq!(
        (secret.inputs.clone(), secret.outputs.clone()),
        (None, None)
    );
    assert!(secret.is_secured("inputs") && secret.is_secured("outputs"));
    let token = h.record(&outcome, "Token").await;
    assert!(token.outputs.is_none() && token.is_secured("outputs"));
    let use_token = h.record(&outcome, "Use_token").await;
    assert!(
        use_token.inputs.is_none() && use_token.is_secured("inputs"),
        "secured outputs hide downstream inputs"
    );
    // Compose's hidden outputs (from Secure Inputs) do not propagate.
    let use_secret = h.record(&outcome, "Use_secret").await;
    assert_eq!(use_secret.inputs, Some(json!("s3cr3t")));
    let journal = h
        .store
        .load_journal(&outcome.run_id)
        .await
        .expect("journal");
    assert!(
        !serde_json::to_string(&journal.iter().map(|e| &e.payload).collect::<Vec<_>>())
            .expect("json")
            .contains("token-value")
    );
    assert!(!format!("{journal:?}").contains("k-123"));
    let keyed = h.record(&outcome, "Keyed").await;
    assert!(
        keyed.inputs.is_none() && keyed.outputs.is_none(),
        "secure parameters are masked"
    );
}

#[tokio::test]
async fn secured_trigger_and_secure_inputs_hide_the_inputs_of_readers() {
    let h = harness().await;
    let doc = json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http",
                                "runtimeConfiguration": {"secureData": {"properties": ["outputs"]}}}},
        "actions": {
            "From_trigger": {"type": "Compose", "inputs": "@triggerBody()?['password']"},
            "Plain": {"type": "Compose", "inputs": "no trigger here"},
            "Call": {"type": "Http", "inputs": {"method": "GET", "uri": "http://127.0.0.1:9/x"},
                     "runtimeConfiguration": {"secureData": {"properties": ["inputs"]},
                                              "staticResult": {"name": "C", "staticResultOptions": "Enabled"}}},
            "Use_call": {"type": "Compose", "inputs": "@body('Call')", "runAfter": {"Call": ["Succeeded"]}}
        },
        "staticResults": {"C": {"status": "Succeeded", "outputs": {"statusCode": 200, "body": "visible"}}}
    }});
    h.register("secure_trigger", &doc);
    let (outcome, _) = h
        .run("secure_trigger", json!({"password": "hunter2"}))
        .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    let from_trigger = h.record(&outcome, "From_trigger").await;
    assert!(
        from_trigger.inputs.is_none() && from_trigger.is_secured("inputs"),
        "reading a trigger's secured outputs hides the inputs"
    );
    assert!(
        from_trigger.outputs.is_none(),
        "Compose hides outputs with inputs"
    );
    let plain = h.record(&outcome, "Plain").await;
    assert_eq!(plain.inputs, Some(json!("no trigger here")));
    // Secure Inputs on the Http action leave its outputs visible, but hide
    // the inputs of whatever reads them.
    let call = h.record(&outcome, "Call").await;
    assert!(call.inputs.is_none() && call.outputs.is_some());
    let use_call = h.record(&outcome, "Use_call").await;
    assert!(
        use_call.inputs.is_none() && use_call.is_secured("inputs"),
        "{use_call:?}"
    );
}

#[tokio::test]
async fn expression_actions_and_tracked_properties() {
    let h = harness().await;
    let doc = workflow(json!({
        "Later": {"type": "Expression", "kind": "AddToTime",
                  "inputs": {"baseTime": "2024-01-31T00:00:00Z", "interval": 1, "timeUnit": "Month"},
                  "trackedProperties": {"month": "@{action()?['outputs']?['body']}", "fixed": "x"}},
        "Earlier": {"type": "Expression", "kind": "subtractFromTime",
                    "inputs": {"baseTime": "2024-03-01T12:00:00Z", "interval": 2, "timeUnit": "Hour"}},
        "Zone": {"type": "Expression", "kind": "ConvertTimeZone",
                 "inputs": {"baseTime": "2024-07-01T12:00:00Z", "sourceTimeZone": "UTC", "destinationTimeZone": "W. Europe Standard Time", "formatString": "HH:mm"}}
    }));
    h.register("expr", &doc);
    let (outcome, _) = h.run("expr", json!({})).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    let body = |r: conflux_store::ActionRecord| {
        r.outputs.expect("outputs")["body"]
            .as_str()
            .expect("text")
            .to_string()
    };
    assert!(body(h.record(&outcome, "Later").await).starts_with("2024-02-29T00:00:00"));
    assert!(body(h.record(&outcome, "Earlier").await).starts_with("2024-03-01T10:00:00"));
    assert_eq!(body(h.record(&outcome, "Zone").await), "14:00");
    let tracked = h
        .record(&outcome, "Later")
        .await
        .tracked_properties
        .expect("tracked");
    assert_eq!(tracked["fixed"], json!("x"));
    assert!(tracked["month"]
        .as_str()
        .expect("text")
        .starts_with("2024-02-29"));
}

#[tokio::test]
async fn an_action_of_a_chain_starts_when_the_one_before_it_ended() {
    let h = harness().await;
    h.register(
        "chain",
        &workflow(json!({
            "First": {"type": "Compose", "inputs": "@utcNow()", "runAfter": {}},
            "Second": {"type": "Compose", "inputs": "@actions('First').endTime", "runAfter": {"First": ["Succeeded"]}},
            "Third": {"type": "Compose", "inputs": 3, "runAfter": {"Second": ["Succeeded"]}}
        })),
    );
    let (outcome, _) = h.run("chain", json!({})).await;
    let first = h.record(&outcome, "First").await;
    let second = h.record(&outcome, "Second").await;
    let third = h.record(&outcome, "Third").await;
    for r in [&first, &second, &third] {
        assert!(r.start_time.unwrap() <= r.end_time.unwrap(), "{r:?}");
    }
    assert_eq!(second.start_time, first.end_time);
    assert_eq!(third.start_time, second.end_time);
    assert!(first.start_time.unwrap() >= outcome_start(&h, &outcome).await);
}

async fn outcome_start(
    h: &common::Harness,
    outcome: &conflux_engine::RunOutcome,
) -> chrono::DateTime<chrono::Utc> {
    h.store
        .get_run(&outcome.run_id)
        .await
        .expect("store read")
        .expect("the run is stored")
        .start_time
}
