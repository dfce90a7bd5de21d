//! The `receiveMessages` push trigger: peek-lock consumption of one queue.
//!
//! Each message is consumed with manual acknowledgement and handed to the
//! sink; it is acknowledged only once the sink says its run exists. A sink
//! failure returns the message to the queue (`nack` with requeue); a stopped
//! or crashed listener closes its own broker connection, which returns every
//! unacknowledged message to the queue. The broker never has more than
//! `prefetchCount` unacknowledged messages out to one listener.

use std::sync::Arc;

use conflux_connector_api::{
    ConfigProblem, ConnectorContext, ConnectorError, ParamReader, ParameterDescriptor,
    ParameterKind, SinkError, TriggerSink,
};
use futures::stream::FuturesUnordered;
use futures::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use serde_json::{json, Map, Value};

use super::actions::table_to_json;
use super::AmqpConnection;
use crate::brokers::{decode_body, event, param};

pub(crate) const INPUTS: &[ParameterDescriptor] = &[
    param("queue", "Queue", "The queue to consume; it must exist.", ParameterKind::String, true),
    param(
        "prefetchCount",
        "Prefetch count",
        "How many messages may be in flight (delivered, not yet acknowledged) at once; default 10, 1 to 1000.",
        ParameterKind::Integer,
        false,
    ),
];

/// A parsed `receiveMessages` trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceiveMessages {
    queue: String,
    prefetch: u16,
}

impl ReceiveMessages {
    /// Parses the inputs, reporting every problem.
    pub(crate) fn parse(inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, "inputs.parameters");
        let queue = r.req_str("queue").unwrap_or_default().to_owned();
        let prefetch = match r.opt_i64("prefetchCount") {
            None => 10,
            Some(n @ 1..=1000) => u16::try_from(n).unwrap_or(10),
            Some(_) => {
                r.problem("prefetchCount", "must be between 1 and 1000");
                10
            }
        };
        r.finish()?;
        Ok(Self { queue, prefetch })
    }

    /// Consumes until `ctx.shutdown` fires.
    pub(crate) async fn listen(
        &self,
        amqp: &AmqpConnection,
        ctx: &ConnectorContext,
        sink: Arc<dyn TriggerSink>,
    ) -> Result<(), ConnectorError> {
        // This connection belongs to this listener alone: dropping it (on
        // return, error or cancellation) gives unacknowledged messages back.
        let connection = amqp.connect(ctx).await?;
        let result = self.consume(amqp, ctx, &connection, sink.as_ref()).await;
        // A polite close; the broker requeues whatever was not acknowledged.
        let _ = tokio::time::timeout(
            ctx.operation_timeout,
            connection.close(200, "trigger stopped"),
        )
        .await;
        result
    }

    async fn consume(
        &self,
        amqp: &AmqpConnection,
        ctx: &ConnectorContext,
        connection: &lapin::Connection,
        sink: &dyn TriggerSink,
    ) -> Result<(), ConnectorError> {
        let queue = self.queue.as_str();
        let mut consumer = ctx
            .timed("subscribing to the AMQP queue", async {
                let channel = connection
                    .create_channel()
                    .await
                    .map_err(|e| amqp.classify("open a channel", &e))?;
                channel
                    .basic_qos(self.prefetch, BasicQosOptions::default())
                    .await
                    .map_err(|e| amqp.classify("set the prefetch count", &e))?;
                // A passive declare says "not found" clearly instead of a
                // consumer that silently never receives anything.
                channel
                    .queue_declare(
                        queue,
                        QueueDeclareOptions {
                            passive: true,
                            ..QueueDeclareOptions::default()
                        },
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| amqp.classify(&format!("find queue '{queue}'"), &e))?;
                channel
                    .basic_consume(
                        queue,
                        "",
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| amqp.classify(&format!("consume queue '{queue}'"), &e))
            })
            .await?;
        let mut in_flight = FuturesUnordered::new();
        loop {
            tokio::select! {
                () = ctx.shutdown.fired() => break,
                delivery = consumer.next() => match delivery {
                    Some(Ok(delivery)) => in_flight.push(self.handle(amqp, ctx, sink, delivery)),
                    Some(Err(e)) => return Err(amqp.classify(&format!("consume queue '{queue}'"), &e)),
                    None => {
                        return Err(ConnectorError::transient(format!(
                            "the broker cancelled the consumer on queue '{queue}' (was it deleted?)"
                        )))
                    }
                },
                Some(outcome) = in_flight.next() => match outcome {
                    Ok(Handled::Continue) => {}
                    Ok(Handled::SinkClosed) => return Ok(()),
                    Err(e) => return Err(e),
                },
            }
        }
        // Deliveries still in the sink give up at shutdown without settling;
        // those the sink already accepted are acknowledged first.
        while let Some(outcome) = in_flight.next().await {
            outcome?;
        }
        Ok(())
    }

    /// Delivers one message and settles it with the broker.
    async fn handle(
        &self,
        amqp: &AmqpConnection,
        ctx: &ConnectorContext,
        sink: &dyn TriggerSink,
        delivery: Delivery,
    ) -> Result<Handled, ConnectorError> {
        let event = to_event(&self.queue, &delivery);
        let delivered = tokio::select! {
            // Unsettled: the broker requeues it when the connection closes.
            () = ctx.shutdown.fired() => return Ok(Handled::SinkClosed),
            delivered = sink.deliver(event) => delivered,
        };
        match delivered {
            Ok(()) => {
                delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await
                    .map_err(|e| amqp.classify("acknowledge a message", &e))?;
                Ok(Handled::Continue)
            }
            Err(error) => {
                delivery
                    .acker
                    .nack(BasicNackOptions {
                        multiple: false,
                        requeue: true,
                    })
                    .await
                    .map_err(|e| amqp.classify("return a message to the queue", &e))?;
                Ok(match error {
                    SinkError::Closed => Handled::SinkClosed,
                    SinkError::Failed { .. } => Handled::Continue,
                })
            }
        }
    }
}

enum Handled {
    Continue,
    SinkClosed,
}

/// The trigger output for one delivery.
fn to_event(queue: &str, delivery: &Delivery) -> Value {
    let p = &delivery.properties;
    let content_type = p.content_type().as_ref().map(|s| s.as_str());
    let mut properties = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            properties.insert(name.to_owned(), value);
        }
    };
    let text = |s: &Option<lapin::types::ShortString>| s.as_ref().map(|s| json!(s.as_str()));
    put("contentType", text(p.content_type()));
    put("contentEncoding", text(p.content_encoding()));
    put("correlationId", text(p.correlation_id()));
    put("messageId", text(p.message_id()));
    put("replyTo", text(p.reply_to()));
    put("type", text(p.kind()));
    put("appId", text(p.app_id()));
    put("userId", text(p.user_id()));
    put("expiration", text(p.expiration()));
    put("timestamp", p.timestamp().map(|t| json!(t)));
    put("priority", p.priority().map(|t| json!(t)));
    put("deliveryMode", p.delivery_mode().map(|t| json!(t)));
    put("exchange", Some(json!(delivery.exchange.as_str())));
    put("routingKey", Some(json!(delivery.routing_key.as_str())));
    put("redelivered", Some(json!(delivery.redelivered)));
    let headers = match p.headers() {
        Some(table) => match table_to_json(table) {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        None => Map::new(),
    };
    event(
        ("queue", queue),
        decode_body(&delivery.data, content_type),
        headers,
        properties,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_inputs() {
        assert_eq!(
            ReceiveMessages::parse(&json!({"queue": "q"})),
            Ok(ReceiveMessages {
                queue: "q".into(),
                prefetch: 10
            })
        );
        let problems = ReceiveMessages::parse(&json!({"prefetchCount": 0})).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
