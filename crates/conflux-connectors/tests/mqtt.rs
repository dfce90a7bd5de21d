//! The MQTT connector against a real Mosquitto (`CONFLUX_TEST_MQTT_URL`,
//! default `mqtt://127.0.0.1:1883`).

#![cfg(feature = "mqtt")]

mod broker_support;

use std::sync::Arc;

use broker_support::*;
use conflux_connector_api::{Connection, ConnectorError};
use conflux_connectors::mqtt::MqttConnector;
use serde_json::{json, Value};

const VAR: &str = "CONFLUX_TEST_MQTT_URL";

async fn connection() -> Arc<dyn Connection> {
    connect(
        &MqttConnector,
        VAR,
        &service_url(VAR, "mqtt://127.0.0.1:1883"),
    )
    .await
}

async fn publish(mqtt: &Arc<dyn Connection>, inputs: Value) -> Value {
    mqtt.invoke(&ctx(), "publish", inputs)
        .await
        .expect("MQTT publish succeeds")
}

#[tokio::test]
async fn trigger_receives_messages_on_a_filter() {
    let mqtt = connection().await;
    let base = unique("conflux-test/");
    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(
        &mqtt,
        "receiveMessages",
        json!({"topicFilter": format!("{base}/+/temp")}),
        sink,
    );
    let probe_topic = format!("{base}/probe/temp");
    await_subscription(&mut received, || {
        let mqtt = Arc::clone(&mqtt);
        let topic = probe_topic.clone();
        async move {
            publish(&mqtt, json!({"topic": topic, "message": "probe", "qos": 0})).await;
        }
    })
    .await;

    let sent = publish(
        &mqtt,
        json!({"topic": format!("{base}/line1/temp"), "message": {"celsius": 21.5}}),
    )
    .await;
    assert_eq!(
        sent,
        json!({"topic": format!("{base}/line1/temp"), "qos": 1, "retain": false})
    );
    publish(
        &mqtt,
        json!({"topic": format!("{base}/line2/pressure"), "message": "not matched"}),
    )
    .await;
    publish(
        &mqtt,
        json!({"topic": format!("{base}/line2/temp"), "message": "hot", "qos": 0}),
    )
    .await;

    let first = next_real(&mut received, "the QoS 1 message").await.event;
    assert_eq!(
        first,
        json!({
            "body": {"celsius": 21.5},
            "headers": {},
            "properties": {"qos": 1, "retain": false, "duplicate": false},
            "topic": format!("{base}/line1/temp"),
        })
    );
    let second = next_real(&mut received, "the QoS 0 message").await.event;
    assert_eq!(
        (&second["body"], &second["topic"]),
        (&json!("hot"), &json!(format!("{base}/line2/temp")))
    );
    listener.stop().await;
}

#[tokio::test]
async fn retained_message_reaches_a_later_subscriber() {
    let mqtt = connection().await;
    let topic = unique("conflux-test/retained/");
    publish(
        &mqtt,
        json!({"topic": topic, "message": "last known", "retain": true}),
    )
    .await;

    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(
        &mqtt,
        "receiveMessages",
        json!({"topicFilter": topic}),
        sink,
    );
    let event = next_attempt(&mut received, "the retained message")
        .await
        .event;
    assert_eq!(
        (&event["body"], &event["properties"]["retain"]),
        (&json!("last known"), &json!(true))
    );
    listener.stop().await;
    // An empty retained message clears the topic.
    publish(
        &mqtt,
        json!({"topic": topic, "message": "", "retain": true}),
    )
    .await;
}

#[tokio::test]
async fn persistent_session_keeps_messages_for_a_stopped_or_crashed_listener() {
    let mqtt = connection().await;
    let topic = unique("conflux-test/session/");
    let client_id = unique("conflux-test-");
    let inputs = json!({"topicFilter": topic, "clientId": client_id});

    // A first run creates the session and its subscription, then stops.
    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let first = listen(&mqtt, "receiveMessages", inputs.clone(), sink);
    await_subscription(&mut received, || {
        let mqtt = Arc::clone(&mqtt);
        let topic = topic.clone();
        async move {
            publish(&mqtt, json!({"topic": topic, "message": "probe", "qos": 0})).await;
        }
    })
    .await;
    first.stop().await;

    // Published while no listener runs: the broker keeps it for the session.
    publish(&mqtt, json!({"topic": topic, "message": "important"})).await;

    // This listener takes it but crashes before the run exists.
    let (hanging, mut seen) = RecordingSink::new(Answer::Hang);
    let crashed = listen(&mqtt, "receiveMessages", inputs.clone(), hanging);
    assert_eq!(
        next_real(&mut seen, "the kept message").await.event["body"],
        json!("important")
    );
    crashed.crash().await;

    // The unacknowledged message comes again, marked as a duplicate.
    let (sink, mut received) = RecordingSink::new(Answer::Accept);
    let listener = listen(&mqtt, "receiveMessages", inputs, sink);
    let again = next_real(&mut received, "the message after the crash").await;
    assert_eq!(again.event["body"], json!("important"));
    assert_eq!(again.event["properties"]["duplicate"], json!(true));
    listener.stop().await;
}

#[tokio::test]
async fn bad_inputs_are_listed() {
    let mqtt = connection().await;
    let error = mqtt
        .invoke(&ctx(), "publish", json!({"topic": "a/+", "qos": 2}))
        .await
        .unwrap_err();
    let ConnectorError::InvalidInput { message } = error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("topic") && message.contains("message") && message.contains("qos"),
        "{message}"
    );
}
