//! The PostgreSQL connector against a real server
//! (`CONFLUX_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
#![cfg(feature = "postgres")]

mod sql_support;

use std::sync::Arc;

use conflux_connector_api::ConnectionConfig;
use serde_json::json;
use sql_support::{
    assert_invalid_query, assert_missing_table_and_syntax_errors, assert_refused_keeping_secret,
    assert_unreachable, ctx, exec, insert_changed, invoke, persisted, poll, poll_until_empty,
    Database, Table,
};

static DB: Database = Database {
    provider: "/serviceProviders/postgres",
    var: "CONFLUX_TEST_POSTGRES_URL",
    default_url: "postgres://postgres@127.0.0.1:5432/test",
};

#[tokio::test]
async fn row_operations_round_trip_typed_values() {
    let conn = DB.connect();
    conn.test(&ctx()).await.expect("connection test");
    let t = Table::create(
        &conn,
        &DB,
        "id serial primary key, name text, qty int8, price numeric(12,4), ratio float8, ok bool, \
         at timestamptz, doc jsonb, ref uuid, raw bytea, tags text[]",
    )
    .await;

    let inserted = invoke(
        &conn,
        "insertRow",
        json!({"table": t.name, "row": {
            "name": "Ada'); DROP TABLE x; --", "qty": 9007199254740993i64, "price": "12345678.1234",
            "ratio": 0.5, "ok": true, "at": "2024-05-06T07:08:09.123Z", "doc": {"a": [1, 2]},
            "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "raw": "\\x00ff", "tags": "{x,y}"
        }}),
    )
    .await;
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

    invoke(
        &conn,
        "insertRow",
        json!({"table": t.name, "row": {"name": "Bob", "qty": null}}),
    )
    .await;
    let rows = invoke(
        &conn,
        "getRows",
        json!({"table": t.name, "filter": {"qty": null}}),
    )
    .await;
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    assert_eq!(rows[0]["name"], json!("Bob"));

    let updated = invoke(
        &conn,
        "updateRows",
        json!({"table": t.name, "filter": {"name": "Bob"}, "values": {"qty": 3}}),
    )
    .await;
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

    let deleted = invoke(
        &conn,
        "deleteRows",
        json!({"table": t.name, "filter": {"id": 1}}),
    )
    .await;
    assert_eq!(deleted, json!({"rowsAffected": 1}));
    let all = invoke(&conn, "getRows", json!({"table": t.name, "top": 10})).await;
    assert_eq!(all.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn errors_are_classified() {
    let conn = DB.connect();
    assert_missing_table_and_syntax_errors(&conn).await;
    let bad_value = json!({"query": "select $1::int", "parameters": ["abc"]});
    assert_invalid_query(&conn, bad_value).await;

    assert_unreachable(&DB.connect_with("postgres://postgres@127.0.0.1:1/test")).await;
}

#[tokio::test]
async fn password_never_appears_in_errors_or_debug() {
    let secret = "Sup3r-Secret-Pa55";
    let conn = DB.connect_with(&DB.url_as("conflux_no_such_role", secret));
    assert_refused_keeping_secret(&conn, secret).await;

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
    let conn = DB.connect();
    let t = Table::create(&conn, &DB, "id int primary key, changed timestamptz").await;
    let writer = Arc::clone(&conn);
    let insert = |ids: &'static [i64], at: &'static str| insert_changed(&writer, &t.name, ids, at);
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
    let conn = DB.connect();
    let cursor = persisted(&cursor);
    insert(&[4], "2024-01-01T00:00:00Z").await; // same watermark as the last delivered row
    insert(&[5, 6], "2024-01-02T00:00:00Z").await;
    let cursor = poll_until_empty(&conn, &inputs, cursor, &mut seen).await;
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
    let conn = DB.connect();
    let t = Table::create(&conn, &DB, "id serial primary key, v int").await;
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
    let empty = Table::create(&conn, &DB, "id serial primary key").await;
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
