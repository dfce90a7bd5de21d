//! Trigger concurrency (`runtimeConfiguration.concurrency.runs`, SingleInstance):
//! a per-workflow gate that lets at most `runs` runs execute and holds the
//! rest, in arrival order, as `Waiting` runs up to `maximumWaitingRuns`.
//!
//! Admission is decided synchronously under one lock, so two callers can
//! never both take the last slot; the store writes happen outside it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use conflux_definition::Workflow;
use tokio::sync::oneshot;

use crate::state::{lock, Frame, RunCtx};
use crate::RunOutcome;

/// The limits a workflow's trigger sets; `None` when concurrency is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub runs: usize,
    pub max_waiting: usize,
}

impl Limits {
    /// The first trigger that turns concurrency on decides; a workflow has one trigger.
    pub fn of(workflow: &Workflow) -> Option<Limits> {
        workflow.triggers.values().find_map(|t| {
            let runs = match (t.runtime.runs, t.options.single_instance) {
                (Some(r), _) => r.max(1),
                (None, true) => 1,
                (None, false) => return None,
            };
            // The spec's default queue is ten more than may run.
            let max_waiting = t.runtime.maximum_waiting_runs.unwrap_or(runs + 10);
            Some(Limits {
                runs: runs as usize,
                max_waiting: max_waiting as usize,
            })
        })
    }
}

/// A run created as `Waiting`, ready to start when a slot frees.
pub(crate) struct Queued {
    pub ctx: Arc<RunCtx>,
    pub root: Arc<Frame>,
    /// Where the run's outcome goes, when someone asked for it.
    pub done: Option<oneshot::Sender<RunOutcome>>,
}

#[derive(Default)]
struct Gate {
    running: usize,
    /// Waiting slots taken by callers still writing the run to the store.
    reserved: usize,
    queue: VecDeque<Queued>,
}

/// What a new run may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Run,
    Wait,
    Full,
}

#[derive(Default)]
pub(crate) struct Gates {
    gates: Mutex<HashMap<String, Gate>>,
}

impl Gates {
    /// Takes a running slot or a waiting slot for a new run of `workflow`.
    pub fn admit(&self, workflow: &str, limits: Limits) -> Admission {
        let mut gates = lock(&self.gates);
        let gate = gates.entry(workflow.to_string()).or_default();
        if gate.running < limits.runs && gate.queue.is_empty() && gate.reserved == 0 {
            gate.running += 1;
            Admission::Run
        } else if gate.queue.len() + gate.reserved < limits.max_waiting {
            gate.reserved += 1;
            Admission::Wait
        } else {
            Admission::Full
        }
    }

    /// Gives back a slot taken by [`Gates::admit`] for a run that was not created.
    pub fn abandon(&self, workflow: &str, admission: Admission, limits: Limits) -> Vec<Queued> {
        let mut gates = lock(&self.gates);
        let gate = gates.entry(workflow.to_string()).or_default();
        match admission {
            Admission::Run => gate.running = gate.running.saturating_sub(1),
            Admission::Wait => gate.reserved = gate.reserved.saturating_sub(1),
            Admission::Full => {}
        }
        pump(gate, limits)
    }

    /// Counts a run that is already executing (resumed after a restart).
    pub fn count_running(&self, workflow: &str) {
        lock(&self.gates)
            .entry(workflow.to_string())
            .or_default()
            .running += 1;
    }

    /// Queues a waiting run (its reservation, if any, becomes the entry) and
    /// returns the runs that may start now.
    pub fn enqueue(&self, run: Queued, reserved: bool, limits: Limits) -> Vec<Queued> {
        let mut gates = lock(&self.gates);
        let gate = gates
            .entry(run.ctx.workflow_name().to_string())
            .or_default();
        if reserved {
            gate.reserved = gate.reserved.saturating_sub(1);
        }
        gate.queue.push_back(run);
        pump(gate, limits)
    }

    /// A run finished: frees its slot and returns the runs that may start now.
    pub fn release(&self, workflow: &str, limits: Limits) -> Vec<Queued> {
        let mut gates = lock(&self.gates);
        let gate = gates.entry(workflow.to_string()).or_default();
        gate.running = gate.running.saturating_sub(1);
        pump(gate, limits)
    }

    /// Takes a waiting run out of the queue (it was cancelled).
    pub fn remove(&self, run_id: &str, workflow: &str) -> Option<Queued> {
        let mut gates = lock(&self.gates);
        gates.get_mut(workflow).and_then(|gate| {
            let pos = gate
                .queue
                .iter()
                .position(|q| q.ctx.run_id.as_str() == run_id)?;
            gate.queue.remove(pos)
        })
    }

    /// Drops every queued run (the engine shuts down; the store keeps them `Waiting`).
    pub fn clear(&self) {
        for gate in lock(&self.gates).values_mut() {
            gate.queue.clear();
        }
    }
}

/// Moves queued runs into free running slots, oldest first.
fn pump(gate: &mut Gate, limits: Limits) -> Vec<Queued> {
    let mut ready = Vec::new();
    while gate.running < limits.runs {
        let Some(next) = gate.queue.pop_front() else {
            break;
        };
        gate.running += 1;
        ready.push(next);
    }
    ready
}
