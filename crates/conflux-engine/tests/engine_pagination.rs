//! Http pagination (`runtimeConfiguration.paginationPolicy.minimumItemCount`)
//! against a local paged API: `nextLink` is followed with GET until enough
//! items are collected or the pages run out, and the `value` arrays merge.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use common::{harness, workflow, Harness};
use conflux_engine::RunOutcome;
use conflux_store::{ActionRecord, ActionStatus, RunStatus};
use serde_json::{json, Value};

/// What the server saw: one `(method, page, x-api-key)` per request.
type Seen = Arc<Mutex<Vec<(String, u32, String)>>>;

type Page = std::collections::HashMap<String, String>;

fn page_of(q: &Page) -> u32 {
    q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1)
}

/// Three pages of items 1..=8 (3 + 3 + 2); page 1 links with a relative
/// `nextLink`, page 2 with an absolute `@odata.nextLink`.
async fn items(
    State((seen, base)): State<(Seen, String)>,
    method: axum::http::Method,
    headers: HeaderMap,
    Query(q): Query<Page>,
) -> axum::response::Response {
    let page = page_of(&q);
    let key = headers
        .get("x-api-key")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    seen.lock()
        .expect("lock")
        .push((method.to_string(), page, key));
    match page {
        1 => Json(json!({"value": [1, 2, 3], "nextLink": "/items?page=2", "count": 8}))
            .into_response(),
        2 => Json(json!({"value": [4, 5, 6], "@odata.nextLink": format!("{base}/items?page=3")}))
            .into_response(),
        3 => Json(json!({"value": [7, 8]})).into_response(),
        _ => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

/// Page 2 of this listing answers 503 on its first request, then succeeds.
async fn flaky(
    State((seen, _)): State<(Seen, String)>,
    Query(q): Query<Page>,
) -> axum::response::Response {
    let page = page_of(&q);
    let mut seen = seen.lock().expect("lock");
    seen.push(("FLAKY".into(), page, String::new()));
    let tries = seen
        .iter()
        .filter(|(m, p, _)| m == "FLAKY" && *p == 2)
        .count();
    match (page, tries) {
        (1, _) => Json(json!({"value": ["a"], "nextLink": "/flaky?page=2"})).into_response(),
        (_, 1) => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        _ => Json(json!({"value": ["b"]})).into_response(),
    }
}

/// Page 2 of this listing fails for good.
async fn broken(Query(q): Query<Page>) -> axum::response::Response {
    match page_of(&q) {
        1 => Json(json!({"value": ["a"], "nextLink": "/broken?page=2"})).into_response(),
        _ => (StatusCode::FORBIDDEN, "page 2 is off limits").into_response(),
    }
}

async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = Router::new()
        .route("/items", get(items).post(items))
        .route("/broken", get(broken))
        .route("/flaky", get(flaky))
        .with_state((seen.clone(), base.clone()));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (base, seen)
}

/// Registers `actions` as workflow `name` and runs it to its end.
async fn run(h: &Harness, name: &str, actions: Value) -> RunOutcome {
    h.register(name, &workflow(actions));
    h.run(name, json!({})).await.0
}

/// The `body` of an action's outputs.
fn body_of(record: &ActionRecord) -> Value {
    record
        .outputs
        .as_ref()
        .map(|o| o["body"].clone())
        .expect("body")
}

fn call(base: &str, minimum: Option<u64>) -> Value {
    let mut action = json!({"type": "Http", "inputs": {
        "method": "POST", "uri": format!("{base}/items"),
        "headers": {"x-api-key": "k1"}, "body": {"filter": "all"}
    }});
    if let Some(m) = minimum {
        action["runtimeConfiguration"] = json!({"paginationPolicy": {"minimumItemCount": m}});
    }
    action
}

#[tokio::test]
async fn pagination_collects_pages_until_the_minimum_item_count() {
    let (base, seen) = server().await;
    let h = harness().await;
    let outcome = run(
        &h,
        "paged",
        json!({
            "Some": call(&base, Some(5)),
            "All": call(&base, Some(1000)),
            "Plain": call(&base, None),
            "Count": {"type": "Compose", "inputs": "@length(body('Some')?['value'])",
                      "runAfter": {"Some": ["Succeeded"], "All": ["Succeeded"], "Plain": ["Succeeded"]}}
        }),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");

    // 5 wanted: pages 1 and 2 (6 items); page 2's link is kept for the caller.
    let some = h.record(&outcome, "Some").await;
    let body = body_of(&some);
    assert_eq!(body["value"], json!([1, 2, 3, 4, 5, 6]));
    assert_eq!(
        body["@odata.nextLink"],
        json!(format!("{base}/items?page=3"))
    );
    assert!(body.get("nextLink").is_none(), "{body}");
    assert_eq!(
        body["count"],
        json!(8),
        "the first page's other fields stay"
    );
    assert_eq!(
        some.outputs.as_ref().map(|o| o["statusCode"].clone()),
        Some(json!(200))
    );
    assert_eq!(h.record(&outcome, "Count").await.outputs, Some(json!(6)));

    // More than there is: every page, no link left.
    let all = h.record(&outcome, "All").await;
    let body = body_of(&all);
    assert_eq!(body["value"], json!([1, 2, 3, 4, 5, 6, 7, 8]));
    assert!(body.get("nextLink").is_none() && body.get("@odata.nextLink").is_none());

    // Without a policy: the first page as it came.
    let plain = h.record(&outcome, "Plain").await;
    let body = body_of(&plain);
    assert_eq!(body["value"], json!([1, 2, 3]));
    assert_eq!(body["nextLink"], json!("/items?page=2"));

    // Requests: the action's own POST per action, then GETs of the next pages
    // carrying the action's headers. Some: 1 + 1, All: 1 + 2, Plain: 1.
    let seen = seen.lock().expect("lock").clone();
    let mut posts: Vec<_> = seen.iter().filter(|(m, _, _)| m == "POST").collect();
    posts.sort();
    assert_eq!(posts.len(), 3, "{seen:?}");
    assert!(posts.iter().all(|(_, page, _)| *page == 1));
    let mut gets: Vec<_> = seen
        .iter()
        .filter(|(m, _, _)| m == "GET")
        .cloned()
        .collect();
    gets.sort();
    assert_eq!(
        gets,
        [
            ("GET".to_string(), 2, "k1".to_string()),
            ("GET".to_string(), 2, "k1".to_string()),
            ("GET".to_string(), 3, "k1".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_failing_page_fails_the_action_with_that_response() {
    let (base, _) = server().await;
    let h = harness().await;
    let outcome = run(
        &h,
        "broken",
        json!({
            "List": {"type": "Http", "inputs": {"method": "GET", "uri": format!("{base}/broken"), "retryPolicy": {"type": "none"}},
                     "runtimeConfiguration": {"paginationPolicy": {"minimumItemCount": 10}}}
        }),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let list = h.record(&outcome, "List").await;
    assert_eq!(list.status, ActionStatus::Failed);
    assert_eq!(list.code.as_deref(), Some("Forbidden"));
    assert_eq!(
        list.outputs
            .as_ref()
            .map(|o| (o["statusCode"].clone(), o["body"].clone())),
        Some((json!(403), json!("page 2 is off limits")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_retried_under_the_retry_policy() {
    let (base, seen) = server().await;
    let clock = Arc::new(conflux_engine::ManualClock::new(chrono::Utc::now()));
    let h = common::harness_with(
        Vec::new(),
        Some(clock.clone() as Arc<dyn conflux_engine::Clock>),
    )
    .await;
    // Moves the clock whenever the engine waits for a retry.
    let ticker = tokio::spawn({
        let clock = clock.clone();
        async move {
            loop {
                clock.wait_for_sleepers(1).await;
                clock.advance(std::time::Duration::from_secs(60));
                tokio::task::yield_now().await;
            }
        }
    });
    let outcome = run(
        &h,
        "flaky",
        json!({
            "List": {"type": "Http", "inputs": {"method": "GET", "uri": format!("{base}/flaky"),
                     "retryPolicy": {"type": "fixed", "count": 1, "interval": "PT10S"}},
                     "runtimeConfiguration": {"paginationPolicy": {"minimumItemCount": 10}}}
        }),
    )
    .await;
    ticker.abort();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    let list = h.record(&outcome, "List").await;
    assert_eq!(
        list.outputs.as_ref().map(|o| o["body"]["value"].clone()),
        Some(json!(["a", "b"]))
    );
    assert_eq!(list.retry_history.len(), 1);
    assert_eq!(list.retry_history[0]["code"], json!("ServiceUnavailable"));
    let pages: Vec<u32> = seen
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, p, _)| *p)
        .collect();
    assert_eq!(pages, [1, 2, 2]);
}
