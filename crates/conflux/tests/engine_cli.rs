//! `conflux validate` and `conflux run` against project folders on disk.

use std::path::Path;
use std::process::Command;

use serde_json::json;

fn conflux() -> Command {
    Command::new(env!("CARGO_BIN_EXE_conflux"))
}

fn write(dir: &Path, workflow: &str, doc: &serde_json::Value) {
    let folder = dir.join(workflow);
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(
        folder.join("workflow.json"),
        serde_json::to_string_pretty(doc).expect("json"),
    )
    .expect("write");
}

fn wf(actions: serde_json::Value) -> serde_json::Value {
    json!({"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}}, "actions": actions}, "kind": "Stateful"})
}

#[test]
fn validate_lists_every_finding_and_exits_1() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "good",
        &wf(json!({"A": {"type": "Compose", "inputs": 1}})),
    );
    write(
        dir.path(),
        "bad",
        &wf(json!({
            "A": {"type": "Compose", "inputs": "@concat('x',", "runAfter": {"Ghost": ["Succeeded"]}},
            "B": {"type": "Teleport"}
        })),
    );
    let out = conflux()
        .arg("validate")
        .arg(dir.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("$.definition.actions.A.inputs: the expression could not be compiled"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "$.definition.actions.A.runAfter.Ghost: runAfter names 'Ghost', which does not exist"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("$.definition.actions.B.type: the action type 'Teleport' is not known"),
        "{stdout}"
    );

    let good = conflux()
        .arg("validate")
        .arg(dir.path().join("good/workflow.json"))
        .output()
        .expect("run");
    assert_eq!(good.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&good.stdout).trim(),
        "ok: 1 workflow(s) valid"
    );
}

#[test]
fn run_prints_actions_and_the_response() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "greet",
        &wf(json!({
            "Hello": {"type": "Compose", "inputs": "Hello @{triggerBody()?['name']} (@{triggerOutputs()?['headers']?['X-Who']})"},
            "Reply": {"type": "Response", "kind": "Http", "inputs": {"statusCode": 202, "body": {"text": "@outputs('Hello')"}}, "runAfter": {"Hello": ["Succeeded"]}}
        })),
    );
    let body = dir.path().join("body.json");
    std::fs::write(&body, r#"{"name": "Ada"}"#).expect("write");
    let out = conflux()
        .arg("run")
        .arg(dir.path().join("greet"))
        .arg("--body")
        .arg(&body)
        .args(["--header", "X-Who: tester"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("Hello") && l.contains("Succeeded")),
        "{stdout}"
    );
    assert!(stdout.contains("response: 202"), "{stdout}");
    assert!(
        stdout.contains("\"text\": \"Hello Ada (tester)\""),
        "{stdout}"
    );
    assert!(stdout.contains("status: Succeeded"), "{stdout}");

    write(
        dir.path(),
        "broken",
        &wf(json!({"Boom": {"type": "Compose", "inputs": "@div(1, 0)"}})),
    );
    let out = conflux()
        .arg("run")
        .arg(dir.path().join("broken"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Boom") && stdout.contains("Failed") && stdout.contains("status: Failed"),
        "{stdout}"
    );
}
