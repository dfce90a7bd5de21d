//! NATS actions: core `publish` and JetStream `publishToStream`.

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::HeaderMap;
use conflux_connector_api::{
    ConfigProblem, ConnectorError, ParamReader, ParameterDescriptor, ParameterKind,
};
use serde_json::{json, Value};

use super::NatsConnection;
use crate::brokers::{param, required_body};

const SUBJECT: ParameterDescriptor = param(
    "subject",
    "Subject",
    "The subject, e.g. `orders.created`; no wildcards.",
    ParameterKind::String,
    true,
);
const MESSAGE: ParameterDescriptor = param(
    "message",
    "Message",
    "Text is sent as is, binary content as its bytes, any other JSON value as JSON.",
    ParameterKind::String,
    true,
);
const HEADERS: ParameterDescriptor = param(
    "headers",
    "Headers",
    "A JSON object; each value is a string (other JSON values are sent as their JSON text) or an \
     array of them.",
    ParameterKind::Object,
    false,
);

pub(crate) const PUBLISH_INPUTS: &[ParameterDescriptor] = &[SUBJECT, MESSAGE, HEADERS];
pub(crate) const STREAM_INPUTS: &[ParameterDescriptor] = &[
    SUBJECT,
    MESSAGE,
    HEADERS,
    param(
        "messageId",
        "Message id",
        "Sent as `Nats-Msg-Id`: the stream drops a second message with the same id within its \
         duplicate window.",
        ParameterKind::String,
        false,
    ),
];

/// A parsed NATS action.
#[derive(Debug, Clone)]
pub(crate) struct NatsAction {
    subject: String,
    payload: Vec<u8>,
    headers: HeaderMap,
    stream: bool,
}

impl NatsAction {
    /// Parses an action's inputs, reporting every problem.
    pub(crate) fn parse(operation: &str, inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let stream = match operation {
            "publish" => false,
            "publishToStream" => true,
            other => return Err(crate::brokers::unknown_operation(&super::DESCRIPTOR, other)),
        };
        let mut r = ParamReader::for_value(inputs, "inputs.parameters");
        let subject = r.req_str("subject").unwrap_or_default().to_owned();
        if subject.contains(['*', '>', ' ']) || subject.starts_with('.') || subject.ends_with('.') {
            r.problem(
                "subject",
                "must be a plain subject: no wildcards, spaces or empty tokens",
            );
        }
        let payload = required_body(&mut r, "message")
            .map(|(bytes, _)| bytes)
            .unwrap_or_default();
        let mut headers = HeaderMap::new();
        if let Some(map) = r.opt_object("headers") {
            for (name, value) in map {
                if name.is_empty() || name.contains([':', ' ', '\r', '\n']) {
                    r.problem(&format!("headers.{name}"), "is not a valid header name");
                    continue;
                }
                let values = match value {
                    Value::Array(items) => items.iter().map(header_text).collect(),
                    other => vec![header_text(other)],
                };
                for text in values {
                    if text.contains(['\r', '\n']) {
                        r.problem(&format!("headers.{name}"), "must not contain line breaks");
                    } else {
                        headers.append(name.as_str(), text);
                    }
                }
            }
        }
        if stream {
            if let Some(id) = r.opt_str("messageId") {
                headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
            }
        }
        r.finish()?;
        Ok(Self {
            subject,
            payload,
            headers,
            stream,
        })
    }

    /// Publishes; for a stream, waits for the stream's acknowledgement.
    pub(crate) async fn run(
        &self,
        nats: &NatsConnection,
        client: async_nats::Client,
    ) -> Result<Value, ConnectorError> {
        let payload = self.payload.clone().into();
        if !self.stream {
            client
                .publish_with_headers(self.subject.clone(), self.headers.clone(), payload)
                .await
                .map_err(|e| nats.transient("publish", &e))?;
            client
                .flush()
                .await
                .map_err(|e| nats.transient("flush", &e))?;
            return Ok(json!({"subject": self.subject}));
        }
        let jetstream = async_nats::jetstream::new(client);
        let ack = async {
            jetstream
                .publish_with_headers(self.subject.clone(), self.headers.clone(), payload)
                .await?
                .await
        }
        .await
        .map_err(|e| match e.kind() {
            PublishErrorKind::StreamNotFound => ConnectorError::not_found(format!(
                "no JetStream stream captures subject '{}'; create a stream for it or use the \
                 core `publish` action",
                self.subject
            )),
            _ => nats.transient("publishToStream", &e),
        })?;
        Ok(json!({
            "subject": self.subject,
            "stream": ack.stream,
            "sequence": ack.sequence,
            "duplicate": ack.duplicate,
        }))
    }
}

fn header_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_publish_inputs() {
        let action = NatsAction::parse(
            "publishToStream",
            &json!({"subject": "a.b", "message": "hi", "headers": {"k": ["1", 2]}, "messageId": "m1"}),
        )
        .unwrap();
        assert!(action.stream);
        assert_eq!(action.payload, b"hi");
        let values: Vec<&str> = action.headers.get_all("k").map(|v| v.as_str()).collect();
        assert_eq!(values, ["1", "2"]);
        assert_eq!(
            action
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str()),
            Some("m1")
        );
    }

    #[test]
    fn reports_every_problem() {
        let problems = NatsAction::parse(
            "publish",
            &json!({"subject": "a.*", "headers": {"bad name": "x"}}),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
