//! Scheduling: runAfter, skipped propagation, container aggregation and the
//! control actions (Scope, If, Switch, Foreach, Until).
//!
//! The rules (documented in docs/engine.md): an action starts when every
//! runAfter predecessor is terminal; it runs when each predecessor's status is
//! in its list, else it is Skipped and remembers the *effective* status of the
//! predecessor that caused the skip (a Skipped predecessor passes on its own
//! cause; actions of a branch not taken count as Succeeded). A container's —
//! and the run's — status comes from the effective statuses of its tails
//! (actions no other action runs after): any Failed/TimedOut/Aborted tail makes
//! it Failed, else any Cancelled tail makes it Cancelled, else Succeeded.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use conflux_definition::{ActionDefinition, ActionKind, ActionMap, Condition, RunAfterStatus};
use conflux_expr::Value;
use conflux_store::ActionStatus;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;

use crate::actions::{self, Outcome};
use crate::state::{lock, ActionResult, Frame, Host, RunCtx, Stop};

/// Most items a Foreach accepts (§9).
const MAX_FOREACH_ITEMS: usize = 100_000;
/// Default Foreach parallelism.
const DEFAULT_REPETITIONS: usize = 20;
/// Until defaults (§5.15).
const DEFAULT_UNTIL_COUNT: u32 = 60;
const DEFAULT_UNTIL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Runs every action of `map` in `frame`; returns one result per action, by
/// index. Boxed, for the containers that run their actions through it.
pub(crate) fn run_map<'a>(
    ctx: &'a Arc<RunCtx>,
    map: &'a ActionMap,
    frame: &'a Arc<Frame>,
) -> BoxFuture<'a, Vec<Arc<ActionResult>>> {
    run_map_here(ctx, map, frame, None).boxed()
}

/// [`run_map`] as a future of its own type, for the run's top level: the
/// run's future holds it, rather than a box of its own per run.
/// `first_start`: when the first action to run starts, if the caller knows
/// (a run that starts its actions as it is made: the run's start).
pub(crate) async fn run_map_here(
    ctx: &Arc<RunCtx>,
    map: &ActionMap,
    frame: &Arc<Frame>,
    first_start: Option<DateTime<Utc>>,
) -> Vec<Arc<ActionResult>> {
    let n = map.len();
    // On the stack for the usual handful of actions.
    let mut waiting: Counts = map.actions.iter().map(|a| a.run_after.len()).collect();
    let mut results: Vec<Option<Arc<ActionResult>>> = vec![None; n];
    let mut ready: Counts = (0..n).filter(|&i| waiting[i] == 0).rev().collect();
    // Made when two actions first run at once: a chain never needs it.
    let mut running: Option<FuturesUnordered<_>> = None;
    // When the action a chain just ran ended: the next one starts then.
    let mut chain_end = first_start;
    loop {
        while let Some(i) = ready.pop() {
            let def = &map.actions[i];
            // Known only for the action that runs right after a chain's last.
            let start = chain_end.take();
            let stop = ctx.stop_reason();
            let verdict = match stop {
                Some(Stop::Shutdown) => None,
                Some(_) => Some(Err(ActionStatus::Cancelled)),
                None => Some(decide(def, &results)),
            };
            match verdict {
                None => {}
                // The only action that can run now (a chain, most
                // workflows): run here, without the set's bookkeeping.
                Some(Ok(()))
                    if running.as_ref().is_none_or(FuturesUnordered::is_empty)
                        && ready.is_empty() =>
                {
                    let r = run_action_here(ctx, def, frame, start).await;
                    // (A result replayed after a restart ended back then.)
                    chain_end = ctx.replay.is_empty().then_some(r.end);
                    complete(map, i, r, &mut results, &mut waiting, &mut ready);
                }
                Some(Ok(())) => running
                    .get_or_insert_with(FuturesUnordered::new)
                    .push(run_action(ctx, def, frame).map(move |r| (i, r))),
                Some(Err(cause)) => {
                    let r = skipped(ctx, def, frame, cause).await;
                    complete(map, i, r, &mut results, &mut waiting, &mut ready);
                }
            }
        }
        let next = match running.as_mut() {
            Some(running) => running.next().await,
            None => None,
        };
        match next {
            Some((i, r)) => complete(map, i, r, &mut results, &mut waiting, &mut ready),
            None => break,
        }
    }
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| Arc::new(placeholder(&map.actions[i], ctx))))
        .collect()
}

/// Per-action counters and indexes of one map of actions.
type Counts = smallvec::SmallVec<[usize; 8]>;

fn complete(
    map: &ActionMap,
    i: usize,
    r: Arc<ActionResult>,
    results: &mut [Option<Arc<ActionResult>>],
    waiting: &mut [usize],
    ready: &mut Counts,
) {
    results[i] = Some(r);
    for &s in &map.successors[i] {
        waiting[s] -= 1;
        if waiting[s] == 0 {
            ready.push(s);
        }
    }
}

/// A result for an action the run never reached (it stopped for shutdown).
fn placeholder(def: &ActionDefinition, ctx: &RunCtx) -> ActionResult {
    let now = ctx.clock().now();
    ActionResult {
        name: def.name.clone(),
        status: ActionStatus::Aborted,
        effective: ActionStatus::Aborted,
        code: None,
        error: None,
        inputs: None,
        outputs: None,
        start: now,
        end: now,
        retry_history: Vec::new(),
        tracked_properties: None,
        iteration_count: None,
        secured_inputs: false,
        secured_outputs: false,
        variables: Vec::new(),
        record: std::sync::OnceLock::new(),
        tracking_id: None,
    }
}

fn matches_run_after(status: ActionStatus, accepted: &[RunAfterStatus]) -> bool {
    let as_run_after = match status {
        ActionStatus::Succeeded => RunAfterStatus::Succeeded,
        ActionStatus::Skipped => RunAfterStatus::Skipped,
        ActionStatus::TimedOut => RunAfterStatus::TimedOut,
        _ => RunAfterStatus::Failed,
    };
    accepted.contains(&as_run_after)
}

fn severity(s: ActionStatus) -> u8 {
    match s {
        ActionStatus::Failed | ActionStatus::Aborted => 4,
        ActionStatus::TimedOut => 3,
        ActionStatus::Cancelled => 2,
        _ => 1,
    }
}

/// `Ok` when the action should run, else the effective cause of its skip.
fn decide(
    def: &ActionDefinition,
    results: &[Option<Arc<ActionResult>>],
) -> Result<(), ActionStatus> {
    let mut cause: Option<ActionStatus> = None;
    for ra in &def.run_after {
        let Some(r) = &results[ra.index] else {
            continue;
        };
        if !matches_run_after(r.status, &ra.statuses) {
            let c = r.effective;
            if cause.is_none_or(|old| severity(c) > severity(old)) {
                cause = Some(c);
            }
        }
    }
    match cause {
        None => Ok(()),
        Some(c) => Err(c),
    }
}

/// The status of a set of actions from its tails (see the module docs).
pub(crate) fn aggregate(map: &ActionMap, results: &[Arc<ActionResult>]) -> ActionStatus {
    let mut worst = ActionStatus::Succeeded;
    for i in map.tails() {
        let e = match results[i].effective {
            ActionStatus::Failed | ActionStatus::TimedOut | ActionStatus::Aborted => {
                ActionStatus::Failed
            }
            ActionStatus::Cancelled => ActionStatus::Cancelled,
            _ => ActionStatus::Succeeded,
        };
        if severity(e) > severity(worst) {
            worst = e;
        }
    }
    worst
}

async fn skipped(
    ctx: &Arc<RunCtx>,
    def: &ActionDefinition,
    frame: &Arc<Frame>,
    cause: ActionStatus,
) -> Arc<ActionResult> {
    let now = ctx.clock().now();
    // Pending actions of a cancelled or timed-out run are cancelled; after
    // Terminate they are skipped.
    let status = if cause == ActionStatus::Cancelled
        && matches!(ctx.stop_reason(), Some(Stop::Cancelled | Stop::TimedOut))
    {
        ActionStatus::Cancelled
    } else {
        ActionStatus::Skipped
    };
    let mut r = ActionResult {
        name: def.name.clone(),
        status,
        effective: if status == ActionStatus::Skipped { cause } else { status },
        code: Some(Cow::Borrowed(if status == ActionStatus::Skipped { "ActionSkipped" } else { "Cancelled" })),
        error: (status == ActionStatus::Skipped).then(|| {
            actions::error_value(
                "ActionConditionFailed",
                &format!(
                    "The execution of template action '{}' is skipped: the 'runAfter' condition for it was not satisfied.",
                    def.name
                ),
            )
        }),
        inputs: None,
        outputs: None,
        start: now,
        end: now,
        retry_history: Vec::new(),
        tracked_properties: None,
        iteration_count: None,
        secured_inputs: false,
        secured_outputs: false,
        variables: Vec::new(),
        record: std::sync::OnceLock::new(),
        tracking_id: None,
    };
    r.build_record(ctx.client_tracking_id.as_ref());
    let r = Arc::new(r);
    frame.insert(r.clone());
    ctx.recorder.action_completed(ctx, def, frame, &r).await;
    // Children of a skipped container are skipped too, so history shows them.
    for m in def.kind.containers() {
        skip_all(ctx, m, frame, cause).await;
    }
    r
}

/// Marks every action of `map` (and below) Skipped with the given effective cause.
pub(crate) fn skip_all<'a>(
    ctx: &'a Arc<RunCtx>,
    map: &'a ActionMap,
    frame: &'a Arc<Frame>,
    cause: ActionStatus,
) -> BoxFuture<'a, ()> {
    async move {
        for def in &map.actions {
            skipped(ctx, def, frame, cause).await;
        }
    }
    .boxed()
}

/// Runs one action to a result: replays a recorded one, applies static results,
/// dispatches by type, enforces the timeout, records the outcome.
pub(crate) fn run_action<'a>(
    ctx: &'a Arc<RunCtx>,
    def: &'a Arc<ActionDefinition>,
    frame: &'a Arc<Frame>,
) -> BoxFuture<'a, Arc<ActionResult>> {
    run_action_here(ctx, def, frame, None).boxed()
}

/// [`run_action`] as a future of its own type, for a caller that awaits it
/// in place (the recursion through containers is boxed in [`run_map`]).
/// `start`: when the action starts, if the caller knows (the end of the
/// action before it in a chain); otherwise the clock says.
async fn run_action_here(
    ctx: &Arc<RunCtx>,
    def: &Arc<ActionDefinition>,
    frame: &Arc<Frame>,
    start: Option<DateTime<Utc>>,
) -> Arc<ActionResult> {
    if !ctx.replay.is_empty() {
        // Finished before a restart: its variables were restored when the run
        // resumed, so only its record is needed (containers included).
        let key = crate::persist::replay_key(&def.name, &frame.repetition);
        if let Some(r) = ctx.replay.get(&key) {
            frame.insert(r.clone());
            return r.clone();
        }
    }
    let start = start.unwrap_or_else(|| ctx.clock().now());
    ctx.recorder.action_started(ctx, def, frame, start).await;
    if matches!(def.kind, ActionKind::Response { .. }) {
        // The caller learns of the run's work only once that work is durable.
        ctx.recorder.flush().await;
    }
    let outcome = execute(ctx, def, frame).await;
    let end = ctx.clock().now();
    let mut r = ActionResult {
        name: def.name.clone(),
        status: outcome.status,
        effective: outcome.status,
        // Logic Apps reports `OK` for an action that succeeded without a code of its own.
        code: match outcome.code {
            Some(code) => Some(Cow::Owned(code)),
            None => (outcome.status == ActionStatus::Succeeded).then_some(Cow::Borrowed("OK")),
        },
        error: outcome.error,
        inputs: outcome.inputs,
        outputs: outcome.outputs,
        start,
        end,
        retry_history: outcome.retry_history,
        tracked_properties: None,
        iteration_count: outcome.iteration_count,
        secured_inputs: false,
        secured_outputs: false,
        variables: outcome.variables,
        record: std::sync::OnceLock::new(),
        tracking_id: None,
    };
    crate::secure::apply(ctx, def, frame, &mut r);
    r.build_record(ctx.client_tracking_id.as_ref());
    if let Some(tp) = &def.tracked_properties {
        let host = Host::of(ctx, frame, def);
        // trackedProperties see the action's own record through action().
        frame.insert(Arc::new(r.clone()));
        if let Ok(v) = tp.eval(&host) {
            r.tracked_properties = Some(v);
            r.build_record(ctx.client_tracking_id.as_ref());
        }
    }
    let r = Arc::new(r);
    frame.insert(r.clone());
    if ctx.stop_reason() != Some(Stop::Shutdown) {
        ctx.recorder.action_completed(ctx, def, frame, &r).await;
    }
    r
}

async fn execute(ctx: &Arc<RunCtx>, def: &Arc<ActionDefinition>, frame: &Arc<Frame>) -> Outcome {
    if let Some(sr) = &def.runtime.static_result {
        if sr.enabled {
            if let Some(res) = ctx.workflow().static_results.get(&sr.name) {
                return actions::static_result(res);
            }
        }
    }
    match &def.kind {
        ActionKind::Scope { actions } => {
            let results = run_map(ctx, actions, frame).await;
            container_outcome(aggregate(actions, &results), None)
        }
        ActionKind::If {
            condition,
            actions,
            else_actions,
        } => {
            let host = Host::of(ctx, frame, def);
            let value = match eval_condition(condition, &host) {
                Ok(b) => b,
                Err(e) => return expression_failed(def, &e),
            };
            let (taken, other) = if value {
                (actions, else_actions)
            } else {
                (else_actions, actions)
            };
            skip_all(ctx, other, frame, ActionStatus::Succeeded).await;
            let results = run_map(ctx, taken, frame).await;
            let mut inputs = conflux_expr::Map::default();
            inputs.insert("expressionResult".into(), Value::Bool(value));
            container_outcome(aggregate(taken, &results), Some(Value::object(inputs)))
        }
        ActionKind::Switch {
            expression,
            cases,
            default,
        } => {
            let host = Host::of(ctx, frame, def);
            let value = match expression.eval(&host) {
                Ok(v) => v,
                Err(e) => return expression_failed(def, &e),
            };
            let chosen = cases.iter().position(|c| switch_matches(&value, &c.value));
            for (k, c) in cases.iter().enumerate() {
                if Some(k) != chosen {
                    skip_all(ctx, &c.actions, frame, ActionStatus::Succeeded).await;
                }
            }
            let taken = match chosen {
                Some(k) => &cases[k].actions,
                None => default,
            };
            if chosen.is_some() {
                skip_all(ctx, default, frame, ActionStatus::Succeeded).await;
            }
            let results = run_map(ctx, taken, frame).await;
            let mut inputs = conflux_expr::Map::default();
            inputs.insert("expressionValue".into(), value);
            container_outcome(aggregate(taken, &results), Some(Value::object(inputs)))
        }
        // Loops and waiting actions are boxed: the future of an immediate
        // action (most of them) then stays small to build and move.
        ActionKind::Foreach { foreach, actions } => {
            Box::pin(run_foreach(ctx, def, frame, foreach, actions)).await
        }
        ActionKind::Until {
            expression,
            actions,
        } => Box::pin(run_until(ctx, def, frame, expression, actions)).await,
        _ => match actions::run_immediate(ctx, def, frame) {
            Some(outcome) => outcome,
            None => Box::pin(actions::run_leaf(ctx, def, frame)).await,
        },
    }
}

fn container_outcome(status: ActionStatus, inputs: Option<Value>) -> Outcome {
    let mut o = Outcome {
        status,
        inputs,
        ..Outcome::default()
    };
    if status == ActionStatus::Failed {
        o.code = Some("ActionFailed".into());
        o.error = Some(actions::error_value(
            "ActionFailed",
            "An action failed. No dependent actions succeeded.",
        ));
    } else if status == ActionStatus::Cancelled {
        o.code = Some("Cancelled".into());
    }
    o
}

fn switch_matches(value: &Value, case: &serde_json::Value) -> bool {
    match (value, case) {
        (Value::String(s), serde_json::Value::String(c)) => s.as_ref() == c,
        (Value::Int(i), serde_json::Value::Number(n)) => n.as_i64() == Some(*i),
        (Value::String(s), serde_json::Value::Number(n)) => s.as_ref() == n.to_string(),
        (Value::Int(i), serde_json::Value::String(c)) => i.to_string() == *c,
        _ => false,
    }
}

/// Evaluates an If/Until condition; a non-boolean result is an error.
pub(crate) fn eval_condition(c: &Condition, host: &Host<'_>) -> Result<bool, String> {
    match c {
        Condition::Expression(t) => {
            let v = t.eval(host).map_err(|e| e.to_string())?;
            as_bool(&v, t.source())
        }
        Condition::And(parts) => {
            for p in parts {
                if !eval_condition(p, host)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Condition::Or(parts) => {
            for p in parts {
                if eval_condition(p, host)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Condition::Not(inner) => Ok(!eval_condition(inner, host)?),
        Condition::Call { function, args } => {
            let f = conflux_expr::functions::lookup(function)
                .ok_or_else(|| format!("'{function}' is not a known function"))?;
            let values = args
                .iter()
                .map(|a| a.eval(host))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            if values.len() < f.min_args || f.max_args.is_some_and(|m| values.len() > m) {
                return Err(format!(
                    "{}: wrong number of arguments ({})",
                    f.name,
                    values.len()
                ));
            }
            let ctx = conflux_expr::functions::FnCtx { host };
            let v = (f.body)(&ctx, &values).map_err(|e| format!("{}: {e}", f.name))?;
            as_bool(&v, function)
        }
        Condition::Literal(v) => as_bool(&Value::from(v), "the condition"),
    }
}

fn as_bool(v: &Value, what: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(format!(
            "the condition '{what}' evaluated to a value of type '{}'; a condition must be a boolean (use empty() or equals() to convert)",
            other.type_name()
        )),
    }
}

fn in_foreach(ctx: &RunCtx, frame: &Frame) -> bool {
    let mut f = Some(frame);
    while let Some(fr) = f {
        if !fr.loop_name.is_empty()
            && ctx
                .workflow()
                .action(&fr.loop_name)
                .is_some_and(|a| matches!(a.kind, ActionKind::Foreach { .. }))
        {
            return true;
        }
        f = fr.parent.as_deref();
    }
    false
}

async fn run_foreach(
    ctx: &Arc<RunCtx>,
    def: &Arc<ActionDefinition>,
    frame: &Arc<Frame>,
    foreach: &conflux_expr::CompiledValue,
    actions_map: &ActionMap,
) -> Outcome {
    let host = Host::of(ctx, frame, def);
    let items = match foreach.eval(&host) {
        Ok(Value::Array(a)) => a,
        // `null` is not an array either (a missing `?['value']` fails the loop).
        Ok(other) => {
            return Outcome::failed(
                "InvalidTemplate",
                &format!(
                    "The execution of template action '{}' failed: the result of the evaluation of 'foreach' expression is of type '{}'. The result must be a valid array.",
                    def.name,
                    other.type_name()
                ),
            )
        }
        Err(e) => return expression_failed(def, &e),
    };
    let parallel = if def.options.sequential || in_foreach(ctx, frame) {
        1
    } else {
        def.runtime
            .repetitions
            .map(|r| r as usize)
            .unwrap_or(DEFAULT_REPETITIONS)
            .max(1)
    };
    let count = items.len();
    if count > MAX_FOREACH_ITEMS {
        return Outcome::failed(
            "ForeachTooManyItems",
            &format!(
                "The Foreach '{}' got {count} items; at most {MAX_FOREACH_ITEMS} are allowed.",
                def.name
            ),
        );
    }
    // Each iteration's records are kept only when `result('<this loop>')` is
    // used somewhere; otherwise only the statuses are folded, so a loop of
    // 100,000 items does not hold 100,000 iterations' records in memory.
    let keep_records = ctx
        .workflow()
        .result_targets
        .contains(&def.name.to_ascii_lowercase());
    let iterations = futures::stream::iter(0..count)
        .map(|i| {
            let item = items[i].clone();
            async move {
                let iframe = Frame::iteration(frame, &def.name, item, i as u32);
                let results = run_map(ctx, actions_map, &iframe).await;
                let status = aggregate(actions_map, &results);
                (i, status, if keep_records { results } else { Vec::new() })
            }
        })
        .buffer_unordered(parallel);
    let mut status = ActionStatus::Succeeded;
    let mut kept: Vec<(usize, Vec<Arc<ActionResult>>)> = Vec::new();
    futures::pin_mut!(iterations);
    while let Some((i, s, results)) = iterations.next().await {
        if severity(s) > severity(status) {
            status = s;
        }
        if keep_records {
            kept.push((i, results));
        }
    }
    if keep_records {
        kept.sort_by_key(|(i, _)| *i);
        let records = kept.into_iter().flat_map(|(_, r)| r).collect();
        lock(&frame.loop_results).insert(def.name.to_string(), records);
    }
    let mut o = container_outcome(status, None);
    o.iteration_count = Some(count as u32);
    o
}

async fn run_until(
    ctx: &Arc<RunCtx>,
    def: &Arc<ActionDefinition>,
    frame: &Arc<Frame>,
    expression: &Condition,
    actions_map: &ActionMap,
) -> Outcome {
    let max = def.limit.count.unwrap_or(DEFAULT_UNTIL_COUNT);
    let timeout = def.limit.timeout.unwrap_or(DEFAULT_UNTIL_TIMEOUT);
    let deadline =
        ctx.clock().now() + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
    let keep_records = ctx
        .workflow()
        .result_targets
        .contains(&def.name.to_ascii_lowercase());
    if keep_records {
        lock(&frame.loop_results).insert(def.name.to_string(), Vec::new());
    }
    let mut index: u32 = 0;
    let mut last;
    loop {
        let iframe = Frame::iteration(frame, &def.name, Value::Null, index);
        let results = run_map(ctx, actions_map, &iframe).await;
        // Until takes the status of its last iteration only.
        last = aggregate(actions_map, &results);
        if keep_records {
            lock(&frame.loop_results)
                .entry(def.name.to_string())
                .or_default()
                .extend(results);
        }
        index += 1;
        if ctx.stop_reason().is_some() {
            break;
        }
        let host = Host::of(ctx, &iframe, def);
        match eval_condition(expression, &host) {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                let mut o = expression_failed(def, &e);
                o.iteration_count = Some(index);
                return o;
            }
        }
        if index >= max || ctx.clock().now() >= deadline {
            if def.options.fail_when_limits_reached {
                let mut o = Outcome::failed(
                    "UntilLimitsReached",
                    &format!("The Until loop '{}' reached its limit ({} iterations or timeout) before its condition became true.", def.name, index),
                );
                o.iteration_count = Some(index);
                return o;
            }
            break;
        }
    }
    let mut o = container_outcome(last, None);
    o.iteration_count = Some(index);
    o
}

/// A container's own expression (condition, switch value, foreach list) could
/// not be evaluated: the action fails with `InvalidTemplate`, not the engine.
fn expression_failed(def: &ActionDefinition, e: &dyn std::fmt::Display) -> Outcome {
    Outcome::failed(
        "InvalidTemplate",
        &format!(
            "Unable to process template language expressions for action '{}': {e}",
            def.name
        ),
    )
}
