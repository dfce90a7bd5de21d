//! Webhooks: callback URLs and waiters of HttpWebhook actions, and the
//! outbound subscribe/unsubscribe calls that HttpWebhook actions and triggers make.
//!
//! The engine does not listen for HTTP itself. The host (`conflux serve`)
//! installs a [`CallbackSigner`] that turns a [`CallbackKey`] into an absolute,
//! signed URL, and hands every verified callback request to
//! [`WebhookCallbacks::deliver`]. An HttpWebhook action registers its waiter
//! before it sends the subscribe request, so a subscriber that calls back at
//! once is never missed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use conflux_expr::Value;
use tokio::sync::oneshot;

use crate::actions::http::{self, Attempt};
use crate::executor::RequestAuthorizer;

/// Which waiting action a callback is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallbackKey {
    pub workflow: String,
    pub run_id: String,
    pub action: String,
    /// Loop indexes as the store writes them (`000000-000002`); empty outside loops.
    pub repetition: String,
}

/// Makes the callback URL of a waiting action: absolute and signed, so only
/// whoever received it can call it.
pub trait CallbackSigner: Send + Sync {
    fn callback_url(&self, key: &CallbackKey) -> String;
}

/// Why a callback was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("no HttpWebhook action is waiting for this callback: the run or action is unknown, or it already finished (timed out, cancelled or called back)")]
    NotWaiting,
}

struct Waiter {
    id: u64,
    tx: oneshot::Sender<serde_json::Value>,
}

/// The registry of waiting HttpWebhook actions; shared by the engine and the host.
#[derive(Default)]
pub struct WebhookCallbacks {
    signer: RwLock<Option<Arc<dyn CallbackSigner>>>,
    waiters: Mutex<HashMap<CallbackKey, Waiter>>,
    next_id: AtomicU64,
}

impl WebhookCallbacks {
    pub fn new() -> WebhookCallbacks {
        WebhookCallbacks::default()
    }

    /// Installs the host's signer (once it knows its public base URL).
    pub fn set_signer(&self, signer: Arc<dyn CallbackSigner>) {
        *self.signer.write().unwrap_or_else(|e| e.into_inner()) = Some(signer);
    }

    /// The callback URL `listCallbackUrl()` returns for an action.
    pub fn callback_url(&self, key: &CallbackKey) -> Result<String, String> {
        match &*self.signer.read().unwrap_or_else(|e| e.into_inner()) {
            Some(signer) => Ok(signer.callback_url(key)),
            None => Err("listCallbackUrl() needs a host that receives webhook callbacks (conflux serve); this engine has none".to_string()),
        }
    }

    /// Hands a callback's `{headers, body}` to the action waiting for it.
    pub fn deliver(
        &self,
        key: &CallbackKey,
        outputs: serde_json::Value,
    ) -> Result<(), CallbackError> {
        let waiter = self
            .waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        match waiter {
            Some(w) => w.tx.send(outputs).map_err(|_| CallbackError::NotWaiting),
            None => Err(CallbackError::NotWaiting),
        }
    }

    /// Whether an action is waiting for this key.
    pub fn is_waiting(&self, key: &CallbackKey) -> bool {
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .is_some_and(|w| !w.tx.is_closed())
    }

    /// Registers a waiter (replacing an older one for the same key).
    pub(crate) fn wait(&self, key: &CallbackKey) -> (u64, oneshot::Receiver<serde_json::Value>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), Waiter { id, tx });
        (id, rx)
    }

    /// Removes the waiter `id` registered, if it is still the one for `key`.
    pub(crate) fn forget(&self, key: &CallbackKey, id: u64) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if waiters.get(key).is_some_and(|w| w.id == id) {
            waiters.remove(key);
        }
    }
}

/// The answer to a subscribe or unsubscribe request.
#[derive(Debug, Clone)]
pub struct WebhookReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// JSON bodies parsed, text as a string, anything else as content.
    pub body: serde_json::Value,
}

/// Why a subscribe or unsubscribe request failed. The message never holds the
/// request's URL or credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WebhookError {
    pub code: String,
    pub message: String,
    /// Worth trying again (connection failures, 408, 429, 5xx).
    pub retryable: bool,
    /// The reply, when the server answered with an error status.
    pub reply: Option<WebhookReply>,
}

/// Sends subscribe/unsubscribe requests with the Http action's machinery
/// (headers, body, `authentication` through the engine's authorizer).
#[derive(Clone)]
pub struct WebhookClient {
    pub(crate) http: reqwest::Client,
    pub(crate) authorizer: Option<Arc<dyn RequestAuthorizer>>,
}

impl WebhookClient {
    pub fn new(
        http: reqwest::Client,
        authorizer: Option<Arc<dyn RequestAuthorizer>>,
    ) -> WebhookClient {
        WebhookClient { http, authorizer }
    }

    /// One attempt of `request` (`{method, uri | url, headers, body,
    /// authentication}`); an error status (≥ 400) is an error.
    pub async fn send(&self, request: &serde_json::Value) -> Result<WebhookReply, WebhookError> {
        let inputs = Value::from(request);
        let (method, url) = target(&inputs).map_err(|message| WebhookError {
            code: "InvalidTemplate".into(),
            message,
            retryable: false,
            reply: None,
        })?;
        let attempt =
            http::send_with(&self.http, self.authorizer.as_ref(), &method, url, &inputs).await;
        match classify(attempt) {
            Sent::Reply(r) if r.status < 400 => Ok(reply_json(r)),
            Sent::Reply(r) => {
                let retryable = is_retryable_status(r.status);
                Err(WebhookError {
                    code: http::status_code_name(r.status),
                    message: format!("the server responded with status {}", r.status),
                    retryable,
                    reply: Some(reply_json(r)),
                })
            }
            Sent::Failed(e) => Err(e),
        }
    }
}

pub(crate) enum Sent {
    Reply(http::Response),
    Failed(WebhookError),
}

pub(crate) fn classify(attempt: Attempt) -> Sent {
    match attempt {
        Attempt::Done(r) => Sent::Reply(r),
        Attempt::Transport(msg) => Sent::Failed(WebhookError {
            code: "ServiceUnavailable".into(),
            message: format!("the request could not be sent: {}", strip_urls(&msg)),
            retryable: true,
            reply: None,
        }),
        Attempt::Auth(e) => Sent::Failed(WebhookError {
            code: e.code,
            message: e.message,
            retryable: e.retryable,
            reply: None,
        }),
    }
}

pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

fn reply_json(r: http::Response) -> WebhookReply {
    WebhookReply {
        status: r.status,
        headers: r.headers,
        body: r.body.to_json(),
    }
}

/// Transport errors name the URL, whose query may carry a key; it is cut out.
fn strip_urls(message: &str) -> String {
    message
        .split_whitespace()
        .map(|w| {
            let bare = w.trim_matches(|c| c == '(' || c == ')');
            if bare.starts_with("http://") || bare.starts_with("https://") {
                "<url>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Method (default POST) and URL (`uri`, or `url` as the unsubscribe schema
/// writes it) of a subscribe/unsubscribe request, with its `queries` appended.
pub(crate) fn target(inputs: &Value) -> Result<(reqwest::Method, reqwest::Url), String> {
    let method = inputs
        .get("method")
        .filter(|m| !m.is_null())
        .map(|m| m.to_text().to_ascii_uppercase())
        .unwrap_or_else(|| "POST".into());
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("'{method}' is not an HTTP method"))?;
    let uri = inputs
        .get("uri")
        .or_else(|| inputs.get("url"))
        .filter(|u| !u.is_null())
        .map(|u| u.to_text())
        .ok_or_else(|| "the request needs a 'uri'".to_string())?;
    let mut url =
        reqwest::Url::parse(&uri).map_err(|e| format!("the 'uri' is not an absolute URL: {e}"))?;
    if let Some(Value::Object(q)) = inputs.get("queries") {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in q.iter() {
            pairs.append_pair(k, &v.to_text());
        }
    }
    Ok((method, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_cut_from_transport_errors() {
        assert_eq!(
            strip_urls("error sending request for url (http://h/x?sig=secret) refused"),
            "error sending request for url <url> refused"
        );
    }

    #[test]
    fn unsubscribe_accepts_url_and_defaults_to_post() {
        let v = Value::from(&serde_json::json!({"url": "http://h/x", "queries": {"a": "b c"}}));
        let (m, u) = target(&v).unwrap();
        assert_eq!(m, reqwest::Method::POST);
        assert_eq!(u.as_str(), "http://h/x?a=b+c");
        assert!(target(&Value::from(&serde_json::json!({"method": "POST"}))).is_err());
    }

    #[test]
    fn delivery_needs_a_waiter() {
        let callbacks = WebhookCallbacks::new();
        let key = CallbackKey {
            workflow: "w".into(),
            run_id: "r".into(),
            action: "a".into(),
            repetition: String::new(),
        };
        assert_eq!(
            callbacks.deliver(&key, serde_json::json!({})),
            Err(CallbackError::NotWaiting)
        );
        let (id, mut rx) = callbacks.wait(&key);
        assert!(callbacks.is_waiting(&key));
        callbacks
            .deliver(&key, serde_json::json!({"body": 1}))
            .unwrap();
        assert_eq!(rx.try_recv().unwrap()["body"], 1);
        assert!(!callbacks.is_waiting(&key));
        callbacks.forget(&key, id);
        assert!(callbacks.callback_url(&key).is_err());
    }
}
