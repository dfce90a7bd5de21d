//! The file-system connector against a temporary folder.
#![cfg(feature = "filesystem")]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use conflux_connector_api::{
    Connection, ConnectionConfig, ConnectorContext, ConnectorError, ShutdownSignal,
};
use serde_json::{json, Value};

fn connect(root: &std::path::Path) -> Arc<dyn Connection> {
    let connector =
        conflux_connectors::find("/serviceProviders/fileSystem").expect("file system connector");
    let mut config = ConnectionConfig {
        name: "files".into(),
        connector_id: connector.descriptor().id.into(),
        ..Default::default()
    };
    config.parameters.insert(
        "rootFolder".into(),
        json!(root.to_str().expect("utf-8 path")),
    );
    connector.prepare(&config).expect("valid config")
}

fn ctx() -> ConnectorContext {
    ConnectorContext::new(ShutdownSignal::never())
}

async fn call(
    conn: &Arc<dyn Connection>,
    op: &str,
    inputs: Value,
) -> Result<Value, ConnectorError> {
    conn.invoke(&ctx(), op, inputs).await
}

#[tokio::test]
async fn files_are_written_read_listed_and_deleted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = connect(dir.path());
    conn.test(&ctx()).await.expect("root exists");

    let written = call(
        &conn,
        "writeFile",
        json!({"path": "/out/a.txt", "content": "héllo"}),
    )
    .await
    .expect("write");
    assert_eq!(written["path"], json!("out/a.txt"));
    assert_eq!(written["size"], json!(6));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/a.txt")).expect("on disk"),
        "héllo"
    );

    call(&conn, "writeFile", json!({"path": "out/b.bin", "content": {"$content-type": "application/octet-stream", "$content": "AP8="}}))
        .await
        .expect("write binary");
    call(
        &conn,
        "writeFile",
        json!({"path": "out/c.json", "content": {"n": 1}}),
    )
    .await
    .expect("write json");

    let text = call(&conn, "readFile", json!({"path": "out/a.txt"}))
        .await
        .expect("read");
    assert_eq!(text["content"], json!("héllo"));
    let bin = call(&conn, "readFile", json!({"path": "out/b.bin"}))
        .await
        .expect("read binary");
    assert_eq!(
        bin["content"],
        json!({"$content-type": "application/octet-stream", "$content": "AP8="})
    );
    let json_file = call(&conn, "readFile", json!({"path": "out/c.json"}))
        .await
        .expect("read json");
    assert_eq!(json_file["content"], json!(r#"{"n":1}"#));

    let listed = call(&conn, "listFolder", json!({"path": "out"}))
        .await
        .expect("list");
    let names: Vec<_> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(names, [json!("a.txt"), json!("b.bin"), json!("c.json")]);
    let root = call(&conn, "listFolder", json!({}))
        .await
        .expect("list root");
    assert_eq!(root[0]["isFolder"], json!(true));

    let refused = call(
        &conn,
        "writeFile",
        json!({"path": "out/a.txt", "content": "x", "overwrite": false}),
    )
    .await;
    assert!(
        matches!(refused, Err(ConnectorError::InvalidInput { .. })),
        "{refused:?}"
    );

    call(&conn, "deleteFile", json!({"path": "out/a.txt"}))
        .await
        .expect("delete");
    let gone = call(&conn, "readFile", json!({"path": "out/a.txt"})).await;
    assert!(
        matches!(gone, Err(ConnectorError::NotFound { .. })),
        "{gone:?}"
    );
}

#[tokio::test]
async fn paths_cannot_leave_the_root() {
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("secret.txt"), "top secret").expect("write");
    let dir = tempfile::tempdir().expect("root");
    let conn = connect(dir.path());

    let problems = conn
        .check_inputs("readFile", &json!({"path": "../secret.txt"}))
        .expect_err("escape");
    assert_eq!(problems[0].path, "inputs.parameters.path");
    let err = call(&conn, "readFile", json!({"path": "a/../../secret.txt"}))
        .await
        .expect_err("escape");
    assert!(matches!(err, ConnectorError::InvalidInput { .. }));

    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).expect("symlink");
        let err = call(&conn, "readFile", json!({"path": "link/secret.txt"}))
            .await
            .expect_err("through a link");
        assert!(err.to_string().contains("outside the root"), "{err}");
        let err = call(
            &conn,
            "writeFile",
            json!({"path": "link/new.txt", "content": "x"}),
        )
        .await
        .expect_err("write through a link");
        assert!(matches!(err, ConnectorError::InvalidInput { .. }));
        assert!(!outside.path().join("new.txt").exists());
    }
}

fn write_at(root: &std::path::Path, name: &str, secs: u64) {
    let path = root.join(name);
    std::fs::write(&path, name).expect("write");
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .expect("set mtime");
}

async fn poll(
    conn: &Arc<dyn Connection>,
    inputs: &Value,
    cursor: Option<Value>,
) -> (Vec<String>, Option<Value>) {
    let outcome = conn
        .poll(
            &ctx(),
            "whenFileAddedOrModified",
            inputs.clone(),
            cursor.clone(),
        )
        .await
        .expect("poll");
    let paths = outcome
        .items
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_owned())
        .collect();
    (paths, outcome.cursor.or(cursor))
}

#[tokio::test]
async fn trigger_delivers_each_added_or_modified_file_once_across_restarts() {
    let dir = tempfile::tempdir().expect("root");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    write_at(&dir.path().join("in"), "old.txt", 1_000);
    let inputs = json!({"folder": "in", "includeContent": true, "maxFiles": 2});

    let conn = connect(dir.path());
    let (paths, cursor) = poll(&conn, &inputs, None).await;
    assert!(paths.is_empty(), "starting now skips existing files");

    write_at(&dir.path().join("in"), "b.txt", 2_000);
    write_at(&dir.path().join("in"), "a.txt", 2_000); // same time: ordered by name
    write_at(&dir.path().join("in"), "c.txt", 3_000);
    let outcome = conn
        .poll(&ctx(), "whenFileAddedOrModified", inputs.clone(), cursor)
        .await
        .expect("poll");
    assert_eq!(
        outcome.items[0]["content"],
        json!("a.txt"),
        "content is included"
    );
    let paths: Vec<_> = outcome.items.iter().map(|f| f["path"].clone()).collect();
    assert_eq!(paths, [json!("in/a.txt"), json!("in/b.txt")]);

    // Restart with the persisted cursor.
    let persisted = outcome.cursor;
    let conn = connect(dir.path());
    write_at(&dir.path().join("in"), "old.txt", 4_000); // modified
    let (first, cursor) = poll(&conn, &inputs, persisted).await;
    let (second, cursor) = poll(&conn, &inputs, cursor).await;
    let (third, _) = poll(&conn, &inputs, cursor).await;
    assert_eq!(first, ["in/c.txt", "in/old.txt"]);
    assert!(second.is_empty() && third.is_empty());
}
