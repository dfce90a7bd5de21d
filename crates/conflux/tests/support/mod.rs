//! What the end-to-end tests share: a project folder written from workflow
//! documents, the real `conflux serve` process started on it (and stopped,
//! killed or restarted), and the requests a test makes to that process —
//! signed trigger calls, the management API with the admin key, and run
//! history read until it settles.
//!
//! Every test binary compiles this module on its own and uses a part of it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

/// The admin key the tests start the server with (`CONFLUX_ADMIN_KEY`).
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// How long a test waits for something that should happen; only a limit for
/// a hung test, never a measurement.
pub const PATIENCE: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------
// Projects

/// A project folder: an empty `host.json` and one folder per workflow.
pub fn project(workflows: &[(&str, Value)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.json"), "{}").unwrap();
    for (name, doc) in workflows {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("workflow.json"), doc.to_string()).unwrap();
    }
    dir
}

/// A stateful workflow with a POST Request trigger `manual`; `trigger_extra`
/// adds fields to the trigger (conditions, splitOn, runtimeConfiguration).
pub fn request_workflow(actions: Value, trigger_extra: Value) -> Value {
    let mut trigger = json!({"type": "Request", "kind": "Http", "inputs": {"method": "POST"}});
    if let (Some(t), Some(extra)) = (trigger.as_object_mut(), trigger_extra.as_object()) {
        for (k, v) in extra {
            t.insert(k.clone(), v.clone());
        }
    }
    json!({"definition": {"triggers": {"manual": trigger}, "actions": actions}, "kind": "Stateful"})
}

/// How many callback URLs the server prints for `project`: one per Request trigger.
fn request_triggers(project: &Path) -> usize {
    std::fs::read_dir(project)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("workflow.json")).ok())
        .filter_map(|text| serde_json::from_str::<Value>(&strip_line_comments(&text)).ok())
        .map(|doc| {
            doc["definition"]["triggers"]
                .as_object()
                .map(|t| t.values().filter(|t| t["type"] == "Request").count())
                .unwrap_or(0)
        })
        .sum()
}

fn strip_line_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A name no other test run uses: `prefix`, the process id and the time.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}-{nanos}", std::process::id())
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------
// Starting the server

/// How to start `conflux serve` on a project; [`Launch::start`] starts it.
pub struct Launch {
    project: PathBuf,
    /// The project folder when the launch made it ([`serve_workflows`]).
    owned_project: Option<tempfile::TempDir>,
    data: Option<PathBuf>,
    port: u16,
    args: Vec<String>,
    logs: Option<PathBuf>,
    /// Log to a folder of the server's own ([`Launch::logged`]).
    own_logs: bool,
    admin_key: bool,
}

/// `conflux serve project` on a port the system picks, with a fresh data
/// folder and [`ADMIN_KEY`].
pub fn serve(project: &Path) -> Launch {
    Launch {
        project: project.to_path_buf(),
        owned_project: None,
        data: None,
        port: 0,
        args: Vec::new(),
        logs: None,
        own_logs: false,
        admin_key: true,
    }
}

/// [`serve`] on a new [`project`] of `workflows`, which the server keeps
/// until it is dropped.
pub fn serve_workflows(workflows: &[(&str, Value)]) -> Launch {
    let dir = project(workflows);
    let mut launch = serve(dir.path());
    launch.owned_project = Some(dir);
    launch
}

impl Launch {
    /// Keeps run history in `data`, which outlives the server (a restart
    /// finds it there), instead of in a fresh folder.
    pub fn data(mut self, data: &Path) -> Launch {
        self.data = Some(data.to_path_buf());
        self
    }

    /// Listens on `port`, so that a restarted server keeps its addresses.
    pub fn port(mut self, port: u16) -> Launch {
        self.port = port;
        self
    }

    /// More command-line options (`--max-body-bytes 1000`).
    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Logs at `info` to a new file in `logs`, shown when a wait gives up.
    pub fn logs(mut self, logs: &Path) -> Launch {
        self.logs = Some(logs.to_path_buf());
        self
    }

    /// Logs at `info` to a file in a folder the server keeps until it is
    /// dropped; [`Server::log_text`] reads it.
    pub fn logged(mut self) -> Launch {
        self.own_logs = true;
        self
    }

    /// Starts without `CONFLUX_ADMIN_KEY`: the server makes up its own.
    pub fn without_admin_key(mut self) -> Launch {
        self.admin_key = false;
        self
    }

    /// Starts the process; returns once it printed `listening on` and the
    /// callback URL of every Request trigger of the project (so, on a
    /// restart, once incomplete runs were handed back to the engine).
    pub fn start(self) -> Server {
        let owned_data = match self.data {
            Some(_) => None,
            None => Some(tempfile::tempdir().unwrap()),
        };
        let data = self
            .data
            .clone()
            .unwrap_or_else(|| owned_data.as_ref().unwrap().path().to_path_buf());
        let mut command = Command::new(env!("CARGO_BIN_EXE_conflux"));
        command
            .arg("serve")
            .arg(&self.project)
            .args(["--listen", &format!("127.0.0.1:{}", self.port), "--data"])
            .arg(&data)
            .args(&self.args)
            .env_remove("CONFLUX_MASTER_KEY")
            .stdout(Stdio::piped());
        if self.admin_key {
            command.env("CONFLUX_ADMIN_KEY", ADMIN_KEY);
        } else {
            command.env_remove("CONFLUX_ADMIN_KEY");
        }
        let owned_logs = match (&self.logs, self.own_logs) {
            (None, true) => Some(tempfile::tempdir().unwrap()),
            _ => None,
        };
        let logs = self
            .logs
            .as_deref()
            .or(owned_logs.as_ref().map(tempfile::TempDir::path));
        let log = logs.map(|logs| {
            let n = std::fs::read_dir(logs).unwrap().count();
            logs.join(format!("serve-{n}.log"))
        });
        match &log {
            Some(log) => command
                .env("CONFLUX_LOG", "info")
                .stderr(std::fs::File::create(log).unwrap()),
            None => command.stderr(Stdio::null()),
        };
        let mut child = command.spawn().expect("the conflux binary starts");

        let expected = request_triggers(&self.project);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut base = None;
        let mut preamble = Vec::new();
        let mut callbacks = Vec::new();
        while base.is_none() || callbacks.len() < expected {
            let Some(line) = lines.next() else {
                panic!(
                    "conflux serve ended before listening:\n{}",
                    read_log(log.as_deref())
                );
            };
            let line = line.unwrap();
            if let Some(addr) = line.strip_prefix("listening on ") {
                base = Some(addr.trim().to_string());
            } else if base.is_none() {
                preamble.push(line);
            } else if line.starts_with("  ") {
                // `  POST workflow/trigger: url[ (append /path to the path)]`
                let (head, url) = line.trim().split_once(": ").unwrap();
                let name = head.split_whitespace().nth(1).unwrap().to_string();
                callbacks.push((name, url.split_whitespace().next().unwrap().to_string()));
            }
        }
        // Read on, so that the server never waits on a full pipe.
        let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect());
        Server {
            child,
            base: base.unwrap(),
            callbacks,
            preamble,
            client: reqwest::Client::new(),
            log,
            rest: Some(rest),
            _data: owned_data,
            _logs: owned_logs,
            _project: self.owned_project,
        }
    }
}

// ---------------------------------------------------------------------------
// The running server

/// A running `conflux serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// `(workflow/trigger, url)` of each Request trigger, as printed at start.
    pub callbacks: Vec<(String, String)>,
    /// Lines printed before `listening on` (`resumed 1 incomplete run(s)`,
    /// a generated admin key).
    pub preamble: Vec<String>,
    pub client: reqwest::Client,
    log: Option<PathBuf>,
    /// What the server prints after its start, once it has ended.
    rest: Option<JoinHandle<Vec<String>>>,
    _data: Option<tempfile::TempDir>,
    _logs: Option<tempfile::TempDir>,
    _project: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// SIGKILL: the process gets no chance to flush, acknowledge or close anything.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(status.signal(), Some(9), "ended by SIGKILL: {status}");
        }
        assert!(!status.success(), "the server was killed, not stopped");
    }

    /// SIGTERM, as a service manager stops the server; returns how it ended
    /// and the lines it printed after its start.
    #[cfg(unix)]
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        let rest = self.rest.take().unwrap().join().unwrap();
        (self.child.wait().unwrap(), rest)
    }

    /// The log file, when started with [`Launch::logs`] or [`Launch::logged`].
    pub fn log(&self) -> Option<PathBuf> {
        self.log.clone()
    }

    /// What the server has logged so far (empty without a log file).
    pub fn log_text(&self) -> String {
        read_log(self.log.as_deref())
    }

    /// Waits until the log has `needle` at least `count` times.
    pub async fn wait_for_log(&self, needle: &str, count: usize) {
        let patience = self.patience(&format!("{needle:?} {count} time(s) in the log"));
        while self.log_text().matches(needle).count() < count {
            patience.tick().await;
        }
    }

    /// A wait for `what`, reporting this server's log if it gives up.
    pub fn patience(&self, what: &str) -> Patience {
        Patience::new(what, self.log())
    }

    /// The signed callback URL of the Request trigger of `workflow`.
    pub fn url(&self, workflow: &str) -> String {
        self.callbacks
            .iter()
            .find(|(n, _)| n.starts_with(&format!("{workflow}/")))
            .map(|(_, u)| u.clone())
            .unwrap_or_else(|| panic!("no callback URL printed for {workflow}"))
    }

    /// Calls a trigger URL with a JSON body.
    pub async fn call(&self, url: &str, body: Value) -> reqwest::Response {
        self.client.post(url).json(&body).send().await.unwrap()
    }

    /// Calls a trigger URL with a JSON body; the answer's status.
    pub async fn call_status(&self, url: &str, body: Value) -> u16 {
        self.call(url, body).await.status().as_u16()
    }

    pub fn management(&self, path: &str) -> String {
        format!(
            "{}/runtime/webhooks/workflow/api/management/{path}",
            self.base
        )
    }

    /// A call of the management API with the admin key: status and JSON
    /// body (null if none).
    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.management(path))
            .bearer_auth(ADMIN_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        status_and_json(request.send().await.unwrap()).await
    }

    /// GET on the management API: status and JSON body (null if none).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.admin(reqwest::Method::GET, path, None).await
    }

    /// PUT on the management API: status and JSON body (null if none).
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.admin(reqwest::Method::PUT, path, Some(body)).await
    }

    /// DELETE on the management API: status and JSON body (null if none).
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.admin(reqwest::Method::DELETE, path, None).await
    }

    /// GET on the management API, which must answer 200.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// POST on the management API, for the whole answer (headers too).
    pub async fn post_response(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.management(path))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// POST on the management API: status and JSON body (null if none).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        status_and_json(self.post_response(path, body).await).await
    }

    /// `listCallbackUrl` of a trigger; `body` may ask for an expiry
    /// (`NotAfter`) or the secondary key (`KeyType`).
    pub async fn list_callback_url(&self, workflow: &str, trigger: &str, body: Value) -> Value {
        let path = format!("workflows/{workflow}/triggers/{trigger}/listCallbackUrl");
        let (status, answer) = self.post(&path, body).await;
        assert_eq!(status, 200, "POST {path}: {answer}");
        answer
    }

    /// A `nextLink` of the management API (it carries no signature).
    pub async fn get_next(&self, link: &str) -> Value {
        let request = self.client.get(link).bearer_auth(ADMIN_KEY);
        request.send().await.unwrap().json().await.unwrap()
    }

    /// The JSON behind a content link (inputs or outputs of an action).
    pub async fn fetch(&self, link: &str) -> Value {
        let response = self.client.get(link).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// The status of a GET of `url` without credentials.
    pub async fn fetch_status(&self, url: &str) -> u16 {
        self.client.get(url).send().await.unwrap().status().as_u16()
    }

    /// The text behind a content link.
    pub async fn fetch_text(&self, link: &str) -> String {
        self.client
            .get(link)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// How many runs the first page of `workflow`'s run history lists.
    pub async fn run_count(&self, workflow: &str) -> usize {
        let runs = self.get_ok(&format!("workflows/{workflow}/runs")).await;
        runs["value"].as_array().unwrap().len()
    }

    /// Every run of a workflow as `(run id, status)`, following `nextLink`.
    pub async fn runs(&self, workflow: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut page = self.get_ok(&format!("workflows/{workflow}/runs")).await;
        loop {
            for run in page["value"].as_array().unwrap() {
                out.push((
                    run["name"].as_str().unwrap().to_string(),
                    run["properties"]["status"].as_str().unwrap().to_string(),
                ));
            }
            let Some(next) = page["nextLink"].as_str() else {
                break;
            };
            page = self.get_next(next).await;
        }
        out
    }

    /// Reads the runs of `workflow` until `done` holds for them, and returns them.
    pub async fn wait_for_runs(
        &self,
        workflow: &str,
        what: &str,
        done: impl Fn(&[(String, String)]) -> bool,
    ) -> Vec<(String, String)> {
        let patience = self.patience(what);
        loop {
            let runs = self.runs(workflow).await;
            if done(&runs) {
                return runs;
            }
            patience.tick().await;
        }
    }

    /// The action records of a run: `name -> record`, failing on a name listed twice.
    pub async fn actions(&self, workflow: &str, run: &str) -> BTreeMap<String, Value> {
        let list = self
            .get_ok(&format!("workflows/{workflow}/runs/{run}/actions"))
            .await;
        let mut out = BTreeMap::new();
        for action in list["value"].as_array().unwrap() {
            let name = action["name"].as_str().unwrap().to_string();
            assert!(
                out.insert(name.clone(), action.clone()).is_none(),
                "action {name} of run {run} is listed twice: {list}"
            );
        }
        out
    }

    /// The record of one action of a run.
    pub async fn action(&self, workflow: &str, run: &str, action: &str) -> Value {
        self.get_ok(&format!("workflows/{workflow}/runs/{run}/actions/{action}"))
            .await
    }

    /// The outputs of an action that succeeded, read through its content link.
    pub async fn action_outputs(&self, workflow: &str, run: &str, action: &str) -> Value {
        let record = self.action(workflow, run, action).await;
        assert_eq!(record["properties"]["status"], "Succeeded", "{record}");
        let link = record["properties"]["outputsLink"]["uri"].as_str().unwrap();
        self.fetch(link).await
    }

    /// The record of a run once it has ended (its status is none of
    /// Running, Waiting, Suspended, Paused).
    pub async fn finished_run(&self, workflow: &str, run: &str) -> Value {
        let patience = self.patience(&format!("run {run} of {workflow} to end"));
        loop {
            let record = self
                .get_ok(&format!("workflows/{workflow}/runs/{run}"))
                .await;
            let status = record["properties"]["status"].as_str().unwrap_or("");
            if !["Running", "Waiting", "Suspended", "Paused"].contains(&status) {
                return record;
            }
            patience.tick().await;
        }
    }

    /// GETs an asynchronous response `location` until it answers other than 202.
    pub async fn poll_location(&self, location: &str) -> reqwest::Response {
        let patience = self.patience(&format!("{location} to answer"));
        loop {
            let response = self.client.get(location).send().await.unwrap();
            if response.status().as_u16() != 202 {
                return response;
            }
            patience.tick().await;
        }
    }
}

/// The run a trigger call started (`x-ms-workflow-run-id`).
pub fn run_id_of(response: &reqwest::Response) -> String {
    header(response, "x-ms-workflow-run-id")
}

/// A header of an answer, which must have it.
pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_string()
}

/// The status of an answer and its JSON body (null if it has none).
async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The status and `error.code` of an error answer.
pub async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

// ---------------------------------------------------------------------------
// Waiting

/// Waiting for something that should happen: [`Patience::tick`] sleeps a
/// little, or panics with what was awaited (and the server log, if any) once
/// [`PATIENCE`] ran out.
pub struct Patience {
    what: String,
    log: Option<PathBuf>,
    deadline: tokio::time::Instant,
}

impl Patience {
    pub fn new(what: &str, log: Option<PathBuf>) -> Patience {
        Patience {
            what: what.to_string(),
            log,
            deadline: tokio::time::Instant::now() + PATIENCE,
        }
    }

    pub async fn tick(&self) {
        if tokio::time::Instant::now() > self.deadline {
            let log = read_log(self.log.as_deref());
            panic!("gave up waiting for {}\nserver log:\n{log}", self.what);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of a log file (empty if there is none).
fn read_log(log: Option<&Path>) -> String {
    log.and_then(|log| std::fs::read_to_string(log).ok())
        .unwrap_or_default()
}
