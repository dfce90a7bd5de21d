//! The run engine: scheduling, built-in actions, retries, durable runs.
//!
//! An [`Engine`] hosts registered workflows and runs them: [`Engine::start_run`]
//! creates the run (in the store, for stateful workflows), schedules its actions
//! by their `runAfter` graph, executes built-in actions itself and hands other
//! types to plugged [`ActionExecutor`]s, and finishes with the run status the
//! Logic Apps rules give (see docs/engine.md). A stateful run journals every
//! step, so [`Engine::resume_incomplete`] continues it after a restart.
//!
//! ```
//! use std::sync::Arc;
//! use conflux_engine::{Engine, EngineOptions, StartRun, WorkflowRegistration};
//! use conflux_store::{RunStatus, SqliteStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = Arc::new(SqliteStore::open_in_memory().await.expect("in-memory store"));
//! let engine = Engine::new(EngineOptions::new(store));
//! let doc = serde_json::json!({"definition": {
//!     "triggers": {"manual": {"type": "Request", "kind": "Http"}},
//!     "actions": {"Hello": {"type": "Compose", "inputs": "@concat('Hello ', triggerBody()?['name'])"}}
//! }});
//! let workflow = conflux_definition::Workflow::from_json(&doc).expect("valid");
//! engine.register_workflow(WorkflowRegistration::new("hello", Arc::new(workflow))).expect("registered");
//! let run = engine
//!     .start_run(StartRun::new("hello", "manual", serde_json::json!({"body": {"name": "Ada"}})))
//!     .await
//!     .expect("started");
//! let outcome = run.completion.await.expect("finished");
//! assert_eq!(outcome.status, RunStatus::Succeeded);
//! # }
//! ```

mod actions;
mod clock;
mod concurrency;
mod exec;
mod executor;
mod persist;
mod retry;
mod seal;
mod secure;
mod state;
pub mod webhook;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use conflux_definition::{ActionKind, Workflow, WorkflowKind};
use conflux_expr::{Map, Value};
use conflux_store::{
    ActionStatus, RunRecord, RunStatus, RunTransition, Store, StoreError, WorkflowName,
    WorkflowVersion, WriteBatch,
};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

pub use clock::{Clock, ManualClock, SystemClock};
pub use conflux_expr::Value as ExprValue;
pub use conflux_store::RunId;
pub use executor::{ActionExecutor, ExecuteRequest, ExecutorError, RequestAuthorizer};
pub use retry::RetryState;
pub use seal::{FnSealer, SealError, Sealer};
pub use state::ActionResult;
pub use webhook::{
    CallbackError, CallbackKey, CallbackSigner, WebhookCallbacks, WebhookClient, WebhookError,
    WebhookReply,
};

use concurrency::{Admission, Gates, Limits, Queued};
use persist::Recorder;
use state::{fmt_time, lock, Frame, RunCtx, Stop};

/// Errors of the engine's API (action failures are run results, not errors).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the workflow '{0}' is not registered in this engine")]
    WorkflowNotFound(String),
    #[error("the workflow '{0}' is disabled; enable it to start runs")]
    WorkflowDisabled(String),
    #[error(
        "the workflow '{workflow}' uses action types no installed executor provides: {actions}"
    )]
    UnsupportedActionTypes { workflow: String, actions: String },
    #[error("the run '{run_id}' of workflow '{workflow}' was not found")]
    RunNotFound { workflow: String, run_id: String },
    #[error("the engine is shutting down; no new runs are started")]
    ShuttingDown,
    #[error("the workflow '{workflow}' already has {limit} runs waiting (runtimeConfiguration.concurrency.maximumWaitingRuns); try again once runs finish")]
    TooManyWaitingRuns { workflow: String, limit: usize },
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("the run could not be started: {0}")]
    StartFailed(String),
}

/// How the engine is built.
pub struct EngineOptions {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub executors: Vec<Arc<dyn ActionExecutor>>,
    pub http: reqwest::Client,
    /// Outbound authentication beyond Basic and Raw for the Http action.
    pub authorizer: Option<Arc<dyn RequestAuthorizer>>,
    /// How long a run may last before it ends `TimedOut` (host.json
    /// `Runtime.Backend.FlowRunTimeout`; default 90 days). A registration may
    /// set its own.
    pub run_timeout: std::time::Duration,
    /// How long a run of a stateless workflow may last before it ends
    /// `TimedOut` (Logic Apps Standard: 5 minutes). A registration's own
    /// `run_timeout` overrides it.
    pub stateless_run_timeout: std::time::Duration,
    /// Encrypts secured action sections for the journal so a resumed run does
    /// not repeat a finished secured action; without one they are not journaled.
    pub sealer: Option<Arc<dyn Sealer>>,
    /// Callback URLs and waiters of HttpWebhook actions; the host delivers callbacks here.
    pub webhooks: Arc<WebhookCallbacks>,
}

/// The run duration limit of Logic Apps Standard (`Runtime.Backend.FlowRunTimeout`).
pub const DEFAULT_RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

/// The run duration limit of stateless workflows in Logic Apps Standard.
pub const DEFAULT_STATELESS_RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The version id runs record when their workflow was registered without its
/// document (see [`WorkflowRegistration::document`]); such versions are not stored.
pub const UNVERSIONED: &str = "unversioned";

impl EngineOptions {
    /// Real time, no executors, a default HTTP client.
    pub fn new(store: Arc<dyn Store>) -> EngineOptions {
        EngineOptions {
            store,
            clock: Arc::new(SystemClock),
            executors: Vec::new(),
            http: default_http_client(),
            authorizer: None,
            webhooks: Arc::new(WebhookCallbacks::new()),
            run_timeout: DEFAULT_RUN_TIMEOUT,
            stateless_run_timeout: DEFAULT_STATELESS_RUN_TIMEOUT,
            sealer: None,
        }
    }
}

/// Outbound calls give up after the Standard limit of 235 s per request.
fn default_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(235))
        .build()
        .unwrap_or_default()
}

/// A workflow handed to the engine.
pub struct WorkflowRegistration {
    pub name: String,
    pub workflow: Arc<Workflow>,
    /// Runs keep no history unless they fail (or `stateless_run_history`).
    pub stateless: bool,
    /// A stateless workflow keeps the history of every run, as a stateful
    /// one does: the app setting `Workflows.<name>.OperationOptions` is
    /// `WithStatelessRunHistory` (see [`stateless_run_history_enabled`]).
    pub stateless_run_history: bool,
    /// Values from parameters.json, overriding the definition's defaults. A
    /// `{"type": ..., "value": ...}` entry is unwrapped to its value.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// What `@appsetting('name')` reads.
    pub app_settings: serde_json::Map<String, serde_json::Value>,
    pub enabled: bool,
    /// This workflow's run duration limit, instead of `EngineOptions::run_timeout`
    /// (or `EngineOptions::stateless_run_timeout` for a stateless workflow).
    pub run_timeout: Option<std::time::Duration>,
    /// The `workflow.json` document `workflow` was loaded from. With it the
    /// engine stores the definition as a [`WorkflowVersion`] (identical
    /// documents share one version), every run records that version's id, and
    /// a stateful run resumed after a restart runs the version it started
    /// with. Without it runs record [`UNVERSIONED`].
    pub document: Option<serde_json::Value>,
}

impl WorkflowRegistration {
    /// An enabled registration; stateless when the workflow's kind says so.
    pub fn new(name: impl Into<String>, workflow: Arc<Workflow>) -> WorkflowRegistration {
        let stateless = workflow.kind == WorkflowKind::Stateless;
        WorkflowRegistration {
            name: name.into(),
            workflow,
            stateless,
            stateless_run_history: false,
            parameters: serde_json::Map::new(),
            app_settings: serde_json::Map::new(),
            enabled: true,
            run_timeout: None,
            document: None,
        }
    }

    /// Keeps the `workflow.json` document `workflow` was loaded from (see
    /// [`WorkflowRegistration::document`]).
    pub fn with_document(mut self, document: serde_json::Value) -> WorkflowRegistration {
        self.document = Some(document);
        self
    }
}

/// Boxes the future `make` returns, built in the box. `Box::pin(future)`
/// builds the future on the stack and copies all of it into the box; an async
/// fn's future is as large as its largest state (a run's is ~2.8 KB) though
/// only its arguments are set when it is made, so most of that copy moves
/// nothing but cold memory. With the box allocated first, the compiler writes
/// the arguments straight into it.
#[inline(always)]
pub fn box_in_place<F: std::future::Future>(make: impl FnOnce() -> F) -> std::pin::Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}

/// Whether the app settings turn on the run history of a stateless
/// workflow: `Workflows.<workflow>.OperationOptions` (name matched without
/// regard to case, as app settings are) lists `WithStatelessRunHistory`.
/// Logic Apps keeps no run history for stateless workflows unless this is set.
pub fn stateless_run_history_enabled<'a>(
    workflow: &str,
    settings: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> bool {
    let name = format!("Workflows.{workflow}.OperationOptions");
    settings
        .into_iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case(&name))
        .any(|(_, value)| {
            value.split(',').any(|option| {
                option
                    .trim()
                    .eq_ignore_ascii_case("WithStatelessRunHistory")
            })
        })
}

/// What [`Engine::workflows`] lists.
#[derive(Debug, Clone)]
pub struct WorkflowInfo {
    pub name: String,
    /// The version new runs record.
    pub version_id: String,
    pub stateless: bool,
    pub enabled: bool,
    pub triggers: Vec<String>,
    pub has_response: bool,
}

/// A request to start a run.
#[derive(Debug, Clone)]
pub struct StartRun {
    pub workflow: String,
    pub trigger_name: String,
    /// `{headers, body, queries, relativePathParameters}` as the trigger produced them.
    pub trigger_outputs: TriggerOutputs,
    pub client_tracking_id: Option<String>,
}

/// What [`Engine::start_now`] did.
pub enum StartNow {
    /// The run started, or could not start.
    Done(Result<StartedRun, EngineError>),
    /// The run must be started with a future (its workflow is stateful).
    Later(StartRun),
}

/// The outputs a trigger hands a run.
#[derive(Debug, Clone)]
pub enum TriggerOutputs {
    /// Built in full.
    Built(Value),
    /// The body now, the rest when the run reads it.
    Deferred(DeferredOutputs),
}

impl TriggerOutputs {
    /// The whole outputs (built now if they were deferred).
    pub fn built(&self) -> Value {
        match self {
            TriggerOutputs::Built(outputs) => outputs.clone(),
            TriggerOutputs::Deferred(deferred) => deferred.build(),
        }
    }
}

impl<T: Into<Value>> From<T> for TriggerOutputs {
    fn from(outputs: T) -> TriggerOutputs {
        TriggerOutputs::Built(outputs.into())
    }
}

/// Trigger outputs of which only the body is at hand: most runs read the
/// body alone (`triggerBody()`), so the rest (a call's headers and queries,
/// say) is built only when a run reads more, or records its trigger.
#[derive(Clone)]
pub struct DeferredOutputs {
    body: Option<Value>,
    build: Arc<BuildOutputs>,
}

/// Makes a trigger's whole outputs from its body.
type BuildOutputs = dyn Fn(Option<&Value>) -> Value + Send + Sync;

impl DeferredOutputs {
    /// `build` makes the whole outputs from the body; it may be called more
    /// than once and must give the same outputs each time.
    pub fn new(
        body: Option<Value>,
        build: impl Fn(Option<&Value>) -> Value + Send + Sync + 'static,
    ) -> DeferredOutputs {
        DeferredOutputs {
            body,
            build: Arc::new(build),
        }
    }

    pub fn body(&self) -> Option<&Value> {
        self.body.as_ref()
    }

    pub fn build(&self) -> Value {
        (self.build)(self.body.as_ref())
    }
}

impl std::fmt::Debug for DeferredOutputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredOutputs")
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl StartRun {
    pub fn new(
        workflow: impl Into<String>,
        trigger_name: impl Into<String>,
        trigger_outputs: impl Into<TriggerOutputs>,
    ) -> StartRun {
        StartRun {
            workflow: workflow.into(),
            trigger_name: trigger_name.into(),
            trigger_outputs: trigger_outputs.into(),
            client_tracking_id: None,
        }
    }
}

/// The reply of a Response action, for whoever started the run.
#[derive(Debug, Clone)]
pub struct ResponseMessage {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// One finished action (or repetition), for summaries such as `conflux run`.
#[derive(Debug, Clone)]
pub struct ActionSummary {
    pub name: String,
    /// Loop indexes, outermost first; empty outside loops.
    pub repetition: Vec<u32>,
    pub status: ActionStatus,
    pub code: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_id: RunId,
    pub status: RunStatus,
    pub code: Option<String>,
    pub error: Option<serde_json::Value>,
    pub outputs: Option<serde_json::Value>,
    /// Every action result in completion order (the first 1,000 loop
    /// repetitions). Empty when the run ended with nobody listening: its
    /// completion receiver dropped and no [`Engine::completions`] subscriber.
    pub actions: Vec<ActionSummary>,
}

/// A run [`Engine::start_now`] started: a [`RunHandle`] without the
/// completion, which nobody asked for (outcomes are in the run history and
/// on [`Engine::completions`]).
pub struct StartedRun {
    pub run_id: RunId,
    /// Present when the workflow has a Response action.
    pub response: Option<oneshot::Receiver<ResponseMessage>>,
    /// See [`RunHandle::driver`].
    pub driver: Option<RunDriver>,
}

/// A started run.
pub struct RunHandle {
    pub run_id: RunId,
    /// Present when the workflow has a Response action.
    pub response: Option<oneshot::Receiver<ResponseMessage>>,
    pub completion: oneshot::Receiver<RunOutcome>,
    /// The run itself, when [`Engine::start_run_driven`] left it to the
    /// caller to poll (see [`RunDriver`]); `None` when it has its own task.
    pub driver: Option<RunDriver>,
}

impl RunHandle {
    /// The handle without its completion, for a caller that reads outcomes
    /// elsewhere (see [`StartedRun`]).
    pub fn without_completion(self) -> StartedRun {
        StartedRun {
            run_id: self.run_id,
            response: self.response,
            driver: self.driver,
        }
    }
}

/// A run that is polled by whoever started it instead of by a task of its
/// own: a caller waiting for a stateless run's Response drives the run in its
/// own task, which saves a task spawn and the cross-thread wake-ups between
/// the two tasks on the hottest path of the host.
///
/// Dropping a driver before the run ends (the caller was answered and the
/// run goes on, the caller gave up waiting, or its connection closed) moves
/// the rest of the run to a task of its own: a run never stops because its
/// caller left.
pub struct RunDriver {
    run: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
    run_id: RunId,
    shared: Arc<EngineShared>,
}

impl std::fmt::Debug for RunDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunDriver")
            .field("run_id", &self.run_id)
            .field("finished", &self.run.is_none())
            .finish()
    }
}

impl std::future::Future for RunDriver {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if let Some(run) = self.run.as_mut() {
            // A panicking run ends here, as it would in a task of its own,
            // rather than taking its caller's connection down with it.
            let polled =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run.as_mut().poll(cx)));
            match polled {
                Ok(std::task::Poll::Pending) => return std::task::Poll::Pending,
                Ok(std::task::Poll::Ready(())) => {}
                Err(_) => {
                    tracing::error!(run = %self.run_id, "A run panicked; it ends here.");
                    lock(&self.shared.runs).remove(self.run_id.as_str());
                }
            }
            self.run = None;
        }
        std::task::Poll::Ready(())
    }
}

impl Drop for RunDriver {
    fn drop(&mut self) {
        let Some(run) = self.run.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => track_task(&self.shared, runtime.spawn(run)),
            Err(_) => {
                // No runtime left to finish it (the process is ending).
                drop(run);
                lock(&self.shared.runs).remove(self.run_id.as_str());
            }
        }
    }
}

pub(crate) struct Registered {
    pub(crate) reg: WorkflowRegistration,
    /// `reg.name`, shared by the runs rather than copied into each.
    pub(crate) name: Arc<str>,
    pub(crate) parameters: Arc<HashMap<String, Value>>,
    pub(crate) app_settings: Arc<HashMap<String, Value>>,
    /// The version new runs of this registration record.
    pub(crate) version_id: Arc<str>,
    pub(crate) version: Option<Arc<WorkflowVersion>>,
    /// `version` is known to be in the store.
    version_stored: AtomicBool,
}

impl Registered {
    /// The version to write along with a run, unless it is known to be stored.
    fn unstored_version(&self) -> Option<&Arc<WorkflowVersion>> {
        self.version
            .as_ref()
            .filter(|_| !self.version_stored.load(Ordering::SeqCst))
    }
}

/// State shared by the engine handle and its runs.
pub(crate) struct EngineShared {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    executors: Vec<Arc<dyn ActionExecutor>>,
    pub(crate) http: reqwest::Client,
    pub(crate) authorizer: Option<Arc<dyn RequestAuthorizer>>,
    pub(crate) webhooks: Arc<WebhookCallbacks>,
    run_timeout: std::time::Duration,
    stateless_run_timeout: std::time::Duration,
    pub(crate) sealer: Option<Arc<dyn Sealer>>,
    workflows: RwLock<state::NameMap<String, Arc<Registered>>>,
    runs: Mutex<state::NameMap<RunId, Arc<RunCtx>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    shutting_down: AtomicBool,
    completions: broadcast::Sender<RunOutcome>,
    gates: Gates,
}

impl EngineShared {
    pub(crate) fn executor_for(&self, action_type: &str) -> Option<&Arc<dyn ActionExecutor>> {
        self.executors.iter().find(|e| e.handles(action_type))
    }
}

/// The run engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<EngineShared>,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Engine {
        Engine {
            shared: Arc::new(EngineShared {
                store: options.store,
                clock: options.clock,
                executors: options.executors,
                http: options.http,
                authorizer: options.authorizer,
                webhooks: options.webhooks,
                run_timeout: options.run_timeout,
                stateless_run_timeout: options.stateless_run_timeout,
                sealer: options.sealer,
                workflows: RwLock::default(),
                runs: Mutex::default(),
                tasks: Mutex::new(Vec::new()),
                shutting_down: AtomicBool::new(false),
                completions: broadcast::channel(256).0,
                gates: Gates::default(),
            }),
        }
    }

    /// Adds (or replaces) a workflow. Fails when it uses action types no
    /// executor provides. With a document (see
    /// [`WorkflowRegistration::document`]) the definition's version is written
    /// to the store by [`Engine::record_versions`] or, at the latest, together
    /// with the workflow's first run.
    pub fn register_workflow(&self, mut reg: WorkflowRegistration) -> Result<(), EngineError> {
        let version = reg.document.take().map(|document| {
            Arc::new(WorkflowVersion::new(
                WorkflowName::new(reg.name.as_str()),
                document,
                self.shared.clock.now(),
            ))
        });
        let name = reg.name.clone();
        // Registering the same document again keeps knowing it is stored.
        let stored = version.as_ref().is_some_and(|v| {
            self.shared
                .workflows
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&name)
                .is_some_and(|old| {
                    *old.version_id == *v.version_id && old.version_stored.load(Ordering::SeqCst)
                })
        });
        let entry = Arc::new(prepare(&self.shared, reg, version, stored)?);
        self.shared
            .workflows
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, entry);
        Ok(())
    }

    /// Writes the definition version of every registered workflow that is not
    /// known to be stored yet, so the versions API lists it before any run.
    pub async fn record_versions(&self) -> Result<usize, EngineError> {
        let pending: Vec<Arc<Registered>> = self
            .shared
            .workflows
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|r| r.unstored_version().is_some())
            .cloned()
            .collect();
        let mut batch = WriteBatch::new();
        for r in &pending {
            if let Some(v) = r.unstored_version() {
                batch.put_workflow_version(WorkflowVersion::clone(v));
            }
        }
        if batch.is_empty() {
            return Ok(0);
        }
        self.shared.store.commit(batch).await?;
        for r in &pending {
            r.version_stored.store(true, Ordering::SeqCst);
        }
        Ok(pending.len())
    }

    /// Where the host delivers HttpWebhook action callbacks and installs its URL signer.
    pub fn webhooks(&self) -> Arc<WebhookCallbacks> {
        self.shared.webhooks.clone()
    }

    /// Sends webhook subscribe/unsubscribe requests with this engine's HTTP
    /// client and outbound authentication (for HttpWebhook triggers).
    pub fn webhook_client(&self) -> WebhookClient {
        WebhookClient::new(self.shared.http.clone(), self.shared.authorizer.clone())
    }

    pub fn workflows(&self) -> Vec<WorkflowInfo> {
        let map = self
            .shared
            .workflows
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<WorkflowInfo> = map
            .values()
            .map(|r| WorkflowInfo {
                name: r.reg.name.clone(),
                version_id: r.version_id.to_string(),
                stateless: r.reg.stateless,
                enabled: r.reg.enabled,
                triggers: r.reg.workflow.triggers.keys().cloned().collect(),
                has_response: r.reg.workflow.has_response,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Starts a run; for stateful workflows the run is in the store when this returns.
    pub async fn start_run(&self, req: StartRun) -> Result<RunHandle, EngineError> {
        start_run_shared(&self.shared, req, false).await
    }

    /// [`Engine::start_run`] for a caller that waits for the run's Response:
    /// a stateless run without concurrency limits comes back as
    /// [`RunHandle::driver`], to be polled by the caller (see [`RunDriver`]).
    /// Other runs get their own task as with `start_run`.
    pub async fn start_run_driven(&self, req: StartRun) -> Result<RunHandle, EngineError> {
        start_run_shared(&self.shared, req, true).await
    }

    /// Starts a run of a stateless workflow at once: its start waits on
    /// nothing, so it needs no future. A run of a stateful workflow is
    /// created in the store first, and comes back as [`StartNow::Later`] for
    /// [`Engine::start_run`] or [`Engine::start_run_driven`] (as chosen by
    /// `caller_drives`, see there).
    pub fn start_now(&self, req: StartRun, caller_drives: bool) -> StartNow {
        let reg = match registration_to_start(&self.shared, &req) {
            Ok(reg) => reg,
            Err(err) => return StartNow::Done(Err(err)),
        };
        if reg.reg.stateless {
            StartNow::Done(start_stateless(
                &self.shared,
                &reg,
                req,
                caller_drives,
                None,
            ))
        } else {
            StartNow::Later(req)
        }
    }

    /// Cancels a run: running actions are cancelled, pending ones skipped; a
    /// waiting run leaves the queue without running anything.
    pub async fn cancel_run(&self, workflow: &str, run_id: &RunId) -> Result<(), EngineError> {
        let mut ctx = lock(&self.shared.runs).get(run_id.as_str()).cloned();
        if ctx.is_none() {
            if let Some(queued) = self.shared.gates.remove(run_id.as_str(), workflow) {
                cancel_waiting(&self.shared, queued).await;
                return Ok(());
            }
            // It may have left the queue for a slot between the two lookups.
            ctx = lock(&self.shared.runs).get(run_id.as_str()).cloned();
        }
        match ctx {
            Some(ctx) if ctx.workflow_name() == workflow => {
                ctx.stop(Stop::Cancelled);
                Ok(())
            }
            _ => Err(EngineError::RunNotFound {
                workflow: workflow.to_string(),
                run_id: run_id.to_string(),
            }),
        }
    }

    /// Continues every unfinished stateful run from its journal; returns how many.
    pub async fn resume_incomplete(&self) -> Result<usize, EngineError> {
        let mut runs = self.shared.store.incomplete_runs().await?;
        // Runs that were executing hold their slots before waiting runs are let in.
        runs.sort_by_key(|r| r.status != RunStatus::Running);
        let mut resumed = 0;
        for run in runs {
            let reg = self
                .shared
                .workflows
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(run.workflow.as_str())
                .cloned();
            let Some(reg) = reg else {
                tracing::warn!(run = %run.run_id, workflow = %run.workflow, "Cannot resume a run of a workflow that is not registered.");
                continue;
            };
            if lock(&self.shared.runs).contains_key(run.run_id.as_str()) {
                continue;
            }
            let events = self.shared.store.load_journal(&run.run_id).await?;
            let replay = persist::decode_journal(
                &events,
                run.client_tracking_id.as_deref(),
                self.shared.sealer.as_deref(),
            );
            // The run goes on with the definition it started with, or fails.
            let reg = match registration_for_run(&self.shared, &reg, &run).await? {
                Ok(reg) => reg,
                Err(message) => {
                    fail_unresumable(&self.shared, &run, replay.next_seq, message).await?;
                    continue;
                }
            };
            let trigger_record = replay.trigger_record.clone().unwrap_or(run.trigger.clone());
            let ctx = new_run_ctx(
                &self.shared,
                &reg,
                RunSeed {
                    run_id: run.run_id.clone(),
                    trigger: state::TriggerRecord::stored(
                        Value::from(&trigger_record),
                        run.start_time,
                    ),
                    client_tracking_id: replay
                        .client_tracking_id
                        .as_deref()
                        .or(run.client_tracking_id.as_deref())
                        .map(Arc::from),
                    recorder: Recorder::durable(
                        self.shared.store.clone(),
                        run.run_id.clone(),
                        replay.next_seq,
                    ),
                    replay: replay.results.clone(),
                    nondet_replay: replay.nondet.clone(),
                    started: run.start_time,
                },
            );
            {
                let mut vars = lock(&ctx.variables);
                for (n, v) in &replay.variables {
                    vars.insert(n.to_ascii_lowercase(), v.clone());
                }
            }
            let root = Frame::root(ctx.workflow().all_actions.len());
            for r in &replay.ordered {
                root.insert(r.clone());
            }
            // The response, if any, was owed to a caller that is gone, and
            // nobody waits for the outcome.
            let waiting = run.status == RunStatus::Waiting;
            match Limits::of(&reg.reg.workflow) {
                Some(limits) if waiting => {
                    let queued = Queued {
                        ctx,
                        root,
                        done: None,
                    };
                    let ready = self.shared.gates.enqueue(queued, false, limits);
                    start_ready(&self.shared, ready);
                }
                Some(_) => {
                    self.shared.gates.count_running(&reg.reg.name);
                    spawn_run(&self.shared, ctx, root, None, false);
                }
                None => spawn_run(&self.shared, ctx, root, None, waiting),
            }
            resumed += 1;
        }
        Ok(resumed)
    }

    /// Every run that finishes from now on (including resumed runs), as it finishes.
    pub fn completions(&self) -> broadcast::Receiver<RunOutcome> {
        self.shared.completions.subscribe()
    }

    /// Stops scheduling; in-flight runs keep their journal and resume later.
    pub async fn shutdown(&self) {
        self.shared.shutting_down.store(true, Ordering::SeqCst);
        // Waiting runs stay `Waiting` in the store and queue again on resume.
        self.shared.gates.clear();
        let runs: Vec<Arc<RunCtx>> = lock(&self.shared.runs).values().cloned().collect();
        for r in runs {
            r.stop(Stop::Shutdown);
        }
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.shared.tasks));
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// Checks a registration against the installed executors and resolves its
/// parameter values. `stored`: `version` is known to be in the store already.
fn prepare(
    shared: &EngineShared,
    reg: WorkflowRegistration,
    version: Option<Arc<WorkflowVersion>>,
    stored: bool,
) -> Result<Registered, EngineError> {
    let unsupported: Vec<String> = reg
        .workflow
        .all_actions
        .values()
        .filter_map(|a| match &a.kind {
            ActionKind::Other { type_name, .. }
                if !actions::webhook::is_webhook(type_name)
                    && shared.executor_for(type_name).is_none() =>
            {
                Some(format!("{} ({type_name})", a.name))
            }
            _ => None,
        })
        .collect();
    if !unsupported.is_empty() {
        let mut actions = unsupported;
        actions.sort();
        return Err(EngineError::UnsupportedActionTypes {
            workflow: reg.name.clone(),
            actions: actions.join(", "),
        });
    }
    let mut parameters = HashMap::new();
    for (name, p) in &reg.workflow.parameters {
        if let Some(d) = &p.default_value {
            parameters.insert(name.clone(), Value::from(d));
        }
    }
    for (name, v) in &reg.parameters {
        let value = match v {
            serde_json::Value::Object(o)
                if o.contains_key("value") && o.keys().all(|k| k == "value" || k == "type") =>
            {
                &o["value"]
            }
            other => other,
        };
        parameters.insert(name.clone(), Value::from(value));
    }
    let app_settings = reg
        .app_settings
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v)))
        .collect();
    let version_id = version.as_ref().map_or_else(
        || Arc::from(UNVERSIONED),
        |v| Arc::from(v.version_id.as_str()),
    );
    Ok(Registered {
        name: Arc::from(reg.name.as_str()),
        reg,
        parameters: Arc::new(parameters),
        app_settings: Arc::new(app_settings),
        version_id,
        version,
        version_stored: AtomicBool::new(stored),
    })
}

/// The registration a resumed run executes: the current one when the run
/// started with the current definition, otherwise the stored version it
/// started with, compiled for this run only. `Err` carries why that version
/// cannot run; the store failing is an engine error.
async fn registration_for_run(
    shared: &EngineShared,
    current: &Arc<Registered>,
    run: &RunRecord,
) -> Result<Result<Arc<Registered>, String>, EngineError> {
    if *run.version_id == *current.version_id {
        return Ok(Ok(current.clone()));
    }
    let what = format!(
        "version '{}' of workflow '{}' (the definition the run started with)",
        run.version_id, run.workflow
    );
    let Some(version) = shared
        .store
        .get_workflow_version(&run.workflow, &run.version_id)
        .await?
    else {
        return Ok(Err(format!(
            "The run cannot resume: {what} is not in the store."
        )));
    };
    let workflow = match Workflow::from_json(&version.definition) {
        Ok(w) => w,
        Err(e) => {
            return Ok(Err(format!(
                "The run cannot resume: {what} does not load: {e}"
            )))
        }
    };
    let reg = WorkflowRegistration {
        name: current.reg.name.clone(),
        workflow: Arc::new(workflow),
        stateless: false,
        stateless_run_history: false,
        parameters: current.reg.parameters.clone(),
        app_settings: current.reg.app_settings.clone(),
        enabled: current.reg.enabled,
        run_timeout: current.reg.run_timeout,
        document: None,
    };
    Ok(match prepare(shared, reg, Some(Arc::new(version)), true) {
        Ok(r) => Ok(Arc::new(r)),
        Err(e) => Err(format!("The run cannot resume with {what}: {e}")),
    })
}

struct RunSeed {
    run_id: RunId,
    trigger: state::TriggerRecord,
    client_tracking_id: Option<Arc<str>>,
    recorder: Recorder,
    replay: HashMap<String, Arc<state::ActionResult>>,
    nondet_replay: HashMap<String, Vec<serde_json::Value>>,
    /// When the run started (its duration limit counts from here).
    started: DateTime<Utc>,
}

fn new_run_ctx(shared: &Arc<EngineShared>, reg: &Arc<Registered>, seed: RunSeed) -> Arc<RunCtx> {
    let limit = reg.reg.run_timeout.unwrap_or(if reg.reg.stateless {
        shared.stateless_run_timeout
    } else {
        shared.run_timeout
    });
    let deadline = chrono::Duration::from_std(limit)
        .ok()
        .and_then(|d| seed.started.checked_add_signed(d));
    Arc::new(RunCtx {
        engine: shared.clone(),
        run_id: seed.run_id,
        reg: reg.clone(),
        trigger: seed.trigger,
        workflow_value: std::sync::OnceLock::new(),
        client_tracking_id: seed.client_tracking_id,
        variables: Mutex::new(HashMap::new()),
        stop_reason: Mutex::new(None),
        stop_signal: tokio::sync::Notify::new(),
        response_tx: Mutex::new(None),
        response_sent: Mutex::new(None),
        terminate: Mutex::new(None),
        recorder: seed.recorder,
        replay: seed.replay,
        nondet_replay: seed.nondet_replay,
        stateless: reg.reg.stateless,
        keeps_history: !reg.reg.stateless || reg.reg.stateless_run_history,
        deadline,
    })
}

/// Starts a run so that it starts whatever becomes of the caller. Creating
/// a stateful run is a store write and starting it another step; a caller
/// dropped in between (a client that disconnected, a parent action that was
/// cancelled) would leave a run created but never started, so such a start
/// runs in a task of its own. A stateless start does not wait on anything
/// and stays in the caller's task.
pub(crate) async fn start_run_shared(
    shared: &Arc<EngineShared>,
    req: StartRun,
    caller_drives: bool,
) -> Result<RunHandle, EngineError> {
    let reg = registration_to_start(shared, &req)?;
    let (done, completion) = oneshot::channel();
    let started = if reg.reg.stateless {
        start_stateless(shared, &reg, req, caller_drives, Some(done))
    } else {
        let shared = shared.clone();
        tokio::spawn(
            async move { start_stateful(&shared, reg, req, caller_drives, Some(done)).await },
        )
        .await
        .unwrap_or_else(|err| Err(EngineError::StartFailed(err.to_string())))
    }?;
    Ok(RunHandle {
        run_id: started.run_id,
        response: started.response,
        completion,
        driver: started.driver,
    })
}

/// The registration a run of `req` starts from, if the engine takes runs
/// and the workflow is enabled.
fn registration_to_start(
    shared: &EngineShared,
    req: &StartRun,
) -> Result<Arc<Registered>, EngineError> {
    if shared.shutting_down.load(Ordering::SeqCst) {
        return Err(EngineError::ShuttingDown);
    }
    let reg = shared
        .workflows
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&req.workflow)
        .cloned()
        .ok_or_else(|| EngineError::WorkflowNotFound(req.workflow.clone()))?;
    if !reg.reg.enabled {
        return Err(EngineError::WorkflowDisabled(req.workflow.clone()));
    }
    Ok(reg)
}

/// Whether a run of `reg` may start now, wait for a slot, or not start at
/// all (its workflow's queue is full).
fn admit(
    shared: &EngineShared,
    reg: &Registered,
    req: &StartRun,
) -> Result<(Option<Limits>, Admission), EngineError> {
    let limits = Limits::of(&reg.reg.workflow);
    let admission = match limits {
        Some(l) => shared.gates.admit(&reg.reg.name, l),
        None => Admission::Run,
    };
    if admission == Admission::Full {
        return Err(EngineError::TooManyWaitingRuns {
            workflow: req.workflow.clone(),
            limit: limits.map_or(0, |l| l.max_waiting),
        });
    }
    Ok((limits, admission))
}

/// A new run's id, when it starts and the id that tracks it (the run id
/// unless the caller gave one: shared, not copied).
fn new_identity(shared: &EngineShared, req: &StartRun) -> (DateTime<Utc>, RunId, Arc<str>) {
    let now = shared.clock.now();
    let run_id = RunId::generate(now);
    let tracking: Arc<str> = req
        .client_tracking_id
        .as_deref()
        .map_or_else(|| run_id.shared(), Arc::from);
    (now, run_id, tracking)
}

/// Starts a run of a stateless workflow: nothing is stored unless the run
/// fails, so nothing is waited on, and the start stays in the caller's task.
fn start_stateless(
    shared: &Arc<EngineShared>,
    reg: &Arc<Registered>,
    req: StartRun,
    caller_drives: bool,
    done: Option<oneshot::Sender<RunOutcome>>,
) -> Result<StartedRun, EngineError> {
    let (limits, admission) = admit(shared, reg, &req)?;
    let (now, run_id, tracking) = new_identity(shared, &req);
    // The trigger's record is built, as an expression value, only when the
    // run asks for it.
    let trigger = state::TriggerRecord::new(req.trigger_name, req.trigger_outputs, now);
    let seed = RunSeed {
        run_id,
        trigger,
        client_tracking_id: Some(tracking),
        recorder: Recorder::deferred(Some(shared.store.clone())),
        replay: HashMap::new(),
        nondet_replay: HashMap::new(),
        started: now,
    };
    Ok(launch(
        shared,
        reg,
        seed,
        (admission, limits),
        caller_drives,
        done,
    ))
}

/// Starts a run of a stateful workflow: created in the store first.
async fn start_stateful(
    shared: &Arc<EngineShared>,
    reg: Arc<Registered>,
    req: StartRun,
    caller_drives: bool,
    done: Option<oneshot::Sender<RunOutcome>>,
) -> Result<StartedRun, EngineError> {
    let (limits, admission) = admit(shared, &reg, &req)?;
    let (now, run_id, tracking) = new_identity(shared, &req);
    let trigger_secured = trigger_outputs_secured(&reg.reg.workflow, &req.trigger_name);
    let (recorder, trigger_record) = {
        let time = serde_json::Value::String(fmt_time(now));
        let mut trigger_json = serde_json::Map::with_capacity(7);
        trigger_json.insert("name".into(), req.trigger_name.as_str().into());
        trigger_json.insert("outputs".into(), req.trigger_outputs.built().to_json());
        trigger_json.insert("startTime".into(), time.clone());
        trigger_json.insert("endTime".into(), time);
        trigger_json.insert("status".into(), "Succeeded".into());
        trigger_json.insert("code".into(), "OK".into());
        trigger_json.insert("clientTrackingId".into(), (*tracking).into());
        let trigger_json = serde_json::Value::Object(trigger_json);
        let mut record = RunRecord::new(
            run_id.clone(),
            WorkflowName::new(reg.reg.name.as_str()),
            &*reg.version_id,
            req.trigger_name.as_str(),
            now,
        );
        record.client_tracking_id = Some(tracking.to_string());
        record.trigger = persist::stored_trigger(&trigger_json, trigger_secured);
        if admission == Admission::Wait {
            record.status = RunStatus::Waiting;
        }
        let recorder = Recorder::durable(shared.store.clone(), run_id.clone(), 0);
        let mut batch = WriteBatch::new();
        // The run never names a version the store does not have.
        let new_version = reg.unstored_version().cloned();
        if let Some(v) = &new_version {
            batch.put_workflow_version(WorkflowVersion::clone(v));
        }
        batch.create_run(record);
        batch.append_event(recorder.event(
            &run_id,
            now,
            persist::run_started(
                &run_id,
                &trigger_json,
                &trigger_json["outputs"],
                &tracking,
                trigger_secured,
                shared.sealer.as_deref(),
            ),
        ));
        if let Err(e) = shared.store.commit(batch).await {
            if let Some(l) = limits {
                let ready = shared.gates.abandon(&reg.reg.name, admission, l);
                start_ready(shared, ready);
            }
            return Err(e.into());
        }
        if new_version.is_some() {
            reg.version_stored.store(true, Ordering::SeqCst);
        }
        (
            recorder,
            state::TriggerRecord::stored(Value::from(&trigger_json), now),
        )
    };
    let seed = RunSeed {
        run_id,
        trigger: trigger_record,
        client_tracking_id: Some(tracking),
        recorder,
        replay: HashMap::new(),
        nondet_replay: HashMap::new(),
        started: now,
    };
    Ok(launch(
        shared,
        &reg,
        seed,
        (admission, limits),
        caller_drives,
        done,
    ))
}

/// Makes a started run's context and sets it going: queued for a slot, in
/// a task of its own, or (a stateless run its caller waits for) handed back
/// as a [`RunDriver`].
/// `done` is where the run's outcome goes, if anyone asked.
fn launch(
    shared: &Arc<EngineShared>,
    reg: &Arc<Registered>,
    seed: RunSeed,
    (admission, limits): (Admission, Option<Limits>),
    caller_drives: bool,
    done: Option<oneshot::Sender<RunOutcome>>,
) -> StartedRun {
    let run_id = seed.run_id.clone();
    let started = seed.started;
    let ctx = new_run_ctx(shared, reg, seed);
    let response = if reg.reg.workflow.has_response {
        let (tx, rx) = oneshot::channel();
        *lock(&ctx.response_tx) = Some(tx);
        Some(rx)
    } else {
        None
    };
    let root = Frame::root(reg.reg.workflow.all_actions.len());
    let mut driver = None;
    match (admission, limits) {
        (Admission::Wait, Some(l)) => {
            let queued = Queued { ctx, root, done };
            let ready = shared.gates.enqueue(queued, true, l);
            start_ready(shared, ready);
        }
        (_, None) if caller_drives && reg.reg.stateless => {
            lock(&shared.runs).insert(ctx.run_id.clone(), ctx.clone());
            driver = Some(RunDriver {
                // Its first action starts as the run does.
                run: Some(box_in_place(|| {
                    run_task(shared.clone(), ctx, root, done, false, Some(started))
                })),
                run_id: run_id.clone(),
                shared: shared.clone(),
            });
        }
        _ => spawn_run(shared, ctx, root, done, false),
    }
    StartedRun {
        run_id,
        response,
        driver,
    }
}

/// Ends a run whose definition version cannot run: `Failed` with code
/// `WorkflowVersionUnavailable`, nothing executed.
async fn fail_unresumable(
    shared: &Arc<EngineShared>,
    run: &RunRecord,
    next_seq: u64,
    message: String,
) -> Result<(), EngineError> {
    tracing::error!(run = %run.run_id, workflow = %run.workflow, version = %run.version_id, "{message}");
    let end = shared.clock.now();
    let code = "WorkflowVersionUnavailable".to_string();
    let error = serde_json::json!({"code": code, "message": message});
    let recorder = Recorder::durable(shared.store.clone(), run.run_id.clone(), next_seq);
    let mut transition = RunTransition::new(run.run_id.clone(), RunStatus::Failed);
    transition.code = Some(code.clone());
    transition.error = Some(error.clone());
    transition.end_time = Some(end);
    let mut batch = WriteBatch::new();
    batch.append_event(recorder.event(
        &run.run_id,
        end,
        serde_json::json!({"type": "runCompleted", "status": RunStatus::Failed.as_str()}),
    ));
    batch.transition(transition);
    shared.store.commit(batch).await?;
    let _ = shared.completions.send(RunOutcome {
        run_id: run.run_id.clone(),
        status: RunStatus::Failed,
        code: Some(code),
        error: Some(error),
        outputs: None,
        actions: Vec::new(),
    });
    Ok(())
}

/// Whether the trigger that started a run hides its outputs in history
/// (`runtimeConfiguration.secureData` with `outputs`).
fn trigger_outputs_secured(workflow: &Workflow, trigger: &str) -> bool {
    workflow
        .triggers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(trigger))
        .is_some_and(|(_, t)| t.runtime.secure_data.outputs)
}

/// Starts runs that left the waiting queue.
fn start_ready(shared: &Arc<EngineShared>, ready: Vec<Queued>) {
    for q in ready {
        spawn_run(shared, q.ctx, q.root, q.done, true);
    }
}

/// Ends a run that never left the queue: `Cancelled`, with nothing executed.
async fn cancel_waiting(shared: &Arc<EngineShared>, queued: Queued) {
    let ctx = queued.ctx;
    let end = ctx.clock().now();
    let code = Some("Cancelled".to_string());
    let mut transition = RunTransition::new(ctx.run_id.clone(), RunStatus::Cancelled);
    transition.code = code.clone();
    transition.end_time = Some(end);
    let mut batch = WriteBatch::new();
    batch.append_event(ctx.recorder.event(
        &ctx.run_id,
        end,
        serde_json::json!({"type": "runCompleted", "status": RunStatus::Cancelled.as_str()}),
    ));
    batch.transition(transition);
    ctx.recorder.commit(batch).await;
    let outcome = RunOutcome {
        run_id: ctx.run_id.clone(),
        status: RunStatus::Cancelled,
        code,
        error: None,
        outputs: None,
        actions: Vec::new(),
    };
    let _ = shared.completions.send(outcome.clone());
    if let Some(done) = queued.done {
        let _ = done.send(outcome);
    }
}

/// `promote`: the run leaves `Waiting`, which the store hears before any step.
fn spawn_run(
    shared: &Arc<EngineShared>,
    ctx: Arc<RunCtx>,
    root: Arc<Frame>,
    done: Option<oneshot::Sender<RunOutcome>>,
    promote: bool,
) {
    lock(&shared.runs).insert(ctx.run_id.clone(), ctx.clone());
    let handle = tokio::spawn(run_task(shared.clone(), ctx, root, done, promote, None));
    track_task(shared, handle);
}

/// Remembers a run's task, so that shutdown waits for it.
fn track_task(shared: &EngineShared, handle: JoinHandle<()>) {
    let mut tasks = lock(&shared.tasks);
    tasks.retain(|t| !t.is_finished());
    tasks.push(handle);
}

/// A run from its first step to its end, for a task of its own or for a
/// [`RunDriver`]; the run is in `shared.runs` before this starts.
async fn run_task(
    shared: Arc<EngineShared>,
    ctx: Arc<RunCtx>,
    root: Arc<Frame>,
    done: Option<oneshot::Sender<RunOutcome>>,
    promote: bool,
    first_start: Option<DateTime<Utc>>,
) {
    if promote {
        let mut batch = WriteBatch::new();
        batch.transition(RunTransition::new(ctx.run_id.clone(), RunStatus::Running));
        ctx.recorder.commit(batch).await;
    }
    let outcome = drive(&ctx, &root, done.as_ref(), first_start).await;
    lock(&shared.runs).remove(ctx.run_id.as_str());
    if let Some(limits) = Limits::of(ctx.workflow()) {
        let ready = shared.gates.release(ctx.workflow_name(), limits);
        start_ready(&shared, ready);
    }
    if let Some(o) = outcome {
        // Nobody may be listening; that is fine.
        if shared.completions.receiver_count() > 0 {
            let _ = shared.completions.send(o.clone());
        }
        if let Some(done) = done {
            let _ = done.send(o);
        }
    }
}

/// Runs the top level and records the run's end. `None` when the engine shut
/// down mid-run (the run stays incomplete and resumes later).
/// `done` is where the outcome goes; when nobody listens there or on the
/// engine's completions, the outcome carries no action summaries.
async fn drive(
    ctx: &Arc<RunCtx>,
    root: &Arc<Frame>,
    done: Option<&oneshot::Sender<RunOutcome>>,
    first_start: Option<DateTime<Utc>>,
) -> Option<RunOutcome> {
    let work = std::pin::pin!(exec::run_map_here(
        ctx,
        &ctx.workflow().actions,
        root,
        first_start
    ));
    // The run duration limit stops the run like a cancellation: running
    // actions and those not started yet end Cancelled, and the run winds down.
    let watchdog = async {
        if let Some(deadline) = ctx.deadline {
            ctx.clock().watch_until(deadline).await;
            ctx.stop(Stop::TimedOut);
        }
        std::future::pending::<std::convert::Infallible>().await
    };
    let results = match futures::future::select(work, std::pin::pin!(watchdog)).await {
        futures::future::Either::Left((results, _)) => results,
        futures::future::Either::Right((never, _)) => match never {},
    };
    let stop = ctx.stop_reason();
    if stop == Some(Stop::Shutdown) {
        // What finished before the shutdown is kept, so it is not run again on resume.
        ctx.recorder.flush().await;
        return None;
    }
    let terminate = lock(&ctx.terminate).clone();
    let (status, code, error) = match (stop, terminate) {
        (_, Some((status, error))) => (status, Some("Terminated".to_string()), error),
        (Some(Stop::Cancelled), _) => (RunStatus::Cancelled, Some("Cancelled".to_string()), None),
        (Some(Stop::TimedOut), _) => (
            RunStatus::TimedOut,
            Some("RunTimedOut".to_string()),
            Some(serde_json::json!({
                "code": "RunTimedOut",
                "message": if ctx.stateless {
                    "The run did not finish within the run duration limit of stateless workflows; running actions were cancelled."
                } else {
                    "The run did not finish within its run duration limit (Runtime.Backend.FlowRunTimeout); running actions were cancelled."
                },
            })),
        ),
        _ => match exec::aggregate(&ctx.workflow().actions, &results) {
            ActionStatus::Succeeded => (RunStatus::Succeeded, None, None),
            ActionStatus::Cancelled => (RunStatus::Cancelled, Some("Cancelled".to_string()), None),
            _ => (
                RunStatus::Failed,
                Some("ActionFailed".to_string()),
                Some(
                    serde_json::json!({"code": "ActionFailed", "message": "An action failed. No dependent actions succeeded."}),
                ),
            ),
        },
    };
    let outputs = evaluate_outputs(ctx, root);
    // Built only for a run whose end is stored (a stateless run that
    // succeeded stores nothing, and reads no clock for it).
    let transition = |end| {
        let mut transition = RunTransition::new(ctx.run_id.clone(), status);
        transition.code = code.clone();
        transition.error = error.clone();
        transition.end_time = Some(end);
        transition.outputs = outputs.clone();
        transition.response = lock(&ctx.response_sent)
            .as_ref()
            .map(state::SentResponse::to_json);
        transition
    };
    match &ctx.recorder {
        Recorder::Durable { .. } => {
            let end = ctx.clock().now();
            let mut batch = WriteBatch::new();
            batch.append_event(ctx.recorder.event(
                &ctx.run_id,
                end,
                serde_json::json!({"type": "runCompleted", "status": status.as_str()}),
            ));
            batch.transition(transition(end));
            // Behind every step still queued: the final status is durable
            // (with all action results) before anyone hears of the completion.
            ctx.recorder.commit(batch).await;
        }
        Recorder::Deferred { .. } => {
            // A stateless run keeps history only when it did not succeed,
            // unless its workflow keeps the history of every run.
            if ctx.keeps_history || matches!(status, RunStatus::Failed | RunStatus::TimedOut) {
                if let Some((store, records)) = ctx.recorder.deferred_records(ctx) {
                    let end = ctx.clock().now();
                    let trigger = persist::stored_trigger(
                        &ctx.trigger_record().to_json(),
                        trigger_outputs_secured(ctx.workflow(), &ctx.trigger.name),
                    );
                    let trigger_name = trigger
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or_default()
                        .to_string();
                    let start = ctx.run_id.timestamp().unwrap_or(end);
                    let mut record = RunRecord::new(
                        ctx.run_id.clone(),
                        WorkflowName::new(ctx.workflow_name()),
                        ctx.version_id(),
                        trigger_name,
                        start,
                    );
                    record.trigger = trigger;
                    record.stateless = true;
                    record.client_tracking_id =
                        ctx.client_tracking_id.as_deref().map(str::to_string);
                    let mut batch = WriteBatch::new();
                    if let Some(v) = ctx.version() {
                        // Kept as is when already stored.
                        batch.put_workflow_version(WorkflowVersion::clone(v));
                    }
                    batch.create_run(record);
                    for r in records {
                        batch.upsert_action(r);
                    }
                    batch.transition(transition(end));
                    if let Err(e) = store.commit(batch).await {
                        tracing::warn!(run = %ctx.run_id, error = %e, "Could not record a failed stateless run.");
                    }
                }
            }
        }
    }
    Some(RunOutcome {
        run_id: ctx.run_id.clone(),
        status,
        code,
        error,
        outputs,
        // Summaries of the run's actions are built only for someone who listens.
        actions: if done.is_some_and(|d| !d.is_closed())
            || ctx.engine.completions.receiver_count() > 0
        {
            ctx.recorder.take_summaries()
        } else {
            Vec::new()
        },
    })
}

fn evaluate_outputs(ctx: &Arc<RunCtx>, root: &Arc<Frame>) -> Option<serde_json::Value> {
    if ctx.workflow().outputs.is_empty() {
        return None;
    }
    let host = state::Host {
        run: ctx,
        frame: root,
        current: None,
        item: None,
        nondet: None,
    };
    let mut m = Map::default();
    for o in &ctx.workflow().outputs {
        let mut entry = Map::default();
        entry.insert("type".into(), Value::string(o.type_name.as_str()));
        match o.value.eval(&host) {
            Ok(v) => {
                entry.insert("value".into(), v);
            }
            Err(e) => {
                entry.insert("error".into(), actions_error(&e.to_string()));
            }
        }
        m.insert(o.name.as_str().into(), Value::object(entry));
    }
    Some(Value::object(m).to_json())
}

fn actions_error(message: &str) -> Value {
    Value::from(serde_json::json!({"code": "InvalidTemplate", "message": message}))
}
