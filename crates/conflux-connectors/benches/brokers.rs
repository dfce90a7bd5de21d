//! Throughput of the AMQP queue trigger: messages per second from publishing
//! to the sink's acceptance (with acknowledgement), against a real RabbitMQ.
//!
//! ```text
//! cargo bench -p conflux-connectors --bench brokers -- [messages] [prefetch]
//! ```
//!
//! Needs RabbitMQ at `CONFLUX_TEST_AMQP_URL` (default
//! `amqp://guest:guest@127.0.0.1:5672/%2f`); defaults: 10000 messages,
//! prefetch 10 and 100.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conflux_connector_api::{
    async_trait, ConnectionConfig, Connector, ConnectorContext, Secret, Shutdown, SinkError,
    TriggerSink,
};
use conflux_connectors::amqp::AmqpConnector;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use serde_json::{json, Value};
use tokio::sync::Notify;

/// Counts accepted events and wakes the benchmark at the target.
struct CountingSink {
    count: AtomicUsize,
    target: usize,
    done: Notify,
}

#[async_trait]
impl TriggerSink for CountingSink {
    async fn deliver(&self, _event: Value) -> Result<(), SinkError> {
        if self.count.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            self.done.notify_one();
        }
        Ok(())
    }
}

fn main() {
    // `cargo bench` passes `--bench`; only bare numbers are ours.
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let messages = numbers.first().copied().unwrap_or(10_000);
    let prefetches: Vec<u16> = match numbers.get(1) {
        Some(&p) => vec![u16::try_from(p).expect("prefetch fits in u16")],
        None => vec![10, 100],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    for prefetch in prefetches {
        let rate = runtime.block_on(run(messages, prefetch));
        println!(
            "amqp receiveMessages: {messages} messages, prefetch {prefetch}: {rate:.0} messages/s"
        );
    }
}

async fn run(messages: usize, prefetch: u16) -> f64 {
    let url = std::env::var("CONFLUX_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let properties = lapin::ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let publisher = lapin::Connection::connect(&url, properties)
        .await
        .unwrap_or_else(|e| panic!("RabbitMQ unreachable ({e}); set CONFLUX_TEST_AMQP_URL"));
    let channel = publisher.create_channel().await.expect("a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let queue = format!("conflux-bench-{}", uuid::Uuid::new_v4().simple());
    channel
        .queue_declare(
            &queue,
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("queue declared");

    let mut config = ConnectionConfig::default();
    config
        .secrets
        .insert("connectionString".into(), Secret::new(url.as_str()));
    let connection = AmqpConnector
        .prepare(&config)
        .expect("valid connection string");
    let sink = Arc::new(CountingSink {
        count: AtomicUsize::new(0),
        target: messages,
        done: Notify::new(),
    });
    let (shutdown, signal) = Shutdown::new();
    let ctx = ConnectorContext::new(signal);
    let listener = {
        let sink = Arc::clone(&sink) as Arc<dyn TriggerSink>;
        let queue = queue.clone();
        tokio::spawn(async move {
            let inputs = json!({"queue": queue, "prefetchCount": prefetch});
            connection
                .listen(&ctx, "receiveMessages", inputs, sink)
                .await
        })
    };

    let body = br#"{"order": 42, "lines": [1, 2, 3], "customer": "contoso"}"#;
    let started = Instant::now();
    let mut confirms = Vec::with_capacity(messages);
    for _ in 0..messages {
        let confirm = channel
            .basic_publish(
                "",
                &queue,
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_content_type("application/json".into()),
            )
            .await
            .expect("published");
        confirms.push(confirm);
    }
    for confirm in confirms {
        confirm.await.expect("confirmed");
    }
    tokio::time::timeout(Duration::from_secs(300), sink.done.notified())
        .await
        .expect("every message delivered within 5 minutes");
    let elapsed = started.elapsed();

    shutdown.fire();
    listener
        .await
        .expect("listener task")
        .expect("listener ends cleanly");
    channel
        .queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .expect("queue deleted");
    messages as f64 / elapsed.as_secs_f64()
}
