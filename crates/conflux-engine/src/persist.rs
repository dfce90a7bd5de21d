//! Durable runs: journal events and action records written through the store,
//! and the decoding of a journal when a run resumes.
//!
//! Journal payloads (`type` field): `runStarted` (trigger record, tracking id),
//! `actionStarted`, `actionCompleted` (status, outputs, variables it set, ...),
//! `runCompleted`. Steps of a stateful run go through a per-run [`RunJournal`]:
//! the run keeps going while its steps are committed behind it, several steps
//! merged into one batch, and waits only where a promise depends on it (an
//! external action starting, a Response, the run's end). After a restart every
//! action whose completion was committed is replayed from its event instead of
//! running again. Sections hidden by secure data (and the variable values such
//! an action set) never reach the journal in plain text: with a
//! [`Sealer`](crate::Sealer) they are journaled encrypted (`sealed`) and the
//! action is replayed like any other; without one they are left out and such
//! an action runs again on resume.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use conflux_definition::{ActionDefinition, ActionKind};
use conflux_expr::Value;
use conflux_store::{
    ActionRecord, ActionStatus, JournalEvent, RepetitionKey, RunId, Store, WriteBatch,
};
use serde_json::json;
use tokio::sync::watch;

use crate::state::{fmt_time, lock, ActionResult, Frame, RunCtx};
use crate::{ActionSummary, Sealer};

/// Uncommitted steps a stateful run may run ahead of the store.
const MAX_BACKLOG: u64 = 2_048;

/// Loop repetitions a run keeps in memory: in its outcome's action summaries
/// and, for a stateless run, in the history it writes if it fails. (A stateful
/// run's store has every repetition.)
const MAX_KEPT_REPETITIONS: usize = 1_000;

/// A result kept by a stateless run: the result, its repetition and loop indexes.
type DeferredRecord = (Arc<ActionResult>, Vec<u32>, Vec<(String, u32)>);

/// The write-behind queue of one stateful run.
///
/// Steps are appended to one pending batch; a single flusher task per run
/// commits whatever is pending, and while that commit is in flight the next
/// steps pile up and go out together in the following one. Steps are committed
/// in the order they were queued (one flusher, merged batches keep their
/// order), and [`RunJournal::wait`] returns once every step queued before the
/// call is committed.
pub(crate) struct RunJournal {
    store: Arc<dyn Store>,
    run_id: RunId,
    pending: Mutex<Pending>,
    /// Number of queued steps whose commit has finished.
    done: watch::Sender<u64>,
}

#[derive(Default)]
struct Pending {
    batch: WriteBatch,
    /// Steps queued so far.
    queued: u64,
    /// A flusher task is running and will pick up `batch`.
    flushing: bool,
}

impl RunJournal {
    fn new(store: Arc<dyn Store>, run_id: RunId) -> Arc<Self> {
        Arc::new(Self {
            store,
            run_id,
            pending: Mutex::new(Pending::default()),
            done: watch::Sender::new(0),
        })
    }

    /// Queues `batch` behind the run's earlier steps; returns its ticket for [`RunJournal::wait`].
    fn enqueue(self: &Arc<Self>, batch: WriteBatch) -> u64 {
        let mut p = lock(&self.pending);
        p.batch.append(batch);
        p.queued += 1;
        let ticket = p.queued;
        if !p.flushing {
            p.flushing = true;
            let me = Arc::clone(self);
            tokio::spawn(async move { me.flush_loop().await });
        }
        ticket
    }

    async fn flush_loop(self: Arc<Self>) {
        loop {
            let (batch, upto) = {
                let mut p = lock(&self.pending);
                if p.batch.is_empty() {
                    p.flushing = false;
                    return;
                }
                (std::mem::take(&mut p.batch), p.queued)
            };
            let steps = batch.events.len();
            if let Err(e) = self.store.commit(batch).await {
                // Waiters are released all the same: the run goes on as it did
                // when each step was committed alone, and resumes from what was kept.
                tracing::warn!(run = %self.run_id, events = steps, error = %e, "Could not record steps of a run.");
            }
            self.done.send_replace(upto);
        }
    }

    /// Returns once every step with a ticket up to `ticket` was committed (or failed to).
    async fn wait(&self, ticket: u64) {
        let mut rx = self.done.subscribe();
        // The sender lives in `self`, so the wait cannot fail.
        let _ = rx.wait_for(|done| *done >= ticket).await;
    }

    /// Returns once everything queued so far was committed.
    async fn flush(&self) {
        let ticket = lock(&self.pending).queued;
        self.wait(ticket).await;
    }
}

/// Where a run's history goes.
pub(crate) enum Recorder {
    /// Stateful: every step is queued for the store as it happens; see [`RunJournal`].
    Durable {
        journal: Arc<RunJournal>,
        seq: AtomicU64,
        /// Loop repetitions seen (see [`Recorder::keeps`]).
        repetitions: std::sync::atomic::AtomicUsize,
        summaries: Mutex<Vec<ActionSummary>>,
    },
    /// Stateless: kept in memory; written only if the run fails.
    Deferred {
        store: Option<Arc<dyn Store>>,
        records: Mutex<Vec<DeferredRecord>>,
        /// Loop repetitions seen, kept or not.
        repetitions: std::sync::atomic::AtomicUsize,
    },
}

pub(crate) fn replay_key(name: &str, repetition: &[u32]) -> String {
    let mut k = String::with_capacity(name.len() + 8 * repetition.len());
    k.push_str(name);
    for r in repetition {
        k.push('|');
        k.push_str(&r.to_string());
    }
    k
}

/// Actions that finish instantly get no separate "started" write.
fn is_long_running(def: &ActionDefinition) -> bool {
    !matches!(
        def.kind,
        ActionKind::Compose { .. }
            | ActionKind::ParseJson { .. }
            | ActionKind::Query { .. }
            | ActionKind::Select { .. }
            | ActionKind::Join { .. }
            | ActionKind::Table { .. }
            | ActionKind::InitializeVariable { .. }
            | ActionKind::Variable { .. }
            | ActionKind::Terminate { .. }
            | ActionKind::Response { .. }
            | ActionKind::Expression { .. }
    )
}

impl Recorder {
    pub fn durable(store: Arc<dyn Store>, run_id: RunId, next_seq: u64) -> Recorder {
        Recorder::Durable {
            journal: RunJournal::new(store, run_id),
            seq: AtomicU64::new(next_seq),
            repetitions: std::sync::atomic::AtomicUsize::new(0),
            summaries: Mutex::new(Vec::new()),
        }
    }

    pub fn deferred(store: Option<Arc<dyn Store>>) -> Recorder {
        Recorder::Deferred {
            store,
            records: Mutex::new(Vec::new()),
            repetitions: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn next_seq(&self) -> u64 {
        match self {
            Recorder::Durable { seq, .. } => seq.fetch_add(1, Ordering::SeqCst),
            Recorder::Deferred { .. } => 0,
        }
    }

    /// Queues a step of a stateful run without waiting for it (stateless: nothing).
    pub fn enqueue(&self, batch: WriteBatch) -> u64 {
        match self {
            Recorder::Durable { journal, .. } => journal.enqueue(batch),
            Recorder::Deferred { .. } => 0,
        }
    }

    /// Waits until every step queued so far is committed.
    pub async fn flush(&self) {
        if let Recorder::Durable { journal, .. } = self {
            journal.flush().await;
        }
    }

    /// Queues a step; waits only when more than [`MAX_BACKLOG`] steps are
    /// still uncommitted, so a run that outpaces the store (a Foreach over
    /// 100,000 items) holds a bounded backlog in memory instead of all of it.
    pub async fn enqueue_bounded(&self, batch: WriteBatch) {
        if let Recorder::Durable { journal, .. } = self {
            let ticket = journal.enqueue(batch);
            if ticket > MAX_BACKLOG {
                journal.wait(ticket - MAX_BACKLOG).await;
            }
        }
    }

    /// Queues a step and waits until it (and everything before it) is committed.
    pub async fn commit(&self, batch: WriteBatch) {
        if let Recorder::Durable { journal, .. } = self {
            let ticket = journal.enqueue(batch);
            journal.wait(ticket).await;
        }
    }

    pub fn take_summaries(&self) -> Vec<ActionSummary> {
        match self {
            Recorder::Durable { summaries, .. } => std::mem::take(&mut *lock(summaries)),
            // A stateless run's summaries come from the results it keeps anyway.
            Recorder::Deferred { records, .. } => lock(records)
                .iter()
                .map(|(r, repetition, _)| summary(r, repetition))
                .collect(),
        }
    }

    pub fn event(
        &self,
        run_id: &RunId,
        at: DateTime<Utc>,
        payload: serde_json::Value,
    ) -> JournalEvent {
        JournalEvent {
            run_id: run_id.clone(),
            seq: self.next_seq(),
            at,
            payload,
        }
    }

    /// Journals the `utcNow()`/`guid()`/`rand()` values an action's inputs used,
    /// before the action acts on them.
    pub async fn inputs_evaluated(
        &self,
        ctx: &RunCtx,
        def: &ActionDefinition,
        frame: &Frame,
        values: Vec<serde_json::Value>,
    ) {
        if !matches!(self, Recorder::Durable { .. }) || values.is_empty() {
            return;
        }
        let mut batch = WriteBatch::new();
        let payload = json!({"type": "inputsEvaluated", "name": def.name, "repetition": frame.repetition, "values": values});
        batch.append_event(self.event(&ctx.run_id, ctx.clock().now(), payload));
        // The action must not act on values a resumed run could not replay.
        self.commit(batch).await;
    }

    pub async fn action_started(
        &self,
        ctx: &RunCtx,
        def: &ActionDefinition,
        frame: &Frame,
        start: DateTime<Utc>,
    ) {
        if !matches!(self, Recorder::Durable { .. }) || !is_long_running(def) {
            return;
        }
        let mut batch = WriteBatch::new();
        batch.append_event(self.event(
            &ctx.run_id,
            start,
            json!({"type": "actionStarted", "name": def.name, "repetition": frame.repetition}),
        ));
        let mut rec = ActionRecord::new(
            ctx.run_id.clone(),
            def.name.to_string(),
            ActionStatus::Running,
        );
        rec.repetition = RepetitionKey::from_indexes(&frame.repetition);
        rec.repetition_indexes = frame.loop_indexes.clone();
        rec.start_time = Some(start);
        batch.upsert_action(rec);
        if def.kind.containers().is_empty() {
            // An action that reaches outside the engine starts only once
            // everything before it is durable, so a crash cannot make it act
            // again because an earlier, unrecorded step ran again.
            self.commit(batch).await;
        } else {
            self.enqueue(batch);
        }
    }

    pub async fn action_completed(
        &self,
        ctx: &RunCtx,
        def: &ActionDefinition,
        frame: &Frame,
        r: &Arc<ActionResult>,
    ) {
        // What the run holds in memory stays bounded: the in-memory summaries
        // (and a stateless run's records) keep the first repetitions, not all.
        let keep = self.keeps(frame);
        match self {
            Recorder::Durable { summaries, .. } => {
                if keep {
                    lock(summaries).push(summary(r, &frame.repetition));
                }
                let mut batch = WriteBatch::new();
                batch.append_event(self.event(
                    &ctx.run_id,
                    r.end,
                    completed_payload(ctx, def, frame, r),
                ));
                batch.upsert_action(action_record(
                    ctx,
                    &frame.repetition,
                    &frame.loop_indexes,
                    r,
                ));
                self.enqueue_bounded(batch).await;
            }
            Recorder::Deferred { records, .. } => {
                if keep {
                    lock(records).push((
                        r.clone(),
                        frame.repetition.clone(),
                        frame.loop_indexes.clone(),
                    ));
                }
            }
        }
    }

    /// Whether the in-memory summaries (and a stateless run's records) take
    /// this result: always outside loops, and for the first
    /// [`MAX_KEPT_REPETITIONS`] loop repetitions of the run.
    fn keeps(&self, frame: &Frame) -> bool {
        let (Recorder::Durable { repetitions, .. } | Recorder::Deferred { repetitions, .. }) = self;
        frame.repetition.is_empty()
            || repetitions.fetch_add(1, Ordering::Relaxed) < MAX_KEPT_REPETITIONS
    }

    /// For stateless runs: the records to write if the run failed.
    pub fn deferred_records(&self, ctx: &RunCtx) -> Option<(Arc<dyn Store>, Vec<ActionRecord>)> {
        match self {
            Recorder::Deferred {
                store: Some(s),
                records,
                ..
            } => {
                let out = lock(records)
                    .iter()
                    .map(|(r, rep, loops)| action_record(ctx, rep, loops, r))
                    .collect();
                Some((s.clone(), out))
            }
            _ => None,
        }
    }
}

fn summary(r: &ActionResult, repetition: &[u32]) -> ActionSummary {
    ActionSummary {
        name: r.name.to_string(),
        repetition: repetition.to_vec(),
        status: r.status,
        code: r.code.as_deref().map(str::to_string),
        start: r.start,
        end: r.end,
    }
}

fn action_record(
    ctx: &RunCtx,
    repetition: &[u32],
    loops: &[(String, u32)],
    r: &ActionResult,
) -> ActionRecord {
    let mut rec = ActionRecord::new(ctx.run_id.clone(), r.name.to_string(), r.status);
    rec.repetition = RepetitionKey::from_indexes(repetition);
    rec.repetition_indexes = loops.to_vec();
    rec.code = r.code.as_deref().map(str::to_string);
    rec.error = r.error.as_ref().map(Value::to_json);
    rec.start_time = Some(r.start);
    rec.end_time = Some(r.end);
    if r.secured_inputs {
        rec.secured_sections.push("inputs".into());
    } else {
        rec.inputs = r.inputs.as_ref().map(Value::to_json);
    }
    if r.secured_outputs {
        rec.secured_sections.push("outputs".into());
    } else {
        rec.outputs = r.outputs.as_ref().map(Value::to_json);
    }
    rec.retry_history = r.retry_history.clone();
    rec.tracked_properties = r.tracked_properties.as_ref().map(Value::to_json);
    rec.iteration_count = r.iteration_count;
    rec.tracking_id = ctx.client_tracking_id.as_deref().map(str::to_string);
    rec
}

/// What a sealed section is bound to: one action (repetition) of one run.
fn seal_context(run_id: &RunId, name: &str, repetition: &[u32]) -> String {
    format!("conflux-journal|{run_id}|{}", replay_key(name, repetition))
}

fn variables_json(r: &ActionResult) -> Vec<serde_json::Value> {
    r.variables
        .iter()
        .map(|(n, v)| json!([n, v.to_json()]))
        .collect()
}

fn completed_payload(
    ctx: &RunCtx,
    def: &ActionDefinition,
    frame: &Frame,
    r: &ActionResult,
) -> serde_json::Value {
    let secured = r.secured_inputs || r.secured_outputs;
    let mut payload = json!({
        "type": "actionCompleted",
        "name": def.name,
        "repetition": frame.repetition,
        "status": r.status.as_str(),
        "effective": r.effective.as_str(),
        "code": r.code,
        "error": r.error.as_ref().map(Value::to_json),
        "inputs": if r.secured_inputs { None } else { r.inputs.as_ref().map(Value::to_json) },
        "outputs": if r.secured_outputs { None } else { r.outputs.as_ref().map(Value::to_json) },
        "secured": secured,
        "securedInputs": r.secured_inputs,
        "securedOutputs": r.secured_outputs,
        "startTime": fmt_time(r.start),
        "endTime": fmt_time(r.end),
        "retryHistory": r.retry_history,
        "iterationCount": r.iteration_count,
        "trackedProperties": r.tracked_properties.as_ref().map(Value::to_json),
        // A secured action's variable values are as secret as its sections.
        "variables": if secured { Vec::new() } else { variables_json(r) },
    });
    if let (true, Some(sealer)) = (secured, &ctx.engine.sealer) {
        let hidden = json!({
            "inputs": if r.secured_inputs { r.inputs.as_ref().map(Value::to_json) } else { None },
            "outputs": if r.secured_outputs { r.outputs.as_ref().map(Value::to_json) } else { None },
            "variables": variables_json(r),
        });
        let context = seal_context(&ctx.run_id, &def.name, &frame.repetition);
        let sealed = sealer.seal(hidden.to_string().as_bytes(), context.as_bytes());
        payload["sealed"] = serde_json::Value::String(BASE64.encode(sealed));
    }
    payload
}

/// The trigger record as the run record keeps it: without its outputs when
/// the trigger secures them (they are named in `secureData` instead).
pub(crate) fn stored_trigger(trigger: &serde_json::Value, secured: bool) -> serde_json::Value {
    let mut stored = trigger.clone();
    if secured {
        if let Some(obj) = stored.as_object_mut() {
            obj.remove("outputs");
            obj.insert("secureData".into(), json!({"properties": ["outputs"]}));
        }
    }
    stored
}

fn trigger_seal_context(run_id: &RunId) -> String {
    format!("conflux-journal|{run_id}|trigger")
}

/// The `runStarted` event. Secured trigger outputs are written only sealed
/// (and not at all without a sealer: a resumed run then sees none).
pub(crate) fn run_started(
    run_id: &RunId,
    trigger: &serde_json::Value,
    outputs: &serde_json::Value,
    tracking: &str,
    secured: bool,
    sealer: Option<&dyn Sealer>,
) -> serde_json::Value {
    if !secured {
        return json!({"type": "runStarted", "trigger": trigger, "triggerOutputs": outputs, "clientTrackingId": tracking});
    }
    let mut event = json!({"type": "runStarted", "trigger": stored_trigger(trigger, true), "clientTrackingId": tracking});
    if let Some(sealer) = sealer {
        let sealed = sealer.seal(
            outputs.to_string().as_bytes(),
            trigger_seal_context(run_id).as_bytes(),
        );
        event["sealedTriggerOutputs"] = serde_json::Value::String(BASE64.encode(sealed));
    }
    event
}

/// The secured sections of a journaled completion, or `None` when they were
/// not sealed or cannot be opened (the action then runs again).
fn open_sealed(
    p: &serde_json::Value,
    sealer: Option<&dyn Sealer>,
    run_id: &RunId,
    name: &str,
    repetition: &[u32],
) -> Option<serde_json::Value> {
    let sealed = p.get("sealed").and_then(|s| s.as_str())?;
    let Some(sealer) = sealer else {
        tracing::warn!(run = %run_id, action = name, "A secured action's journaled sections cannot be opened without the host's key; it runs again.");
        return None;
    };
    let opened = open_json(sealer, sealed, &seal_context(run_id, name, repetition));
    if opened.is_none() {
        tracing::warn!(run = %run_id, action = name, "A secured action's journaled sections could not be opened; it runs again.");
    }
    opened
}

/// Base64 of sealed JSON, opened under `context`; `None` if any step fails.
fn open_json(sealer: &dyn Sealer, sealed: &str, context: &str) -> Option<serde_json::Value> {
    let bytes = BASE64.decode(sealed).ok()?;
    let plain = sealer.open(&bytes, context.as_bytes()).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// The loop indexes (`repetition`) of a journal event; empty outside loops.
fn repetition_of(p: &serde_json::Value) -> Vec<u32> {
    p.get("repetition")
        .and_then(|r| r.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as u32)
                .collect()
        })
        .unwrap_or_default()
}

/// What a journal says about a run that has to resume.
pub(crate) struct Replay {
    pub trigger_record: Option<serde_json::Value>,
    pub trigger_outputs: Option<serde_json::Value>,
    pub client_tracking_id: Option<String>,
    pub results: HashMap<String, Arc<ActionResult>>,
    /// Variable values in the order they were set.
    pub variables: Vec<(String, Value)>,
    /// Non-deterministic values by `name|repetition`.
    pub nondet: HashMap<String, Vec<serde_json::Value>>,
    /// Replayed results in journal order.
    pub ordered: Vec<Arc<ActionResult>>,
    pub next_seq: u64,
}

fn parse_time(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub(crate) fn decode_journal(
    events: &[JournalEvent],
    tracking: Option<&str>,
    sealer: Option<&dyn Sealer>,
) -> Replay {
    let tracking: Option<Arc<str>> = tracking.map(Arc::from);
    let mut replay = Replay {
        trigger_record: None,
        trigger_outputs: None,
        client_tracking_id: None,
        results: HashMap::new(),
        variables: Vec::new(),
        nondet: HashMap::new(),
        ordered: Vec::new(),
        next_seq: 0,
    };
    for e in events {
        replay.next_seq = replay.next_seq.max(e.seq + 1);
        let p = &e.payload;
        match p.get("type").and_then(|t| t.as_str()) {
            Some("runStarted") => {
                replay.trigger_record = p.get("trigger").cloned();
                replay.trigger_outputs = p.get("triggerOutputs").cloned();
                if let Some(sealed) = p.get("sealedTriggerOutputs").and_then(|s| s.as_str()) {
                    let opened = sealer.and_then(|sealer| {
                        open_json(sealer, sealed, &trigger_seal_context(&e.run_id))
                    });
                    match opened {
                        Some(outputs) => {
                            if let Some(t) = replay
                                .trigger_record
                                .as_mut()
                                .and_then(|t| t.as_object_mut())
                            {
                                t.insert("outputs".into(), outputs.clone());
                            }
                            replay.trigger_outputs = Some(outputs);
                        }
                        None => {
                            tracing::warn!(run = %e.run_id, "The run's secured trigger outputs cannot be opened; it resumes without them.")
                        }
                    }
                }
                replay.client_tracking_id = p
                    .get("clientTrackingId")
                    .and_then(|c| c.as_str())
                    .map(str::to_string);
            }
            Some("inputsEvaluated") => {
                let name = p.get("name").and_then(|n| n.as_str()).unwrap_or_default();
                let repetition = repetition_of(p);
                let values = p
                    .get("values")
                    .and_then(|v| v.as_array())
                    .cloned()
                    .unwrap_or_default();
                replay.nondet.insert(replay_key(name, &repetition), values);
            }
            Some("actionCompleted") => {
                let name = p
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or_default()
                    .to_string();
                let repetition = repetition_of(p);
                let secured = p.get("secured").and_then(|s| s.as_bool()) == Some(true);
                let hidden = if secured {
                    match open_sealed(p, sealer, &e.run_id, &name, &repetition) {
                        Some(h) => Some(h),
                        // Not sealed (no sealer when it ran): it runs again.
                        None => continue,
                    }
                } else {
                    None
                };
                let flag = |k: &str| p.get(k).and_then(|s| s.as_bool()) == Some(true);
                let secured_inputs = secured && flag("securedInputs");
                let secured_outputs = secured && flag("securedOutputs");
                let section = |k: &str, hide: bool| {
                    let source = if hide { hidden.as_ref()? } else { p };
                    source.get(k).filter(|v| !v.is_null()).map(Value::from)
                };
                let status = p
                    .get("status")
                    .and_then(|s| s.as_str())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(ActionStatus::Failed);
                let effective = p
                    .get("effective")
                    .and_then(|s| s.as_str())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(status);
                let opt = |k: &str| p.get(k).filter(|v| !v.is_null()).map(Value::from);
                let mut r = ActionResult {
                    name: name.as_str().into(),
                    status,
                    effective,
                    code: p
                        .get("code")
                        .and_then(|c| c.as_str())
                        .map(|c| c.to_string().into()),
                    error: opt("error"),
                    inputs: section("inputs", secured_inputs),
                    outputs: section("outputs", secured_outputs),
                    start: parse_time(&p["startTime"]),
                    end: parse_time(&p["endTime"]),
                    retry_history: p
                        .get("retryHistory")
                        .and_then(|h| h.as_array())
                        .cloned()
                        .unwrap_or_default(),
                    tracked_properties: opt("trackedProperties"),
                    iteration_count: p
                        .get("iterationCount")
                        .and_then(|c| c.as_u64())
                        .map(|c| c as u32),
                    secured_inputs,
                    secured_outputs,
                    variables: hidden
                        .as_ref()
                        .unwrap_or(p)
                        .get("variables")
                        .and_then(|v| v.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|pair| {
                                    Some((
                                        pair.get(0)?.as_str()?.to_string(),
                                        Value::from(pair.get(1)?),
                                    ))
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    record: std::sync::OnceLock::new(),
                    tracking_id: None,
                };
                r.build_record(tracking.as_ref());
                replay.variables.extend(r.variables.iter().cloned());
                let r = Arc::new(r);
                replay.ordered.push(r.clone());
                replay.results.insert(replay_key(&name, &repetition), r);
            }
            _ => {}
        }
    }
    replay
}
