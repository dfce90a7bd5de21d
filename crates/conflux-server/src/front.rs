//! The accept loop and the service every connection is served by: trigger
//! calls go straight to their handler, everything else through the router.
//!
//! Trigger calls are the hot path. Routing them through the `Router` costs a
//! route match, a map of path parameters in the request's extensions and the
//! extractor chain on every call; their path has a fixed shape, so it is
//! split here instead. The peer address is known per connection, so it is
//! handed to the trigger handler directly and only put in the extensions (as
//! `ConnectInfo`) for the router's handlers.
//!
//! Connections are served by hyper's HTTP/1 server directly rather than
//! through `axum::serve`, whose adapters box each request body, clone the
//! service and wrap its future for every request. The trigger handler reads
//! hyper's body as it is.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::HostState;

/// Accepts connections until `shutdown` completes, then stops accepting,
/// lets every open connection finish the request it is serving and returns
/// once all are closed.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<HostState>,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    // Each connection holds a receiver: a send asks them to close, and
    // `closed` completes once every one of them has.
    let (closing, close_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                wait_after_accept_error(err).await;
                continue;
            }
        };
        let front = Front {
            state: state.clone(),
            router: router.clone(),
            peer,
        };
        let mut close_rx = close_rx.clone();
        tokio::spawn(async move {
            // Head and body are written with one `write` from one buffer,
            // which costs less than a `writev` of the two for the small
            // answers most calls get; large bodies reach that buffer in
            // pieces (`InPieces`).
            let connection = hyper::server::conn::http1::Builder::new()
                .writev(false)
                .serve_connection(TokioIo::new(stream), front);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::trace!(%err, "Connection ended with an error.");
                    }
                    return;
                }
                _ = close_rx.changed() => {}
            }
            // The request being served is answered; idle connections close now.
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }
    drop(listener);
    drop(close_rx);
    let _ = closing.send(());
    closing.closed().await;
}

/// Errors that concern one connection (it was reset before it was accepted)
/// are passed over; others (out of file descriptors, say) are logged and
/// the loop waits a second before accepting again, rather than spinning.
async fn wait_after_accept_error(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "Accepting a connection failed; trying again in a second.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Serves one connection.
pub(crate) struct Front {
    state: Arc<HostState>,
    router: Router,
    peer: SocketAddr,
}

impl hyper::service::Service<Request<Incoming>> for Front {
    type Response = axum::http::Response<InPieces>;
    type Error = Infallible;
    type Future = Logged<FrontFuture>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let request_line = tracing::enabled!(tracing::Level::DEBUG)
            .then(|| (request.method().clone(), request.uri().path().to_string()));
        let inner = if let Some(path) = TriggerPath::parse(request.uri().path()) {
            let state = self.state.clone();
            let peer = self.peer;
            FrontFuture::Trigger(conflux_engine::box_in_place(|| async move {
                let target = crate::triggers::Target::InPath(path);
                crate::triggers::answer(&state, peer, target, request).await
            }))
        } else {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(self.peer));
            FrontFuture::Router(tower_service::Service::call(
                &mut self.router.clone(),
                request,
            ))
        };
        Logged {
            inner,
            request_line,
        }
    }
}

// The future stays where hyper put it for the request's life; boxing the
// router's arm would cost every other request an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum FrontFuture {
    Trigger(Pin<Box<dyn Future<Output = Response> + Send>>),
    Router(RouteFuture<Infallible>),
}

impl Future for FrontFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            FrontFuture::Trigger(future) => future.as_mut().poll(cx).map(Ok),
            FrontFuture::Router(future) => Pin::new(future).poll(cx),
        }
    }
}

/// One debug line per request. Only the path is logged: the query string
/// carries signatures. With debug logging off it costs a level check.
pub(crate) struct Logged<F> {
    inner: F,
    request_line: Option<(axum::http::Method, String)>,
}

impl<F> Future for Logged<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<axum::http::Response<InPieces>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(response) = std::task::ready!(Pin::new(&mut self.inner).poll(cx));
        if let Some((method, path)) = self.request_line.take() {
            tracing::debug!(%method, %path, status = response.status().as_u16(), "Request handled.");
        }
        Poll::Ready(Ok(response.map(InPieces::new)))
    }
}

/// A response body whose data reaches hyper in pieces of at most
/// [`PIECE`] bytes. Connections copy what they write into one buffer, which
/// hyper fills only while it holds less than its limit; a large body handed
/// over whole would be copied whole. Splitting a `Bytes` copies nothing.
pub(crate) struct InPieces {
    inner: Body,
    rest: Bytes,
}

const PIECE: usize = 64 * 1024;

impl InPieces {
    fn new(inner: Body) -> InPieces {
        InPieces {
            inner,
            rest: Bytes::new(),
        }
    }
}

impl http_body::Body for InPieces {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.rest.is_empty() {
            match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if data.len() > PIECE => this.rest = data,
                    Ok(data) => return Poll::Ready(Some(Ok(http_body::Frame::data(data)))),
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
        let piece = this.rest.split_to(this.rest.len().min(PIECE));
        Poll::Ready(Some(Ok(http_body::Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let mut hint = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + rest);
        }
        hint.set_lower(hint.lower() + rest);
        hint
    }
}

/// Where `/api/{workflow}/triggers/{trigger}/invoke[/{relative}]` has its
/// parts, as byte ranges of the path, found without copying. Paths with
/// percent-escapes, empty segments or any other shape are left to the router
/// (whose routes for these paths decode escapes), so both ways answer the
/// same path alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TriggerPath {
    workflow: Range<usize>,
    trigger: Range<usize>,
    relative: Range<usize>,
}

impl TriggerPath {
    pub fn parse(path: &str) -> Option<TriggerPath> {
        let bytes = path.as_bytes();
        if memchr::memchr(b'%', bytes).is_some() || !path.starts_with("/api/") {
            return None;
        }
        let workflow = segment(bytes, "/api/".len())?;
        let trigger_at = workflow.end + 1;
        if !path[trigger_at..].starts_with("triggers/") {
            return None;
        }
        let trigger = segment(bytes, trigger_at + "triggers/".len())?;
        let invoke_at = trigger.end + 1;
        if !path[invoke_at..].starts_with("invoke") {
            return None;
        }
        let after = invoke_at + "invoke".len();
        let relative = match bytes.get(after) {
            None => after..after,
            Some(b'/') if after + 1 < bytes.len() => after + 1..bytes.len(),
            Some(_) => return None,
        };
        Some(TriggerPath {
            workflow,
            trigger,
            relative,
        })
    }

    /// The workflow, trigger and relative path of `path`, the path this was
    /// parsed from.
    pub fn names<'a>(&self, path: &'a str) -> (&'a str, &'a str, &'a str) {
        (
            &path[self.workflow.clone()],
            &path[self.trigger.clone()],
            &path[self.relative.clone()],
        )
    }
}

/// The non-empty segment of `bytes` from `start` to the next '/' (which
/// must follow it).
fn segment(bytes: &[u8], start: usize) -> Option<Range<usize>> {
    let end = start + memchr::memchr(b'/', bytes.get(start..)?)?;
    (end > start).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::{InPieces, TriggerPath, PIECE};
    use axum::body::Body;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn large_bodies_reach_the_connection_in_pieces_and_whole() {
        let sent: Vec<u8> = (0..(3 * PIECE + 123)).map(|i| (i % 251) as u8).collect();
        let mut body = InPieces::new(Body::from(sent.clone()));
        assert_eq!(
            http_body::Body::size_hint(&body).exact(),
            Some(sent.len() as u64),
            "the length is known before the first piece"
        );
        let mut received = Vec::new();
        let mut pieces = 0;
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= PIECE, "a piece of {} bytes", data.len());
            received.extend_from_slice(&data);
            pieces += 1;
        }
        assert_eq!(pieces, 4);
        assert_eq!(received, sent);

        let small = InPieces::new(Body::from("{}"))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&small[..], b"{}");
    }

    fn parse(path: &str) -> Option<(&str, &str, &str)> {
        TriggerPath::parse(path).map(|t| t.names(path))
    }

    #[test]
    fn trigger_paths_are_split_and_other_shapes_left_to_the_router() {
        assert_eq!(
            parse("/api/orders/triggers/manual/invoke"),
            Some(("orders", "manual", ""))
        );
        assert_eq!(
            parse("/api/orders/triggers/manual/invoke/customers/7/orders"),
            Some(("orders", "manual", "customers/7/orders"))
        );
        for other in [
            "/api/orders/triggers/manual/invoke/",
            "/api/orders/triggers/manual/invokes",
            "/api/orders/triggers/manual",
            "/api//triggers/manual/invoke",
            "/api/orders/triggers//invoke",
            "/api/my%20flow/triggers/manual/invoke",
            "/api/orders/trigger/manual/invoke",
            "/runtime/webhooks/workflow/api/management/workflows",
            "/",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
