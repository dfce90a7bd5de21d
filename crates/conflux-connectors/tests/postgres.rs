//! The PostgreSQL connector against a real server
//! (`CONFLUX_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
#![cfg(feature = "postgres")]

mod sql_support;

use std::sync::Arc;

use conflux_connector_api::{Connection, ConnectionConfig, ConnectorError};
use serde_json::{json, Value};
use sql_support::{connect_to, ctx, poll};

fn url() -> String {
    std::env::var("CONFLUX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn connect_with(connection_string: &str) -> Arc<dyn Connection> {
    connect_to("/serviceProviders/postgres", connection_string)
}

/// A uniquely named table, dropped when the test ends.
struct Table {
    name: String,
}

impl Table {
    async fn create(conn: &Arc<dyn Connection>, columns: &str) -> Self {
        let name = format!("conflux_test_{}", uuid::Uuid::new_v4().simple());
        exec(conn, &format!("CREATE TABLE {name} ({columns})"), json!([])).await;
        Self { name }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot await: drop the table on a fresh runtime with its own
        // connection (the test's client is driven by the blocked test runtime).
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let conn = connect_with(&url());
                let _ = conn
                    .invoke(
                        &ctx(),
                        "executeQuery",
                        json!({"query": format!("DROP TABLE IF EXISTS {name}")}),
                    )
                    .await;
            });
        })
        .join();
    }
}

async fn exec(conn: &Arc<dyn Connection>, query: &str, parameters: Value) -> Value {
    conn.invoke(
        &ctx(),
        "executeQuery",
        json!({"query": query, "parameters": parameters}),
    )
    .await
    .expect(query)
}

#[tokio::test]
async fn row_operations_round_trip_typed_values() {
    let conn = connect_with(&url());
    conn.test(&ctx()).await.expect("connection test");
    let t = Table::create(
        &conn,
        "id serial primary key, name text, qty int8, price numeric(12,4), ratio float8, ok bool, \
         at timestamptz, doc jsonb, ref uuid, raw bytea, tags text[]",
    )
    .await;

    let inserted = conn
        .invoke(
            &ctx(),
            "insertRow",
            json!({"table": t.name, "row": {
                "name": "Ada'); DROP TABLE x; --", "qty": 9007199254740993i64, "price": "12345678.1234",
                "ratio": 0.5, "ok": true, "at": "2024-05-06T07:08:09.123Z", "doc": {"a": [1, 2]},
                "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "raw": "\\x00ff", "tags": "{x,y}"
            }}),
        )
        .await
        .expect("insert");
    assert_eq!(inserted["rowsAffected"], json!(1));
    let row = &inserted["row"];
    assert_eq!(row["id"], json!(1));
    assert_eq!(row["name"], json!("Ada'); DROP TABLE x; --"));
    assert_eq!(row["qty"], json!(9007199254740993i64));
    assert_eq!(row["price"], json!("12345678.1234"));
    assert_eq!(row["ratio"], json!(0.5));
    assert_eq!(row["ok"], json!(true));
    assert_eq!(row["at"], json!("2024-05-06T07:08:09.123Z"));
    assert_eq!(row["doc"], json!({"a": [1, 2]}));
    assert_eq!(row["ref"], json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    assert_eq!(
        row["raw"],
        json!({"$content-type": "application/octet-stream", "$content": "AP8="})
    );
    assert_eq!(row["tags"], json!(["x", "y"]));

    conn.invoke(
        &ctx(),
        "insertRow",
        json!({"table": t.name, "row": {"name": "Bob", "qty": null}}),
    )
    .await
    .expect("insert 2");
    let rows = conn
        .invoke(
            &ctx(),
            "getRows",
            json!({"table": t.name, "filter": {"qty": null}}),
        )
        .await
        .expect("get");
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    assert_eq!(rows[0]["name"], json!("Bob"));

    let updated = conn
        .invoke(
            &ctx(),
            "updateRows",
            json!({"table": t.name, "filter": {"name": "Bob"}, "values": {"qty": 3}}),
        )
        .await
        .expect("update");
    assert_eq!(updated, json!({"rowsAffected": 1}));

    let q = exec(
        &conn,
        &format!(
            "select name, qty from {} where qty < $1 order by id",
            t.name
        ),
        json!([10]),
    )
    .await;
    assert_eq!(
        q,
        json!({"rows": [{"name": "Bob", "qty": 3}], "rowsAffected": 1})
    );

    let deleted = conn
        .invoke(
            &ctx(),
            "deleteRows",
            json!({"table": t.name, "filter": {"id": 1}}),
        )
        .await
        .expect("delete");
    assert_eq!(deleted, json!({"rowsAffected": 1}));
    let all = conn
        .invoke(&ctx(), "getRows", json!({"table": t.name, "top": 10}))
        .await
        .expect("get all");
    assert_eq!(all.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn errors_are_classified() {
    let conn = connect_with(&url());
    let missing = conn
        .invoke(&ctx(), "getRows", json!({"table": "conflux_no_such_table"}))
        .await
        .expect_err("missing");
    assert!(
        matches!(missing, ConnectorError::NotFound { .. }),
        "{missing:?}"
    );
    let syntax = conn
        .invoke(&ctx(), "executeQuery", json!({"query": "selec 1"}))
        .await
        .expect_err("syntax");
    assert!(
        matches!(syntax, ConnectorError::InvalidInput { .. }),
        "{syntax:?}"
    );
    let bad_value = conn
        .invoke(
            &ctx(),
            "executeQuery",
            json!({"query": "select $1::int", "parameters": ["abc"]}),
        )
        .await
        .expect_err("bad");
    assert!(
        matches!(bad_value, ConnectorError::InvalidInput { .. }),
        "{bad_value:?}"
    );

    let closed = connect_with("postgres://postgres@127.0.0.1:1/test");
    let err = closed
        .test(&ctx())
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn password_never_appears_in_errors_or_debug() {
    let base = url();
    let rest = base.split_once('@').map_or(base.as_str(), |(_, rest)| rest);
    let secret = "Sup3r-Secret-Pa55";
    let conn = connect_with(&format!("postgres://conflux_no_such_role:{secret}@{rest}"));
    let err = conn.test(&ctx()).await.expect_err("unknown role");
    assert!(
        matches!(err, ConnectorError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(secret), "{err}");
    assert!(!format!("{err:?}").contains(secret));

    // The same secret given as separate parameters, split off by the descriptor.
    let descriptor = conflux_connectors::find("/serviceProviders/postgres")
        .expect("postgres")
        .descriptor();
    let values =
        json!({"host": "127.0.0.1", "username": "conflux_no_such_role", "password": secret});
    let config = ConnectionConfig::from_parameter_values(
        "pg",
        descriptor,
        values.as_object().cloned().expect("object"),
    );
    assert!(config.parameters.get("password").is_none());
    assert!(!format!("{config:?}").contains(secret));
}

#[tokio::test]
async fn polling_trigger_delivers_every_row_exactly_once_across_restarts() {
    let conn = connect_with(&url());
    let t = Table::create(&conn, "id int primary key, changed timestamptz").await;
    let insert = |ids: &'static [i64], at: &'static str| {
        let (conn, table) = (Arc::clone(&conn), t.name.clone());
        async move {
            for id in ids {
                conn.invoke(
                    &ctx(),
                    "insertRow",
                    json!({"table": table, "row": {"id": id, "changed": at}}),
                )
                .await
                .expect("insert");
            }
        }
    };
    let inputs = json!({"table": t.name, "watermarkColumn": "changed", "startFrom": "beginning", "maxRows": 2});
    insert(&[1, 2, 3], "2024-01-01T00:00:00Z").await;

    let mut seen = Vec::new();
    let (ids, cursor) = poll(&conn, &inputs, None).await;
    assert_eq!(
        ids,
        [1, 2],
        "a poll stops at maxRows inside a run of equal watermarks"
    );
    seen.extend(ids);

    // Restart: a new connection object resumes from the persisted cursor.
    let conn = connect_with(&url());
    let persisted: Option<Value> =
        serde_json::from_str(&serde_json::to_string(&cursor).expect("json")).expect("json");
    insert(&[4], "2024-01-01T00:00:00Z").await; // same watermark as the last delivered row
    insert(&[5, 6], "2024-01-02T00:00:00Z").await;
    let mut cursor = persisted;
    loop {
        let (ids, next) = poll(&conn, &inputs, cursor.clone()).await;
        if ids.is_empty() {
            break;
        }
        seen.extend(ids);
        cursor = next;
    }
    // A modified row moves past the cursor and is delivered again, as a modification.
    exec(
        &conn,
        &format!(
            "update {} set changed = '2024-01-03T00:00:00Z' where id = 2",
            t.name
        ),
        json!([]),
    )
    .await;
    let (ids, _) = poll(&conn, &inputs, cursor).await;
    assert_eq!(ids, [2]);
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn polling_trigger_starting_now_skips_existing_rows_and_finds_the_key() {
    let conn = connect_with(&url());
    let t = Table::create(&conn, "id serial primary key, v int").await;
    exec(
        &conn,
        &format!("insert into {} (v) values (1), (2)", t.name),
        json!([]),
    )
    .await;
    let inputs = json!({"table": t.name, "watermarkColumn": "id"});
    let (ids, cursor) = poll(&conn, &inputs, None).await;
    assert!(ids.is_empty());
    exec(
        &conn,
        &format!("insert into {} (v) values (3)", t.name),
        json!([]),
    )
    .await;
    let (ids, _) = poll(&conn, &inputs, cursor).await;
    assert_eq!(ids, [3]);

    // An empty table starting now still delivers its first row.
    let empty = Table::create(&conn, "id serial primary key").await;
    let inputs = json!({"table": empty.name, "watermarkColumn": "id"});
    let (_, cursor) = poll(&conn, &inputs, None).await;
    exec(
        &conn,
        &format!("insert into {} default values", empty.name),
        json!([]),
    )
    .await;
    let (ids, _) = poll(&conn, &inputs, cursor).await;
    assert_eq!(ids, [1]);
}
