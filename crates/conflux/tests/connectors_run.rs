//! Built-in connector actions run through `connections.json`, end to end: the
//! real binary runs a project whose workflow writes and reads a file through the
//! file-system connector (`ServiceProvider` actions).

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::path::Path;
use std::process::Command;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A project with one workflow `files` and a file-system connection whose root
/// comes from an app setting.
fn project(dir: &Path, root: &Path, connection_name_in_action: &str) {
    write(
        &dir.join("local.settings.json"),
        &format!(
            r#"{{ "IsEncrypted": false, "Values": {{ "FILES_ROOT": {} }} }}"#,
            serde_json::Value::String(root.display().to_string())
        ),
    );
    write(
        &dir.join("connections.json"),
        r#"{
          // comments are allowed, as in real projects
          "serviceProviderConnections": {
            "files": {
              "parameterValues": { "rootFolder": "@appsetting('FILES_ROOT')" },
              "serviceProvider": { "id": "/serviceProviders/fileSystem" },
              "displayName": "Local files"
            }
          }
        }"#,
    );
    let workflow = serde_json::json!({
      "definition": {
        "triggers": { "manual": { "type": "Request", "kind": "Http" } },
        "actions": {
          "Write": {
            "type": "ServiceProvider",
            "inputs": {
              "parameters": { "path": "out/greeting.txt", "content": "@{concat('hello ', triggerBody()?['name'])}" },
              "serviceProviderConfiguration": {
                "connectionName": connection_name_in_action,
                "operationId": "writeFile",
                "serviceProviderId": "/serviceProviders/fileSystem"
              }
            },
            "runAfter": {}
          },
          "Read": {
            "type": "ServiceProvider",
            "inputs": {
              "parameters": { "path": "out/greeting.txt", "encoding": "text" },
              "serviceProviderConfiguration": {
                "connectionName": connection_name_in_action,
                "operationId": "readFile",
                "serviceProviderId": "/serviceProviders/fileSystem"
              }
            },
            "runAfter": { "Write": ["Succeeded"] }
          },
          "Response": {
            "type": "Response", "kind": "Http",
            "inputs": { "statusCode": 200, "body": { "read": "@body('Read')?['content']" } },
            "runAfter": { "Read": ["Succeeded"] }
          }
        }
      },
      "kind": "Stateful"
    });
    write(&dir.join("files/workflow.json"), &workflow.to_string());
}

fn run(dir: &Path, body: &str) -> std::process::Output {
    let body_file = dir.join("body.json");
    std::fs::write(&body_file, body).unwrap();
    Command::new(env!("CARGO_BIN_EXE_conflux"))
        .arg("run")
        .arg(dir.join("files"))
        .arg("--body")
        .arg(&body_file)
        .output()
        .unwrap()
}

#[test]
fn service_provider_actions_write_and_read_through_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    project(dir.path(), root.path(), "files");
    let out = run(dir.path(), r#"{"name": "Ada"}"#);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("\"read\": \"hello Ada\""), "{stdout}");
    let written = std::fs::read_to_string(root.path().join("out/greeting.txt")).unwrap();
    assert_eq!(written, "hello Ada");
}

#[test]
fn an_unknown_connection_is_reported_with_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    project(dir.path(), root.path(), "nope");
    let out = run(dir.path(), "{}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains("files")
            && stderr.contains("workflow.json")
            && stderr.contains("actions.Write")
            && stderr.contains("connection 'nope' is not defined"),
        "stderr: {stderr}"
    );
    assert!(!root.path().join("out/greeting.txt").exists());
}
