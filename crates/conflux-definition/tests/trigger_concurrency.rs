//! Trigger concurrency settings: parsed onto the trigger and checked against
//! the limits a user can set (runs 1–100, a waiting queue of 10–200 that is at
//! least `runs`, SingleInstance instead of, not together with, `runs`).

use conflux_definition::Workflow;
use serde_json::json;

fn with_trigger(extra: serde_json::Value) -> serde_json::Value {
    let mut trigger = json!({"type": "Request", "kind": "Http"});
    trigger
        .as_object_mut()
        .expect("object")
        .extend(extra.as_object().expect("object").clone());
    json!({"definition": {"triggers": {"manual": trigger}, "actions": {}}, "kind": "Stateful"})
}

fn findings(extra: serde_json::Value) -> Vec<(String, String)> {
    match Workflow::from_json(&with_trigger(extra)) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .findings()
            .iter()
            .map(|f| (f.path.clone(), f.message.clone()))
            .collect(),
    }
}

#[test]
fn valid_settings_are_parsed_onto_the_trigger() {
    let doc = with_trigger(
        json!({"runtimeConfiguration": {"concurrency": {"runs": 5, "maximumWaitingRuns": 40}}}),
    );
    let wf = Workflow::from_json(&doc).expect("valid");
    let trigger = &wf.triggers["manual"];
    assert_eq!(trigger.runtime.runs, Some(5));
    assert_eq!(trigger.runtime.maximum_waiting_runs, Some(40));
    assert!(findings(json!({"operationOptions": "SingleInstance"})).is_empty());
}

#[test]
fn out_of_range_values_are_reported_at_their_path() {
    let f = findings(json!({"runtimeConfiguration": {"concurrency": {"runs": 0}}}));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].0.ends_with("runtimeConfiguration.concurrency.runs"),
        "{f:?}"
    );
    assert!(f[0].1.contains("between 1 and 100"), "{f:?}");

    let f = findings(json!({"runtimeConfiguration": {"concurrency": {"runs": 101}}}));
    assert_eq!(f.len(), 1, "{f:?}");

    let f = findings(
        json!({"runtimeConfiguration": {"concurrency": {"runs": 2, "maximumWaitingRuns": 5}}}),
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].0.ends_with("concurrency.maximumWaitingRuns"), "{f:?}");
    assert!(f[0].1.contains("between 10 and 200"), "{f:?}");

    let f = findings(json!({"runtimeConfiguration": {"concurrency": {"maximumWaitingRuns": 201}}}));
    assert_eq!(f.len(), 1, "{f:?}");

    let f = findings(
        json!({"runtimeConfiguration": {"concurrency": {"runs": 50, "maximumWaitingRuns": 20}}}),
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].1.contains("at least concurrency.runs"), "{f:?}");
}

#[test]
fn single_instance_and_runs_together_are_an_error() {
    let f = findings(json!({
        "operationOptions": "SingleInstance",
        "runtimeConfiguration": {"concurrency": {"runs": 3}}
    }));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].0.ends_with("operationOptions"), "{f:?}");
    assert!(f[0].1.contains("SingleInstance"), "{f:?}");
}
