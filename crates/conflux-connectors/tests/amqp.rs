//! The AMQP connector against a real RabbitMQ (`CONFLUX_TEST_AMQP_URL`,
//! default `amqp://guest:guest@127.0.0.1:5672/%2f`).

#![cfg(feature = "amqp")]

mod broker_support;

use std::sync::Arc;

use broker_support::*;
use conflux_connector_api::{Connection, ConnectionConfig, Connector, ConnectorError};
use conflux_connectors::amqp::AmqpConnector;
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use serde_json::json;

const VAR: &str = "CONFLUX_TEST_AMQP_URL";

fn url() -> String {
    service_url(VAR, "amqp://guest:guest@127.0.0.1:5672/%2f")
}

async fn connection() -> Arc<dyn Connection> {
    connect(&AmqpConnector, VAR, &url()).await
}

/// A queue with a unique name, deleted when the test ends.
struct TestQueue {
    name: String,
    channel: lapin::Channel,
    _connection: lapin::Connection,
}

impl TestQueue {
    async fn new() -> Self {
        let properties = lapin::ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current());
        let connection = lapin::Connection::connect(&url(), properties)
            .await
            .unwrap_or_else(|e| panic!("RabbitMQ unreachable ({e}); set {VAR}"));
        let channel = connection.create_channel().await.expect("a channel");
        let name = unique("conflux-test-");
        channel
            .queue_declare(
                &name,
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("test queue declared");
        Self {
            name,
            channel,
            _connection: connection,
        }
    }

    async fn message_count(&self) -> u32 {
        self.channel
            .queue_declare(
                &self.name,
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("test queue found")
            .message_count()
    }

    async fn delete(self) {
        self.channel
            .queue_delete(&self.name, QueueDeleteOptions::default())
            .await
            .expect("test queue deleted");
    }
}

#[tokio::test]
async fn sent_message_arrives_with_body_headers_and_properties() {
    let amqp = connection().await;
    let queue = TestQueue::new().await;
    let sent = amqp
        .invoke(
            &ctx(),
            "sendMessage",
            json!({
                "queue": queue.name,
                "body": {"order": 42, "lines": [1, 2]},
                "correlationId": "corr-1",
                "messageId": "msg-1",
                "headers": {"source": "web", "attempt": 3},
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        sent,
        json!({"exchange": "", "routingKey": queue.name, "messageId": "msg-1"})
    );
    amqp.invoke(
        &ctx(),
        "sendMessage",
        json!({"queue": queue.name, "body": "plain"}),
    )
    .await
    .unwrap();

    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(&amqp, "receiveMessages", json!({"queue": queue.name}), sink);
    let first = next_attempt(&mut received, "the JSON message").await.event;
    assert_eq!(first["body"], json!({"order": 42, "lines": [1, 2]}));
    assert_eq!(first["headers"], json!({"source": "web", "attempt": 3}));
    assert_eq!(first["queue"], json!(queue.name));
    let p = &first["properties"];
    assert_eq!(
        (
            &p["contentType"],
            &p["correlationId"],
            &p["messageId"],
            &p["deliveryMode"],
            &p["redelivered"]
        ),
        (
            &json!("application/json"),
            &json!("corr-1"),
            &json!("msg-1"),
            &json!(2),
            &json!(false)
        )
    );
    let second = next_attempt(&mut received, "the text message").await.event;
    assert_eq!(
        (&second["body"], &second["properties"]["contentType"]),
        (&json!("plain"), &json!("text/plain"))
    );
    listener.stop().await;

    assert_eq!(
        queue.message_count().await,
        0,
        "accepted messages must be acknowledged"
    );
    queue.delete().await;
}

#[tokio::test]
async fn unroutable_message_is_not_found() {
    let amqp = connection().await;
    let error = amqp
        .invoke(
            &ctx(),
            "sendMessage",
            json!({"queue": unique("conflux-missing-"), "body": "x"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::NotFound { .. }),
        "{error:?}"
    );
    let error = amqp
        .invoke(
            &ctx(),
            "sendMessage",
            json!({"exchange": unique("conflux-no-exchange-"), "routingKey": "k", "body": "x"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::NotFound { .. }),
        "{error:?}"
    );
    // The connection recovers from the closed channel for the next call.
    let queue = TestQueue::new().await;
    amqp.invoke(
        &ctx(),
        "sendMessage",
        json!({"queue": queue.name, "body": "x"}),
    )
    .await
    .unwrap();
    queue.delete().await;
}

#[tokio::test]
async fn trigger_on_a_missing_queue_fails_as_not_found() {
    let amqp = connection().await;
    let (sink, _received) = RecordingSink::new(Answer::Accept);
    let listener = listen(
        &amqp,
        "receiveMessages",
        json!({"queue": unique("conflux-missing-")}),
        sink,
    );
    let result = tokio::time::timeout(WAIT, listener.task)
        .await
        .expect("listen returns")
        .unwrap();
    assert!(
        matches!(result, Err(ConnectorError::NotFound { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn wrong_password_is_unauthorized() {
    let mut config = ConnectionConfig::default();
    let bad = url().replacen("guest:guest@", "guest:not-the-password@", 1);
    config
        .secrets
        .insert("connectionString".into(), bad.as_str().into());
    let amqp = AmqpConnector.prepare(&config).unwrap();
    let error = amqp.test(&ctx()).await.unwrap_err();
    assert!(!error.message().contains("not-the-password"), "{error:?}");
    assert!(
        matches!(error, ConnectorError::Unauthorized { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn failed_delivery_is_redelivered_and_accepted_once() {
    let amqp = connection().await;
    let queue = TestQueue::new().await;
    amqp.invoke(
        &ctx(),
        "sendMessage",
        json!({"queue": queue.name, "body": {"n": 1}}),
    )
    .await
    .unwrap();

    let (sink, mut received) = RecordingSink::new(Answer::FailFirst(1));
    let listener = listen(&amqp, "receiveMessages", json!({"queue": queue.name}), sink);
    let refused = next_attempt(&mut received, "the first attempt").await;
    assert!(!refused.accepted);
    let again = next_attempt(&mut received, "the redelivery").await;
    assert!(again.accepted);
    assert_eq!(again.event["body"], json!({"n": 1}));
    assert_eq!(again.event["properties"]["redelivered"], json!(true));
    listener.stop().await;

    assert!(
        received.try_recv().is_err(),
        "no further delivery after the accepted one"
    );
    assert_eq!(queue.message_count().await, 0);
    queue.delete().await;
}

#[tokio::test]
async fn message_held_by_a_crashed_listener_goes_to_the_next_one() {
    let amqp = connection().await;
    let queue = TestQueue::new().await;
    amqp.invoke(
        &ctx(),
        "sendMessage",
        json!({"queue": queue.name, "body": "keep me"}),
    )
    .await
    .unwrap();

    let (hanging, mut seen) = RecordingSink::new(Answer::Hang);
    let crashed = listen(
        &amqp,
        "receiveMessages",
        json!({"queue": queue.name}),
        hanging,
    );
    assert_eq!(
        next_attempt(&mut seen, "the message").await.event["body"],
        json!("keep me")
    );
    crashed.crash().await;

    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(&amqp, "receiveMessages", json!({"queue": queue.name}), sink);
    let again = next_attempt(&mut received, "the message after the crash").await;
    assert_eq!(
        (again.event["body"].clone(), again.accepted),
        (json!("keep me"), true)
    );
    assert_eq!(again.event["properties"]["redelivered"], json!(true));
    listener.stop().await;
    assert_eq!(queue.message_count().await, 0);
    queue.delete().await;
}

#[tokio::test]
async fn stopping_during_a_delivery_returns_the_message() {
    let amqp = connection().await;
    let queue = TestQueue::new().await;
    amqp.invoke(
        &ctx(),
        "sendMessage",
        json!({"queue": queue.name, "body": "in flight"}),
    )
    .await
    .unwrap();

    let (hanging, mut seen) = RecordingSink::new(Answer::Hang);
    let listener = listen(
        &amqp,
        "receiveMessages",
        json!({"queue": queue.name}),
        hanging,
    );
    next_attempt(&mut seen, "the message").await;
    listener.stop().await;
    assert_eq!(
        queue.message_count().await,
        1,
        "the unsettled message is back in the queue"
    );
    queue.delete().await;
}
