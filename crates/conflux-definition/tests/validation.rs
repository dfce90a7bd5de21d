//! Loading and validating definitions: every problem at once, each at its path.

use conflux_definition::{
    ActionKind, Condition, OperationOptions, ParameterType, RetryPolicy, RunAfterStatus, Workflow,
    WorkflowKind,
};
use serde_json::json;

fn wrap(actions: serde_json::Value) -> serde_json::Value {
    json!({"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}}, "actions": actions}, "kind": "Stateful"})
}

fn paths(doc: &serde_json::Value) -> Vec<(String, String)> {
    match Workflow::from_json(doc) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .findings()
            .iter()
            .map(|f| (f.path.clone(), f.message.clone()))
            .collect(),
    }
}

#[test]
fn loads_a_typed_model() {
    let doc = json!({"definition": {
        "parameters": {"key": {"type": "SecureString", "defaultValue": "x"}, "n": {"type": "INT", "defaultValue": 2, "allowedValues": [1, 2]}},
        "triggers": {"manual": {"type": "Request", "kind": "Http", "operationOptions": "SingleInstance, EnableSchemaValidation"}},
        "actions": {
            "Call": {"type": "Http", "inputs": {"method": "GET", "uri": "http://x", "retryPolicy": {"type": "fixed", "count": 2, "interval": "PT30S"}},
                     "limit": {"timeout": "PT2M"}},
            "Check": {"type": "If", "expression": {"and": [{"equals": ["@body('Call')", 1]}, {"not": {"less": [1, 2]}}]},
                      "actions": {"Yes": {"type": "Compose", "inputs": 1}}, "runAfter": {"Call": ["succeeded", "TIMEDOUT"]}},
            "Loop": {"type": "Foreach", "foreach": "@body('Call')", "operationOptions": "Sequential", "actions": {}},
            "Mystery": {"type": "ServiceProvider", "inputs": {"parameters": {}}}
        }
    }, "kind": "Stateless"});
    let wf = Workflow::from_json(&doc).expect("valid");
    assert_eq!(wf.kind, WorkflowKind::Stateless);
    assert_eq!(wf.parameters["key"].kind, ParameterType::SecureString);
    assert!(wf.parameters["key"].kind.is_secure());
    assert_eq!(wf.parameters["n"].kind, ParameterType::Int);
    let trigger = &wf.triggers["manual"];
    assert!(trigger.options.single_instance && trigger.options.enable_schema_validation);
    let call = wf.action("Call").expect("Call");
    assert_eq!(
        call.retry_policy,
        RetryPolicy::Fixed {
            count: 2,
            interval: std::time::Duration::from_secs(30)
        }
    );
    assert_eq!(
        call.limit.timeout,
        Some(std::time::Duration::from_secs(120))
    );
    let check = wf.action("Check").expect("Check");
    assert_eq!(
        check.run_after[0].statuses,
        vec![RunAfterStatus::Succeeded, RunAfterStatus::TimedOut]
    );
    assert!(
        matches!(&check.kind, ActionKind::If { condition: Condition::And(parts), .. } if parts.len() == 2)
    );
    assert_eq!(check.input_references, Vec::<String>::new());
    assert!(
        wf.action("Yes").is_some(),
        "nested actions are indexed globally"
    );
    assert!(wf.action("Loop").expect("Loop").options.sequential);
    assert!(
        matches!(&wf.action("Mystery").expect("Mystery").kind, ActionKind::Other { type_name, .. } if type_name == "ServiceProvider")
    );
    assert_eq!(wf.unknown_action_types(&|_| false).len(), 1);
    assert!(wf
        .unknown_action_types(&|t| t == "ServiceProvider")
        .is_empty());
    assert_eq!(
        OperationOptions::parse("sequential,Custom").other,
        vec!["Custom".to_string()]
    );
    assert_eq!(
        wf.actions.tails().count(),
        3,
        "Check, Loop and Mystery: nothing runs after them"
    );
}

#[test]
fn a_bare_definition_is_accepted() {
    let doc = json!({"triggers": {"a": {"type": "Recurrence", "recurrence": {"frequency": "Minute", "interval": 1}}},
                     "actions": {"C": {"type": "Compose", "inputs": "@utcNow()"}}});
    let wf = Workflow::from_json(&doc).expect("valid");
    assert_eq!(wf.kind, WorkflowKind::Stateful);
    assert!(wf.action("C").is_some());
}

#[test]
fn reports_every_problem_with_its_path() {
    let long = "N".repeat(81);
    let doc = wrap(json!({
        "A": {"type": "Compose", "inputs": "@concat('a', ", "runAfter": {"Missing": ["Succeeded"]}},
        "B": {"type": "Compose", "inputs": 1, "runAfter": {"C": ["Succeeded"]}},
        "C": {"type": "Compose", "inputs": 1, "runAfter": {"B": ["Succeeded"]}},
        "Wrap": {"type": "Scope", "actions": {
            "Init": {"type": "InitializeVariable", "inputs": {"variables": [{"name": "v", "type": "integer"}]}},
            "A2": {"type": "Compose", "inputs": 1, "runAfter": {"A": ["Succeeded"]}}
        }},
        "Loop": {"type": "Foreach", "foreach": "@createArray(1)", "operationOptions": "Sequential",
                 "runtimeConfiguration": {"concurrency": {"repetitions": 60}},
                 "actions": {"Reply": {"type": "Response", "inputs": {"statusCode": 200}}, "A": {"type": "Compose", "inputs": 2}}},
        "Retry": {"type": "Http", "inputs": {"method": "GET", "uri": "http://x", "retryPolicy": {"type": "fixed", "count": 91, "interval": "5 seconds"}}},
        "Late": {"type": "Until", "expression": "@true", "limit": {"count": 6000, "timeout": "PTXS"}, "actions": {}},
        "Odd": {"type": "Compose", "inputs": 1, "runAfter": {"A": ["Done"]}},
        long.clone(): {"type": "Compose", "inputs": 1}
    }));
    let found = paths(&doc);
    let has = |path: &str, needle: &str| found.iter().any(|(p, m)| p == path && m.contains(needle));
    let root = "$.definition.actions";
    assert!(
        has(&format!("{root}.A.inputs"), "could not be compiled"),
        "{found:#?}"
    );
    assert!(has(&format!("{root}.A.runAfter.Missing"), "does not exist"));
    assert!(has(&format!("{root}.B.runAfter"), "cycle"));
    assert!(has(&format!("{root}.C.runAfter"), "cycle"));
    assert!(has(&format!("{root}.Wrap.actions.Init"), "top level"));
    assert!(has(
        &format!("{root}.Wrap.actions.A2.runAfter.A"),
        "not in the same container"
    ));
    assert!(has(
        &format!("{root}.Loop.runtimeConfiguration.concurrency.repetitions"),
        "1 to 50"
    ));
    assert!(has(&format!("{root}.Loop.operationOptions"), "Sequential"));
    assert!(has(
        &format!("{root}.Loop.actions.Reply"),
        "not allowed inside Foreach"
    ));
    assert!(has(&format!("{root}.Loop.actions.A"), "already used"));
    assert!(has(
        &format!("{root}.Retry.inputs.retryPolicy.count"),
        "1 to 90"
    ));
    assert!(has(
        &format!("{root}.Retry.inputs.retryPolicy.interval"),
        "ISO 8601"
    ));
    assert!(has(&format!("{root}.Late.limit.count"), "1 to 5000"));
    assert!(has(&format!("{root}.Late.limit.timeout"), "ISO 8601"));
    assert!(has(
        &format!("{root}.Odd.runAfter.A[0]"),
        "not a runAfter status"
    ));
    assert!(has(&format!("{root}.{long}"), "80"));
}

#[test]
fn compile_errors_carry_the_caret() {
    let found = paths(&wrap(
        json!({"A": {"type": "Compose", "inputs": {"x": "@add(1,"}}}),
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "$.definition.actions.A.inputs.x");
    assert!(found[0].1.contains('^'), "{}", found[0].1);
}

#[test]
fn limits_on_switch_cases_nesting_and_triggers() {
    let cases: serde_json::Map<String, serde_json::Value> = (0..26)
        .map(|i| (format!("C{i}"), json!({"case": i, "actions": {}})))
        .collect();
    let mut nested = json!({"Leaf": {"type": "Compose", "inputs": 1}});
    for depth in 0..9 {
        nested = json!({format!("S{depth}"): {"type": "Scope", "actions": nested}});
    }
    let mut doc = wrap(json!({"Sw": {"type": "Switch", "expression": "@1", "cases": cases}}));
    doc["definition"]["actions"]
        .as_object_mut()
        .expect("object")
        .extend(nested.as_object().expect("object").clone());
    doc["definition"]["triggers"]["second"] = json!({"type": "Request", "kind": "Http"});
    let found = paths(&doc);
    assert!(
        found
            .iter()
            .any(|(p, m)| p == "$.definition.actions.Sw.cases" && m.contains("25")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|(_, m)| m.contains("nested")),
        "{found:#?}"
    );
    assert!(found
        .iter()
        .any(|(p, m)| p == "$.definition.triggers" && m.contains("exactly one trigger")));
}

#[test]
fn unknown_types_are_reported_with_the_structural_problems() {
    let doc = wrap(
        json!({"X": {"type": "Teleport"}, "Y": {"type": "Compose", "inputs": 1, "runAfter": {"Nope": []}}}),
    );
    let err = Workflow::from_json_with(&doc, &|t| t == "ServiceProvider").expect_err("invalid");
    let ps: Vec<&str> = err.findings().iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        ps,
        vec![
            "$.definition.actions.X.type",
            "$.definition.actions.Y.runAfter.Nope"
        ]
    );
}
