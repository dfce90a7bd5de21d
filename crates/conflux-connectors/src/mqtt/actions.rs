//! The `publish` action.

use conflux_connector_api::{
    ConfigProblem, ConnectorContext, ConnectorError, ParamReader, ParameterDescriptor,
    ParameterKind,
};
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS};
use serde_json::{json, Value};

use super::{fresh_client_id, MqttConnection};
use crate::brokers::{param, required_body};

pub(crate) const INPUTS: &[ParameterDescriptor] = &[
    param(
        "topic",
        "Topic",
        "The topic; wildcards are not allowed here.",
        ParameterKind::String,
        true,
    ),
    param(
        "message",
        "Message",
        "Text is sent as is, binary content as its bytes, any other JSON value as JSON.",
        ParameterKind::String,
        true,
    ),
    param(
        "qos",
        "QoS",
        "0 (at most once) or 1 (at least once, the default).",
        ParameterKind::Integer,
        false,
    ),
    param(
        "retain",
        "Retain",
        "Whether the broker keeps the message for future subscribers; default false.",
        ParameterKind::Boolean,
        false,
    ),
];

/// A parsed `publish` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Publish {
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    retain: bool,
}

impl Publish {
    /// Parses the inputs, reporting every problem.
    pub(crate) fn parse(inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, "inputs.parameters");
        let topic = r.req_str("topic").unwrap_or_default().to_owned();
        if topic.contains(['+', '#']) {
            r.problem(
                "topic",
                "must not contain the wildcards `+` or `#` when publishing",
            );
        }
        let payload = required_body(&mut r, "message")
            .map(|(bytes, _)| bytes)
            .unwrap_or_default();
        let qos = parse_qos(&mut r);
        let retain = r.opt_bool("retain").unwrap_or(false);
        r.finish()?;
        Ok(Self {
            topic,
            payload,
            qos,
            retain,
        })
    }

    /// Publishes on a short-lived session; with QoS 1, returns once the broker
    /// acknowledged the message.
    pub(crate) async fn send(&self, mqtt: &MqttConnection) -> Result<Value, ConnectorError> {
        let options = mqtt.config.options(&fresh_client_id("conflux-pub"), true);
        let (client, mut eventloop) = AsyncClient::new(options, 8);
        client
            .publish(
                self.topic.clone(),
                self.qos,
                self.retain,
                self.payload.clone(),
            )
            .await
            .map_err(|e| ConnectorError::other(format!("MQTT publish could not be queued: {e}")))?;
        loop {
            let event = eventloop
                .poll()
                .await
                .map_err(|e| mqtt.classify("publish", &e))?;
            match event {
                Event::Outgoing(Outgoing::Publish(_)) if self.qos == QoS::AtMostOnce => break,
                Event::Incoming(Packet::PubAck(_)) => break,
                _ => {}
            }
        }
        disconnect(&client, &mut eventloop).await;
        Ok(json!({"topic": self.topic, "qos": self.qos as u8, "retain": self.retain}))
    }
}

/// Reads `qos`: 0 or 1 (default 1).
pub(crate) fn parse_qos(r: &mut ParamReader<'_>) -> QoS {
    match r.opt_i64("qos") {
        None | Some(1) => QoS::AtLeastOnce,
        Some(0) => QoS::AtMostOnce,
        Some(_) => {
            r.problem("qos", "must be 0 or 1 (QoS 2 is not supported)");
            QoS::AtLeastOnce
        }
    }
}

/// Sends DISCONNECT and drives the event loop until it is written, so the
/// broker ends the session cleanly (and discards any will message).
pub(crate) async fn disconnect(client: &AsyncClient, eventloop: &mut EventLoop) {
    if client.disconnect().await.is_err() {
        return;
    }
    while let Ok(event) = eventloop.poll().await {
        if matches!(event, Event::Outgoing(Outgoing::Disconnect)) {
            break;
        }
    }
}

/// Connects, waits for the broker's CONNACK and disconnects.
pub(crate) async fn connect_and_disconnect(
    mqtt: &MqttConnection,
    ctx: &ConnectorContext,
) -> Result<(), ConnectorError> {
    ctx.timed("connecting to the MQTT broker", async {
        let options = mqtt.config.options(&fresh_client_id("conflux-test"), true);
        let (client, mut eventloop) = AsyncClient::new(options, 8);
        loop {
            let event = eventloop
                .poll()
                .await
                .map_err(|e| mqtt.classify("connect", &e))?;
            if matches!(event, Event::Incoming(Packet::ConnAck(_))) {
                break;
            }
        }
        disconnect(&client, &mut eventloop).await;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_publish_inputs() {
        let publish =
            Publish::parse(&json!({"topic": "a/b", "message": {"x": 1}, "qos": 0, "retain": true}))
                .unwrap();
        assert_eq!(
            publish,
            Publish {
                topic: "a/b".into(),
                payload: br#"{"x":1}"#.to_vec(),
                qos: QoS::AtMostOnce,
                retain: true
            }
        );
        let problems = Publish::parse(&json!({"topic": "a/#", "qos": 2})).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
