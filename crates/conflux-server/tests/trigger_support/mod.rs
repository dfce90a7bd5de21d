//! A workflow runtime for scheduler tests: it records each start request on a
//! channel and creates the run in the store, as the engine does, without
//! running any action — the tests are about when and how triggers fire.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use conflux_server::{RuntimeError, StartRequest, StartedRun, WorkflowRuntime};
use conflux_store::{RunId, RunRecord, Store, WorkflowName, WriteBatch};
use tokio::sync::mpsc;

/// Records each start request and creates the run, as the engine does.
pub struct RecordingRuntime {
    pub store: Arc<dyn Store>,
    pub started: mpsc::UnboundedSender<StartRequest>,
}

#[async_trait]
impl WorkflowRuntime for RecordingRuntime {
    async fn start_run(&self, request: StartRequest) -> Result<StartedRun, RuntimeError> {
        let run_id = RunId::generate(Utc::now());
        let mut record = RunRecord::new(
            run_id.clone(),
            WorkflowName::new(request.workflow.as_str()),
            "1",
            request.trigger_name.as_str(),
            Utc::now(),
        );
        record.client_tracking_id = request.client_tracking_id.clone();
        let mut batch = WriteBatch::new();
        batch.create_run(record);
        self.store
            .commit(batch)
            .await
            .map_err(|e| RuntimeError::Failed(e.to_string()))?;
        let _ = self.started.send(request);
        Ok(StartedRun {
            run_id,
            response: None,
            driver: None,
        })
    }

    async fn cancel_run(&self, _: &str, _: &RunId) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn shutdown(&self) {}
}
