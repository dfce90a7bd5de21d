//! `conflux serve`: host a Logic Apps Standard project folder over HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use conflux_connector_api::Shutdown;
use conflux_definition::project::Project;
use conflux_definition::Workflow;
use conflux_engine::{Engine, EngineOptions, WorkflowRegistration};
use conflux_server::connection_store::ConnectionStore;
use conflux_server::{Clock, Host, HostConfig, HostOptions, MasterKey, Secret, WorkflowSpec};

use crate::connector_host::ConnectorHost;
use crate::{identity_source, outbound};
use conflux_store::SqliteStore;

/// Prints a line to stdout, ignoring a closed stdout: the server keeps
/// serving when whoever started it stops reading.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The project folder: host.json, connections.json, parameters.json and one folder per workflow.
    pub dir: PathBuf,
    /// Address to listen on; port 0 picks a free port (the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:7071")]
    pub listen: SocketAddr,
    /// Folder for the run-history database and the master key.
    #[arg(long, default_value = ".conflux")]
    pub data: PathBuf,
    /// Base URL used in callback URLs and content links (e.g. behind a reverse proxy).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Largest accepted request body, in bytes (default 104857600, or host.json
    /// extensions.workflow.maxRequestBodyBytes).
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// How long a caller waits for a Response action, in seconds (default 235).
    #[arg(long)]
    pub response_timeout_secs: Option<u64>,
}

pub fn main(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONFLUX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.dir)?;
    for problem in &project.problems {
        eprintln!("warning: {problem}");
    }
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating the data folder {}", args.data.display()))?;
    let master_key = Arc::new(MasterKey::load_or_create(&args.data)?);
    let store = Arc::new(
        SqliteStore::open(args.data.join("conflux.db"))
            .await
            .with_context(|| {
                format!(
                    "opening the run-history database in {}",
                    args.data.display()
                )
            })?,
    );
    // Connections: connections.json plus those created through the management
    // API (secrets sealed under the master key; re-wrapped in the background
    // after a master-key rotation).
    let connections = Arc::new(ConnectionStore::new(
        store.clone(),
        master_key.clone(),
        conflux_connectors::all(),
    ));
    {
        let connections = connections.clone();
        tokio::spawn(async move {
            match connections.rotate().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    count = n,
                    "Re-wrapped connection secrets under the current master key."
                ),
                Err(err) => tracing::warn!(error = %err, "Re-wrapping connection secrets failed."),
            }
        });
    }
    // API-created connections are live: changes count from the next action.
    let (connector_host, wiring_problems) = ConnectorHost::from_project_with_store(
        &project,
        conflux_connectors::all(),
        connections.clone(),
    )
    .await;
    for problem in &wiring_problems {
        eprintln!("warning: {problem}");
    }
    let connector_host = Arc::new(connector_host);

    // The host's own identity: tokens for ManagedServiceIdentity authentication.
    let base_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let issuer = Arc::new(
        identity_source::load_or_create_issuer(store.as_ref(), &master_key, &base_url).await?,
    );
    let clock: Arc<dyn Clock> = Arc::new(conflux_engine::SystemClock);
    let authorizer = outbound::authorizer(Arc::new(identity_source::IssuerTokenSource::new(
        issuer.clone(),
        app_name(&args.dir),
        clock.clone(),
    )))?;

    let mut options = EngineOptions::new(store.clone());
    options.executors = vec![connector_host.executor()];
    options.authorizer = Some(authorizer.clone());
    options.run_timeout = project.run_timeout().unwrap_or(options.run_timeout);
    options.stateless_run_timeout = project
        .stateless_run_timeout()
        .unwrap_or(options.stateless_run_timeout);
    // Secured action sections are journaled sealed under the master key.
    let (seal_key, open_key) = (master_key.clone(), master_key.clone());
    options.sealer = Some(Arc::new(conflux_engine::FnSealer::new(
        move |plain, context| seal_key.seal(plain, context),
        move |sealed, context| {
            open_key
                .open(sealed, context)
                .map_err(|e| conflux_engine::SealError(e.to_string()))
        },
    )));
    let engine = Engine::new(options);

    let parameters: serde_json::Map<String, serde_json::Value> = project
        .parameters
        .iter()
        .map(|(name, p)| (name.clone(), p.value.clone()))
        .collect();
    let app_settings: serde_json::Map<String, serde_json::Value> = project
        .app_settings
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let mut specs = Vec::new();
    for project_workflow in &project.workflows {
        if let Some(problem) = wiring_problems
            .iter()
            .find(|p| p.blocks_workflow(&project_workflow.name))
        {
            eprintln!(
                "warning: workflow '{}' is not served: {problem}",
                project_workflow.name
            );
            continue;
        }
        let workflow = match Workflow::from_json(&project_workflow.document) {
            Ok(workflow) => Arc::new(workflow),
            Err(err) => {
                eprintln!(
                    "warning: {} is not served: {err}",
                    project_workflow.path.display()
                );
                continue;
            }
        };
        let mut registration =
            WorkflowRegistration::new(project_workflow.name.clone(), workflow.clone())
                .with_document(project_workflow.document.clone());
        registration.parameters = parameters.clone();
        registration.app_settings = app_settings.clone();
        registration.stateless_run_history = conflux_engine::stateless_run_history_enabled(
            &project_workflow.name,
            project
                .app_settings
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if let Err(err) = engine.register_workflow(registration) {
            eprintln!(
                "warning: workflow '{}' is not served: {err}",
                project_workflow.name
            );
            continue;
        }
        specs.push(WorkflowSpec {
            name: project_workflow.name.clone(),
            kind: project_workflow.kind,
            document: project_workflow.document.clone(),
            workflow,
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        });
    }

    let mut config = HostConfig {
        public_url: args.public_url.clone(),
        ..HostConfig::default()
    };
    if let Some(limit) = args.max_body_bytes.or_else(|| {
        project
            .host
            .pointer("/extensions/workflow/maxRequestBodyBytes")
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    }) {
        config.max_body_bytes = limit;
    }
    if let Some(secs) = args.response_timeout_secs {
        config.response_timeout = Duration::from_secs(secs);
    }
    let admin_key = std::env::var("CONFLUX_ADMIN_KEY").ok().map(Secret::new);
    let host = Host::start(HostOptions {
        runtime: Arc::new(engine.clone()),
        store: store.clone(),
        master_key,
        workflows: specs,
        app_settings: project
            .app_settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>(),
        host_json: project.host.clone(),
        admin_key,
        config,
        clock: clock.clone(),
        connections: Some(connections),
        jwks: Some(issuer.jwks()),
    })
    .await?
    .with_request_authorizer(authorizer)
    .with_webhooks(engine.webhooks(), engine.webhook_client());
    if let Some(key) = &host.generated_admin_key {
        say!("admin key (shown once; use it as `Authorization: Bearer <key>` for the management API): {}", key.expose());
    }
    let bound = host.bind(args.listen).await?;
    // Each served definition is a version in the store; runs resume with theirs.
    engine.record_versions().await?;
    let resumed = engine.resume_incomplete().await?;
    if resumed > 0 {
        say!("resumed {resumed} incomplete run(s)");
    }
    say!("listening on http://{}", bound.local_addr());
    for callback in bound.callback_urls() {
        let suffix = callback
            .relative_path
            .as_deref()
            .map(|p| format!(" (append /{p} to the path)"))
            .unwrap_or_default();
        say!(
            "  {} {}/{}: {}{suffix}",
            callback.method,
            callback.workflow,
            callback.trigger,
            callback.url
        );
    }
    let retention_days = conflux_server::retention::retention_days(
        &project.host,
        &project
            .app_settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
    .map_err(anyhow::Error::msg)?;
    let retention = conflux_server::retention::spawn(store.clone(), clock.clone(), retention_days);
    let schedulers = bound.start_schedulers();
    let (trigger_shutdown, trigger_signal) = Shutdown::new();
    let connector_triggers =
        connector_host.spawn_triggers(&project, &engine, store.clone(), trigger_signal);
    bound.serve(shutdown_signal()).await?;
    trigger_shutdown.fire();
    for task in connector_triggers {
        // A listener acknowledges what it already delivered before it returns.
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    for scheduler in schedulers {
        scheduler.abort();
    }
    retention.abort();
    say!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The app's name, for its system-assigned identity: the project folder's name.
fn app_name(dir: &std::path::Path) -> String {
    std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "conflux".to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("Shutting down: no new requests are accepted.");
}
