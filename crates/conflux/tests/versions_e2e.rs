//! Definition versions through the real `conflux serve`: each served
//! workflow.json is a stored version, runs name theirs in
//! `properties.workflow`, a changed workflow.json becomes a new version on the
//! next start, and the versions API never shows secure parameter defaults.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

mod support;

use serde_json::{json, Value};
use support::{free_port, project, run_id_of, serve};

const SECRET_DEFAULT: &str = "secure-default-never-shown-7f3a";

fn greeting(text: &str) -> Value {
    json!({"definition": {
        "parameters": {"apiKey": {"type": "SecureString", "defaultValue": SECRET_DEFAULT}},
        "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {"method": "POST"}}},
        "actions": {"Answer": {"type": "Response", "kind": "Http", "inputs": {"statusCode": 200, "body": {"v": text}}}}
    }, "kind": "Stateful"})
}

fn ids(list: &Value) -> Vec<String> {
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn served_definitions_are_versions_and_runs_name_theirs() {
    let dir = project(&[("greet", greeting("v1"))]);
    let data = tempfile::tempdir().unwrap();
    let port = free_port();

    let (first_version, first_run) = {
        let server = serve(dir.path()).data(data.path()).port(port).start();
        let versions = server.get_ok("workflows/greet/versions").await;
        let listed = ids(&versions);
        assert_eq!(listed.len(), 1, "{versions}");
        let version = listed[0].clone();
        assert!(!versions.to_string().contains(SECRET_DEFAULT), "{versions}");

        let response = server.call(&server.url("greet"), json!({})).await;
        assert_eq!(response.status().as_u16(), 200);
        let run_id = run_id_of(&response);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({"v": "v1"}));
        let run = server
            .get_ok(&format!("workflows/greet/runs/{run_id}"))
            .await;
        let workflow = &run["properties"]["workflow"];
        assert_eq!(workflow["name"], version.as_str(), "{run}");
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
        let server = serve(dir.path()).data(data.path()).port(port).start();
        let versions = server.get_ok("workflows/greet/versions").await;
        assert_eq!(ids(&versions), std::slice::from_ref(&first_version));
        server.terminate();
    }

    // A changed workflow.json is a new version on the next start.
    std::fs::write(
        dir.path().join("greet").join("workflow.json"),
        greeting("v2").to_string(),
    )
    .unwrap();
    let server = serve(dir.path()).data(data.path()).port(port).start();
    let versions = server.get_ok("workflows/greet/versions").await;
    let listed = ids(&versions);
    assert_eq!(listed.len(), 2, "{versions}");
    assert_eq!(listed[1], first_version, "newest first");
    let second_version = listed[0].clone();

    let response = server.call(&server.url("greet"), json!({})).await;
    let run_id = run_id_of(&response);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"v": "v2"}));
    let run = server
        .get_ok(&format!("workflows/greet/runs/{run_id}"))
        .await;
    assert_eq!(
        run["properties"]["workflow"]["name"],
        second_version.as_str()
    );
    let old = server
        .get_ok(&format!("workflows/greet/runs/{first_run}"))
        .await;
    assert_eq!(
        old["properties"]["workflow"]["name"],
        first_version.as_str()
    );
    let old_definition = server
        .get_ok(&format!("workflows/greet/versions/{first_version}"))
        .await;
    assert_eq!(
        old_definition["properties"]["definition"]["actions"]["Answer"]["inputs"]["body"]["v"],
        "v1"
    );
}
