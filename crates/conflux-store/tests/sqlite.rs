//! The storage suite against the SQLite backend, on a file and in memory.

#[macro_use]
mod suite;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use conflux_store::{SqliteStore, Store};
use suite::{Harness, Opened, Pause};

/// A database file in a fresh temporary directory (in a subdirectory that
/// does not exist yet, so opening must create it).
struct FileHarness {
    dir: tempfile::TempDir,
}

impl FileHarness {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("data").join("conflux.db")
    }
}

fn opened(store: SqliteStore) -> Opened {
    let store = Arc::new(store);
    let pausable = Arc::clone(&store);
    Opened {
        store: store as Arc<dyn Store>,
        pause_writer: Some(Box::new(move || Box::new(pausable.pause_writer()) as Pause)),
    }
}

#[async_trait]
impl Harness for FileHarness {
    async fn open(&self) -> Opened {
        opened(
            SqliteStore::open(self.path())
                .await
                .expect("open SQLite file"),
        )
    }
}

/// A private in-memory database per test.
struct MemoryHarness;

#[async_trait]
impl Harness for MemoryHarness {
    async fn open(&self) -> Opened {
        opened(
            SqliteStore::open_in_memory()
                .await
                .expect("open in-memory SQLite"),
        )
    }
}

mod file {
    storage_suite!(super::FileHarness::new());
    storage_suite!(super::FileHarness::new(), durable);
}

mod memory {
    storage_suite!(super::MemoryHarness);
}

#[tokio::test]
async fn the_file_and_its_directory_are_created_and_two_stores_are_independent() {
    let harness = FileHarness::new();
    let store = SqliteStore::open(harness.path()).await.unwrap();
    assert!(harness.path().exists());
    assert_eq!(store.path(), Some(harness.path().as_path()));

    let a = SqliteStore::open_in_memory().await.unwrap();
    let b = SqliteStore::open_in_memory().await.unwrap();
    a.kv_put("ns", "k", b"a".to_vec()).await.unwrap();
    assert_eq!(b.kv_get("ns", "k").await.unwrap(), None);
}
