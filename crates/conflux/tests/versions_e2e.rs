//! Definition versions through the real `conflux serve`: each served
//! workflow.json is a stored version, runs name theirs in
//! `properties.workflow`, a changed workflow.json becomes a new version on the
//! next start, and the versions API never shows secure parameter defaults.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

mod support;

use serde_json::{json, Value};
use support::{free_port, project, run_id_of, serve, Server};

const SECRET_DEFAULT: &str = "secure-default-never-shown-7f3a";

fn greeting(text: &str) -> Value {
    json!({"definition": {
        "parameters": {"apiKey": {"type": "SecureString", "defaultValue": SECRET_DEFAULT}},
        "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {"method": "POST"}}},
        "actions": {"Answer": {"type": "Response", "kind": "Http", "inputs": {"statusCode": 200, "body": {"v": text}}}}
    }, "kind": "Stateful"})
}

/// The versions of `greet` as listed, and their ids (newest first).
async fn versions(server: &Server) -> (Value, Vec<String>) {
    let versions = server.get_ok("workflows/greet/versions").await;
    let ids = versions["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    (versions, ids)
}

/// Calls `greet`: the run it started and the answer.
async fn greet(server: &Server) -> (String, Value) {
    let response = server.call(&server.url("greet"), json!({})).await;
    assert_eq!(response.status().as_u16(), 200);
    let run_id = run_id_of(&response);
    (run_id, response.json().await.unwrap())
}

/// `properties.workflow` of a run of `greet`: the version it runs.
async fn run_workflow(server: &Server, run_id: &str) -> Value {
    let run = server
        .get_ok(&format!("workflows/greet/runs/{run_id}"))
        .await;
    run["properties"]["workflow"].clone()
}

#[tokio::test]
async fn served_definitions_are_versions_and_runs_name_theirs() {
    let dir = project(&[("greet", greeting("v1"))]);
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let start = || serve(dir.path()).data(data.path()).port(port).start();

    let (first_version, first_run) = {
        let server = start();
        let (versions, listed) = versions(&server).await;
        assert_eq!(listed.len(), 1, "{versions}");
        let version = listed[0].clone();
        assert!(!versions.to_string().contains(SECRET_DEFAULT), "{versions}");

        let (run_id, answer) = greet(&server).await;
        assert_eq!(answer, json!({"v": "v1"}));
        let workflow = run_workflow(&server, &run_id).await;
        assert_eq!(workflow["name"], version.as_str(), "{workflow}");
        assert_eq!(workflow["type"], "workflows/versions");
        assert_eq!(
            workflow["id"],
            format!("/workflows/greet/versions/{version}").as_str()
        );

        let one = server
            .get_ok(&format!("workflows/greet/versions/{version}"))
            .await;
        assert_eq!(one["name"], version.as_str());
        assert_eq!(one["type"], "workflows/versions");
        let definition = &one["properties"]["definition"];
        assert_eq!(definition["actions"]["Answer"]["inputs"]["body"]["v"], "v1");
        assert_eq!(
            definition["parameters"]["apiKey"],
            json!({"type": "SecureString"}),
            "the secure default is left out"
        );
        assert!(!one.to_string().contains(SECRET_DEFAULT), "{one}");
        let (status, _) = server.get("workflows/greet/versions/0000").await;
        assert_eq!(status, 404);
        server.terminate();
        (version, run_id)
    };

    // The same definition served again is the same version.
    {
        let server = start();
        let (_, listed) = versions(&server).await;
        assert_eq!(listed, std::slice::from_ref(&first_version));
        server.terminate();
    }

    // A changed workflow.json is a new version on the next start.
    std::fs::write(
        dir.path().join("greet").join("workflow.json"),
        greeting("v2").to_string(),
    )
    .unwrap();
    let server = start();
    let (versions, listed) = versions(&server).await;
    assert_eq!(listed.len(), 2, "{versions}");
    assert_eq!(listed[1], first_version, "newest first");
    let second_version = listed[0].clone();

    let (run_id, answer) = greet(&server).await;
    assert_eq!(answer, json!({"v": "v2"}));
    let workflow = run_workflow(&server, &run_id).await;
    assert_eq!(workflow["name"], second_version.as_str());
    let old = run_workflow(&server, &first_run).await;
    assert_eq!(old["name"], first_version.as_str());
    let old_definition = server
        .get_ok(&format!("workflows/greet/versions/{first_version}"))
        .await;
    assert_eq!(
        old_definition["properties"]["definition"]["actions"]["Answer"]["inputs"]["body"]["v"],
        "v1"
    );
}
