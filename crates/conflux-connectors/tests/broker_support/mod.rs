//! Shared pieces of the broker integration tests: service addresses, a
//! recording sink, and helpers that wait on channels with a bounded timeout.

#![allow(dead_code)] // each test crate uses a different subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use conflux_connector_api::{
    async_trait, Connection, ConnectionConfig, Connector, ConnectorContext, ConnectorError, Secret,
    Shutdown, SinkError, TriggerSink,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a test waits for an expected event before failing.
pub const WAIT: Duration = Duration::from_secs(15);

/// The service address from `var`, or the loopback default.
pub fn service_url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// A unique suffix for queue, stream, channel and topic names.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// Prepares a connection with `connectionString` and checks the service is
/// up; a service that is down fails the test with the variable to set.
pub async fn connect(connector: &dyn Connector, var: &str, url: &str) -> Arc<dyn Connection> {
    let mut config = ConnectionConfig {
        connector_id: connector.descriptor().id.to_owned(),
        ..ConnectionConfig::default()
    };
    config
        .secrets
        .insert("connectionString".into(), Secret::new(url));
    let connection = connector
        .prepare(&config)
        .unwrap_or_else(|problems| panic!("{var}={url} is not a valid address: {problems:?}"));
    let ctx = ConnectorContext::new(conflux_connector_api::ShutdownSignal::never())
        .with_operation_timeout(Duration::from_secs(10));
    if let Err(e) = connection.test(&ctx).await {
        panic!("the service at {url} is not reachable ({e}); start it or set {var} to its address");
    }
    connection
}

/// A context for one-off calls.
pub fn ctx() -> ConnectorContext {
    ConnectorContext::new(conflux_connector_api::ShutdownSignal::never())
        .with_operation_timeout(Duration::from_secs(10))
}

/// How the recording sink answers a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    /// Fail the first `n` deliveries, then accept.
    FailFirst(usize),
    /// Never answer, like a host that stops while creating the run.
    Hang,
}

/// One delivery attempt the sink saw, and what it answered.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub event: Value,
    pub accepted: bool,
}

/// A sink that records every delivery attempt on a channel.
pub struct RecordingSink {
    attempts: mpsc::UnboundedSender<Attempt>,
    answer: Answer,
    failures: AtomicUsize,
}

impl RecordingSink {
    pub fn new(answer: Answer) -> (Arc<Self>, mpsc::UnboundedReceiver<Attempt>) {
        let (attempts, received) = mpsc::unbounded_channel();
        let failures = match answer {
            Answer::FailFirst(n) => n,
            _ => 0,
        };
        (
            Arc::new(Self {
                attempts,
                answer,
                failures: AtomicUsize::new(failures),
            }),
            received,
        )
    }
}

#[async_trait]
impl TriggerSink for RecordingSink {
    async fn deliver(&self, event: Value) -> Result<(), SinkError> {
        let fail = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let accepted = !fail && self.answer != Answer::Hang;
        let _ = self.attempts.send(Attempt { event, accepted });
        if self.answer == Answer::Hang {
            std::future::pending::<()>().await;
        }
        if fail {
            return Err(SinkError::Failed {
                message: "test sink refuses this delivery".into(),
            });
        }
        Ok(())
    }
}

/// The next delivery attempt, or a failed test after [`WAIT`].
pub async fn next_attempt(received: &mut mpsc::UnboundedReceiver<Attempt>, what: &str) -> Attempt {
    match tokio::time::timeout(WAIT, received.recv()).await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => panic!("the sink was dropped while waiting for {what}"),
        Err(_) => panic!("no delivery within {WAIT:?} while waiting for {what}"),
    }
}

/// A running push-trigger listener and the handle that stops it.
pub struct Listener {
    pub shutdown: Shutdown,
    pub task: JoinHandle<Result<(), ConnectorError>>,
}

/// Starts `connection.listen(operation, inputs)` on its own task.
pub fn listen(
    connection: &Arc<dyn Connection>,
    operation: &str,
    inputs: Value,
    sink: Arc<RecordingSink>,
) -> Listener {
    let (shutdown, signal) = Shutdown::new();
    let ctx = ConnectorContext::new(signal).with_operation_timeout(Duration::from_secs(10));
    let connection = Arc::clone(connection);
    let operation = operation.to_owned();
    let task = tokio::spawn(async move { connection.listen(&ctx, &operation, inputs, sink).await });
    Listener { shutdown, task }
}

impl Listener {
    /// Fires shutdown and asserts the listener returns `Ok` within [`WAIT`].
    pub async fn stop(self) {
        self.shutdown.fire();
        match tokio::time::timeout(WAIT, self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("the listener ended with an error: {e}"),
            Ok(Err(e)) => panic!("the listener task failed: {e}"),
            Err(_) => panic!("the listener did not stop within {WAIT:?} of shutdown"),
        }
    }

    /// Kills the listener without shutdown, as a crash would, and waits until
    /// it is gone.
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
        drop(self.shutdown);
    }
}

/// For at-most-once subscriptions (pub/sub, MQTT, core NATS): publishes
/// `probe` messages until one reaches the sink, proving the subscription is
/// live. Each wait is bounded; the whole wait fails the test after [`WAIT`].
pub async fn await_subscription<F, Fut>(
    received: &mut mpsc::UnboundedReceiver<Attempt>,
    mut publish_probe: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        publish_probe().await;
        match tokio::time::timeout(Duration::from_millis(100), received.recv()).await {
            Ok(Some(attempt)) if attempt.event["body"] == json!("probe") => return,
            Ok(Some(attempt)) => panic!("unexpected event before the probe: {}", attempt.event),
            Ok(None) => panic!("the sink was dropped while waiting for the subscription"),
            Err(_) if tokio::time::Instant::now() < deadline => continue,
            Err(_) => panic!("the subscription did not become live within {WAIT:?}"),
        }
    }
}

/// The next attempt that is not a leftover probe.
pub async fn next_real(received: &mut mpsc::UnboundedReceiver<Attempt>, what: &str) -> Attempt {
    loop {
        let attempt = next_attempt(received, what).await;
        if attempt.event["body"] != json!("probe") {
            return attempt;
        }
    }
}
