//! A local folder as a file server: list, read, write and delete files, and
//! trigger when a file is added or modified.
//!
//! Every path is relative to the connection's `rootFolder` and cannot leave
//! it (see [`paths`]).

mod actions;
mod config;
mod paths;
mod triggers;

use std::sync::Arc;

use async_trait::async_trait;
use conflux_connector_api::{
    ConfigProblem, Connection, ConnectionConfig, Connector, ConnectorContext, ConnectorDescriptor,
    ConnectorError, OperationDescriptor, OperationKind, ParameterDescriptor, ParameterKind,
    PollOutcome,
};
use serde_json::Value;

use self::actions::FileOperation;
use self::config::FsConfig;
use crate::param;

/// The file-system connector.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(FileSystemConnector)
}

const PATH: ParameterDescriptor = param(
    "path",
    "Path",
    "Path relative to the root folder.",
    ParameterKind::String,
    true,
);

pub(crate) const LIST_FOLDER: &str = "listFolder";
pub(crate) const READ_FILE: &str = "readFile";
pub(crate) const WRITE_FILE: &str = "writeFile";
pub(crate) const DELETE_FILE: &str = "deleteFile";
pub(crate) const WHEN_FILE: &str = "whenFileAddedOrModified";

const FILE_OUTPUT: &str = "`{\"name\", \"path\", \"isFolder\", \"size\", \"lastModified\"}` (lastModified in RFC 3339 UTC)";

pub(crate) static DESCRIPTOR: ConnectorDescriptor = ConnectorDescriptor {
    id: "/serviceProviders/fileSystem",
    name: "filesystem",
    display_name: "File System",
    description: "Lists, reads, writes and deletes files under a local root folder; triggers on added or modified files.",
    connection_parameters: &[param(
        "rootFolder",
        "Root folder",
        "Absolute path of the folder the connection may use; nothing outside it is reachable.",
        ParameterKind::String,
        true,
    )],
    operations: &[
        OperationDescriptor {
            id: LIST_FOLDER,
            display_name: "List files in folder",
            description: "Lists the files and folders directly inside a folder, sorted by name.",
            kind: OperationKind::Action,
            inputs: &[param("path", "Folder", "Folder relative to the root (default: the root).", ParameterKind::String, false)],
            outputs_description: FILE_OUTPUT,
            example: r#"{"path": "inbox"}"#,
        },
        OperationDescriptor {
            id: READ_FILE,
            display_name: "Get file content",
            description: "Reads a file.",
            kind: OperationKind::Action,
            inputs: &[
                PATH,
                param("encoding", "Encoding", "`auto` (default: text if UTF-8, else binary content), `text` or `binary`.", ParameterKind::String, false),
            ],
            outputs_description: "The file's metadata plus `content`: a string, or binary content `{\"$content-type\", \"$content\": base64}`.",
            example: r#"{"path": "inbox/order.json"}"#,
        },
        OperationDescriptor {
            id: WRITE_FILE,
            display_name: "Create or update file",
            description: "Writes a file atomically (a reader never sees half a file), creating missing folders.",
            kind: OperationKind::Action,
            inputs: &[
                PATH,
                param("content", "Content", "A string (written as UTF-8), binary content `{\"$content\": base64}`, or any other JSON (written as JSON text).", ParameterKind::String, true),
                param("overwrite", "Overwrite", "Replace an existing file (default true); false fails if it exists.", ParameterKind::Boolean, false),
            ],
            outputs_description: FILE_OUTPUT,
            example: r#"{"path": "outbox/hello.txt", "content": "Hello"}"#,
        },
        OperationDescriptor {
            id: DELETE_FILE,
            display_name: "Delete file",
            description: "Deletes a file (not a folder).",
            kind: OperationKind::Action,
            inputs: &[PATH],
            outputs_description: "`{\"path\", \"deleted\": true}`",
            example: r#"{"path": "outbox/hello.txt"}"#,
        },
        OperationDescriptor {
            id: WHEN_FILE,
            display_name: "When a file is added or modified",
            description: "Polls a folder for files whose modification time passed the last one seen; each file is one item, oldest first.",
            kind: OperationKind::PollingTrigger,
            inputs: &[
                param("folder", "Folder", "Folder relative to the root (default: the root).", ParameterKind::String, false),
                param("recursive", "Include subfolders", "Also watch files in subfolders (default false).", ParameterKind::Boolean, false),
                param("includeContent", "Include file content", "Add `content` to each item, as readFile does (default false).", ParameterKind::Boolean, false),
                param("startFrom", "Start from", "`now` (default): only files changed after the first poll; `beginning`: existing files too.", ParameterKind::String, false),
                param("maxFiles", "Maximum files per poll", "Most files returned by one poll (default: the host's limit).", ParameterKind::Integer, false),
            ],
            outputs_description: FILE_OUTPUT,
            example: r#"{"folder": "inbox", "includeContent": true}"#,
        },
    ],
};

struct FileSystemConnector;

impl Connector for FileSystemConnector {
    fn descriptor(&self) -> &'static ConnectorDescriptor {
        &DESCRIPTOR
    }

    fn prepare(
        &self,
        config: &ConnectionConfig,
    ) -> Result<Arc<dyn Connection>, Vec<ConfigProblem>> {
        Ok(Arc::new(FsConnection {
            config: FsConfig::parse(config)?,
        }))
    }
}

/// One configured root folder.
#[derive(Debug)]
pub(crate) struct FsConnection {
    pub(crate) config: FsConfig,
}

#[async_trait]
impl Connection for FsConnection {
    fn check_inputs(&self, operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>> {
        if operation == WHEN_FILE {
            triggers::FileTrigger::parse(inputs).map(|_| ())
        } else {
            FileOperation::parse(operation, inputs).map(|_| ())
        }
    }

    async fn test(&self, _ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        self.root().await.map(|_| ())
    }

    async fn invoke(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
    ) -> Result<Value, ConnectorError> {
        let operation = FileOperation::parse(operation, &inputs).map_err(crate::problems_error)?;
        let root = self.root().await?;
        ctx.timed("the file operation", actions::run(&root, operation))
            .await
    }

    async fn poll(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
        cursor: Option<Value>,
    ) -> Result<PollOutcome, ConnectorError> {
        if operation != WHEN_FILE {
            return Err(ConnectorError::invalid_input(format!(
                "operation '{operation}' is not a polling trigger of the file system; use {WHEN_FILE}"
            )));
        }
        let trigger = triggers::FileTrigger::parse(&inputs).map_err(crate::problems_error)?;
        let root = self.root().await?;
        ctx.timed(
            "polling the folder",
            triggers::poll(&root, ctx, &trigger, cursor),
        )
        .await
    }
}

impl FsConnection {
    /// The canonical root folder; it must exist.
    async fn root(&self) -> Result<std::path::PathBuf, ConnectorError> {
        let root = &self.config.root;
        match tokio::fs::canonicalize(root).await {
            Ok(real) if real.is_dir() => Ok(real),
            Ok(_) => Err(ConnectorError::invalid_input(format!(
                "the root folder {} is not a folder",
                root.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ConnectorError::not_found(format!(
                    "the root folder {} does not exist; create it or fix rootFolder",
                    root.display()
                )))
            }
            Err(e) => Err(actions::io_error(
                e,
                &format!("opening the root folder {}", root.display()),
            )),
        }
    }
}
