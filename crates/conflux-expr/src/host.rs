//! What an expression may ask of the run it is evaluated in.
//!
//! Run-state functions (`parameters`, `variables`, `trigger*`, `actions`/`outputs`/
//! `body`, `item`/`items`, `result`, `workflow`, `appsetting`, ...) and the
//! non-deterministic ones (`utcNow`, `guid`, `rand`) never read globals: they ask
//! the [`EvalHost`]. The engine implements it over a run (recording `now`, `guid`
//! and `rand` values in the journal so a resumed run sees the same ones);
//! `conflux eval` implements it over a JSON context object.

use chrono::{DateTime, Utc};

use crate::error::EvalError;
use crate::value::Value;

/// The run state an expression can see. Every method has a default that reports
/// the function as unavailable in this context, so a host implements only what
/// it has.
pub trait EvalHost {
    /// `parameters('name')`.
    fn parameter(&self, name: &str) -> Result<Value, EvalError> {
        Err(unavailable("parameters", name))
    }

    /// `variables('name')`.
    fn variable(&self, name: &str) -> Result<Value, EvalError> {
        Err(unavailable("variables", name))
    }

    /// `trigger()`: the trigger record (`name, inputs, outputs, startTime, endTime,
    /// status, code, ...`). `triggerOutputs()` and `triggerBody()` are derived from it.
    fn trigger(&self) -> Result<Value, EvalError> {
        Err(unavailable("trigger", ""))
    }

    /// `triggerOutputs()`: the `outputs` of [`EvalHost::trigger`]'s record,
    /// null when there are none. A host that keeps the outputs apart answers
    /// without building the whole record.
    fn trigger_outputs(&self) -> Result<Value, EvalError> {
        Ok(self.trigger()?.get("outputs").unwrap_or_default())
    }

    /// `triggerBody()`: the `body` of [`EvalHost::trigger_outputs`], null
    /// when there is none. A host that keeps the body apart answers without
    /// building the outputs.
    fn trigger_body(&self) -> Result<Value, EvalError> {
        Ok(self.trigger_outputs()?.get("body").unwrap_or_default())
    }

    /// `actions('name')`: the record of an action that has run
    /// (`name, startTime, endTime, inputs, outputs, status, code, error, ...`).
    /// `outputs()` and `body()` are derived from it.
    fn action(&self, name: &str) -> Result<Value, EvalError> {
        Err(unavailable("actions", name))
    }

    /// `outputs('name')`: the `outputs` of [`EvalHost::action`]'s record, null
    /// when there are none. A host that keeps outputs apart from the record
    /// answers without building the whole record.
    fn action_outputs(&self, name: &str) -> Result<Value, EvalError> {
        Ok(self.action(name)?.get("outputs").unwrap_or_default())
    }

    /// `action()`: the current action's record (Until expressions, trackedProperties,
    /// webhook unsubscribe).
    fn current_action(&self) -> Result<Value, EvalError> {
        Err(unavailable("action", ""))
    }

    /// `item()`: the innermost loop or Query/Select/Table item.
    fn item(&self) -> Result<Value, EvalError> {
        Err(unavailable("item", ""))
    }

    /// `items('loop')`: the current item of the named Foreach.
    fn items(&self, loop_name: &str) -> Result<Value, EvalError> {
        Err(unavailable("items", loop_name))
    }

    /// `iterationIndexes('until')`: the 0-based iteration of the named Until.
    fn iteration_index(&self, loop_name: &str) -> Result<Value, EvalError> {
        Err(unavailable("iterationIndexes", loop_name))
    }

    /// `result('scope')`: records of the first-level actions inside a container.
    fn result(&self, scope_name: &str) -> Result<Value, EvalError> {
        Err(unavailable("result", scope_name))
    }

    /// `workflow()`: `{id, name, type, run: {id, name, type}, ...}`.
    fn workflow(&self) -> Result<Value, EvalError> {
        Err(unavailable("workflow", ""))
    }

    /// `appsetting('name')`.
    fn app_setting(&self, name: &str) -> Result<Value, EvalError> {
        Err(unavailable("appsetting", name))
    }

    /// `listCallbackUrl()` for the current webhook trigger or action.
    fn list_callback_url(&self) -> Result<Value, EvalError> {
        Err(unavailable("listCallbackUrl", ""))
    }

    /// The current instant (`utcNow`, `getFutureTime`, ...).
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// A fresh random GUID (`guid()`).
    fn new_guid(&self) -> uuid::Uuid {
        uuid::Uuid::new_v4()
    }

    /// A random integer in `[min, max)` (`rand()`); the caller has checked `min < max`.
    fn random(&self, min: i64, max: i64) -> i64 {
        use rand::Rng as _;
        rand::thread_rng().gen_range(min..max)
    }
}

fn unavailable(function: &str, arg: &str) -> EvalError {
    if arg.is_empty() {
        EvalError::new(format!(
            "{function}: not available in this context (no run state is attached)"
        ))
    } else {
        EvalError::new(format!(
            "{function}: '{arg}' is not available in this context (no run state is attached)"
        ))
    }
}

/// A host with no run state: only pure functions and the clock work.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHost;

impl EvalHost for NoHost {}
