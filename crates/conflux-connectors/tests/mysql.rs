//! The MySQL/MariaDB connector against a real server
//! (`CONFLUX_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/test`).
#![cfg(feature = "mysql")]

mod sql_support;

use std::sync::Arc;

use conflux_connector_api::{Connection, ConnectorError};
use serde_json::{json, Value};
use sql_support::{connect_to, ctx, poll};

fn url() -> String {
    std::env::var("CONFLUX_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn connect_with(connection_string: &str) -> Arc<dyn Connection> {
    connect_to("/serviceProviders/mysql", connection_string)
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
        // Drop cannot await: use a fresh runtime and connection.
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

#[tokio::test]
async fn row_operations_round_trip_typed_values() {
    let conn = connect_with(&url());
    conn.test(&ctx()).await.expect("connection test");
    let t = Table::create(
        &conn,
        "id int auto_increment primary key, name varchar(100), qty bigint, price decimal(12,4), ratio double, \
         ok boolean, at datetime(3), day date, raw varbinary(10)",
    )
    .await;
    let inserted = conn
        .invoke(
            &ctx(),
            "insertRow",
            json!({"table": t.name, "row": {
                "name": "Ada'); DROP TABLE x; --", "qty": 9007199254740993i64, "price": "12345678.1234",
                "ratio": 0.5, "ok": true, "at": "2024-05-06T07:08:09.123", "day": "2024-05-06", "raw": "\u{1}"
            }}),
        )
        .await
        .expect("insert");
    assert_eq!(inserted, json!({"rowsAffected": 1, "lastInsertId": 1}));
    let rows = conn
        .invoke(
            &ctx(),
            "getRows",
            json!({"table": t.name, "filter": {"id": 1}}),
        )
        .await
        .expect("get");
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

    conn.invoke(
        &ctx(),
        "insertRow",
        json!({"table": t.name, "row": {"name": "Bob"}}),
    )
    .await
    .expect("insert 2");
    let nulls = conn
        .invoke(
            &ctx(),
            "getRows",
            json!({"table": t.name, "filter": {"qty": null}}),
        )
        .await
        .expect("get");
    assert_eq!(nulls.as_array().map(Vec::len), Some(1));
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
        &format!("select name, qty from {} where qty < ? order by id", t.name),
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
}

#[tokio::test]
async fn errors_are_classified_and_passwords_stay_hidden() {
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
    let count = conn
        .invoke(
            &ctx(),
            "executeQuery",
            json!({"query": "select ? + 1", "parameters": []}),
        )
        .await
        .expect_err("parameter count");
    assert!(
        matches!(count, ConnectorError::InvalidInput { .. }),
        "{count:?}"
    );

    let secret = "Wr0ng-Pa55-Secret";
    let rest = url();
    let rest = rest
        .split_once('@')
        .map_or(rest.as_str(), |(_, r)| r)
        .to_owned();
    let bad = connect_with(&format!("mysql://conflux_no_such_user:{secret}@{rest}"));
    let err = bad.test(&ctx()).await.expect_err("wrong credentials");
    assert!(
        matches!(err, ConnectorError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains(secret) && !format!("{err:?}").contains(secret),
        "{err:?}"
    );

    let closed = connect_with("mysql://root@127.0.0.1:1/test");
    assert!(closed
        .test(&ctx())
        .await
        .expect_err("nothing listens on port 1")
        .is_retryable());
}

#[tokio::test]
async fn polling_trigger_delivers_every_row_exactly_once_across_restarts() {
    let conn = connect_with(&url());
    let t = Table::create(&conn, "id int primary key, changed datetime(6)").await;
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
    insert(&[1, 2, 3], "2024-01-01T00:00:00.5").await;
    let mut seen = Vec::new();
    let (ids, cursor) = poll(&conn, &inputs, None).await;
    assert_eq!(ids, [1, 2]);
    seen.extend(ids);

    let conn = connect_with(&url());
    let mut cursor: Option<Value> =
        serde_json::from_str(&serde_json::to_string(&cursor).expect("json")).expect("json");
    insert(&[4], "2024-01-01T00:00:00.5").await;
    insert(&[5, 6], "2024-01-02T00:00:00").await;
    loop {
        let (ids, next) = poll(&conn, &inputs, cursor.clone()).await;
        if ids.is_empty() {
            break;
        }
        seen.extend(ids);
        cursor = next;
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);

    // Starting now with the key found from the primary key.
    let inputs = json!({"table": t.name, "watermarkColumn": "changed"});
    let (ids, cursor) = poll(&conn, &inputs, None).await;
    assert!(ids.is_empty());
    insert(&[7], "2024-01-03T00:00:00").await;
    let (ids, _) = poll(&conn, &inputs, cursor).await;
    assert_eq!(ids, [7]);
}
