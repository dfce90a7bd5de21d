//! Redis push triggers: pub/sub channel messages (at most once) and list
//! items taken reliably through a processing list (at least once).

use std::sync::Arc;

use ::redis::aio::MultiplexedConnection;
use conflux_connector_api::{
    ConfigProblem, ConnectorContext, ConnectorError, ParamReader, SinkError, TriggerSink,
};
use futures::StreamExt as _;
use serde_json::{Map, Value};

use super::RedisConnection;
use crate::brokers::{decode_body, event};

/// Which end of the list items are taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListEnd {
    Left,
    Right,
}

impl ListEnd {
    fn keyword(self) -> &'static str {
        match self {
            Self::Left => "LEFT",
            Self::Right => "RIGHT",
        }
    }
}

/// A parsed Redis trigger.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RedisTrigger {
    Channel {
        channel: Option<String>,
        pattern: Option<String>,
    },
    List {
        list: String,
        processing_list: String,
        end: ListEnd,
    },
}

impl RedisTrigger {
    /// Parses a trigger's inputs, reporting every problem.
    pub(crate) fn parse(operation: &str, inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, "inputs.parameters");
        let trigger = match operation {
            "receiveChannelMessages" => {
                let channel = r.opt_str("channel").map(str::to_owned);
                let pattern = r.opt_str("pattern").map(str::to_owned);
                if channel.is_none() && pattern.is_none() && !r.has_problems() {
                    r.problem("channel", "give a `channel` or a `pattern` to subscribe to");
                }
                Self::Channel { channel, pattern }
            }
            "receiveListItems" => {
                let list = r.req_str("list").unwrap_or_default().to_owned();
                let processing_list = r
                    .opt_str("processingList")
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{list}:processing"));
                if processing_list == list {
                    r.problem("processingList", "must differ from `list`");
                }
                let end = match r.opt_str("end") {
                    None | Some("right") => ListEnd::Right,
                    Some("left") => ListEnd::Left,
                    Some(other) => {
                        r.problem("end", format!("is '{other}'; expected left or right"));
                        ListEnd::Right
                    }
                };
                Self::List {
                    list,
                    processing_list,
                    end,
                }
            }
            other => return Err(crate::brokers::unknown_operation(&super::DESCRIPTOR, other)),
        };
        r.finish()?;
        Ok(trigger)
    }

    /// Delivers events to `sink` until `ctx.shutdown` fires.
    pub(crate) async fn listen(
        &self,
        redis: &RedisConnection,
        ctx: &ConnectorContext,
        sink: Arc<dyn TriggerSink>,
    ) -> Result<(), ConnectorError> {
        match self {
            Self::Channel { channel, pattern } => {
                listen_channel(redis, ctx, sink, channel.as_deref(), pattern.as_deref()).await
            }
            Self::List {
                list,
                processing_list,
                end,
            } => {
                let connection = redis.dedicated(ctx).await?;
                let queue = ListQueue {
                    redis,
                    ctx,
                    connection,
                    list,
                    processing_list,
                    end: *end,
                };
                queue.run(sink.as_ref()).await
            }
        }
    }
}

async fn listen_channel(
    redis: &RedisConnection,
    ctx: &ConnectorContext,
    sink: Arc<dyn TriggerSink>,
    channel: Option<&str>,
    pattern: Option<&str>,
) -> Result<(), ConnectorError> {
    let mut pubsub = ctx
        .timed("subscribing to Redis", async {
            let mut pubsub = redis
                .config
                .client
                .get_async_pubsub()
                .await
                .map_err(|e| redis.classify("connect", &e))?;
            if let Some(channel) = channel {
                pubsub
                    .subscribe(channel)
                    .await
                    .map_err(|e| redis.classify("SUBSCRIBE", &e))?;
            }
            if let Some(pattern) = pattern {
                pubsub
                    .psubscribe(pattern)
                    .await
                    .map_err(|e| redis.classify("PSUBSCRIBE", &e))?;
            }
            Ok(pubsub)
        })
        .await?;
    let mut messages = pubsub.on_message();
    loop {
        let message = tokio::select! {
            () = ctx.shutdown.fired() => return Ok(()),
            message = messages.next() => message,
        };
        let Some(message) = message else {
            return Err(ConnectorError::transient(format!(
                "the Redis subscription on {} was closed by the server",
                redis.config.address
            )));
        };
        let mut properties = Map::new();
        if message.from_pattern() {
            if let Ok(pattern) = message.get_pattern::<String>() {
                properties.insert("pattern".into(), Value::String(pattern));
            }
        }
        let event = event(
            ("channel", message.get_channel_name()),
            decode_body(message.get_payload_bytes(), None),
            Map::new(),
            properties,
        );
        // Pub/sub keeps no copy to redeliver, so a failed delivery is lost
        // either way; keep listening for the next message.
        let delivered = tokio::select! {
            () = ctx.shutdown.fired() => return Ok(()),
            delivered = sink.deliver(event) => delivered,
        };
        if let Err(SinkError::Closed) = delivered {
            return Ok(());
        }
    }
}

/// A list consumed through a processing list: an item is moved atomically
/// (BLMOVE) before delivery and removed only after the sink accepted it.
///
/// Shutdown is honoured while waiting for an item and while the sink works,
/// never between a successful delivery and the removal that settles it.
struct ListQueue<'a> {
    redis: &'a RedisConnection,
    ctx: &'a ConnectorContext,
    connection: MultiplexedConnection,
    list: &'a str,
    processing_list: &'a str,
    end: ListEnd,
}

impl ListQueue<'_> {
    async fn run(mut self, sink: &dyn TriggerSink) -> Result<(), ConnectorError> {
        // Items a previous listener took but never finished: deliver them first.
        let leftovers: Vec<Vec<u8>> = ::redis::cmd("LRANGE")
            .arg(self.processing_list)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.connection)
            .await
            .map_err(|e| self.redis.classify("LRANGE", &e))?;
        // The processing list grows at the left, so its oldest item is last.
        for item in leftovers.into_iter().rev() {
            if !self.deliver(sink, item).await? {
                return Ok(());
            }
        }
        loop {
            let mut connection = self.connection.clone();
            let mut blmove = ::redis::cmd("BLMOVE");
            blmove
                .arg(self.list)
                .arg(self.processing_list)
                .arg(self.end.keyword())
                .arg("LEFT")
                .arg(0);
            let take = blmove.query_async::<Option<Vec<u8>>>(&mut connection);
            // An item moved just as shutdown wins stays in the processing
            // list and is delivered when the trigger starts again.
            let item = tokio::select! {
                () = self.ctx.shutdown.fired() => return Ok(()),
                item = take => item.map_err(|e| self.redis.classify("BLMOVE", &e))?,
            };
            if let Some(item) = item {
                if !self.deliver(sink, item).await? {
                    return Ok(());
                }
            }
        }
    }

    /// Delivers one item; returns `false` when the sink is closed.
    async fn deliver(
        &mut self,
        sink: &dyn TriggerSink,
        item: Vec<u8>,
    ) -> Result<bool, ConnectorError> {
        let event = event(
            ("list", self.list),
            decode_body(&item, None),
            Map::new(),
            Map::new(),
        );
        let delivered = tokio::select! {
            () = self.ctx.shutdown.fired() => return Ok(false),
            delivered = sink.deliver(event) => delivered,
        };
        match delivered {
            Ok(()) => {
                let _: i64 = ::redis::cmd("LREM")
                    .arg(self.processing_list)
                    .arg(-1)
                    .arg(item.as_slice())
                    .query_async(&mut self.connection)
                    .await
                    .map_err(|e| self.redis.classify("LREM", &e))?;
                Ok(true)
            }
            Err(error) => {
                // Hand the item back to the end it was taken from, so it is
                // the next one taken, whether by this listener or another.
                let push = match self.end {
                    ListEnd::Left => "LPUSH",
                    ListEnd::Right => "RPUSH",
                };
                let _: () = ::redis::pipe()
                    .atomic()
                    .cmd("LREM")
                    .arg(self.processing_list)
                    .arg(-1)
                    .arg(item.as_slice())
                    .ignore()
                    .cmd(push)
                    .arg(self.list)
                    .arg(item.as_slice())
                    .ignore()
                    .query_async(&mut self.connection)
                    .await
                    .map_err(|e| self.redis.classify("returning an item to the list", &e))?;
                Ok(!matches!(error, SinkError::Closed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_triggers() {
        assert_eq!(
            RedisTrigger::parse("receiveListItems", &json!({"list": "jobs"})),
            Ok(RedisTrigger::List {
                list: "jobs".into(),
                processing_list: "jobs:processing".into(),
                end: ListEnd::Right
            })
        );
        let problems = RedisTrigger::parse(
            "receiveListItems",
            &json!({"list": "a", "processingList": "a", "end": "middle"}),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(RedisTrigger::parse("receiveChannelMessages", &json!({})).is_err());
    }
}
