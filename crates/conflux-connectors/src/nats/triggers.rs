//! NATS push triggers: a durable JetStream pull consumer (at least once) and
//! a core subject subscription (at most once).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::{self, AckKind};
use async_nats::HeaderMap;
use conflux_connector_api::{
    ConfigProblem, ConnectorContext, ConnectorError, ParamReader, ParameterDescriptor,
    ParameterKind, SinkError, TriggerSink,
};
use futures::StreamExt as _;
use serde_json::{json, Map, Value};

use super::NatsConnection;
use crate::brokers::{decode_body, event, param};

pub(crate) const STREAM_INPUTS: &[ParameterDescriptor] = &[
    param(
        "stream",
        "Stream",
        "The JetStream stream; it must exist.",
        ParameterKind::String,
        true,
    ),
    param(
        "durableName",
        "Durable name",
        "The durable consumer; created with the settings below if missing, used as is if present. \
         Listeners sharing it share the work.",
        ParameterKind::String,
        true,
    ),
    param(
        "filterSubject",
        "Filter subject",
        "Only messages on this subject (wildcards allowed); default all.",
        ParameterKind::String,
        false,
    ),
    param(
        "ackWaitSeconds",
        "Ack wait (seconds)",
        "How long the server waits for an acknowledgement before redelivering; default 30.",
        ParameterKind::Integer,
        false,
    ),
    param(
        "maxAckPending",
        "Max ack pending",
        "Messages in flight per consumer; default 100.",
        ParameterKind::Integer,
        false,
    ),
];

pub(crate) const CORE_INPUTS: &[ParameterDescriptor] = &[
    param(
        "subject",
        "Subject",
        "The subject; `*` matches one token, `>` the rest.",
        ParameterKind::String,
        true,
    ),
    param(
        "queueGroup",
        "Queue group",
        "Listeners in the same group share the messages.",
        ParameterKind::String,
        false,
    ),
];

/// A parsed NATS trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NatsTrigger {
    Stream {
        stream: String,
        durable_name: String,
        filter_subject: String,
        ack_wait: Duration,
        max_ack_pending: i64,
    },
    Core {
        subject: String,
        queue_group: Option<String>,
    },
}

impl NatsTrigger {
    /// Parses a trigger's inputs, reporting every problem.
    pub(crate) fn parse(operation: &str, inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, "inputs.parameters");
        let trigger = match operation {
            "receiveStreamMessages" => {
                let stream = r.req_str("stream").unwrap_or_default().to_owned();
                let durable_name = r.req_str("durableName").unwrap_or_default().to_owned();
                for (name, value) in [("stream", &stream), ("durableName", &durable_name)] {
                    if value.contains(['.', '*', '>', ' ', '/', '\\']) {
                        r.problem(name, "must not contain `.`, `*`, `>`, spaces or slashes");
                    }
                }
                let filter_subject = r.opt_str("filterSubject").unwrap_or_default().to_owned();
                let ack_wait = match r.opt_i64("ackWaitSeconds") {
                    None => Duration::from_secs(30),
                    Some(n @ 1..=86_400) => Duration::from_secs(n.unsigned_abs()),
                    Some(_) => {
                        r.problem("ackWaitSeconds", "must be between 1 and 86400");
                        Duration::from_secs(30)
                    }
                };
                let max_ack_pending = match r.opt_i64("maxAckPending") {
                    None => 100,
                    Some(n @ 1..=100_000) => n,
                    Some(_) => {
                        r.problem("maxAckPending", "must be between 1 and 100000");
                        100
                    }
                };
                Self::Stream {
                    stream,
                    durable_name,
                    filter_subject,
                    ack_wait,
                    max_ack_pending,
                }
            }
            "receiveMessages" => {
                let subject = r.req_str("subject").unwrap_or_default().to_owned();
                let queue_group = r.opt_str("queueGroup").map(str::to_owned);
                Self::Core {
                    subject,
                    queue_group,
                }
            }
            other => return Err(crate::brokers::unknown_operation(&super::DESCRIPTOR, other)),
        };
        r.finish()?;
        Ok(trigger)
    }

    /// Delivers messages until `ctx.shutdown` fires.
    pub(crate) async fn listen(
        &self,
        nats: &NatsConnection,
        ctx: &ConnectorContext,
        client: async_nats::Client,
        sink: Arc<dyn TriggerSink>,
    ) -> Result<(), ConnectorError> {
        match self {
            Self::Stream { .. } => self.consume_stream(nats, ctx, client, sink.as_ref()).await,
            Self::Core {
                subject,
                queue_group,
            } => {
                let work =
                    consume_subject(nats, client, subject, queue_group.as_deref(), sink.as_ref());
                tokio::select! {
                    () = ctx.shutdown.fired() => Ok(()),
                    result = work => result,
                }
            }
        }
    }

    async fn consume_stream(
        &self,
        nats: &NatsConnection,
        ctx: &ConnectorContext,
        client: async_nats::Client,
        sink: &dyn TriggerSink,
    ) -> Result<(), ConnectorError> {
        let Self::Stream {
            stream,
            durable_name,
            filter_subject,
            ack_wait,
            max_ack_pending,
        } = self
        else {
            return Ok(());
        };
        let jetstream = jetstream::new(client);
        let consumer = ctx
            .timed("preparing the JetStream consumer", async {
                let handle = jetstream
                    .get_stream(stream)
                    .await
                    .map_err(|e| match e.kind() {
                        GetStreamErrorKind::JetStream(inner)
                            if inner.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
                        {
                            ConnectorError::not_found(format!(
                                "JetStream stream '{stream}' does not exist; create it first"
                            ))
                        }
                        _ => nats.transient(&format!("find stream '{stream}'"), &e),
                    })?;
                let config = pull::Config {
                    durable_name: Some(durable_name.clone()),
                    filter_subject: filter_subject.clone(),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: *ack_wait,
                    max_ack_pending: *max_ack_pending,
                    ..pull::Config::default()
                };
                handle
                    .get_or_create_consumer(durable_name, config)
                    .await
                    .map_err(|e| nats.transient(&format!("create consumer '{durable_name}'"), &e))
            })
            .await?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| nats.transient(&format!("pull from consumer '{durable_name}'"), &e))?;
        loop {
            let next = tokio::select! {
                () = ctx.shutdown.fired() => return Ok(()),
                next = messages.next() => next,
            };
            let Some(message) = next else { break };
            let message = message
                .map_err(|e| nats.transient(&format!("pull from consumer '{durable_name}'"), &e))?;
            let event = stream_event(&message);
            // Stopping mid-delivery leaves the message unacknowledged: the
            // server redelivers it after the ack wait.
            let delivered = tokio::select! {
                () = ctx.shutdown.fired() => return Ok(()),
                delivered = sink.deliver(event) => delivered,
            };
            match delivered {
                Ok(()) => message
                    .ack()
                    .await
                    .map_err(|e| nats.transient("acknowledge a message", &e))?,
                Err(error) => {
                    message
                        .ack_with(AckKind::Nak(None))
                        .await
                        .map_err(|e| nats.transient("return a message", &e))?;
                    if error == SinkError::Closed {
                        return Ok(());
                    }
                }
            }
        }
        Err(ConnectorError::transient(format!(
            "the JetStream consumer '{durable_name}' on stream '{stream}' stopped delivering"
        )))
    }
}

async fn consume_subject(
    nats: &NatsConnection,
    client: async_nats::Client,
    subject: &str,
    queue_group: Option<&str>,
    sink: &dyn TriggerSink,
) -> Result<(), ConnectorError> {
    let subscribed = match queue_group {
        Some(group) => {
            client
                .queue_subscribe(subject.to_owned(), group.to_owned())
                .await
        }
        None => client.subscribe(subject.to_owned()).await,
    };
    let mut subscriber =
        subscribed.map_err(|e| nats.transient(&format!("subscribe to '{subject}'"), &e))?;
    // Make sure the server has the subscription before reporting for duty.
    client
        .flush()
        .await
        .map_err(|e| nats.transient("flush", &e))?;
    while let Some(message) = subscriber.next().await {
        let mut properties = Map::new();
        if let Some(reply) = &message.reply {
            properties.insert("replyTo".into(), json!(reply.as_str()));
        }
        let content_type = content_type(message.headers.as_ref());
        let event = event(
            ("subject", message.subject.as_str()),
            decode_body(&message.payload, content_type.as_deref()),
            headers_to_json(message.headers.as_ref()),
            properties,
        );
        // Core NATS keeps no copy, so a failed delivery cannot be retried.
        if let Err(SinkError::Closed) = sink.deliver(event).await {
            return Ok(());
        }
    }
    Err(ConnectorError::transient(format!(
        "the NATS subscription to '{subject}' ended"
    )))
}

fn stream_event(message: &jetstream::Message) -> Value {
    let mut properties = Map::new();
    if let Ok(info) = message.info() {
        properties.insert("stream".into(), json!(info.stream));
        properties.insert("consumer".into(), json!(info.consumer));
        properties.insert("streamSequence".into(), json!(info.stream_sequence));
        properties.insert("consumerSequence".into(), json!(info.consumer_sequence));
        properties.insert("deliveryCount".into(), json!(info.delivered));
        properties.insert("pending".into(), json!(info.pending));
        let published = chrono::DateTime::from_timestamp(
            info.published.unix_timestamp(),
            info.published.nanosecond(),
        );
        if let Some(published) = published {
            properties.insert(
                "published".into(),
                json!(published.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            );
        }
    }
    let content_type = content_type(message.headers.as_ref());
    event(
        ("subject", message.subject.as_str()),
        decode_body(&message.payload, content_type.as_deref()),
        headers_to_json(message.headers.as_ref()),
        properties,
    )
}

fn content_type(headers: Option<&HeaderMap>) -> Option<String> {
    headers?.get("Content-Type").map(|v| v.as_str().to_owned())
}

/// Headers as a JSON object: one value is a string, repeated ones an array.
fn headers_to_json(headers: Option<&HeaderMap>) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, values) in headers.into_iter().flat_map(HeaderMap::iter) {
        let value = match values.as_slice() {
            [one] => json!(one.as_str()),
            many => Value::Array(many.iter().map(|v| json!(v.as_str())).collect()),
        };
        out.insert(name.to_string(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_trigger() {
        let trigger = NatsTrigger::parse(
            "receiveStreamMessages",
            &json!({"stream": "S", "durableName": "d", "ackWaitSeconds": 2}),
        )
        .unwrap();
        assert!(
            matches!(trigger, NatsTrigger::Stream { ack_wait, .. } if ack_wait == Duration::from_secs(2))
        );
        let problems = NatsTrigger::parse(
            "receiveStreamMessages",
            &json!({"stream": "a.b", "ackWaitSeconds": 0}),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn headers_become_json() {
        let mut headers = HeaderMap::new();
        headers.append("a", "1");
        headers.append("b", "x");
        headers.append("b", "y");
        let json = Value::Object(headers_to_json(Some(&headers)));
        assert_eq!(json, json!({"a": "1", "b": ["x", "y"]}));
    }
}
