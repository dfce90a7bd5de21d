//! Load generator for a queue-triggered workflow: publishes N messages to an
//! AMQP queue and waits until a Redis counter, incremented once per completed
//! run, reaches N.
//!
//! ```sh
//! cargo run --release -p conflux --example queue_load -- \
//!     --queue queue-bench-stateless --counter queue-bench-stateless:completed --messages 20000
//! ```
//!
//! Options: `--amqp URL` (env `AMQP_URL`), `--redis URL` (env `REDIS_URL`),
//! `--concurrency C` (publishes in flight, default 64), `--timeout SECS`
//! (default 300). `--messages 0` only prepares the queue and the counter.
//!
//! `--mode live` (default) publishes while the workflow's trigger consumes and
//! times first publish to counter = N. `--mode prefill` only empties the
//! queue, resets the counter and publishes N messages (run it while the host
//! is stopped); `--mode drain`, started with the host, then times how fast the
//! host works off that backlog, free of the publisher's speed.
//!
//! Publishing and counting go through the built-in connectors. The AMQP
//! connector has no operation that creates or purges a queue (its trigger
//! expects the queue to exist), so those two steps speak the few AMQP 0.9.1
//! methods they need directly over TCP.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use conflux_connector_api::{Connection, ConnectionConfig, ConnectorContext, Shutdown};
use serde_json::{json, Map, Value};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Publish while the trigger consumes; time first publish to last run.
    Live,
    /// Only fill the queue (no consumer needed) and exit.
    Prefill,
    /// Publish nothing; time how fast the counter reaches N.
    Drain,
}

struct Options {
    mode: Mode,
    queue: String,
    counter: String,
    messages: usize,
    amqp: String,
    redis: String,
    concurrency: usize,
    timeout: Duration,
}

fn options() -> Result<Options> {
    let mut queue = None;
    let mut counter = None;
    let mut messages = 10_000;
    let mut amqp = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let mut redis =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let mut concurrency = 64;
    let mut timeout = 300;
    let mut mode = Mode::Live;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--queue" => queue = Some(value()?),
            "--counter" => counter = Some(value()?),
            "--messages" => messages = value()?.parse().context("--messages")?,
            "--amqp" => amqp = value()?,
            "--redis" => redis = value()?,
            "--concurrency" => concurrency = value()?.parse().context("--concurrency")?,
            "--timeout" => timeout = value()?.parse().context("--timeout")?,
            "--mode" => {
                mode = match value()?.as_str() {
                    "live" => Mode::Live,
                    "prefill" => Mode::Prefill,
                    "drain" => Mode::Drain,
                    other => bail!("--mode is live, prefill or drain, not '{other}'"),
                }
            }
            other => bail!(
                "unknown argument '{other}'; usage: queue_load --queue Q --counter K \
                 [--messages N] [--mode live|prefill|drain] [--amqp URL] [--redis URL] [--concurrency C] [--timeout SECS]"
            ),
        }
    }
    Ok(Options {
        mode,
        queue: queue.ok_or_else(|| anyhow!("--queue is required"))?,
        counter: counter.ok_or_else(|| anyhow!("--counter is required"))?,
        messages,
        amqp,
        redis,
        concurrency: concurrency.max(1),
        timeout: Duration::from_secs(timeout),
    })
}

/// Prepares a connection of a built-in connector from its connection string.
fn connect(connector_id: &str, connection_string: &str) -> Result<Arc<dyn Connection>> {
    let connector = conflux_connectors::all()
        .into_iter()
        .find(|c| c.descriptor().id == connector_id)
        .ok_or_else(|| anyhow!("this build has no connector {connector_id}"))?;
    let mut values = Map::new();
    values.insert("connectionString".to_owned(), json!(connection_string));
    let config = ConnectionConfig::from_parameter_values("load", connector.descriptor(), values);
    connector.prepare(&config).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow!("{connector_id}: {}", list.join("; "))
    })
}

async fn invoke(
    connection: &dyn Connection,
    ctx: &ConnectorContext,
    what: &str,
    operation: &str,
    inputs: Value,
) -> Result<Value> {
    connection
        .invoke(ctx, operation, inputs)
        .await
        .map_err(|e| anyhow!("{what} ({}): {}", e.code(), e.message()))
}

async fn counter_value(redis: &dyn Connection, ctx: &ConnectorContext, key: &str) -> Result<u64> {
    let out = invoke(
        redis,
        ctx,
        "reading the counter",
        "get",
        json!({"key": key}),
    )
    .await?;
    match out.get("value") {
        Some(Value::String(text)) => text
            .parse()
            .with_context(|| format!("counter '{key}' holds '{text}', not a number")),
        _ => Ok(0),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let opts = options()?;
    let (_shutdown, signal) = Shutdown::new();
    let ctx = ConnectorContext::new(signal).with_operation_timeout(Duration::from_secs(30));
    let amqp = connect("/serviceProviders/amqp", &opts.amqp)?;
    let redis = connect("/serviceProviders/redis", &opts.redis)?;
    redis.test(&ctx).await.map_err(|e| {
        anyhow!(
            "Redis at {} is not usable ({}); start it or pass --redis",
            opts.redis,
            e.message()
        )
    })?;
    let broker = raw_amqp::Broker::parse(&opts.amqp)?;
    let total = opts.messages;

    if opts.mode == Mode::Drain {
        return drain(&opts, &*redis, &ctx).await;
    }
    let purged = broker
        .declare_and_purge(&opts.queue)
        .await
        .with_context(|| {
            format!(
                "preparing queue '{}' on {}:{}; is RabbitMQ running? (or pass --amqp)",
                opts.queue, broker.host, broker.port
            )
        })?;
    invoke(
        &*redis,
        &ctx,
        "resetting the counter",
        "delete",
        json!({"key": opts.counter}),
    )
    .await?;
    println!(
        "queue '{}' ready ({purged} old messages purged), counter '{}' reset",
        opts.queue, opts.counter
    );
    if total == 0 {
        return Ok(());
    }

    if opts.mode == Mode::Live {
        // The trigger must be consuming, or the measurement would include the
        // host's reconnect backoff rather than its throughput.
        let deadline = Instant::now() + opts.timeout;
        while broker.consumers(&opts.queue).await? == 0 {
            if Instant::now() > deadline {
                bail!(
                    "no consumer on queue '{}': is `conflux serve` running with the workflow?",
                    opts.queue
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let start = Instant::now();
    publish(&opts, &amqp, &ctx).await?;
    let published = start.elapsed();
    println!(
        "published {total} messages in {:.2} s: {:.0} messages/s (publish only, with confirms)",
        published.as_secs_f64(),
        total as f64 / published.as_secs_f64()
    );
    if opts.mode == Mode::Prefill {
        return Ok(());
    }

    let last = wait_for_counter(&opts, &*redis, &ctx, start).await?;
    let done = start.elapsed();
    println!(
        "{total} runs completed in {:.2} s: {:.0} messages/s end to end \
         (first publish to counter = {total})",
        done.as_secs_f64(),
        total as f64 / done.as_secs_f64()
    );
    if last > total as u64 {
        println!("note: the counter reached {last}: some messages ran more than once");
    }
    Ok(())
}

/// Publishes `opts.messages` small JSON messages with `opts.concurrency`
/// confirmed publishes in flight.
async fn publish(opts: &Options, amqp: &Arc<dyn Connection>, ctx: &ConnectorContext) -> Result<()> {
    let total = opts.messages;
    let next = Arc::new(AtomicUsize::new(0));
    let mut publishers = tokio::task::JoinSet::new();
    for _ in 0..opts.concurrency.min(total) {
        let (amqp, ctx, next, queue) = (
            Arc::clone(amqp),
            ctx.clone(),
            Arc::clone(&next),
            opts.queue.clone(),
        );
        publishers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                let inputs = json!({"queue": queue, "body": {"id": i, "kind": "bench"}});
                invoke(&*amqp, &ctx, "publishing", "sendMessage", inputs).await?;
            }
        });
    }
    while let Some(joined) = publishers.join_next().await {
        joined.context("a publisher panicked")??;
    }
    Ok(())
}

/// Polls the counter until it reaches `opts.messages`; returns its last value.
async fn wait_for_counter(
    opts: &Options,
    redis: &dyn Connection,
    ctx: &ConnectorContext,
    since: Instant,
) -> Result<u64> {
    let total = opts.messages as u64;
    let deadline = since + opts.timeout;
    loop {
        let value = counter_value(redis, ctx, &opts.counter).await?;
        if value >= total {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!(
                "only {value} of {total} runs completed within {} s",
                opts.timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Measures how fast the host works off a queue filled beforehand: from the
/// first counter reading to the counter reaching `opts.messages`.
async fn drain(opts: &Options, redis: &dyn Connection, ctx: &ConnectorContext) -> Result<()> {
    let total = opts.messages as u64;
    let start = Instant::now();
    let first = counter_value(redis, ctx, &opts.counter).await?;
    let last = wait_for_counter(opts, redis, ctx, start).await?;
    let done = start.elapsed();
    let measured = total.saturating_sub(first);
    println!(
        "drained the backlog: {measured} runs in {:.2} s: {:.0} messages/s \
         ({first} already done when measuring started)",
        done.as_secs_f64(),
        measured as f64 / done.as_secs_f64()
    );
    if last > total {
        println!("note: the counter reached {last}: some messages ran more than once");
    }
    Ok(())
}

/// The handful of AMQP 0.9.1 methods needed to create, purge and inspect a
/// queue: connection handshake, channel open, queue.declare, queue.purge.
mod raw_amqp {
    use anyhow::{anyhow, bail, Context, Result};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    const FRAME_METHOD: u8 = 1;
    const FRAME_END: u8 = 0xCE;

    pub struct Broker {
        pub host: String,
        pub port: u16,
        user: String,
        password: String,
        vhost: String,
    }

    struct Session {
        stream: TcpStream,
    }

    fn decode(text: &str) -> Result<String> {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])?;
                out.push(u8::from_str_radix(hex, 16).context("a %-escape in the AMQP URL")?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        Ok(String::from_utf8(out)?)
    }

    impl Broker {
        /// Parses `amqp://user:password@host[:port][/vhost]`.
        pub fn parse(url: &str) -> Result<Self> {
            let rest = url
                .strip_prefix("amqp://")
                .ok_or_else(|| anyhow!("the AMQP URL must start with amqp://"))?;
            let rest = rest.split('?').next().unwrap_or_default();
            let (authority, vhost) = rest.split_once('/').unwrap_or((rest, ""));
            let (credentials, address) = authority
                .rsplit_once('@')
                .unwrap_or(("guest:guest", authority));
            let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
            let (host, port) = match address.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().context("the port in the AMQP URL")?),
                None => (address, 5672),
            };
            Ok(Self {
                host: host.to_owned(),
                port,
                user: decode(user)?,
                password: decode(password)?,
                vhost: if vhost.is_empty() {
                    "/".to_owned()
                } else {
                    decode(vhost)?
                },
            })
        }

        /// Declares a durable queue (if missing) and purges it; returns how
        /// many messages were purged.
        pub async fn declare_and_purge(&self, queue: &str) -> Result<u32> {
            let mut session = self.open().await?;
            let mut args = Vec::new();
            put_u16(&mut args, 0);
            put_short(&mut args, queue)?;
            args.push(0b10); // durable
            put_u32(&mut args, 0); // no arguments
            session.call(1, 50, 10, &args, 11).await?;
            let mut args = Vec::new();
            put_u16(&mut args, 0);
            put_short(&mut args, queue)?;
            args.push(0);
            let reply = session.call(1, 50, 30, &args, 31).await?;
            let purged = read_u32(&reply, 0)?;
            session.close().await;
            Ok(purged)
        }

        /// How many consumers the queue has (a passive declare).
        pub async fn consumers(&self, queue: &str) -> Result<u32> {
            let mut session = self.open().await?;
            let mut args = Vec::new();
            put_u16(&mut args, 0);
            put_short(&mut args, queue)?;
            args.push(0b1); // passive
            put_u32(&mut args, 0);
            let reply = session.call(1, 50, 10, &args, 11).await?;
            // queue name (short string), message count, consumer count
            let name_len = usize::from(*reply.first().ok_or_else(|| anyhow!("short reply"))?);
            let consumers = read_u32(&reply, 1 + name_len + 4)?;
            session.close().await;
            Ok(consumers)
        }

        async fn open(&self) -> Result<Session> {
            let stream = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .with_context(|| format!("connecting to {}:{}", self.host, self.port))?;
            stream.set_nodelay(true)?;
            let mut session = Session { stream };
            session.stream.write_all(b"AMQP\x00\x00\x09\x01").await?;
            session.expect(0, 10, 10).await?; // connection.start
            let mut args = Vec::new();
            put_u32(&mut args, 0); // client properties
            put_short(&mut args, "PLAIN")?;
            let response = format!("\0{}\0{}", self.user, self.password);
            put_u32(&mut args, u32::try_from(response.len())?);
            args.extend_from_slice(response.as_bytes());
            put_short(&mut args, "en_US")?;
            session.send(0, 10, 11, &args).await?;
            let tune = session.expect(0, 10, 30).await?;
            let mut args = Vec::new();
            args.extend_from_slice(tune.get(..6).ok_or_else(|| anyhow!("short tune"))?);
            put_u16(&mut args, 0); // no heartbeats: sessions are short
            session.send(0, 10, 31, &args).await?;
            let mut args = Vec::new();
            put_short(&mut args, &self.vhost)?;
            put_short(&mut args, "")?;
            args.push(0);
            session.call(0, 10, 40, &args, 41).await.with_context(|| {
                format!("logging in as '{}' to vhost '{}'", self.user, self.vhost)
            })?;
            let mut args = Vec::new();
            put_short(&mut args, "")?;
            session.call(1, 20, 10, &args, 11).await?;
            Ok(session)
        }
    }

    impl Session {
        async fn send(&mut self, channel: u16, class: u16, method: u16, args: &[u8]) -> Result<()> {
            let mut frame = vec![FRAME_METHOD];
            put_u16(&mut frame, channel);
            put_u32(&mut frame, u32::try_from(args.len() + 4)?);
            put_u16(&mut frame, class);
            put_u16(&mut frame, method);
            frame.extend_from_slice(args);
            frame.push(FRAME_END);
            self.stream.write_all(&frame).await?;
            Ok(())
        }

        async fn call(
            &mut self,
            channel: u16,
            class: u16,
            method: u16,
            args: &[u8],
            reply: u16,
        ) -> Result<Vec<u8>> {
            self.send(channel, class, method, args).await?;
            self.expect(channel, class, reply).await
        }

        /// Reads method frames until `class.method` arrives; a close from the
        /// broker becomes an error carrying its reply text.
        async fn expect(&mut self, channel: u16, class: u16, method: u16) -> Result<Vec<u8>> {
            loop {
                let mut header = [0u8; 7];
                self.stream
                    .read_exact(&mut header)
                    .await
                    .context("the broker closed the connection")?;
                let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
                let mut payload = vec![0u8; usize::try_from(size)? + 1];
                self.stream.read_exact(&mut payload).await?;
                if header[0] != FRAME_METHOD || payload.len() < 5 {
                    continue;
                }
                let got_channel = u16::from_be_bytes([header[1], header[2]]);
                let got_class = u16::from_be_bytes([payload[0], payload[1]]);
                let got_method = u16::from_be_bytes([payload[2], payload[3]]);
                let body = payload[4..payload.len() - 1].to_vec();
                if (got_class, got_method) == (10, 50) || (got_class, got_method) == (20, 40) {
                    let code = read_u16(&body, 0)?;
                    let len = usize::from(*body.get(2).ok_or_else(|| anyhow!("short close"))?);
                    let text = body.get(3..3 + len).unwrap_or_default();
                    bail!(
                        "the broker refused ({code}): {}",
                        String::from_utf8_lossy(text)
                    );
                }
                if (got_channel, got_class, got_method) == (channel, class, method) {
                    return Ok(body);
                }
            }
        }

        async fn close(mut self) {
            let mut args = Vec::new();
            put_u16(&mut args, 200);
            let _ = put_short(&mut args, "bye");
            put_u16(&mut args, 0);
            put_u16(&mut args, 0);
            if self.send(0, 10, 50, &args).await.is_ok() {
                let _ = self.expect(0, 10, 51).await;
            }
        }
    }

    fn put_u16(out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&v.to_be_bytes());
    }

    fn put_u32(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_be_bytes());
    }

    fn put_short(out: &mut Vec<u8>, s: &str) -> Result<()> {
        out.push(u8::try_from(s.len()).context("an AMQP short string is at most 255 bytes")?);
        out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn read_u16(body: &[u8], at: usize) -> Result<u16> {
        let b = body
            .get(at..at + 2)
            .ok_or_else(|| anyhow!("short AMQP reply"))?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn read_u32(body: &[u8], at: usize) -> Result<u32> {
        let b = body
            .get(at..at + 4)
            .ok_or_else(|| anyhow!("short AMQP reply"))?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}
