//! The MySQL/MariaDB connector against a real server
//! (`CONFLUX_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/test`).
#![cfg(feature = "mysql")]

mod sql_support;

use std::sync::Arc;

use serde_json::json;
use sql_support::{
    assert_invalid_query, assert_missing_table_and_syntax_errors, assert_refused_keeping_secret,
    assert_unreachable, ctx, exec, insert_changed, invoke, persisted, poll, poll_until_empty,
    Database, Table,
};

static DB: Database = Database {
    provider: "/serviceProviders/mysql",
    var: "CONFLUX_TEST_MYSQL_URL",
    default_url: "mysql://root@127.0.0.1:3306/test",
};

#[tokio::test]
async fn row_operations_round_trip_typed_values() {
    let conn = DB.connect();
    conn.test(&ctx()).await.expect("connection test");
    let t = Table::create(&conn, &DB,
        "id int auto_increment primary key, name varchar(100), qty bigint, price decimal(12,4), ratio double, \
         ok boolean, at datetime(3), day date, raw varbinary(10)",
    )
    .await;
    let inserted = invoke(
        &conn,
        "insertRow",
        json!({"table": t.name, "row": {
            "name": "Ada'); DROP TABLE x; --", "qty": 9007199254740993i64, "price": "12345678.1234",
            "ratio": 0.5, "ok": true, "at": "2024-05-06T07:08:09.123", "day": "2024-05-06", "raw": "\u{1}"
        }}),
    )
    .await;
    assert_eq!(inserted, json!({"rowsAffected": 1, "lastInsertId": 1}));
    let rows = invoke(
        &conn,
        "getRows",
        json!({"table": t.name, "filter": {"id": 1}}),
    )
    .await;
    let row = &rows[0];
    assert_eq!(row["name"], json!("Ada'); DROP TABLE x; --"));
    assert_eq!(row["qty"], json!(9007199254740993i64));
    assert_eq!(row["price"], json!("12345678.1234"));
    assert_eq!(row["ratio"], json!(0.5));
    assert_eq!(row["ok"], json!(1));
    assert_eq!(row["at"], json!("2024-05-06T07:08:09.123"));
    assert_eq!(row["day"], json!("2024-05-06"));
    assert_eq!(
        row["raw"],
        json!({"$content-type": "application/octet-stream", "$content": "AQ=="})
    );

    invoke(
        &conn,
        "insertRow",
        json!({"table": t.name, "row": {"name": "Bob"}}),
    )
    .await;
    let nulls = invoke(
        &conn,
        "getRows",
        json!({"table": t.name, "filter": {"qty": null}}),
    )
    .await;
    assert_eq!(nulls.as_array().map(Vec::len), Some(1));
    let updated = invoke(
        &conn,
        "updateRows",
        json!({"table": t.name, "filter": {"name": "Bob"}, "values": {"qty": 3}}),
    )
    .await;
    assert_eq!(updated, json!({"rowsAffected": 1}));
    let q = exec(
        &conn,
        &format!("select name, qty from {} where qty < ? order by id", t.name),
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
}

#[tokio::test]
async fn errors_are_classified_and_passwords_stay_hidden() {
    let conn = DB.connect();
    assert_missing_table_and_syntax_errors(&conn).await;
    let count = json!({"query": "select ? + 1", "parameters": []});
    assert_invalid_query(&conn, count).await;

    let secret = "Wr0ng-Pa55-Secret";
    let bad = DB.connect_with(&DB.url_as("conflux_no_such_user", secret));
    assert_refused_keeping_secret(&bad, secret).await;

    assert_unreachable(&DB.connect_with("mysql://root@127.0.0.1:1/test")).await;
}

#[tokio::test]
async fn polling_trigger_delivers_every_row_exactly_once_across_restarts() {
    let conn = DB.connect();
    let t = Table::create(&conn, &DB, "id int primary key, changed datetime(6)").await;
    let writer = Arc::clone(&conn);
    let insert = |ids: &'static [i64], at: &'static str| insert_changed(&writer, &t.name, ids, at);
    let inputs = json!({"table": t.name, "watermarkColumn": "changed", "startFrom": "beginning", "maxRows": 2});
    insert(&[1, 2, 3], "2024-01-01T00:00:00.5").await;
    let mut seen = Vec::new();
    let (ids, cursor) = poll(&conn, &inputs, None).await;
    assert_eq!(ids, [1, 2]);
    seen.extend(ids);

    let conn = DB.connect();
    let cursor = persisted(&cursor);
    insert(&[4], "2024-01-01T00:00:00.5").await;
    insert(&[5, 6], "2024-01-02T00:00:00").await;
    poll_until_empty(&conn, &inputs, cursor, &mut seen).await;
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);

    // Starting now with the key found from the primary key.
    let inputs = json!({"table": t.name, "watermarkColumn": "changed"});
    let (ids, cursor) = poll(&conn, &inputs, None).await;
    assert!(ids.is_empty());
    insert(&[7], "2024-01-03T00:00:00").await;
    let (ids, _) = poll(&conn, &inputs, cursor).await;
    assert_eq!(ids, [7]);
}
