//! The `sendMessage` action and the JSON ⇄ AMQP field-table conversions it
//! shares with the trigger.

use std::collections::BTreeMap;

use conflux_connector_api::{
    ConfigProblem, ConnectorError, ParamReader, ParameterDescriptor, ParameterKind,
};
use lapin::options::BasicPublishOptions;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldArray, FieldTable, ShortString};
use lapin::BasicProperties;
use serde_json::{json, Map, Value};

use super::AmqpConnection;
use crate::brokers::{param, required_body};

pub(crate) const INPUTS: &[ParameterDescriptor] = &[
    param(
        "queue",
        "Queue",
        "Send straight to this queue (default exchange). Use instead of exchange/routingKey.",
        ParameterKind::String,
        false,
    ),
    param(
        "exchange",
        "Exchange",
        "The exchange; default \"\" (the default exchange).",
        ParameterKind::String,
        false,
    ),
    param(
        "routingKey",
        "Routing key",
        "The routing key; default \"\".",
        ParameterKind::String,
        false,
    ),
    param(
        "body",
        "Body",
        "Text is sent as is, binary content as its bytes, any other JSON value as JSON.",
        ParameterKind::String,
        true,
    ),
    param(
        "contentType",
        "Content type",
        "Default: text/plain for text, application/json for JSON.",
        ParameterKind::String,
        false,
    ),
    param(
        "correlationId",
        "Correlation id",
        "The correlation-id property.",
        ParameterKind::String,
        false,
    ),
    param(
        "messageId",
        "Message id",
        "The message-id property.",
        ParameterKind::String,
        false,
    ),
    param(
        "replyTo",
        "Reply to",
        "The reply-to property.",
        ParameterKind::String,
        false,
    ),
    param(
        "type",
        "Type",
        "The type property.",
        ParameterKind::String,
        false,
    ),
    param(
        "priority",
        "Priority",
        "0 to 255.",
        ParameterKind::Integer,
        false,
    ),
    param(
        "expirationMs",
        "Expiration (ms)",
        "Per-message time to live.",
        ParameterKind::Integer,
        false,
    ),
    param(
        "persistent",
        "Persistent",
        "Delivery mode 2 (survives a broker restart on durable queues); default true.",
        ParameterKind::Boolean,
        false,
    ),
    param(
        "headers",
        "Headers",
        "Application headers as a JSON object.",
        ParameterKind::Object,
        false,
    ),
];

/// A parsed `sendMessage` request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SendMessage {
    exchange: String,
    routing_key: String,
    body: Vec<u8>,
    properties: BasicProperties,
    message_id: Option<String>,
}

impl SendMessage {
    /// Parses the inputs, reporting every problem.
    pub(crate) fn parse(inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, "inputs.parameters");
        let queue = short(&mut r, "queue");
        let exchange = short(&mut r, "exchange");
        let routing_key = short(&mut r, "routingKey");
        let (exchange, routing_key) = match (queue, exchange, routing_key) {
            (Some(queue), None, None) => (String::new(), queue),
            (Some(_), _, _) => {
                r.problem(
                    "queue",
                    "give either `queue` or `exchange`/`routingKey`, not both",
                );
                (String::new(), String::new())
            }
            (None, None, None) => {
                r.problem("queue", "give a `queue`, or an `exchange` and `routingKey`");
                (String::new(), String::new())
            }
            (None, exchange, routing_key) => (
                exchange.unwrap_or_default(),
                routing_key.unwrap_or_default(),
            ),
        };
        let (body, content_type) =
            required_body(&mut r, "body").unwrap_or((Vec::new(), "text/plain"));
        let content_type = short(&mut r, "contentType").unwrap_or_else(|| content_type.to_owned());
        let mut properties = BasicProperties::default().with_content_type(content_type.into());
        let message_id = short(&mut r, "messageId");
        if let Some(id) = &message_id {
            properties = properties.with_message_id(id.clone().into());
        }
        if let Some(id) = short(&mut r, "correlationId") {
            properties = properties.with_correlation_id(id.into());
        }
        if let Some(reply_to) = short(&mut r, "replyTo") {
            properties = properties.with_reply_to(reply_to.into());
        }
        if let Some(kind) = short(&mut r, "type") {
            properties = properties.with_type(kind.into());
        }
        match r.opt_i64("priority").map(u8::try_from) {
            Some(Ok(priority)) => properties = properties.with_priority(priority),
            Some(Err(_)) => r.problem("priority", "must be between 0 and 255"),
            None => {}
        }
        match r.opt_i64("expirationMs") {
            Some(ms) if ms >= 0 => properties = properties.with_expiration(ms.to_string().into()),
            Some(_) => r.problem("expirationMs", "must not be negative"),
            None => {}
        }
        if r.opt_bool("persistent").unwrap_or(true) {
            properties = properties.with_delivery_mode(2);
        }
        if let Some(headers) = r.opt_object("headers") {
            let mut table = BTreeMap::new();
            for (name, value) in headers {
                if name.len() > 255 {
                    r.problem(
                        &format!("headers.{name}"),
                        "header names are at most 255 bytes",
                    );
                    continue;
                }
                table.insert(ShortString::from(name.clone()), json_to_amqp(value));
            }
            properties = properties.with_headers(FieldTable::from(table));
        }
        r.finish()?;
        Ok(Self {
            exchange,
            routing_key,
            body,
            properties,
            message_id,
        })
    }

    /// Publishes and waits for the broker's confirmation.
    pub(crate) async fn send(
        &self,
        amqp: &AmqpConnection,
        channel: &lapin::Channel,
    ) -> Result<Value, ConnectorError> {
        let confirm = channel
            .basic_publish(
                &self.exchange,
                &self.routing_key,
                // Mandatory: an unroutable message comes back instead of vanishing.
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &self.body,
                self.properties.clone(),
            )
            .await
            .map_err(|e| amqp.classify("publish", &e))?;
        let confirmation = confirm
            .await
            .map_err(|e| amqp.classify("publish confirmation", &e))?;
        let target = if self.exchange.is_empty() {
            format!("queue '{}'", self.routing_key)
        } else {
            format!(
                "exchange '{}' with routing key '{}'",
                self.exchange, self.routing_key
            )
        };
        match confirmation {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(json!({
                "exchange": self.exchange,
                "routingKey": self.routing_key,
                "messageId": self.message_id,
            })),
            Confirmation::Ack(Some(_)) | Confirmation::Nack(Some(_)) => Err(ConnectorError::not_found(format!(
                "the broker could not route the message sent to {target}: no queue is bound there; \
                 check the names or declare the queue"
            ))),
            Confirmation::Nack(None) => Err(ConnectorError::transient(format!(
                "the broker refused the message sent to {target} (negative confirmation); retry later"
            ))),
        }
    }
}

/// An optional short string (AMQP limits names and properties to 255 bytes).
fn short(r: &mut ParamReader<'_>, name: &str) -> Option<String> {
    let value = r.opt_str(name)?;
    if value.len() > 255 {
        r.problem(name, "must be at most 255 bytes");
        return None;
    }
    Some(value.to_owned())
}

/// Converts a JSON header value to its natural AMQP field type.
pub(crate) fn json_to_amqp(value: &Value) -> AMQPValue {
    match value {
        Value::Null => AMQPValue::Void,
        Value::Bool(b) => AMQPValue::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AMQPValue::LongLongInt(i),
            None => AMQPValue::Double(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => AMQPValue::LongString(s.as_str().into()),
        Value::Array(items) => AMQPValue::FieldArray(FieldArray::from(
            items.iter().map(json_to_amqp).collect::<Vec<_>>(),
        )),
        Value::Object(map) => AMQPValue::FieldTable(json_to_table(map)),
    }
}

fn json_to_table(map: &Map<String, Value>) -> FieldTable {
    let table: BTreeMap<ShortString, AMQPValue> = map
        .iter()
        .map(|(k, v)| (ShortString::from(k.clone()), json_to_amqp(v)))
        .collect();
    FieldTable::from(table)
}

/// Converts an AMQP field value to JSON; text stays text.
pub(crate) fn amqp_to_json(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(i) => json!(i),
        AMQPValue::ShortShortUInt(i) => json!(i),
        AMQPValue::ShortInt(i) => json!(i),
        AMQPValue::ShortUInt(i) => json!(i),
        AMQPValue::LongInt(i) => json!(i),
        AMQPValue::LongUInt(i) => json!(i),
        AMQPValue::LongLongInt(i) => json!(i),
        AMQPValue::Float(f) => json!(f),
        AMQPValue::Double(f) => json!(f),
        AMQPValue::DecimalValue(d) => {
            json!(f64::from(d.value) / 10f64.powi(i32::from(d.scale)))
        }
        AMQPValue::ShortString(s) => Value::String(s.as_str().to_owned()),
        AMQPValue::LongString(s) => {
            Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned())
        }
        AMQPValue::FieldArray(items) => {
            Value::Array(items.as_slice().iter().map(amqp_to_json).collect())
        }
        AMQPValue::Timestamp(t) => json!(t),
        AMQPValue::FieldTable(table) => table_to_json(table),
        AMQPValue::ByteArray(bytes) => {
            crate::brokers::decode_body(bytes.as_slice(), Some("application/octet-stream"))
        }
        AMQPValue::Void => Value::Null,
    }
}

/// Converts a field table (message headers) to a JSON object.
pub(crate) fn table_to_json(table: &FieldTable) -> Value {
    Value::Object(
        table
            .inner()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), amqp_to_json(v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_queue_message_with_properties() {
        let message = SendMessage::parse(&json!({
            "queue": "orders",
            "body": {"id": 1},
            "correlationId": "c-1",
            "messageId": "m-1",
            "headers": {"n": 2, "s": "x", "nested": {"b": true}},
        }))
        .unwrap();
        assert_eq!(message.exchange, "");
        assert_eq!(message.routing_key, "orders");
        assert_eq!(message.body, br#"{"id":1}"#);
        let props = &message.properties;
        assert_eq!(
            props.content_type().as_ref().map(|s| s.as_str()),
            Some("application/json")
        );
        assert_eq!(
            props.correlation_id().as_ref().map(|s| s.as_str()),
            Some("c-1")
        );
        assert_eq!(*props.delivery_mode(), Some(2));
        let headers = table_to_json(props.headers().as_ref().unwrap());
        assert_eq!(headers, json!({"n": 2, "s": "x", "nested": {"b": true}}));
    }

    #[test]
    fn reports_every_problem() {
        let problems = SendMessage::parse(&json!({
            "queue": "q", "exchange": "x", "priority": 300, "expirationMs": -5
        }))
        .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "inputs.parameters.queue",
                "inputs.parameters.body",
                "inputs.parameters.priority",
                "inputs.parameters.expirationMs"
            ]
        );
    }
}
