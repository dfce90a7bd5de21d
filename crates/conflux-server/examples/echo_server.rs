//! A minimal axum server that answers every POST with its JSON body: the
//! physical bound the load benchmark compares `conflux serve` against.
//!
//! `cargo run --release -p conflux-server --example echo_server -- 127.0.0.1:7199`

use axum::routing::post;
use axum::{Json, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7199".to_string());
    let app = Router::new().route(
        "/{*path}",
        post(|Json(body): Json<serde_json::Value>| async move { Json(body) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
