//! The `receiveMessages` push trigger on a topic filter.
//!
//! QoS 1 messages are acknowledged (PUBACK) only after the sink accepted
//! them. MQTT 3.1.1 has no negative acknowledgement, so when the sink fails
//! the listener drops its network connection and returns a transient error:
//! with a persistent session (`clientId` given) the broker resends every
//! unacknowledged message when the listener reconnects; with a clean session
//! (no `clientId`) the broker forgets them.

use std::sync::Arc;

use conflux_connector_api::{
    ConfigProblem, ConnectorContext, ConnectorError, ParamReader, ParameterDescriptor,
    ParameterKind, SinkError, TriggerSink,
};
use rumqttc::{AsyncClient, ConnectionError, Event, Outgoing, Packet, QoS, SubscribeReasonCode};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::actions::parse_qos;
use super::{fresh_client_id, MqttConnection};
use crate::brokers::{decode_body, event, param};

pub(crate) const INPUTS: &[ParameterDescriptor] = &[
    param("topicFilter", "Topic filter", "The topic or filter, e.g. `plant/+/temperature` or `plant/#`.", ParameterKind::String, true),
    param("qos", "QoS", "Subscription QoS: 1 (default, acknowledged after the run exists) or 0.", ParameterKind::Integer, false),
    param(
        "clientId",
        "Client id",
        "Gives the trigger a persistent session under this id, so QoS 1 messages are kept while it \
         is stopped. Must be unique per broker. Default: a fresh id and a clean session.",
        ParameterKind::String,
        false,
    ),
];

/// A parsed `receiveMessages` trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceiveMessages {
    topic_filter: String,
    qos: QoS,
    client_id: Option<String>,
}

impl ReceiveMessages {
    /// Parses the inputs, reporting every problem.
    pub(crate) fn parse(inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, "inputs.parameters");
        let topic_filter = r.req_str("topicFilter").unwrap_or_default().to_owned();
        if let Err(message) = check_filter(&topic_filter) {
            r.problem("topicFilter", message);
        }
        let qos = parse_qos(&mut r);
        let client_id = r.opt_str("clientId").map(str::to_owned);
        if client_id
            .as_ref()
            .is_some_and(|id| id.is_empty() || id.len() > 65535)
        {
            r.problem("clientId", "must be between 1 and 65535 bytes");
        }
        r.finish()?;
        Ok(Self {
            topic_filter,
            qos,
            client_id,
        })
    }

    /// Delivers messages until `ctx.shutdown` fires.
    pub(crate) async fn listen(
        &self,
        mqtt: &MqttConnection,
        ctx: &ConnectorContext,
        sink: Arc<dyn TriggerSink>,
    ) -> Result<(), ConnectorError> {
        let (client_id, clean_session) = match &self.client_id {
            Some(id) => (id.clone(), false),
            None => (fresh_client_id("conflux-sub"), true),
        };
        let mut options = mqtt.config.options(&client_id, clean_session);
        options.set_manual_acks(true);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        client
            .subscribe(self.topic_filter.clone(), self.qos)
            .await
            .map_err(|e| {
                ConnectorError::other(format!("MQTT subscribe could not be queued: {e}"))
            })?;

        // The event loop must keep running (keep-alives, acknowledgements)
        // while a delivery is pending, so it gets its own task; the guard
        // stops it however this function ends, which drops the connection.
        let (incoming, mut received) = mpsc::channel::<Result<Incoming, ConnectionError>>(64);
        let poller = tokio::spawn(async move {
            loop {
                let item = match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(publish))) => Ok(Incoming::Message(publish)),
                    Ok(Event::Incoming(Packet::SubAck(ack))) => Ok(Incoming::Subscribed(
                        ack.return_codes
                            .iter()
                            .all(|c| !matches!(c, SubscribeReasonCode::Failure)),
                    )),
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                    Ok(_) => continue,
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                if incoming.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        let _stop_poller = AbortOnDrop(poller.abort_handle());

        loop {
            let item = tokio::select! {
                () = ctx.shutdown.fired() => break,
                item = received.recv() => item,
            };
            let publish = match item {
                Some(Ok(Incoming::Message(publish))) => publish,
                Some(Ok(Incoming::Subscribed(true))) => continue,
                Some(Ok(Incoming::Subscribed(false))) => {
                    return Err(ConnectorError::invalid_input(format!(
                        "the MQTT broker on {} refused the subscription to '{}' (check the filter \
                         and the broker's access rules)",
                        mqtt.config.address(),
                        self.topic_filter
                    )))
                }
                Some(Err(e)) => return Err(mqtt.classify("subscription", &e)),
                None => {
                    return Err(ConnectorError::transient(format!(
                        "the MQTT connection to {} ended",
                        mqtt.config.address()
                    )))
                }
            };
            let event = to_event(&publish);
            let delivered = tokio::select! {
                () = ctx.shutdown.fired() => break,
                delivered = sink.deliver(event) => delivered,
            };
            match delivered {
                Ok(()) => client.ack(&publish).await.map_err(|e| {
                    ConnectorError::transient(format!("MQTT acknowledgement failed: {e}"))
                })?,
                Err(SinkError::Closed) => break,
                Err(SinkError::Failed { message }) => {
                    return Err(ConnectorError::transient(format!(
                        "a message on '{}' could not start a run ({message}); the MQTT connection \
                         was dropped so that a persistent session receives it again",
                        publish.topic
                    )))
                }
            }
        }
        // Clean shutdown: DISCONNECT lets the broker end the session without
        // publishing a will; a persistent session keeps its unacknowledged messages.
        if client.try_disconnect().is_ok() {
            let _ = tokio::time::timeout(ctx.operation_timeout, poller).await;
        }
        Ok(())
    }
}

enum Incoming {
    Message(rumqttc::Publish),
    Subscribed(bool),
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn to_event(publish: &rumqttc::Publish) -> Value {
    let mut properties = Map::new();
    properties.insert("qos".into(), json!(publish.qos as u8));
    properties.insert("retain".into(), json!(publish.retain));
    properties.insert("duplicate".into(), json!(publish.dup));
    event(
        ("topic", &publish.topic),
        decode_body(&publish.payload, None),
        Map::new(),
        properties,
    )
}

/// Checks MQTT filter syntax: `+` fills a whole level, `#` only the last one.
fn check_filter(filter: &str) -> Result<(), &'static str> {
    if filter.is_empty() {
        return Ok(()); // reported as missing already
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err("`#` must be a whole level and the last one, e.g. `plant/#`");
        }
        if level.contains('+') && *level != "+" {
            return Err("`+` must fill a whole level, e.g. `plant/+/temperature`");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_topic_filters() {
        for ok in ["a", "a/b", "a/+/c", "#", "a/#", "+/+"] {
            assert!(check_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["a/#/c", "a/b#", "a+/b", "a/+b"] {
            assert!(check_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_inputs() {
        let trigger =
            ReceiveMessages::parse(&json!({"topicFilter": "a/+", "clientId": "c1"})).unwrap();
        assert_eq!(trigger.qos, QoS::AtLeastOnce);
        assert_eq!(trigger.client_id.as_deref(), Some("c1"));
        assert_eq!(
            ReceiveMessages::parse(&json!({"qos": 5}))
                .unwrap_err()
                .len(),
            2
        );
    }
}
