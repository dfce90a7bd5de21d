//! Leaf actions: everything that is not a container.

mod data;
pub(crate) mod http;
mod misc;
mod schema;
mod variables;
pub(crate) mod webhook;

use std::sync::Arc;

use conflux_definition::{ActionDefinition, ActionKind, StaticResult};
use conflux_expr::{EvalError, Value};
use conflux_store::ActionStatus;

use crate::executor::{ExecuteRequest, ExecutorError};
use crate::state::{Frame, Host, NondetLog, RunCtx, Stop};

/// What executing an action produced.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub status: ActionStatus,
    pub code: Option<String>,
    pub error: Option<Value>,
    pub inputs: Option<Value>,
    pub outputs: Option<Value>,
    pub retry_history: Vec<serde_json::Value>,
    pub iteration_count: Option<u32>,
    pub variables: Vec<(String, Value)>,
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome {
            status: ActionStatus::Succeeded,
            code: None,
            error: None,
            inputs: None,
            outputs: None,
            retry_history: Vec::new(),
            iteration_count: None,
            variables: Vec::new(),
        }
    }
}

impl Outcome {
    pub fn ok(inputs: Option<Value>, outputs: Option<Value>) -> Outcome {
        Outcome {
            inputs,
            outputs,
            ..Outcome::default()
        }
    }

    pub fn failed(code: &str, message: &str) -> Outcome {
        Outcome {
            status: ActionStatus::Failed,
            code: Some(code.to_string()),
            error: Some(error_value(code, message)),
            ..Outcome::default()
        }
    }

    pub fn with_inputs(mut self, inputs: Option<Value>) -> Outcome {
        self.inputs = inputs;
        self
    }
}

/// `{"code": ..., "message": ...}`.
pub(crate) fn error_value(code: &str, message: &str) -> Value {
    let mut m = conflux_expr::map_with_capacity(2);
    m.insert("code".into(), Value::string(code));
    m.insert("message".into(), Value::string(message));
    Value::object(m)
}

/// An expression error fails the action with `InvalidTemplate`, like the runtime.
pub(crate) fn template_error(def: &ActionDefinition, e: &EvalError) -> Outcome {
    Outcome::failed(
        "InvalidTemplate",
        &format!(
            "Unable to process template language expressions in action '{}' inputs: {e}",
            def.name
        ),
    )
}

pub(crate) fn static_result(res: &StaticResult) -> Outcome {
    let status = res.status.parse().unwrap_or(ActionStatus::Succeeded);
    let outputs = Value::from(&res.outputs);
    let mut o = Outcome::ok(None, Some(outputs));
    o.status = status;
    if status == ActionStatus::Failed {
        o.code = Some("ActionFailed".into());
        o.error = Some(match &res.error {
            Some(e) => Value::from(e),
            None => error_value(
                "ActionFailed",
                "The static result of this action is Failed.",
            ),
        });
    }
    o
}

/// Runs a waiting leaf action (not a container, not an immediate action),
/// with its timeout and the run's cancellation.
pub(crate) async fn run_leaf(
    ctx: &Arc<RunCtx>,
    def: &Arc<ActionDefinition>,
    frame: &Arc<Frame>,
) -> Outcome {
    let work = dispatch(ctx, def, frame);
    let timed = async {
        match def.limit.timeout {
            Some(t) => {
                let deadline = ctx.clock().now()
                    + chrono::Duration::from_std(t).unwrap_or(chrono::Duration::MAX);
                tokio::select! {
                    o = work => o,
                    _ = ctx.clock().sleep_until(deadline) => Outcome {
                        status: ActionStatus::TimedOut,
                        code: Some("ActionTimedOut".into()),
                        error: Some(error_value("ActionTimedOut", &format!("The action '{}' did not complete within its timeout {t:?}.", def.name))),
                        ..Outcome::default()
                    },
                }
            }
            None => work.await,
        }
    };
    tokio::select! {
        // A finished action keeps its result even if the run stopped meanwhile
        // (Terminate stops the run from inside its own action).
        biased;
        o = timed => o,
        why = ctx.stopped() => Outcome {
            status: if why == Stop::Shutdown { ActionStatus::Aborted } else { ActionStatus::Cancelled },
            code: Some("Cancelled".into()),
            error: Some(error_value("Cancelled", "The run was cancelled while this action was running.")),
            ..Outcome::default()
        },
    }
}

/// Runs a leaf action that finishes without waiting for anything (Compose,
/// the data operations, variables, Terminate, Response, ...) in place: no
/// future, no timeout timer and no cancellation watch, none of which could
/// act before it returns. `None` for the actions that wait (HTTP, Wait,
/// connectors, webhooks, child workflows).
pub(crate) fn run_immediate(
    ctx: &Arc<RunCtx>,
    def: &Arc<ActionDefinition>,
    frame: &Arc<Frame>,
) -> Option<Outcome> {
    let host = Host::of(ctx, frame, def);
    Some(match &def.kind {
        ActionKind::Compose { inputs } => match inputs.eval(&host) {
            Ok(v) => Outcome::ok(Some(v.clone()), Some(v)),
            Err(e) => template_error(def, &e),
        },
        ActionKind::ParseJson { content, schema } => data::parse_json(def, &host, content, schema),
        ActionKind::Query { from, where_ } => data::query(def, &host, from, where_),
        ActionKind::Select { from, select } => data::select(def, &host, from, select),
        ActionKind::Join { inputs } => data::join(def, &host, inputs),
        ActionKind::Table {
            from,
            format,
            columns,
        } => data::table(def, &host, from, format, columns.as_deref()),
        ActionKind::InitializeVariable { inputs } => variables::initialize(def, &host, inputs),
        ActionKind::Variable { op, inputs } => variables::update(def, &host, *op, inputs),
        ActionKind::Terminate { inputs } => misc::terminate(def, &host, inputs),
        ActionKind::Response { inputs } => misc::response(def, &host, inputs),
        ActionKind::Expression { kind, inputs } => misc::expression(def, &host, kind, inputs),
        _ => return None,
    })
}

/// The waiting leaf actions. Each one's future is boxed, so that this
/// future (and those of the scheduler around it) stays small. Immediate
/// actions never get here: the scheduler runs them with [`run_immediate`].
async fn dispatch(ctx: &Arc<RunCtx>, def: &Arc<ActionDefinition>, frame: &Arc<Frame>) -> Outcome {
    match &def.kind {
        ActionKind::Wait { inputs } => {
            let host = Host::of(ctx, frame, def);
            Box::pin(misc::wait(def, &host, inputs)).await
        }
        ActionKind::Http { inputs } => {
            let evaluated = match eval_recorded(ctx, def, frame, inputs).await {
                Ok(v) => v,
                Err(e) => return template_error(def, &e),
            };
            Box::pin(http::run(ctx, def, evaluated)).await
        }
        ActionKind::Workflow { inputs } => {
            let evaluated = match eval_recorded(ctx, def, frame, inputs).await {
                Ok(v) => v,
                Err(e) => return template_error(def, &e),
            };
            Box::pin(misc::call_workflow(ctx, def, evaluated)).await
        }
        ActionKind::Other { type_name, .. } if webhook::is_webhook(type_name) => {
            Box::pin(webhook::run(ctx, def, frame)).await
        }
        ActionKind::Other {
            type_name,
            kind,
            inputs,
        } => {
            let evaluated = match eval_recorded(ctx, def, frame, inputs).await {
                Ok(v) => v,
                Err(e) => return template_error(def, &e),
            };
            Box::pin(run_executor(
                ctx,
                def,
                type_name,
                kind.as_deref(),
                evaluated,
            ))
            .await
        }
        // Containers and immediate actions are handled by the scheduler.
        _ => Outcome::failed(
            "InternalError",
            "container or immediate action dispatched as a waiting action",
        ),
    }
}

/// Evaluates the inputs of an action with side effects, journaling the
/// non-deterministic values they used so a resumed run sends the same ones.
async fn eval_recorded(
    ctx: &Arc<RunCtx>,
    def: &Arc<ActionDefinition>,
    frame: &Arc<Frame>,
    inputs: &conflux_expr::CompiledValue,
) -> Result<Value, EvalError> {
    let key = crate::persist::replay_key(&def.name, &frame.repetition);
    let log = NondetLog::with_replay(ctx.nondet_replay.get(&key));
    let value = {
        let host = Host {
            run: ctx,
            frame,
            current: Some(def),
            item: None,
            nondet: Some(&log),
        };
        inputs.eval(&host)?
    };
    let values = std::mem::take(&mut *crate::state::lock(&log.recorded));
    ctx.recorder.inputs_evaluated(ctx, def, frame, values).await;
    Ok(value)
}

async fn run_executor(
    ctx: &Arc<RunCtx>,
    def: &Arc<ActionDefinition>,
    type_name: &str,
    kind: Option<&str>,
    inputs: Value,
) -> Outcome {
    let Some(exec) = ctx.engine.executor_for(type_name) else {
        return Outcome::failed(
            "ActionTypeNotSupported",
            &format!(
                "No executor is installed for action type '{type_name}' (action '{}').",
                def.name
            ),
        )
        .with_inputs(Some(inputs));
    };
    let mut retry = crate::retry::RetryState::new(&def.retry_policy, ctx.clock().now());
    loop {
        let started = ctx.clock().now();
        let req = ExecuteRequest {
            workflow: ctx.workflow_name(),
            run_id: &ctx.run_id,
            action: def,
            action_type: type_name,
            kind,
            inputs: &inputs,
            app_settings: ctx.app_settings(),
        };
        match exec.execute(req).await {
            Ok(outputs) => {
                let mut o = Outcome::ok(Some(inputs), Some(outputs));
                o.retry_history = retry.history;
                return o;
            }
            Err(err) => {
                let ExecutorError {
                    code,
                    message,
                    retryable,
                    retry_after,
                    outputs,
                } = err;
                let ended = ctx.clock().now();
                let error = error_value(&code, &message);
                if retryable {
                    if let Some(delay) = retry.next_delay(retry_after) {
                        retry.record(started, ended, &code, &error);
                        let until = ctx.clock().now()
                            + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                        ctx.clock().sleep_until(until).await;
                        continue;
                    }
                }
                let mut o = Outcome::failed(&code, &message);
                o.inputs = Some(inputs);
                o.outputs = outputs;
                o.retry_history = retry.history;
                return o;
            }
        }
    }
}
