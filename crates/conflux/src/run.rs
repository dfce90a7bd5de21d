//! `conflux run DIR/WORKFLOW`: runs one workflow of a project once, with a
//! temporary in-memory store, and prints what happened.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::connector_host::ConnectorHost;
use anyhow::Context as _;
use conflux_definition::project::Project;
use conflux_definition::{Workflow, WorkflowKind};
use conflux_engine::{Engine, EngineOptions, StartRun, WorkflowRegistration};
use conflux_store::{RunStatus, SqliteStore, Store};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The workflow folder inside a project: `DIR/WORKFLOW`.
    pub workflow: PathBuf,
    /// The request body: a JSON (or text) file, or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub body: Option<String>,
    /// A request header `Name:Value`; repeatable.
    #[arg(long = "header", value_name = "K:V")]
    pub headers: Vec<String>,
    /// The request method the trigger sees.
    #[arg(long, default_value = "POST")]
    pub method: String,
}

fn read_body(spec: Option<&str>) -> anyhow::Result<serde_json::Value> {
    let text = match spec {
        None => return Ok(serde_json::Value::Null),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the body from stdin")?;
            s
        }
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the body file {path}"))?,
    };
    // JSON bodies are parsed; anything else is passed as text.
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

pub fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let dir = args
        .workflow
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = args
        .workflow
        .file_name()
        .and_then(|n| n.to_str())
        .context("pass the workflow as DIR/WORKFLOW")?
        .to_string();
    let file = args.workflow.join("workflow.json");
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", file.display()))?;
    let workflow = match Workflow::from_json(&doc) {
        Ok(w) => w,
        Err(e) => {
            for f in e.findings() {
                println!("{f}");
            }
            anyhow::bail!(
                "{} is not valid; fix the problems above (see `conflux validate`)",
                file.display()
            );
        }
    };
    let trigger_name = workflow
        .triggers
        .keys()
        .next()
        .cloned()
        .unwrap_or_else(|| "manual".into());
    // Parameters and app settings of the project, when it loads.
    let mut registration =
        WorkflowRegistration::new(name.clone(), Arc::new(workflow)).with_document(doc);
    registration.stateless = registration.workflow.kind == WorkflowKind::Stateless;
    let mut executors = Vec::new();
    if let Ok(project) = Project::load(&dir) {
        // Runtime.Backend.FlowRunTimeout bounds stateful runs,
        // Runtime.Backend.Stateless.FlowRunTimeout stateless ones.
        registration.run_timeout = if registration.stateless {
            project.stateless_run_timeout()
        } else {
            project.run_timeout()
        };
        for (k, p) in &project.parameters {
            registration.parameters.insert(k.clone(), p.value.clone());
        }
        for (k, v) in &project.app_settings {
            registration
                .app_settings
                .insert(k.clone(), serde_json::Value::String(v.clone()));
        }
        // Built-in connectors, through the project's connections.json.
        let (host, problems) = ConnectorHost::from_project(&project, conflux_connectors::all());
        let ours: Vec<String> = problems
            .iter()
            .filter(|p| p.concerns_workflow(&name))
            .map(ToString::to_string)
            .collect();
        if !ours.is_empty() {
            anyhow::bail!(
                "the workflow's connections are not usable:\n  {}",
                ours.join("\n  ")
            );
        }
        executors.push(Arc::new(host).executor());
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await?);
    let mut options = EngineOptions::new(store);
    options.executors = executors;
    let engine = Engine::new(options);
    if let Err(e) = engine.register_workflow(registration) {
        anyhow::bail!("{e}");
    }
    let mut headers = serde_json::Map::new();
    for h in &args.headers {
        let (k, v) = h
            .split_once(':')
            .with_context(|| format!("--header '{h}' must be Name:Value"))?;
        headers.insert(
            k.trim().to_string(),
            serde_json::Value::String(v.trim().to_string()),
        );
    }
    let outputs = serde_json::json!({
        "headers": headers,
        "body": read_body(args.body.as_deref())?,
        "queries": {},
        "method": args.method.to_ascii_uppercase(),
        "relativePathParameters": {},
    });
    let handle = engine
        .start_run(StartRun::new(name.clone(), trigger_name, outputs))
        .await?;
    let response_rx = handle.response;
    let outcome = handle
        .completion
        .await
        .context("the run ended without an outcome")?;
    println!("run {} of {name}", outcome.run_id);
    for a in &outcome.actions {
        let rep = if a.repetition.is_empty() {
            String::new()
        } else {
            format!(
                "[{}]",
                a.repetition
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            )
        };
        let ms = (a.end - a.start).num_milliseconds();
        let code = a
            .code
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        println!(
            "  {:<40} {:<10} {ms} ms{code}",
            format!("{}{rep}", a.name),
            a.status.as_str()
        );
    }
    if let Some(rx) = response_rx {
        if let Ok(resp) = rx.await {
            println!("response: {}", resp.status);
            for (k, v) in &resp.headers {
                println!("  {k}: {v}");
            }
            println!("{}", serde_json::to_string_pretty(&resp.body.to_json())?);
        }
    }
    if let Some(err) = &outcome.error {
        println!("error: {err}");
    }
    println!("status: {}", outcome.status);
    Ok(if outcome.status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
