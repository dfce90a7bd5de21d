//! Connection store round trips against SQLite, with the file-system connector
//! and a connector that has a secret parameter.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod connections_support;

use std::sync::Arc;

use conflux_server::connection_store::{ConnectionError, ConnectionStore, Current, KV_NAMESPACE};
use conflux_server::MasterKey;
use conflux_store::{SqliteStore, Store};
use connections_support::{vault, VAULT_ID};
use serde_json::{json, Map, Value};

const FS_ID: &str = "/serviceProviders/fileSystem";

fn params(value: Value) -> Map<String, Value> {
    value.as_object().expect("an object").clone()
}

fn key(byte: u8) -> [u8; 32] {
    [byte; 32]
}

async fn sqlite(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(dir.path().join("conflux.db"))
            .await
            .unwrap(),
    )
}

fn connections(store: &Arc<dyn Store>, keys: &[[u8; 32]]) -> ConnectionStore {
    let mut registry = conflux_connectors::all();
    registry.push(vault());
    ConnectionStore::new(
        store.clone(),
        Arc::new(MasterKey::from_keys(keys)),
        registry,
    )
}

#[tokio::test]
async fn file_system_connection_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = sqlite(&dir).await;
    let conns = connections(&store, &[key(1)]);
    let root_text = root.path().display().to_string();

    let info = conns
        .put("files", FS_ID, params(json!({"rootFolder": root_text})))
        .await
        .unwrap();
    assert_eq!(info.connector_id, FS_ID);
    assert_eq!(info.parameter_values["rootFolder"], root_text);
    assert!(info.secret_parameters.is_empty());

    assert_eq!(conns.get("files").await.unwrap(), info);
    let config = conns.config("files").await.unwrap();
    assert_eq!(config.parameters["rootFolder"], root_text);
    conns.test("files").await.unwrap();

    // Connector ids match case-insensitively, as Logic Apps resource ids do.
    let missing = root.path().join("absent").display().to_string();
    conns
        .put(
            "gone",
            "/SERVICEPROVIDERS/filesystem",
            params(json!({"rootFolder": missing})),
        )
        .await
        .unwrap();
    let err = conns.test("gone").await.unwrap_err();
    assert!(matches!(err, ConnectionError::TestFailed { .. }), "{err}");
    assert!(err.to_string().contains("gone"), "{err}");

    let names: Vec<String> = conns
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["files", "gone"]);

    conns.delete("files").await.unwrap();
    assert!(matches!(
        conns.get("files").await,
        Err(ConnectionError::NotFound { .. })
    ));
    assert!(matches!(
        conns.delete("files").await,
        Err(ConnectionError::NotFound { .. })
    ));
    assert_eq!(conns.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn every_problem_is_reported_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir).await;
    let conns = connections(&store, &[key(1)]);

    let err = conns
        .put("v", VAULT_ID, params(json!({"endpont": "https://x"})))
        .await
        .unwrap_err();
    let ConnectionError::Invalid { problems, .. } = &err else {
        panic!("expected Invalid, got {err}");
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"parameterValues.endpont"), "{paths:?}");
    assert!(paths.contains(&"parameterValues.endpoint"), "{paths:?}");
    assert!(paths.contains(&"parameterValues.apiKey"), "{paths:?}");
    assert!(
        err.to_string()
            .contains("declared parameters: endpoint, apiKey"),
        "{err}"
    );

    let err = conns
        .put("v", "/serviceProviders/nope", Map::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(VAULT_ID),
        "lists known connectors: {err}"
    );
    let err = conns.put("a/b", FS_ID, Map::new()).await.unwrap_err();
    assert!(matches!(err, ConnectionError::InvalidName { .. }), "{err}");

    assert!(store.kv_list(KV_NAMESPACE).await.unwrap().is_empty());
}

#[tokio::test]
async fn secrets_decrypt_for_the_runtime_and_only_for_their_connection() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir).await;
    let conns = connections(&store, &[key(1)]);
    let info = conns
        .put(
            "v",
            VAULT_ID,
            params(json!({"endpoint": "https://x", "apiKey": "good-123"})),
        )
        .await
        .unwrap();
    assert_eq!(info.secret_parameters, ["apiKey"]);
    assert!(!info.parameter_values.contains_key("apiKey"));
    let config = conns.config("v").await.unwrap();
    assert_eq!(config.secret("apiKey").unwrap().expose(), "good-123");
    assert!(!format!("{config:?}").contains("good-123"));
    conns.test("v").await.unwrap();

    // Editing without re-sending the secret keeps it; `null` removes it.
    let edited = conns
        .put("v", VAULT_ID, params(json!({"endpoint": "https://y"})))
        .await
        .unwrap();
    assert_eq!(edited.parameter_values["endpoint"], "https://y");
    assert_eq!(edited.secret_parameters, ["apiKey"]);
    let config = conns.config("v").await.unwrap();
    assert_eq!(config.secret("apiKey").unwrap().expose(), "good-123");
    let err = conns
        .put(
            "v",
            VAULT_ID,
            params(json!({"endpoint": "https://y", "apiKey": null})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("parameterValues.apiKey"), "{err}");
    assert_eq!(
        conns
            .config("v")
            .await
            .unwrap()
            .secret("apiKey")
            .unwrap()
            .expose(),
        "good-123"
    );

    // A record copied under another name does not open there.
    let bytes = store.kv_get(KV_NAMESPACE, "v").await.unwrap().unwrap();
    store.kv_put(KV_NAMESPACE, "w", bytes).await.unwrap();
    let err = conns.config("w").await.unwrap_err();
    assert!(matches!(err, ConnectionError::Sealed { .. }), "{err}");
}

#[tokio::test]
async fn rotation_rewraps_so_the_new_key_alone_opens_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir).await;
    let (a, b) = (key(0xA), key(0xB));

    let with_a = connections(&store, &[a]);
    for (name, secret) in [("one", "good-1"), ("two", "good-2")] {
        with_a
            .put(
                name,
                VAULT_ID,
                params(json!({"endpoint": "https://x", "apiKey": secret})),
            )
            .await
            .unwrap();
    }
    let root = dir.path().display().to_string();
    with_a
        .put("plain", FS_ID, params(json!({"rootFolder": root})))
        .await
        .unwrap();
    assert_eq!(
        with_a.rotate().await.unwrap(),
        0,
        "nothing to do with one key"
    );

    // The operator sets CONFLUX_MASTER_KEY=B,A: reads work before rotation.
    let rotating = connections(&store, &[b, a]);
    assert_eq!(
        rotating
            .config("one")
            .await
            .unwrap()
            .secret("apiKey")
            .unwrap()
            .expose(),
        "good-1"
    );
    assert!(connections(&store, &[b]).config("one").await.is_err());
    assert_eq!(rotating.rotate().await.unwrap(), 2);
    assert_eq!(rotating.rotate().await.unwrap(), 0, "already under B");

    let only_b = connections(&store, &[b]);
    for (name, secret) in [("one", "good-1"), ("two", "good-2")] {
        let config = only_b.config(name).await.unwrap();
        assert_eq!(config.secret("apiKey").unwrap().expose(), secret);
    }
    let err = connections(&store, &[a]).config("one").await.unwrap_err();
    assert!(err.to_string().contains("CONFLUX_MASTER_KEY"), "{err}");
}

#[tokio::test]
async fn current_tells_whether_a_held_revision_is_still_the_stored_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir).await;
    let conns = connections(&store, &[key(3)]);
    let changes = conns.changes();
    let before = *changes.borrow();

    let err = conns.current("vault", None).await.unwrap_err();
    assert!(matches!(err, ConnectionError::NotFound { .. }), "{err}");

    let body = params(json!({"endpoint": "https://v1", "apiKey": "good-1"}));
    conns.put("vault", VAULT_ID, body).await.unwrap();
    assert_ne!(*changes.borrow(), before, "a save is a change");
    let Current::Changed { config, revision } = conns.current("vault", None).await.unwrap() else {
        panic!("nothing was held, so the stored one is new");
    };
    assert_eq!(config.secret("apiKey").unwrap().expose(), "good-1");
    assert!(matches!(
        conns.current("vault", Some(&revision)).await.unwrap(),
        Current::Unchanged
    ));
    // The revision's debug form never shows the record (it holds sealed secrets).
    assert!(!format!("{revision:?}").contains("v1"));

    // A replacement, even one keeping the secret, is a new revision.
    let seen = *changes.borrow();
    let body = params(json!({"endpoint": "https://v2"}));
    conns.put("vault", VAULT_ID, body).await.unwrap();
    assert_ne!(*changes.borrow(), seen);
    let Current::Changed {
        config,
        revision: second,
    } = conns.current("vault", Some(&revision)).await.unwrap()
    else {
        panic!("the replaced connection still looked current");
    };
    assert_ne!(second, revision);
    assert_eq!(config.parameters["endpoint"], "https://v2");
    assert_eq!(config.secret("apiKey").unwrap().expose(), "good-1");

    let seen = *changes.borrow();
    conns.delete("vault").await.unwrap();
    assert_ne!(*changes.borrow(), seen, "a delete is a change");
    let err = conns.current("vault", Some(&second)).await.unwrap_err();
    assert!(matches!(err, ConnectionError::NotFound { .. }), "{err}");

    // A refused save changes nothing.
    let seen = *changes.borrow();
    let bad = params(json!({"endpoint": "https://v3"}));
    assert!(conns.put("vault", VAULT_ID, bad).await.is_err());
    assert_eq!(*changes.borrow(), seen);
}
