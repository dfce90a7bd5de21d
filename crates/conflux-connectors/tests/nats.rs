//! The NATS connector against a real NATS server with JetStream
//! (`CONFLUX_TEST_NATS_URL`, default `nats://127.0.0.1:4222`).

#![cfg(feature = "nats")]

mod broker_support;

use std::sync::Arc;

use broker_support::*;
use conflux_connector_api::{Connection, ConnectorError};
use conflux_connectors::nats::NatsConnector;
use serde_json::{json, Value};

const VAR: &str = "CONFLUX_TEST_NATS_URL";

fn url() -> String {
    service_url(VAR, "nats://127.0.0.1:4222")
}

async fn connection() -> Arc<dyn Connection> {
    connect(&NatsConnector, VAR, &url()).await
}

/// A stream with a unique name over `<subject prefix>.>`, deleted at the end.
struct TestStream {
    name: String,
    prefix: String,
    jetstream: async_nats::jetstream::Context,
}

impl TestStream {
    async fn new() -> Self {
        let client = async_nats::connect(url())
            .await
            .unwrap_or_else(|e| panic!("NATS unreachable ({e}); set {VAR}"));
        let jetstream = async_nats::jetstream::new(client);
        let name = unique("CONFLUX_TEST_");
        let prefix = unique("conflux-test.");
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![format!("{prefix}.>")],
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| {
                panic!("cannot create a JetStream stream ({e}); is JetStream enabled (-js)?")
            });
        Self {
            name,
            prefix,
            jetstream,
        }
    }

    fn subject(&self, last: &str) -> String {
        format!("{}.{last}", self.prefix)
    }

    fn trigger(&self, durable: &str) -> Value {
        json!({"stream": self.name, "durableName": durable, "filterSubject": self.subject(">"), "ackWaitSeconds": 1})
    }

    async fn delete(self) {
        self.jetstream
            .delete_stream(&self.name)
            .await
            .expect("test stream deleted");
    }
}

#[tokio::test]
async fn stream_message_arrives_with_subject_headers_and_sequence() {
    let nats = connection().await;
    let stream = TestStream::new().await;
    let subject = stream.subject("created");
    let sent = nats
        .invoke(
            &ctx(),
            "publishToStream",
            json!({"subject": subject, "message": {"order": 9}, "headers": {"source": "web"}, "messageId": "order-9"}),
        )
        .await
        .unwrap();
    assert_eq!(
        sent,
        json!({"subject": subject, "stream": stream.name, "sequence": 1, "duplicate": false})
    );
    let duplicate = nats
        .invoke(
            &ctx(),
            "publishToStream",
            json!({"subject": subject, "message": {"order": 9}, "messageId": "order-9"}),
        )
        .await
        .unwrap();
    assert_eq!(
        duplicate["duplicate"],
        json!(true),
        "the stream drops a repeated message id"
    );

    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(
        &nats,
        "receiveStreamMessages",
        stream.trigger("reader"),
        sink,
    );
    let event = next_attempt(&mut received, "the stream message")
        .await
        .event;
    assert_eq!(event["body"], json!({"order": 9}));
    assert_eq!(event["subject"], json!(subject));
    assert_eq!(event["headers"]["source"], json!("web"));
    assert_eq!(event["headers"]["Nats-Msg-Id"], json!("order-9"));
    let p = &event["properties"];
    assert_eq!(
        (
            &p["stream"],
            &p["consumer"],
            &p["streamSequence"],
            &p["deliveryCount"]
        ),
        (&json!(stream.name), &json!("reader"), &json!(1), &json!(1))
    );
    assert!(
        p["published"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{p}"
    );
    listener.stop().await;
    stream.delete().await;
}

#[tokio::test]
async fn failed_delivery_is_redelivered_and_accepted_once() {
    let nats = connection().await;
    let stream = TestStream::new().await;
    nats.invoke(
        &ctx(),
        "publishToStream",
        json!({"subject": stream.subject("a"), "message": "once"}),
    )
    .await
    .unwrap();

    let (sink, mut received) = RecordingSink::new(Answer::FailFirst(1));
    let listener = listen(
        &nats,
        "receiveStreamMessages",
        stream.trigger("retry"),
        sink,
    );
    assert!(
        !next_attempt(&mut received, "the first attempt")
            .await
            .accepted
    );
    let again = next_attempt(&mut received, "the redelivery").await;
    assert!(again.accepted);
    assert_eq!(
        (
            &again.event["body"],
            &again.event["properties"]["deliveryCount"]
        ),
        (&json!("once"), &json!(2))
    );
    listener.stop().await;

    // The server holds nothing unacknowledged or undelivered for the consumer.
    let handle = stream.jetstream.get_stream(&stream.name).await.unwrap();
    let info = handle.consumer_info("retry").await.unwrap();
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0));
    assert!(received.try_recv().is_err());
    stream.delete().await;
}

#[tokio::test]
async fn message_held_by_a_crashed_listener_is_redelivered_after_the_ack_wait() {
    let nats = connection().await;
    let stream = TestStream::new().await;
    nats.invoke(
        &ctx(),
        "publishToStream",
        json!({"subject": stream.subject("b"), "message": "keep me"}),
    )
    .await
    .unwrap();

    let (hanging, mut seen) = RecordingSink::new(Answer::Hang);
    let crashed = listen(
        &nats,
        "receiveStreamMessages",
        stream.trigger("crashy"),
        hanging,
    );
    assert_eq!(
        next_attempt(&mut seen, "the message").await.event["body"],
        json!("keep me")
    );
    crashed.crash().await;

    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(
        &nats,
        "receiveStreamMessages",
        stream.trigger("crashy"),
        sink,
    );
    let again = next_attempt(&mut received, "the message after the crash").await;
    assert!(again.accepted);
    assert_eq!(again.event["body"], json!("keep me"));
    assert_eq!(again.event["properties"]["deliveryCount"], json!(2));
    listener.stop().await;
    stream.delete().await;
}

#[tokio::test]
async fn core_subscription_receives_published_messages() {
    let nats = connection().await;
    let prefix = unique("conflux-test-core.");
    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(
        &nats,
        "receiveMessages",
        json!({"subject": format!("{prefix}.*")}),
        sink,
    );
    let probe = format!("{prefix}.probe");
    await_subscription(&mut received, || {
        let nats = Arc::clone(&nats);
        let subject = probe.clone();
        async move {
            nats.invoke(
                &ctx(),
                "publish",
                json!({"subject": subject, "message": "probe"}),
            )
            .await
            .unwrap();
        }
    })
    .await;

    let subject = format!("{prefix}.created");
    let sent = nats
        .invoke(
            &ctx(),
            "publish",
            json!({"subject": subject, "message": [1, 2], "headers": {"k": "v"}}),
        )
        .await
        .unwrap();
    assert_eq!(sent, json!({"subject": subject}));
    let event = next_real(&mut received, "the message").await.event;
    assert_eq!(
        event,
        json!({"body": [1, 2], "headers": {"k": "v"}, "properties": {}, "subject": subject})
    );
    listener.stop().await;
}

#[tokio::test]
async fn missing_stream_is_not_found() {
    let nats = connection().await;
    let error = nats
        .invoke(
            &ctx(),
            "publishToStream",
            json!({"subject": unique("conflux-nowhere."), "message": "x"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::NotFound { .. }),
        "{error:?}"
    );

    let (sink, _received) = RecordingSink::new(Answer::Accept);
    let inputs = json!({"stream": unique("CONFLUX_MISSING_"), "durableName": "d"});
    let listener = listen(&nats, "receiveStreamMessages", inputs, sink);
    let result = tokio::time::timeout(WAIT, listener.task)
        .await
        .expect("listen returns")
        .unwrap();
    assert!(
        matches!(result, Err(ConnectorError::NotFound { .. })),
        "{result:?}"
    );
}
