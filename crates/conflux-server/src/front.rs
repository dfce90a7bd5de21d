//! The service every connection is served by: trigger calls go straight to
//! their handler, everything else through the router.
//!
//! Trigger calls are the hot path. Routing them through the `Router` costs a
//! route match, a map of path parameters in the request's extensions and the
//! extractor chain on every call; their path has a fixed shape, so it is
//! split here instead. The peer address is known per connection, so it is
//! handed to the trigger handler directly and only put in the extensions (as
//! `ConnectInfo`) for the router's handlers.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::serve::IncomingStream;
use axum::Router;
use tokio::net::TcpListener;

use crate::state::HostState;
use crate::LogRequests;

/// Makes one [`Front`] per accepted connection.
#[derive(Clone)]
pub(crate) struct MakeFront {
    pub state: Arc<HostState>,
    pub router: Router,
}

impl<'a> tower_service::Service<IncomingStream<'a, TcpListener>> for MakeFront {
    type Response = LogRequests<Front>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<LogRequests<Front>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'a, TcpListener>) -> Self::Future {
        std::future::ready(Ok(LogRequests(Front {
            state: self.state.clone(),
            router: self.router.clone(),
            peer: *stream.remote_addr(),
        })))
    }
}

/// Serves one connection.
#[derive(Clone)]
pub(crate) struct Front {
    state: Arc<HostState>,
    router: Router,
    peer: SocketAddr,
}

impl tower_service::Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> FrontFuture {
        if let Some(target) = TriggerPath::parse(request.uri().path()) {
            let state = self.state.clone();
            let peer = self.peer;
            let target = target.owned();
            return FrontFuture::Trigger(Box::pin(async move {
                crate::triggers::answer(&state, peer, target, request).await
            }));
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        FrontFuture::Router(tower_service::Service::call(&mut self.router, request))
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

/// `/api/{workflow}/triggers/{trigger}/invoke[/{relative}]`, split without
/// copying. Paths with percent-escapes, empty segments or any other shape are
/// left to the router (whose routes for these paths decode escapes), so both
/// ways answer the same path alike.
#[derive(Debug, PartialEq, Eq)]
struct TriggerPath<'a> {
    workflow: &'a str,
    trigger: &'a str,
    relative: &'a str,
}

impl<'a> TriggerPath<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        if path.contains('%') {
            return None;
        }
        let rest = path.strip_prefix("/api/")?;
        let (workflow, rest) = rest.split_once('/')?;
        let rest = rest.strip_prefix("triggers/")?;
        let (trigger, rest) = rest.split_once('/')?;
        let relative = match rest.strip_prefix("invoke")? {
            "" => "",
            tail => tail.strip_prefix('/').filter(|r| !r.is_empty())?,
        };
        (!workflow.is_empty() && !trigger.is_empty()).then_some(TriggerPath {
            workflow,
            trigger,
            relative,
        })
    }

    fn owned(&self) -> (String, String, String) {
        (
            self.workflow.to_string(),
            self.trigger.to_string(),
            self.relative.to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::TriggerPath;

    fn parse(path: &str) -> Option<(&str, &str, &str)> {
        TriggerPath::parse(path).map(|t| (t.workflow, t.trigger, t.relative))
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
