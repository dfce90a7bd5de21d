//! Errors a connector reports, classified so the engine's retry policy can act
//! on the class alone.

use std::time::Duration;

/// A failed connector operation, classified by what the caller should do about it.
///
/// Messages say what failed and where (operation, table, path) and never contain
/// secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// The service was unreachable or failed in a way that may pass: retry.
    #[error("{message}")]
    Transient {
        /// What failed.
        message: String,
    },
    /// The service asked the caller to slow down: retry, after `retry_after` if given.
    #[error("{message}")]
    Throttled {
        /// What failed.
        message: String,
        /// How long the service asked the caller to wait.
        retry_after: Option<Duration>,
    },
    /// The inputs were wrong: retrying the same inputs fails again.
    #[error("{message}")]
    InvalidInput {
        /// What was wrong and where.
        message: String,
    },
    /// The credentials were rejected or lack permission.
    #[error("{message}")]
    Unauthorized {
        /// What was refused (never the credential itself).
        message: String,
    },
    /// The addressed item (table, row, file, queue) does not exist.
    #[error("{message}")]
    NotFound {
        /// What was missing.
        message: String,
    },
    /// Any other failure; not retried.
    #[error("{message}")]
    Other {
        /// What failed.
        message: String,
    },
}

impl ConnectorError {
    /// A [`ConnectorError::Transient`] error.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
        }
    }

    /// A [`ConnectorError::Throttled`] error.
    pub fn throttled(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self::Throttled {
            message: message.into(),
            retry_after,
        }
    }

    /// A [`ConnectorError::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
        }
    }

    /// A [`ConnectorError::Unauthorized`] error.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            message: message.into(),
        }
    }

    /// A [`ConnectorError::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
        }
    }

    /// A [`ConnectorError::Other`] error.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
        }
    }

    /// Whether retrying the same request may succeed (transient and throttled errors).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::Throttled { .. })
    }

    /// The wait the service asked for, when throttled.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A stable error code for run history, e.g. `"ConnectorTransient"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Transient { .. } => "ConnectorTransient",
            Self::Throttled { .. } => "ConnectorThrottled",
            Self::InvalidInput { .. } => "ConnectorInvalidInput",
            Self::Unauthorized { .. } => "ConnectorUnauthorized",
            Self::NotFound { .. } => "ConnectorNotFound",
            Self::Other { .. } => "ConnectorFailed",
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Self::Transient { message }
            | Self::Throttled { message, .. }
            | Self::InvalidInput { message }
            | Self::Unauthorized { message }
            | Self::NotFound { message }
            | Self::Other { message } => message,
        }
    }

    /// The same error with `context: ` put in front of its message, keeping the class.
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        let prefix = |m: String| format!("{context}: {m}");
        match self {
            Self::Transient { message } => Self::Transient {
                message: prefix(message),
            },
            Self::Throttled {
                message,
                retry_after,
            } => Self::Throttled {
                message: prefix(message),
                retry_after,
            },
            Self::InvalidInput { message } => Self::InvalidInput {
                message: prefix(message),
            },
            Self::Unauthorized { message } => Self::Unauthorized {
                message: prefix(message),
            },
            Self::NotFound { message } => Self::NotFound {
                message: prefix(message),
            },
            Self::Other { message } => Self::Other {
                message: prefix(message),
            },
        }
    }
}

/// A [`crate::TriggerSink`] could not durably create a run for an event.
///
/// A push connector that receives this must not acknowledge the message, so the
/// broker redelivers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The host is shutting down and accepts no more events.
    #[error("the trigger is shutting down and accepts no more events")]
    Closed,
    /// Creating the run failed.
    #[error("could not create a run for the event: {message}")]
    Failed {
        /// What failed.
        message: String,
    },
}

/// One problem found while checking connection parameters or operation inputs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigProblem {
    /// Where: a dotted path such as `parameterValues.port` or `inputs.parameters.table`.
    pub path: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl ConfigProblem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
