//! What the HTTP layer needs from the run engine, and nothing more.
//!
//! Handlers talk to a [`WorkflowRuntime`]; `conflux serve` passes the real
//! engine (see the `impl` at the end of this file) and tests pass a fake.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use conflux_store::RunId;
use serde_json::Value;
use tokio::sync::oneshot;

/// Start one run of a workflow from a fired trigger.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub workflow: String,
    pub trigger_name: String,
    /// `{headers, body, queries?, relativePathParameters?}`, as the engine's
    /// values (a Request trigger parses its call's body straight into them),
    /// or the body with the rest to be built if the run reads it.
    pub trigger_outputs: conflux_engine::TriggerOutputs,
    pub client_tracking_id: Option<String>,
    /// The caller waits for the run's Response and will poll
    /// [`StartedRun::driver`] until then, when the runtime hands one back.
    pub caller_drives: bool,
}

impl StartRequest {
    /// The engine's request, and whether the caller drives the run.
    fn into_engine(self) -> (conflux_engine::StartRun, bool) {
        let start = conflux_engine::StartRun {
            workflow: self.workflow,
            trigger_name: self.trigger_name,
            trigger_outputs: self.trigger_outputs,
            client_tracking_id: self.client_tracking_id,
        };
        (start, self.caller_drives)
    }
}

/// A run that exists in the store.
#[derive(Debug)]
pub struct StartedRun {
    pub run_id: RunId,
    /// Present when the workflow answers through a Response action; dropped
    /// without a message when the run ends without answering. Dropping the
    /// receiver tells the run nobody waits any more: a Response action that
    /// runs later fails with `ActionResponseTimedOut`.
    pub response: Option<ResponseReceiver>,
    /// The run itself, to be polled by the caller while it waits for the
    /// response (asked for with [`StartRequest::caller_drives`]). Dropping it
    /// before the run ends lets the run go on in a task of its own.
    pub driver: Option<conflux_engine::RunDriver>,
}

/// The answer of a run's Response action: a future that resolves with the
/// answer, or with an error when the run ended without answering. Dropping
/// it tells the run that nobody waits any more.
#[derive(Debug)]
pub struct ResponseReceiver(Receiver);

#[derive(Debug)]
enum Receiver {
    Direct(oneshot::Receiver<RunResponse>),
    /// The engine's own channel, read in place: the answer is converted when
    /// it arrives, so no task stands between the run and the caller.
    Engine(oneshot::Receiver<conflux_engine::ResponseMessage>),
}

impl From<oneshot::Receiver<RunResponse>> for ResponseReceiver {
    fn from(receiver: oneshot::Receiver<RunResponse>) -> ResponseReceiver {
        ResponseReceiver(Receiver::Direct(receiver))
    }
}

impl Future for ResponseReceiver {
    type Output = Result<RunResponse, oneshot::error::RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Receiver::Direct(receiver) => Pin::new(receiver).poll(cx),
            Receiver::Engine(receiver) => Pin::new(receiver).poll(cx).map(|message| {
                message.map(|message| RunResponse {
                    status: message.status,
                    headers: message.headers,
                    body: response_body(message.body),
                })
            }),
        }
    }
}

/// What a Response action sends back to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ResponseBody,
}

/// A Response body, already in wire form.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseBody {
    Empty,
    Json(Value),
    /// JSON already written out (the engine's values serialise straight to
    /// text, without an intermediate `serde_json::Value`).
    JsonText(Vec<u8>),
    Text(String),
    Binary {
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// Why the runtime refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    #[error("workflow `{0}` is not registered")]
    UnknownWorkflow(String),
    #[error("{0}")]
    Throttled(String),
    #[error("{0}")]
    Conflict(String),
    #[error("run `{0}` does not exist")]
    UnknownRun(String),
    #[error("{0}")]
    Failed(String),
}

/// What [`WorkflowRuntime::start_now`] did.
pub enum StartNow {
    /// The run started, or could not start.
    Done(Result<StartedRun, RuntimeError>),
    /// Start it with [`WorkflowRuntime::start_run`].
    Later(StartRequest),
}

/// The engine as the server sees it.
#[async_trait]
pub trait WorkflowRuntime: Send + Sync + 'static {
    /// Creates the run in the store before returning.
    async fn start_run(&self, request: StartRequest) -> Result<StartedRun, RuntimeError>;
    /// Starts the run without a future when its start waits on nothing (a
    /// stateless workflow's); otherwise hands the request back. By default
    /// every request goes to [`WorkflowRuntime::start_run`].
    fn start_now(&self, request: StartRequest) -> StartNow {
        StartNow::Later(request)
    }
    async fn cancel_run(&self, workflow: &str, run_id: &RunId) -> Result<(), RuntimeError>;
    /// Finishes in-flight steps and stops.
    async fn shutdown(&self);
}

/// The real engine. The completion receiver is dropped: callers read
/// outcomes from run history.
#[async_trait]
impl WorkflowRuntime for conflux_engine::Engine {
    async fn start_run(&self, request: StartRequest) -> Result<StartedRun, RuntimeError> {
        let (start, caller_drives) = request.into_engine();
        let started = if caller_drives {
            conflux_engine::Engine::start_run_driven(self, start).await
        } else {
            conflux_engine::Engine::start_run(self, start).await
        };
        started
            .map(|handle| started_run(handle.without_completion()))
            .map_err(engine_error)
    }

    fn start_now(&self, request: StartRequest) -> StartNow {
        let (start, caller_drives) = request.into_engine();
        match conflux_engine::Engine::start_now(self, start, caller_drives) {
            conflux_engine::StartNow::Done(started) => {
                StartNow::Done(started.map(started_run).map_err(engine_error))
            }
            conflux_engine::StartNow::Later(start) => StartNow::Later(StartRequest {
                workflow: start.workflow,
                trigger_name: start.trigger_name,
                trigger_outputs: start.trigger_outputs,
                client_tracking_id: start.client_tracking_id,
                caller_drives,
            }),
        }
    }

    async fn cancel_run(&self, workflow: &str, run_id: &RunId) -> Result<(), RuntimeError> {
        conflux_engine::Engine::cancel_run(self, workflow, run_id)
            .await
            .map_err(engine_error)
    }

    async fn shutdown(&self) {
        conflux_engine::Engine::shutdown(self).await;
    }
}

fn started_run(started: conflux_engine::StartedRun) -> StartedRun {
    // When the host stops waiting (the caller timed out), it drops this
    // receiver, which is the engine's own: a later Response fails.
    let response = started
        .response
        .map(|receiver| ResponseReceiver(Receiver::Engine(receiver)));
    StartedRun {
        run_id: started.run_id,
        response,
        driver: started.driver,
    }
}

fn engine_error(err: conflux_engine::EngineError) -> RuntimeError {
    use conflux_engine::EngineError;
    match err {
        EngineError::WorkflowNotFound(name) => RuntimeError::UnknownWorkflow(name),
        EngineError::RunNotFound { run_id, .. } => RuntimeError::UnknownRun(run_id),
        EngineError::WorkflowDisabled(_) => RuntimeError::Conflict(err.to_string()),
        EngineError::ShuttingDown | EngineError::TooManyWaitingRuns { .. } => {
            RuntimeError::Throttled(err.to_string())
        }
        other => RuntimeError::Failed(other.to_string()),
    }
}

fn response_body(value: conflux_engine::ExprValue) -> ResponseBody {
    use conflux_engine::ExprValue;
    match value {
        ExprValue::Null => ResponseBody::Empty,
        ExprValue::String(text) => ResponseBody::Text(text.to_string()),
        ExprValue::Content(content) => {
            let content = std::sync::Arc::unwrap_or_clone(content);
            ResponseBody::Binary {
                content_type: content.content_type,
                bytes: content.data,
            }
        }
        other => match serde_json::to_vec(&other) {
            Ok(text) => ResponseBody::JsonText(text),
            Err(_) => ResponseBody::Json(other.to_json()),
        },
    }
}
