//! Data-driven conformance suite: the Logic Apps Standard project in
//! `tests/conformance/project` is served by the real binary, and every case in
//! `tests/conformance/cases/*.json` calls one of its triggers and checks the
//! answer and the run history (see `tests/conformance/README.md`).
//!
//! All cases run against one server; every mismatch of every case is
//! collected and reported together before the test fails.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const ADMIN_KEY: &str = "conformance-admin-key-0123456789";

/// Run statuses after which nothing changes any more.
const TERMINAL: [&str; 6] = [
    "Succeeded",
    "Failed",
    "Cancelled",
    "TimedOut",
    "Aborted",
    "Skipped",
];

struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
    callbacks: HashMap<(String, String), String>,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance")
}

fn start(project: &Path) -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
        .arg("serve")
        .arg(project)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("CONFLUX_ADMIN_KEY", ADMIN_KEY)
        .env_remove("CONFLUX_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the conflux binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            base = Some(addr.trim().to_string());
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: base.expect("the server printed its address"),
        client: reqwest::Client::new(),
        callbacks: HashMap::new(),
        _data: data,
    }
}

impl Server {
    fn management(&self, path: &str) -> String {
        format!(
            "{}/runtime/webhooks/workflow/api/management/{path}",
            self.base
        )
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let response = self
            .client
            .get(self.management(path))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!("GET {path} answered {status}: {body}"));
        }
        Ok(body)
    }

    async fn callback(&mut self, workflow: &str, trigger: &str) -> Result<String, String> {
        let key = (workflow.to_string(), trigger.to_string());
        if let Some(url) = self.callbacks.get(&key) {
            return Ok(url.clone());
        }
        let path = format!("workflows/{workflow}/triggers/{trigger}/listCallbackUrl");
        let response = self
            .client
            .post(self.management(&path))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({}))
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let url = body["value"]
            .as_str()
            .ok_or_else(|| format!("listCallbackUrl of {workflow}/{trigger} answered {body}"))?
            .to_string();
        self.callbacks.insert(key, url.clone());
        Ok(url)
    }

    async fn run_count(&self, workflow: &str) -> Result<usize, String> {
        let runs = self.get(&format!("workflows/{workflow}/runs")).await?;
        Ok(runs["value"].as_array().map_or(0, Vec::len))
    }

    /// The run once it reached a terminal status.
    async fn finished_run(&self, workflow: &str, run_id: &str) -> Result<Value, String> {
        // A guard against a run that never ends, not a timing assertion.
        for _ in 0..1200 {
            let run = self
                .get(&format!("workflows/{workflow}/runs/{run_id}"))
                .await?;
            let status = run["properties"]["status"].as_str().unwrap_or_default();
            if TERMINAL.contains(&status) {
                return Ok(run);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("run {run_id} did not finish"))
    }
}

/// `actual` matches `expected` when every property of an expected object is
/// present and matches, arrays have the same length and match element by
/// element, and other values are equal (an integer never equals a float).
fn matches(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(av) => matches(v, av, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: missing (expected {v})")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                matches(ev, av, &format!("{path}[{i}]"), out);
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!("{path}: expected {expected}, got {actual}")),
    }
}

async fn content(server: &Server, link: &Value) -> Result<Value, String> {
    let uri = link["uri"]
        .as_str()
        .ok_or_else(|| format!("no content link in {link}"))?;
    let response = server
        .client
        .get(uri)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    response.json().await.map_err(|e| e.to_string())
}

async fn check_action(
    server: &Server,
    workflow: &str,
    run_id: &str,
    name: &str,
    expected: &Value,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let base = format!("workflows/{workflow}/runs/{run_id}/actions/{name}");
    let action = server.get(&base).await?;
    let props = &action["properties"];
    let at = format!("actions.{name}");
    for key in ["status", "code"] {
        if let Some(want) = expected.get(key) {
            matches(want, &props[key], &format!("{at}.{key}"), out);
        }
    }
    if let Some(want) = expected.get("error") {
        matches(want, &props["error"], &format!("{at}.error"), out);
    }
    if let Some(want) = expected.get("trackedProperties") {
        matches(
            want,
            &props["trackedProperties"],
            &format!("{at}.trackedProperties"),
            out,
        );
    }
    if let Some(want) = expected.get("properties") {
        matches(want, props, &format!("{at}.properties"), out);
    }
    if let Some(want) = expected.get("secureData") {
        matches(want, &props["secureData"], &format!("{at}.secureData"), out);
    }
    for key in expected
        .get("absent")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = key.as_str().unwrap_or_default();
        if props.get(key).is_some() {
            out.push(format!("{at}.{key}: expected absent, got {}", props[key]));
        }
    }
    for key in expected
        .get("present")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = key.as_str().unwrap_or_default();
        if props.get(key).is_none() {
            out.push(format!("{at}.{key}: expected present"));
        }
    }
    for (section, link) in [("inputs", "inputsLink"), ("outputs", "outputsLink")] {
        if let Some(want) = expected.get(section) {
            match content(server, &props[link]).await {
                Ok(got) => matches(want, &got, &format!("{at}.{section}"), out),
                Err(e) => out.push(format!("{at}.{section}: {e}")),
            }
        }
    }
    if let Some(want) = expected.get("repetitions") {
        let reps = server.get(&format!("{base}/repetitions")).await?;
        let reps = reps["value"].as_array().cloned().unwrap_or_default();
        match want {
            Value::Number(n) => {
                if n.as_u64() != Some(reps.len() as u64) {
                    out.push(format!(
                        "{at}.repetitions: expected {n}, got {}",
                        reps.len()
                    ));
                }
            }
            // A list of records matched against each repetition's properties.
            Value::Array(items) if items.iter().all(Value::is_object) => {
                let props: Vec<Value> = reps.iter().map(|r| r["properties"].clone()).collect();
                matches(want, &json!(props), &format!("{at}.repetitions"), out);
            }
            // A list of statuses, in repetition order.
            _ => {
                let statuses: Vec<Value> = reps
                    .iter()
                    .map(|r| r["properties"]["status"].clone())
                    .collect();
                matches(want, &json!(statuses), &format!("{at}.repetitions"), out);
            }
        }
    }
    if let Some(want) = expected.get("repetitionOutputs") {
        let reps = server.get(&format!("{base}/repetitions")).await?;
        let mut got = Vec::new();
        for rep in reps["value"].as_array().into_iter().flatten() {
            got.push(
                content(server, &rep["properties"]["outputsLink"])
                    .await
                    .unwrap_or(Value::Null),
            );
        }
        matches(
            want,
            &Value::Array(got),
            &format!("{at}.repetitionOutputs"),
            out,
        );
    }
    Ok(())
}

/// Replaces `{{callback:<workflow>}}` in the strings of a request body by
/// the callback URL of that workflow's `manual` trigger, so a case can make
/// one workflow call another over HTTP.
async fn fill_placeholders(server: &mut Server, value: &mut Value) -> Result<(), String> {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                while let Some(start) = s.find("{{callback:") {
                    let end = s[start..]
                        .find("}}")
                        .map(|e| start + e)
                        .ok_or("unterminated {{callback:...}}")?;
                    let workflow = s[start + "{{callback:".len()..end].to_string();
                    let url = server.callback(&workflow, "manual").await?;
                    s.replace_range(start..end + 2, &url);
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
    Ok(())
}

async fn run_case(server: &mut Server, case: &Value) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let workflow = case["workflow"]
        .as_str()
        .ok_or("the case names no workflow")?;
    let trigger = case["trigger"].as_str().unwrap_or("manual");
    let request = &case["request"];
    let expect = &case["expect"];

    let callback = server.callback(workflow, trigger).await?;
    let (path, extra_query) = match request["path"].as_str().unwrap_or("").split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (request["path"].as_str().unwrap_or("").to_string(), None),
    };
    let (head, query) = callback.split_once('?').unwrap_or((&callback, ""));
    let mut url = format!("{head}{path}?{query}");
    if let Some(extra) = extra_query {
        url = format!("{url}&{extra}");
    }
    let runs_before = match expect.get("newRuns") {
        Some(_) => Some(server.run_count(workflow).await?),
        None => None,
    };

    let mut body = request["body"].clone();
    fill_placeholders(server, &mut body).await?;
    let method = request["method"].as_str().unwrap_or("POST");
    let mut builder = server.client.request(
        reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?,
        &url,
    );
    let mut has_content_type = false;
    for (name, value) in request["headers"].as_object().into_iter().flatten() {
        has_content_type |= name.eq_ignore_ascii_case("content-type");
        builder = builder.header(name, value.as_str().unwrap_or_default());
    }
    match &body {
        Value::Null => {}
        // A text body with an explicit content type is sent as it is.
        Value::String(text) if has_content_type => builder = builder.body(text.clone()),
        body => builder = builder.json(body),
    }
    // Earlier identical calls, so that listings hold several runs.
    for _ in 1..request["repeat"].as_u64().unwrap_or(1) {
        let again = builder
            .try_clone()
            .ok_or("the request cannot be repeated")?;
        let earlier = again.send().await.map_err(|e| e.to_string())?;
        let run = earlier
            .headers()
            .get("x-ms-workflow-run-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let _ = earlier.bytes().await;
        // `overlap`: the calls run side by side instead of one after the other.
        if request["overlap"] == json!(true) {
            continue;
        }
        if let Some(run) = run {
            server.finished_run(workflow, &run).await?;
        }
    }
    let response = builder.send().await.map_err(|e| e.to_string())?;

    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    if let Some(want) = expect.get("status") {
        matches(want, &json!(status), "status", &mut out);
    }
    if let Some(want) = expect.get("body") {
        let got = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text.clone()));
        matches(want, &got, "body", &mut out);
    }
    if let Some(want) = expect.get("text") {
        matches(want, &json!(text), "text", &mut out);
    }
    for (name, want) in expect["headers"].as_object().into_iter().flatten() {
        let got = headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map_or(Value::Null, |v| json!(v));
        matches(want, &got, &format!("headers.{name}"), &mut out);
    }
    let run_id = headers
        .get("x-ms-workflow-run-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if expect["noRun"] == json!(true) && run_id.is_some() {
        out.push(format!("expected no run, got run id {run_id:?}"));
    }
    if let (Some(before), Some(want)) = (runs_before, expect.get("newRuns")) {
        let after = server.run_count(workflow).await?;
        matches(want, &json!(after - before), "newRuns", &mut out);
    }
    if let Some(want_run) = expect.get("run") {
        let Some(run_id) = run_id.clone() else {
            out.push("no x-ms-workflow-run-id header".to_string());
            return Ok(out);
        };
        let run = server.finished_run(workflow, &run_id).await?;
        for key in ["status", "code", "error", "outputs", "correlation"] {
            if let Some(want) = want_run.get(key) {
                matches(
                    want,
                    &run["properties"][key],
                    &format!("run.{key}"),
                    &mut out,
                );
            }
        }
        for (name, want) in want_run["actions"].as_object().into_iter().flatten() {
            check_action(server, workflow, &run_id, name, want, &mut out).await?;
        }
    }
    // Management API reads after the call: `{workflow}` and `{run}` in a
    // path become this case's workflow and run id (`{run}` also in `expect`).
    let settle = request["overlap"] != json!(true);
    if let (Some(run), Some(_), true) = (&run_id, expect.get("management"), settle) {
        server.finished_run(workflow, run).await?;
    }
    for (i, check) in expect["management"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = check["get"]
            .as_str()
            .ok_or("a management check names no path")?
            .replace("{workflow}", workflow)
            .replace("{run}", run_id.as_deref().unwrap_or_default());
        let got = server.get(&path).await?;
        let run_name = run_id.as_deref().unwrap_or_default();
        let want = serde_json::to_string(&check["expect"])
            .map_err(|e| e.to_string())?
            .replace("{run}", run_name);
        let want: Value = serde_json::from_str(&want).map_err(|e| e.to_string())?;
        matches(&want, &got, &format!("management[{i}]"), &mut out);
        if let Some(want) = check.get("next") {
            // The page behind `nextLink`, read the same way.
            let link = got["nextLink"].as_str().unwrap_or_default().to_string();
            let next = server
                .client
                .get(&link)
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .map_err(|e| format!("GET {link}: {e}"))?;
            let next: Value = next.json().await.unwrap_or(Value::Null);
            matches(want, &next, &format!("management[{i}].next"), &mut out);
        }
        if let Some(n) = check["count"].as_u64() {
            let len = got["value"].as_array().map_or(0, Vec::len) as u64;
            if len != n {
                out.push(format!("management[{i}]: expected {n} value(s), got {len}"));
            }
        }
    }
    Ok(out)
}

#[tokio::test]
async fn conformance_cases() {
    let root = root();
    let mut server = start(&root.join("project"));
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root.join("cases"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases found");
    let only = std::env::var("CONFORMANCE_CASE").ok();
    let mut failures = Vec::new();
    let mut ran = 0;
    for path in &cases {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        ran += 1;
        let case: Value = match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(case) => case,
            Err(e) => {
                failures.push(format!("{name}: unreadable case: {e}"));
                continue;
            }
        };
        match run_case(&mut server, &case).await {
            Ok(mismatches) => {
                failures.extend(mismatches.into_iter().map(|m| format!("{name}: {m}")));
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(ran > 0, "CONFORMANCE_CASE matched no case");
    assert!(
        failures.is_empty(),
        "{} mismatch(es) in {ran} case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
