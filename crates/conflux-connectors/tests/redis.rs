//! The Redis connector against a real Redis (`CONFLUX_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379`).

#![cfg(feature = "redis")]

mod broker_support;

use std::sync::Arc;

use broker_support::*;
use conflux_connector_api::{Connection, ConnectorError};
use conflux_connectors::redis::RedisConnector;
use serde_json::json;

const VAR: &str = "CONFLUX_TEST_REDIS_URL";

fn url() -> String {
    service_url(VAR, "redis://127.0.0.1:6379")
}

async fn connection() -> Arc<dyn Connection> {
    connect(&RedisConnector, VAR, &url()).await
}

/// A plain client for arranging and inspecting state around the connector.
async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(url())
        .expect("valid URL")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("Redis unreachable ({e}); set {VAR}"))
}

#[tokio::test]
async fn key_actions_read_and_write_values() {
    let redis = connection().await;
    let ctx = ctx();
    let key = unique("conflux-test:key:");

    let missing = redis
        .invoke(&ctx, "get", json!({"key": key}))
        .await
        .unwrap();
    assert_eq!(missing, json!({"key": key, "exists": false, "value": null}));

    let set = redis
        .invoke(
            &ctx,
            "set",
            json!({"key": key, "value": {"state": "paid"}, "expirySeconds": 300}),
        )
        .await
        .unwrap();
    assert_eq!(set, json!({"key": key, "written": true}));
    let got = redis
        .invoke(&ctx, "get", json!({"key": key}))
        .await
        .unwrap();
    assert_eq!(got["value"], json!(r#"{"state":"paid"}"#));
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut raw().await)
        .await
        .unwrap();
    assert!(
        (1..=300).contains(&ttl),
        "expiry was not applied: TTL {ttl}"
    );

    let not_again = redis
        .invoke(
            &ctx,
            "set",
            json!({"key": key, "value": "x", "condition": "ifNotExists"}),
        )
        .await
        .unwrap();
    assert_eq!(not_again["written"], json!(false));

    let deleted = redis
        .invoke(&ctx, "delete", json!({"keys": [key, "conflux-test:never"]}))
        .await
        .unwrap();
    assert_eq!(deleted, json!({"deleted": 1}));
}

#[tokio::test]
async fn increment_counts_and_rejects_text() {
    let redis = connection().await;
    let ctx = ctx();
    let key = unique("conflux-test:counter:");
    assert_eq!(
        redis
            .invoke(&ctx, "increment", json!({"key": key}))
            .await
            .unwrap()["value"],
        json!(1)
    );
    assert_eq!(
        redis
            .invoke(&ctx, "increment", json!({"key": key, "by": 41}))
            .await
            .unwrap()["value"],
        json!(42)
    );
    assert_eq!(
        redis
            .invoke(&ctx, "increment", json!({"key": key, "by": -2}))
            .await
            .unwrap()["value"],
        json!(40)
    );

    redis
        .invoke(&ctx, "set", json!({"key": key, "value": "text"}))
        .await
        .unwrap();
    let error = redis
        .invoke(&ctx, "increment", json!({"key": key}))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::InvalidInput { .. }),
        "{error:?}"
    );
    redis
        .invoke(&ctx, "delete", json!({"key": key}))
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_password_is_unauthorized_and_bad_inputs_are_listed() {
    let redis = connection().await;
    let error = redis
        .invoke(&ctx(), "set", json!({"value": 1, "expirySeconds": 0}))
        .await
        .unwrap_err();
    let ConnectorError::InvalidInput { message } = error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("inputs.parameters.key") && message.contains("expirySeconds"),
        "{message}"
    );

    // The test server has no password, so AUTH with one is refused.
    let mut config = conflux_connector_api::ConnectionConfig::default();
    let with_password = url().replacen("redis://", "redis://:wrong-password@", 1);
    config
        .secrets
        .insert("connectionString".into(), with_password.as_str().into());
    let refused = conflux_connector_api::Connector::prepare(&RedisConnector, &config).unwrap();
    let error = refused.test(&ctx()).await.unwrap_err();
    assert!(!error.message().contains("wrong-password"), "{error:?}");
    assert!(
        matches!(error, ConnectorError::Unauthorized { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn channel_trigger_delivers_published_messages() {
    let redis = connection().await;
    let channel = unique("conflux-test-channel-");
    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(
        &redis,
        "receiveChannelMessages",
        json!({"channel": channel}),
        sink,
    );

    let publisher = Arc::clone(&redis);
    let probe_channel = channel.clone();
    await_subscription(&mut received, || {
        let publisher = Arc::clone(&publisher);
        let channel = probe_channel.clone();
        async move {
            publisher
                .invoke(
                    &ctx(),
                    "publish",
                    json!({"channel": channel, "message": "probe"}),
                )
                .await
                .unwrap();
        }
    })
    .await;

    let published = redis
        .invoke(
            &ctx(),
            "publish",
            json!({"channel": channel, "message": {"order": 7}}),
        )
        .await
        .unwrap();
    assert_eq!(published["receivers"], json!(1));
    redis
        .invoke(
            &ctx(),
            "publish",
            json!({"channel": channel, "message": "plain text"}),
        )
        .await
        .unwrap();

    let first = next_real(&mut received, "the JSON message").await;
    assert_eq!(
        first.event,
        json!({"body": {"order": 7}, "headers": {}, "properties": {}, "channel": channel})
    );
    let second = next_real(&mut received, "the text message").await;
    assert_eq!(second.event["body"], json!("plain text"));
    listener.stop().await;
}

#[tokio::test]
async fn list_trigger_delivers_in_order_and_removes_only_after_success() {
    let redis = connection().await;
    let list = unique("conflux-test:jobs:");
    let processing = format!("{list}:processing");
    let mut raw = raw().await;
    // Producers LPUSH; the trigger takes from the right: first in, first out.
    for item in [r#"{"job":1}"#, r#"{"job":2}"#, "three"] {
        let _: i64 = redis::cmd("LPUSH")
            .arg(&list)
            .arg(item)
            .query_async(&mut raw)
            .await
            .unwrap();
    }

    // The first delivery fails: the item goes back and comes again first.
    let (sink, mut received) = RecordingSink::new(Answer::FailFirst(1));
    let listener = listen(&redis, "receiveListItems", json!({"list": list}), sink);
    let refused = next_attempt(&mut received, "the first attempt").await;
    assert_eq!(
        (refused.event["body"].clone(), refused.accepted),
        (json!({"job": 1}), false)
    );
    let mut accepted = Vec::new();
    for _ in 0..3 {
        let attempt = next_attempt(&mut received, "the items").await;
        assert!(attempt.accepted);
        assert_eq!(attempt.event["list"], json!(list));
        accepted.push(attempt.event["body"].clone());
    }
    assert_eq!(
        accepted,
        [json!({"job": 1}), json!({"job": 2}), json!("three")]
    );
    listener.stop().await;

    let left: i64 = redis::cmd("LLEN")
        .arg(&list)
        .query_async(&mut raw)
        .await
        .unwrap();
    let in_processing: i64 = redis::cmd("LLEN")
        .arg(&processing)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!((left, in_processing), (0, 0));
}

#[tokio::test]
async fn list_item_taken_by_a_crashed_listener_is_delivered_again() {
    let redis = connection().await;
    let list = unique("conflux-test:crash:");
    let mut raw = raw().await;
    let _: i64 = redis::cmd("LPUSH")
        .arg(&list)
        .arg("precious")
        .query_async(&mut raw)
        .await
        .unwrap();

    let (hanging, mut seen) = RecordingSink::new(Answer::Hang);
    let crashed = listen(&redis, "receiveListItems", json!({"list": list}), hanging);
    assert_eq!(
        next_attempt(&mut seen, "the item").await.event["body"],
        json!("precious")
    );
    crashed.crash().await;

    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(&redis, "receiveListItems", json!({"list": list}), sink);
    let again = next_attempt(&mut received, "the item after the crash").await;
    assert_eq!(
        (again.event["body"].clone(), again.accepted),
        (json!("precious"), true)
    );
    listener.stop().await;
    let _: i64 = redis::cmd("DEL")
        .arg(&list)
        .arg(format!("{list}:processing"))
        .query_async(&mut raw)
        .await
        .unwrap();
}
