//! The state of one run: results, variables, loop frames, and the expression
//! host that reads them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use conflux_definition::{ActionDefinition, Workflow};
use conflux_expr::{EvalError, EvalHost, Map, Value};
use conflux_store::{ActionStatus, RunId};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::persist::Recorder;
use crate::{EngineShared, ResponseMessage};

/// How an action finished (or was skipped).
#[derive(Debug, Clone)]
pub struct ActionResult {
    pub name: Arc<str>,
    pub status: ActionStatus,
    /// For the final-status rules: the status itself, or for a Skipped action
    /// the status of what caused the skip (a branch not taken counts as Succeeded).
    pub effective: ActionStatus,
    /// Borrowed for the codes the engine names itself (`OK` for most).
    pub code: Option<std::borrow::Cow<'static, str>>,
    pub error: Option<Value>,
    pub inputs: Option<Value>,
    pub outputs: Option<Value>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub retry_history: Vec<serde_json::Value>,
    pub tracked_properties: Option<Value>,
    pub iteration_count: Option<u32>,
    /// Sections hidden in history (secure data, directly or propagated).
    pub secured_inputs: bool,
    pub secured_outputs: bool,
    /// Variable values this action set, so a resumed run can restore them
    /// without running it again.
    pub variables: Vec<(String, Value)>,
    /// The record `actions('name')` returns, built on first use.
    pub(crate) record: std::sync::OnceLock<Value>,
    pub(crate) tracking_id: Option<Arc<str>>,
}

impl ActionResult {
    /// Sets the tracking id and forgets any record built before a change.
    pub(crate) fn build_record(&mut self, tracking_id: Option<&Arc<str>>) {
        self.tracking_id = tracking_id.cloned();
        self.record = std::sync::OnceLock::new();
    }

    /// The record expressions see (`actions('name')`).
    pub fn record(&self) -> Value {
        self.record.get_or_init(|| self.make_record()).clone()
    }

    fn make_record(&self) -> Value {
        let mut m = conflux_expr::map_with_capacity(9);
        m.insert("name".into(), Value::string(&*self.name));
        if let Some(i) = &self.inputs {
            m.insert("inputs".into(), i.clone());
        }
        if let Some(o) = &self.outputs {
            m.insert("outputs".into(), o.clone());
        }
        m.insert("startTime".into(), Value::string(fmt_time(self.start)));
        m.insert("endTime".into(), Value::string(fmt_time(self.end)));
        m.insert("status".into(), Value::string(self.status.as_str()));
        m.insert(
            "code".into(),
            Value::string(self.code.as_deref().unwrap_or(match self.status {
                ActionStatus::Succeeded => "OK",
                ActionStatus::Skipped => "ActionSkipped",
                _ => "ActionFailed",
            })),
        );
        if let Some(e) = &self.error {
            m.insert("error".into(), e.clone());
        }
        if let Some(t) = &self.tracked_properties {
            m.insert("trackedProperties".into(), t.clone());
        }
        if let Some(id) = &self.tracking_id {
            m.insert("clientTrackingId".into(), Value::String(id.clone()));
        }
        Value::object(m)
    }
}

pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Why a run stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Cancelled through the API.
    Cancelled,
    /// A Terminate action ended the run.
    Terminated,
    /// The engine is shutting down; the run resumes later.
    Shutdown,
    /// The run outlived its run duration limit.
    TimedOut,
}

/// Maps keyed by names from the definition or by ids the engine made, never
/// by a caller's data, are hashed fast (not for resistance to chosen keys).
pub(crate) use conflux_definition::NameMap;

/// A loop iteration (or the run's top level when `loop_name` is empty).
pub(crate) struct Frame {
    pub parent: Option<Arc<Frame>>,
    pub loop_name: String,
    pub item: Value,
    pub index: u32,
    /// Indexes of the enclosing loops, outermost first.
    pub repetition: Vec<u32>,
    pub loop_indexes: Vec<(String, u32)>,
    pub results: Mutex<NameMap<Arc<str>, Arc<ActionResult>>>,
    /// By loop name: the records of the top-level actions of every finished
    /// iteration of a Foreach or Until run in this frame, in iteration order
    /// (what `result('loop')` returns).
    pub loop_results: Mutex<NameMap<String, Vec<Arc<ActionResult>>>>,
}

impl Frame {
    /// The frame of a run's top level, with room for the results of the
    /// workflow's `actions` (nested ones included: their results reach the root too).
    pub fn root(actions: usize) -> Arc<Frame> {
        Arc::new(Frame {
            parent: None,
            loop_name: String::new(),
            item: Value::Null,
            index: 0,
            repetition: Vec::new(),
            loop_indexes: Vec::new(),
            // Bounded: a loop's repetitions overwrite one entry per action.
            results: Mutex::new(NameMap::with_capacity_and_hasher(
                actions.min(64),
                Default::default(),
            )),
            loop_results: Mutex::default(),
        })
    }

    pub fn iteration(parent: &Arc<Frame>, loop_name: &str, item: Value, index: u32) -> Arc<Frame> {
        let mut repetition = parent.repetition.clone();
        repetition.push(index);
        let mut loop_indexes = parent.loop_indexes.clone();
        loop_indexes.push((loop_name.to_string(), index));
        Arc::new(Frame {
            parent: Some(parent.clone()),
            loop_name: loop_name.to_string(),
            item,
            index,
            repetition,
            loop_indexes,
            results: Mutex::default(),
            loop_results: Mutex::default(),
        })
    }

    pub fn lookup(&self, name: &str) -> Option<Arc<ActionResult>> {
        if let Some(r) = lock(&self.results).get(name) {
            return Some(r.clone());
        }
        self.parent.as_ref().and_then(|p| p.lookup(name))
    }

    /// Records a result here and in every enclosing frame, so code after a loop
    /// sees the latest iteration's record.
    pub fn insert(&self, result: Arc<ActionResult>) {
        lock(&self.results).insert(result.name.clone(), result.clone());
        if let Some(p) = &self.parent {
            p.insert(result);
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not wedge the run; the data stays consistent
    // because every critical section is a single insert or read.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a Response action sent, for the run's record.
pub(crate) struct SentResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl SentResponse {
    /// `{statusCode, headers, body}` as run history shows it.
    pub fn to_json(&self) -> serde_json::Value {
        let headers = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>();
        let mut sent = serde_json::Map::with_capacity(3);
        sent.insert("statusCode".into(), self.status.into());
        sent.insert("headers".into(), serde_json::Value::Object(headers));
        sent.insert("body".into(), self.body.to_json());
        serde_json::Value::Object(sent)
    }
}

/// Everything a running workflow shares between its actions.
pub(crate) struct RunCtx {
    pub engine: Arc<EngineShared>,
    pub run_id: RunId,
    /// The registration the run started from: its workflow, name,
    /// parameters, app settings and definition version (one shared handle
    /// rather than one per part).
    pub reg: Arc<crate::Registered>,
    pub trigger: TriggerRecord,
    /// What `workflow()` returns, built on first use.
    pub workflow_value: std::sync::OnceLock<Value>,
    pub client_tracking_id: Option<Arc<str>>,
    pub variables: Mutex<HashMap<String, Value>>,
    /// Why the run was asked to stop, once it was; `stop_signal` wakes
    /// [`RunCtx::stopped`] waiters when it is set.
    pub stop_reason: Mutex<Option<Stop>>,
    pub stop_signal: tokio::sync::Notify,
    pub response_tx: Mutex<Option<oneshot::Sender<ResponseMessage>>>,
    pub response_sent: Mutex<Option<SentResponse>>,
    pub terminate: Mutex<Option<(conflux_store::RunStatus, Option<serde_json::Value>)>>,
    pub recorder: Recorder,
    /// Results recorded before a restart, by `name|repetition`.
    pub replay: HashMap<String, Arc<ActionResult>>,
    /// Non-deterministic values journaled before a restart, by `name|repetition`.
    pub nondet_replay: HashMap<String, Vec<serde_json::Value>>,
    pub stateless: bool,
    /// The run's record is stored when it ends, whatever its status: a
    /// stateful run, or a stateless one with `WithStatelessRunHistory`.
    pub keeps_history: bool,
    /// When the run duration limit ends the run (`None`: no limit).
    pub deadline: Option<DateTime<Utc>>,
}

impl RunCtx {
    pub fn workflow_name(&self) -> &str {
        &self.reg.name
    }

    pub fn workflow(&self) -> &Arc<Workflow> {
        &self.reg.reg.workflow
    }

    pub fn parameters(&self) -> &HashMap<String, Value> {
        &self.reg.parameters
    }

    pub fn app_settings(&self) -> &HashMap<String, Value> {
        &self.reg.app_settings
    }

    /// The definition version this run executes ([`crate::UNVERSIONED`] without a document).
    pub fn version_id(&self) -> &str {
        &self.reg.version_id
    }

    /// That version's document, written along with the history of a failed stateless run.
    pub fn version(&self) -> Option<&Arc<conflux_store::WorkflowVersion>> {
        self.reg.version.as_ref()
    }

    /// The engine's clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.engine.clock
    }
}

/// What `trigger()` returns in a run. A new run keeps the trigger's outputs
/// apart and builds the whole record only when something asks for it:
/// `triggerBody()` and `triggerOutputs()`, what most expressions use, read
/// the outputs alone.
pub(crate) struct TriggerRecord {
    pub name: String,
    outputs: std::sync::OnceLock<Value>,
    /// The body, and how to build `outputs` when they were deferred.
    deferred: Option<crate::DeferredOutputs>,
    /// When the trigger fired (its start and end time).
    fired: DateTime<Utc>,
    record: std::sync::OnceLock<Value>,
}

impl TriggerRecord {
    pub fn new(
        name: String,
        outputs: crate::TriggerOutputs,
        fired: DateTime<Utc>,
    ) -> TriggerRecord {
        let (outputs, deferred) = match outputs {
            crate::TriggerOutputs::Built(outputs) => (std::sync::OnceLock::from(outputs), None),
            crate::TriggerOutputs::Deferred(deferred) => {
                (std::sync::OnceLock::new(), Some(deferred))
            }
        };
        TriggerRecord {
            name,
            outputs,
            deferred,
            fired,
            record: std::sync::OnceLock::new(),
        }
    }

    /// A record as it was stored (a resumed or stateful run).
    pub fn stored(record: Value, fired: DateTime<Utc>) -> TriggerRecord {
        let name = record.get("name").map(|n| n.to_text()).unwrap_or_default();
        let outputs = record.get("outputs").unwrap_or_default();
        TriggerRecord {
            name,
            outputs: std::sync::OnceLock::from(outputs),
            deferred: None,
            fired,
            record: std::sync::OnceLock::from(record),
        }
    }

    /// The trigger's outputs, built on first use when they were deferred.
    pub fn outputs(&self) -> &Value {
        self.outputs.get_or_init(|| {
            self.deferred
                .as_ref()
                .map(crate::DeferredOutputs::build)
                .unwrap_or_default()
        })
    }

    /// The outputs' body, null when there is none.
    pub fn body(&self) -> Value {
        match &self.deferred {
            Some(deferred) => deferred.body().cloned().unwrap_or_default(),
            None => self.outputs().get("body").unwrap_or_default(),
        }
    }

    /// The whole record; `tracking` is the run's client tracking id.
    pub fn record(&self, tracking: &str) -> &Value {
        self.record.get_or_init(|| {
            let time = Value::string(fmt_time(self.fired));
            let mut m = conflux_expr::map_with_capacity(7);
            m.insert("name".into(), Value::string(self.name.as_str()));
            m.insert("outputs".into(), self.outputs().clone());
            m.insert("startTime".into(), time.clone());
            m.insert("endTime".into(), time);
            m.insert("status".into(), Value::string("Succeeded"));
            m.insert("code".into(), Value::string("OK"));
            m.insert("clientTrackingId".into(), Value::string(tracking));
            Value::object(m)
        })
    }
}

impl RunCtx {
    /// `trigger()`: the record of the trigger that started the run.
    pub fn trigger_record(&self) -> &Value {
        let tracking = self
            .client_tracking_id
            .as_deref()
            .unwrap_or(self.run_id.as_str());
        self.trigger.record(tracking)
    }

    /// `workflow()`: the workflow's id, name and type, and its run's.
    pub fn workflow_value(&self) -> &Value {
        self.workflow_value.get_or_init(|| {
            let name = self.workflow_name();
            let mut run = conflux_expr::map_with_capacity(3);
            run.insert(
                "id".into(),
                Value::string(format!("/workflows/{name}/runs/{}", self.run_id)),
            );
            run.insert("name".into(), Value::string(self.run_id.as_str()));
            run.insert("type".into(), Value::string("workflows/runs"));
            let mut workflow = conflux_expr::map_with_capacity(4);
            workflow.insert("id".into(), Value::string(format!("/workflows/{name}")));
            workflow.insert("name".into(), Value::string(name));
            workflow.insert("type".into(), Value::string("workflows"));
            workflow.insert("run".into(), Value::object(run));
            Value::object(workflow)
        })
    }

    pub fn stop_reason(&self) -> Option<Stop> {
        *lock(&self.stop_reason)
    }

    /// Asks the run to stop; the first reason given is kept.
    pub fn stop(&self, why: Stop) {
        {
            let mut reason = lock(&self.stop_reason);
            if reason.is_some() {
                return;
            }
            *reason = Some(why);
        }
        self.stop_signal.notify_waiters();
    }

    /// Resolves once the run is asked to stop.
    pub async fn stopped(&self) -> Stop {
        loop {
            let signal = self.stop_signal.notified();
            tokio::pin!(signal);
            // Registered before the reason is read: a stop in between wakes it.
            signal.as_mut().enable();
            if let Some(why) = self.stop_reason() {
                return why;
            }
            signal.await;
        }
    }
}

/// The expression host of one evaluation: run state seen from one frame.
pub(crate) struct Host<'a> {
    pub run: &'a RunCtx,
    pub frame: &'a Arc<Frame>,
    pub current: Option<&'a ActionDefinition>,
    /// `item()` of Query/Select/Table.
    pub item: Option<&'a Value>,
    /// Where `utcNow()`, `guid()` and `rand()` values are recorded and replayed.
    pub nondet: Option<&'a NondetLog>,
}

/// Non-deterministic values of one evaluation: replayed from the journal first,
/// then freshly made and recorded.
#[derive(Default)]
pub(crate) struct NondetLog {
    replay: Mutex<VecDeque<serde_json::Value>>,
    pub recorded: Mutex<Vec<serde_json::Value>>,
}

impl NondetLog {
    pub fn with_replay(values: Option<&Vec<serde_json::Value>>) -> NondetLog {
        NondetLog {
            replay: Mutex::new(
                values
                    .map(|v| v.iter().cloned().collect())
                    .unwrap_or_default(),
            ),
            recorded: Mutex::new(Vec::new()),
        }
    }

    /// The next replayed value of `kind`; a mismatch abandons the replay.
    fn next(&self, kind: &str) -> Option<serde_json::Value> {
        let mut q = lock(&self.replay);
        let v = q.pop_front()?;
        match v.get(kind) {
            Some(x) => {
                let x = x.clone();
                drop(q);
                lock(&self.recorded).push(v);
                Some(x)
            }
            None => {
                q.clear();
                None
            }
        }
    }

    fn record(&self, kind: &str, value: serde_json::Value) {
        lock(&self.recorded).push(serde_json::json!({ kind: value }));
    }
}

impl<'a> Host<'a> {
    /// What the inputs of action `def`, running in `frame`, see.
    pub fn of(run: &'a RunCtx, frame: &'a Arc<Frame>, def: &'a ActionDefinition) -> Host<'a> {
        Host {
            run,
            frame,
            current: Some(def),
            item: None,
            nondet: None,
        }
    }
}

impl EvalHost for Host<'_> {
    fn parameter(&self, name: &str) -> Result<Value, EvalError> {
        self.run.parameters().get(name).cloned().ok_or_else(|| {
            EvalError::new(format!(
                "the workflow parameter '{name}' is not declared in the definition's parameters"
            ))
        })
    }

    fn variable(&self, name: &str) -> Result<Value, EvalError> {
        lock(&self.run.variables)
            .get(&name.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| {
                EvalError::new(format!(
                    "the variable '{name}' is not initialized; add an InitializeVariable action at the top level that runs before this one"
                ))
            })
    }

    fn trigger(&self) -> Result<Value, EvalError> {
        Ok(self.run.trigger_record().clone())
    }

    fn trigger_outputs(&self) -> Result<Value, EvalError> {
        Ok(self.run.trigger.outputs().clone())
    }

    fn trigger_body(&self) -> Result<Value, EvalError> {
        Ok(self.run.trigger.body())
    }

    fn action(&self, name: &str) -> Result<Value, EvalError> {
        if let Some(r) = self.frame.lookup(name) {
            return Ok(r.record());
        }
        if self.run.workflow().action(name).is_some() {
            Err(EvalError::new(format!(
                "the action '{name}' has not run yet; make this action run after it"
            )))
        } else {
            Err(EvalError::new(format!(
                "the action '{name}' does not exist in the workflow"
            )))
        }
    }

    fn action_outputs(&self, name: &str) -> Result<Value, EvalError> {
        match self.frame.lookup(name) {
            Some(r) => Ok(r.outputs.clone().unwrap_or_default()),
            None => self.action(name),
        }
    }

    fn current_action(&self) -> Result<Value, EvalError> {
        let name = self.current.map(|a| &*a.name).unwrap_or_default();
        match self.frame.lookup(name) {
            Some(r) => Ok(r.record()),
            None => {
                let mut m = Map::default();
                m.insert("name".into(), Value::string(name));
                Ok(Value::object(m))
            }
        }
    }

    fn item(&self) -> Result<Value, EvalError> {
        if let Some(i) = self.item {
            return Ok(i.clone());
        }
        let mut f = Some(self.frame);
        while let Some(frame) = f {
            if !frame.loop_name.is_empty() && self.is_foreach(&frame.loop_name) {
                return Ok(frame.item.clone());
            }
            f = frame.parent.as_ref();
        }
        Err(EvalError::new(
            "item() is only available inside a Foreach loop or the where/select of Query, Select and Table",
        ))
    }

    fn items(&self, loop_name: &str) -> Result<Value, EvalError> {
        let mut f = Some(self.frame);
        while let Some(frame) = f {
            if frame.loop_name == loop_name {
                return Ok(frame.item.clone());
            }
            f = frame.parent.as_ref();
        }
        Err(EvalError::new(format!(
            "'{loop_name}' is not a Foreach loop enclosing this action"
        )))
    }

    fn iteration_index(&self, loop_name: &str) -> Result<Value, EvalError> {
        let mut f = Some(self.frame);
        while let Some(frame) = f {
            if frame.loop_name == loop_name {
                return Ok(Value::Int(i64::from(frame.index)));
            }
            f = frame.parent.as_ref();
        }
        Err(EvalError::new(format!(
            "'{loop_name}' is not a loop enclosing this action"
        )))
    }

    fn result(&self, scope_name: &str) -> Result<Value, EvalError> {
        let def = self.run.workflow().action(scope_name).ok_or_else(|| {
            EvalError::new(format!(
                "the action '{scope_name}' does not exist in the workflow"
            ))
        })?;
        let containers = def.kind.containers();
        if containers.is_empty() {
            return Err(EvalError::new(format!(
                "'{scope_name}' is not a Scope, If, Switch, Foreach or Until action"
            )));
        }
        let mut f = Some(self.frame);
        while let Some(frame) = f {
            if let Some(records) = lock(&frame.loop_results).get(&*def.name) {
                return Ok(Value::array(records.iter().map(|r| r.record()).collect()));
            }
            f = frame.parent.as_ref();
        }
        let mut out = Vec::new();
        for map in containers {
            for a in &map.actions {
                if let Some(r) = self.frame.lookup(&a.name) {
                    out.push(r.record());
                }
            }
        }
        Ok(Value::array(out))
    }

    fn workflow(&self) -> Result<Value, EvalError> {
        Ok(self.run.workflow_value().clone())
    }

    fn app_setting(&self, name: &str) -> Result<Value, EvalError> {
        self.run
            .app_settings()
            .get(name)
            .cloned()
            .ok_or_else(|| EvalError::new(format!("the app setting '{name}' is not defined")))
    }

    fn list_callback_url(&self) -> Result<Value, EvalError> {
        let Some(def) = self.current.filter(|d| {
            matches!(&d.kind, conflux_definition::ActionKind::Other { type_name, .. } if crate::actions::webhook::is_webhook(type_name))
        }) else {
            return Err(EvalError::new(
                "listCallbackUrl() is only available in the inputs of an HttpWebhook action or trigger",
            ));
        };
        let key =
            crate::actions::webhook::callback_key(self.run, &def.name, &self.frame.repetition);
        self.run
            .engine
            .webhooks
            .callback_url(&key)
            .map(Value::string)
            .map_err(EvalError::new)
    }

    fn now(&self) -> DateTime<Utc> {
        let Some(log) = self.nondet else {
            return self.run.clock().now();
        };
        if let Some(t) = log.next("now").and_then(|v| {
            v.as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        }) {
            return t.with_timezone(&Utc);
        }
        let t = self.run.clock().now();
        log.record("now", serde_json::Value::String(fmt_time(t)));
        t
    }

    fn new_guid(&self) -> uuid::Uuid {
        let Some(log) = self.nondet else {
            return uuid::Uuid::new_v4();
        };
        if let Some(g) = log
            .next("guid")
            .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        {
            return g;
        }
        let g = uuid::Uuid::new_v4();
        log.record("guid", serde_json::Value::String(g.to_string()));
        g
    }

    fn random(&self, min: i64, max: i64) -> i64 {
        use rand::Rng as _;
        let Some(log) = self.nondet else {
            return rand::thread_rng().gen_range(min..max);
        };
        if let Some(n) = log
            .next("rand")
            .and_then(|v| v.as_i64())
            .filter(|n| (min..max).contains(n))
        {
            return n;
        }
        let n = rand::thread_rng().gen_range(min..max);
        log.record("rand", serde_json::Value::from(n));
        n
    }
}

impl Host<'_> {
    fn is_foreach(&self, name: &str) -> bool {
        self.run
            .workflow()
            .action(name)
            .is_some_and(|a| matches!(a.kind, conflux_definition::ActionKind::Foreach { .. }))
    }
}
