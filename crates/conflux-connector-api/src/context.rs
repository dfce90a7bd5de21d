//! What a connector receives from its host for every call: cancellation and limits.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Everything a connector may use from its host. Connectors read no globals and
/// no environment variables: what they need arrives here.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectorContext {
    /// Fires when the host shuts down or the trigger is stopped; long-running
    /// calls ([`crate::Connection::listen`]) return when it fires.
    pub shutdown: ShutdownSignal,
    /// The longest a single service call may take before it is abandoned with a
    /// [`crate::ConnectorError::Transient`] error.
    pub operation_timeout: Duration,
    /// The most items a polling trigger returns from one poll.
    pub max_poll_items: usize,
}

impl ConnectorContext {
    /// The default operation timeout (two minutes, the Logic Apps default for
    /// an outbound request).
    pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(120);
    /// The default cap on items per poll.
    pub const DEFAULT_MAX_POLL_ITEMS: usize = 1000;

    /// A context with default limits that stops when `shutdown` fires.
    pub fn new(shutdown: ShutdownSignal) -> Self {
        Self {
            shutdown,
            operation_timeout: Self::DEFAULT_OPERATION_TIMEOUT,
            max_poll_items: Self::DEFAULT_MAX_POLL_ITEMS,
        }
    }

    /// The same context with another operation timeout.
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// The same context with another cap on items per poll (at least 1).
    pub fn with_max_poll_items(mut self, max: usize) -> Self {
        self.max_poll_items = max.max(1);
        self
    }

    /// Runs `future` under the operation timeout; on expiry returns a transient
    /// error naming `what`.
    pub async fn timed<T, F>(&self, what: &str, future: F) -> Result<T, crate::ConnectorError>
    where
        F: std::future::Future<Output = Result<T, crate::ConnectorError>>,
    {
        match tokio::time::timeout(self.operation_timeout, future).await {
            Ok(result) => result,
            Err(_) => Err(crate::ConnectorError::transient(format!(
                "{what} did not finish within {} s; the service may be overloaded or unreachable",
                self.operation_timeout.as_secs_f64()
            ))),
        }
    }
}

/// The sending half of a shutdown signal. Dropping it also counts as shutdown,
/// so a listener can never outlive its owner.
#[derive(Debug)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

impl Shutdown {
    /// A new shutdown handle and the signal that observes it.
    pub fn new() -> (Self, ShutdownSignal) {
        let (sender, receiver) = watch::channel(false);
        (
            Self { sender },
            ShutdownSignal {
                receiver,
                _keep_alive: None,
            },
        )
    }

    /// Fires the signal for every clone of it.
    pub fn fire(&self) {
        self.sender.send_replace(true);
    }
}

/// Observes a [`Shutdown`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    receiver: watch::Receiver<bool>,
    _keep_alive: Option<Arc<watch::Sender<bool>>>,
}

impl ShutdownSignal {
    /// A signal that never fires (for one-off calls and tests).
    pub fn never() -> Self {
        let (sender, receiver) = watch::channel(false);
        Self {
            receiver,
            _keep_alive: Some(Arc::new(sender)),
        }
    }

    /// Whether shutdown was requested (or its handle dropped).
    pub fn is_fired(&self) -> bool {
        *self.receiver.borrow() || self.receiver.has_changed().is_err()
    }

    /// Completes once shutdown is requested; use it in `tokio::select!`.
    pub async fn fired(&self) {
        let mut receiver = self.receiver.clone();
        // An error means the handle was dropped, which counts as shutdown.
        let _ = receiver.wait_for(|fired| *fired).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn firing_or_dropping_the_handle_signals_shutdown() {
        let (handle, signal) = Shutdown::new();
        let clone = signal.clone();
        assert!(!signal.is_fired());
        handle.fire();
        clone.fired().await;
        assert!(signal.is_fired());

        let (handle, signal) = Shutdown::new();
        drop(handle);
        signal.fired().await;
        assert!(signal.is_fired());

        assert!(!ShutdownSignal::never().is_fired());
    }

    #[tokio::test]
    async fn timed_out_calls_are_transient() {
        let ctx =
            ConnectorContext::new(ShutdownSignal::never()).with_operation_timeout(Duration::ZERO);
        let err = ctx
            .timed(
                "the slow call",
                std::future::pending::<Result<(), crate::ConnectorError>>(),
            )
            .await
            .expect_err("times out");
        assert!(err.is_retryable());
        assert!(err.message().contains("the slow call"));
    }
}
