//! Responses in parallel branches that may both run are rejected at their
//! paths; branches that exclude each other by their runAfter statuses
//! (try/catch) are not parallel, and a Response beside other work is fine. Also the paginationPolicy checks.

use conflux_definition::Workflow;
use serde_json::json;

fn wrap(actions: serde_json::Value) -> serde_json::Value {
    json!({"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}}, "actions": actions}, "kind": "Stateful"})
}

fn findings(actions: serde_json::Value) -> Vec<(String, String)> {
    match Workflow::from_json(&wrap(actions)) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .findings()
            .iter()
            .map(|f| (f.path.clone(), f.message.clone()))
            .collect(),
    }
}

/// The paths reported for parallel Responses, sorted.
fn parallel(found: &[(String, String)]) -> Vec<&str> {
    let mut paths: Vec<&str> = found
        .iter()
        .filter(|(_, m)| m.contains("parallel branch"))
        .map(|(p, _)| p.as_str())
        .collect();
    paths.sort_unstable();
    paths
}

fn compose(run_after: serde_json::Value) -> serde_json::Value {
    json!({"type": "Compose", "inputs": 1, "runAfter": run_after})
}

fn reply(run_after: serde_json::Value) -> serde_json::Value {
    json!({"type": "Response", "kind": "Http", "inputs": {"statusCode": 200}, "runAfter": run_after})
}

#[test]
fn two_responses_that_may_both_run_are_rejected_at_their_paths() {
    let found = findings(json!({
        "A": compose(json!({})),
        "Reply": reply(json!({"A": ["Succeeded"]})),
        "Also": reply(json!({"A": ["Succeeded"]}))
    }));
    assert_eq!(
        parallel(&found),
        ["$.definition.actions.Also", "$.definition.actions.Reply"],
        "{found:#?}"
    );
    assert!(
        found.iter().any(|(_, m)| m.contains("'Also'")),
        "{found:#?}"
    );

    // Overlapping lists are not exclusive: both run when A fails.
    let found = findings(json!({
        "A": compose(json!({})),
        "Reply": reply(json!({"A": ["Failed"]})),
        "Also": reply(json!({"A": ["Succeeded", "Failed"]}))
    }));
    assert_eq!(
        parallel(&found),
        ["$.definition.actions.Also", "$.definition.actions.Reply"]
    );

    // Parallel roots, each ending in a Response.
    let found = findings(json!({
        "Init": compose(json!({})),
        "Early": reply(json!({"Init": ["Succeeded"]})),
        "Call": compose(json!({})),
        "Reply": reply(json!({"Call": ["Succeeded"]}))
    }));
    assert_eq!(
        parallel(&found),
        ["$.definition.actions.Early", "$.definition.actions.Reply"]
    );
}

#[test]
fn a_response_beside_a_branch_of_other_work_is_accepted() {
    // Real projects answer early and keep working in another branch.
    assert_eq!(
        findings(json!({
            "A": compose(json!({})),
            "Reply": reply(json!({"A": ["Succeeded"]})),
            "Log": compose(json!({"A": ["Succeeded"]}))
        })),
        Vec::<(String, String)>::new()
    );
    assert_eq!(
        findings(json!({
            "Init": compose(json!({})),
            "Call": compose(json!({})),
            "Reply": reply(json!({"Call": ["Succeeded"]}))
        })),
        Vec::<(String, String)>::new()
    );
}

#[test]
fn sequential_and_joined_layouts_are_accepted() {
    assert_eq!(
        findings(json!({
            "Init": compose(json!({})),
            "Call": compose(json!({})),
            "Reply": reply(json!({"Call": ["Succeeded"], "Init": ["Succeeded"]})),
            "After": compose(json!({"Reply": ["Succeeded"]}))
        })),
        Vec::<(String, String)>::new()
    );
}

#[test]
fn try_catch_responses_are_exclusive_not_parallel() {
    // The usual layout: a success reply after Try, a catch scope and an error
    // reply after Try failed or timed out.
    let found = findings(json!({
        "Try": {"type": "Scope", "actions": {"Work": compose(json!({}))}},
        "Ok": reply(json!({"Try": ["Succeeded"]})),
        "Catch": {"type": "Scope", "actions": {"Describe": compose(json!({}))}, "runAfter": {"Try": ["Failed", "TimedOut"]}},
        "Error": reply(json!({"Catch": ["Succeeded"]}))
    }));
    assert_eq!(found, Vec::<(String, String)>::new());

    // The dependency is followed through actions that must have run...
    let found = findings(json!({
        "A": compose(json!({})),
        "Handle": compose(json!({"A": ["Failed"]})),
        "Reply": reply(json!({"Handle": ["Succeeded", "Failed"]})),
        "Next": reply(json!({"A": ["Succeeded"]}))
    }));
    assert_eq!(found, Vec::<(String, String)>::new());

    // ...but not through one that may have been skipped.
    let found = findings(json!({
        "A": compose(json!({})),
        "Handle": compose(json!({"A": ["Failed"]})),
        "Reply": reply(json!({"Handle": ["Succeeded", "Skipped"]})),
        "Next": reply(json!({"A": ["Succeeded"]}))
    }));
    assert_eq!(
        parallel(&found),
        ["$.definition.actions.Next", "$.definition.actions.Reply"]
    );
}

#[test]
fn a_response_inside_a_container_in_a_parallel_branch_is_rejected() {
    let found = findings(json!({
        "Audit": reply(json!({})),
        "Main": {"type": "Scope", "actions": {
            "Check": {"type": "If", "expression": "@true",
                      "actions": {"Yes": reply(json!({}))},
                      "else": {"actions": {"No": reply(json!({}))}}}
        }}
    }));
    assert_eq!(
        parallel(&found),
        [
            "$.definition.actions.Audit",
            "$.definition.actions.Main.actions.Check.actions.Yes",
            "$.definition.actions.Main.actions.Check.else.actions.No"
        ],
        "{found:#?}"
    );
    assert!(
        found.iter().any(|(_, m)| m.contains("inside 'Main'")),
        "{found:#?}"
    );

    // Inside the container, a parallel branch is reported once, at the inner level.
    let found = findings(json!({
        "Main": {"type": "Scope", "actions": {
            "Reply": reply(json!({})),
            "Side": reply(json!({}))
        }},
        "Other": compose(json!({}))
    }));
    assert_eq!(
        parallel(&found),
        [
            "$.definition.actions.Main.actions.Reply",
            "$.definition.actions.Main.actions.Side"
        ],
        "{found:#?}"
    );
    assert!(
        found.iter().any(|(_, m)| m.contains("'Side'")),
        "{found:#?}"
    );

    // The two branches of an If never both run.
    assert_eq!(
        findings(json!({
            "Check": {"type": "If", "expression": "@true",
                      "actions": {"Yes": reply(json!({}))},
                      "else": {"actions": {"No": reply(json!({}))}}}
        })),
        Vec::<(String, String)>::new()
    );
}

#[test]
fn pagination_policy_needs_a_positive_item_count() {
    let call = |policy: serde_json::Value| {
        json!({"Call": {"type": "Http", "inputs": {"method": "GET", "uri": "http://x"},
                        "runtimeConfiguration": {"paginationPolicy": policy}}})
    };
    let ok = Workflow::from_json(&wrap(call(json!({"minimumItemCount": 250})))).expect("valid");
    assert_eq!(
        ok.action("Call")
            .expect("Call")
            .runtime
            .pagination_minimum_item_count,
        Some(250)
    );
    let root = "$.definition.actions.Call.runtimeConfiguration.paginationPolicy";
    for bad in [json!(0), json!(-5), json!("many"), json!(2.5)] {
        let found = findings(call(json!({"minimumItemCount": bad})));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].0, format!("{root}.minimumItemCount"));
        assert!(found[0].1.contains("positive integer"), "{found:#?}");
    }
    let found = findings(call(json!({})));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, root);
}
