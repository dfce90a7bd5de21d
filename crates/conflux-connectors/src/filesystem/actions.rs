//! The file actions: list, read, write, delete.

use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use conflux_connector_api::{ConfigProblem, ConnectorError, ParamReader};
use serde_json::{json, Value};

use super::paths::RelPath;
use super::{DELETE_FILE, LIST_FOLDER, READ_FILE, WRITE_FILE};

const PREFIX: &str = "inputs.parameters";

/// How file content is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Text when the bytes are UTF-8, binary content otherwise.
    Auto,
    /// Text; a file that is not UTF-8 is an error.
    Text,
    /// Always binary content.
    Binary,
}

/// A parsed file action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FileOperation {
    List {
        folder: RelPath,
    },
    Read {
        path: RelPath,
        encoding: Encoding,
    },
    Write {
        path: RelPath,
        content: Vec<u8>,
        overwrite: bool,
    },
    Delete {
        path: RelPath,
    },
}

impl FileOperation {
    pub(crate) fn parse(operation: &str, inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, PREFIX);
        let parsed = match operation {
            LIST_FOLDER => path(&mut r, "path", false).map(|folder| Self::List { folder }),
            READ_FILE => {
                let path = file_path(&mut r);
                let encoding = encoding(&mut r);
                path.map(|path| Self::Read { path, encoding })
            }
            WRITE_FILE => {
                let path = file_path(&mut r);
                let content = content(&mut r);
                let overwrite = r.opt_bool("overwrite").unwrap_or(true);
                match (path, content) {
                    (Some(path), Some(content)) => Some(Self::Write { path, content, overwrite }),
                    _ => None,
                }
            }
            DELETE_FILE => file_path(&mut r).map(|path| Self::Delete { path }),
            other => {
                return Err(vec![ConfigProblem::new(
                    "inputs.serviceProviderConfiguration.operationId",
                    format!("'{other}' is not an action of the file system; use listFolder, readFile, writeFile or deleteFile"),
                )])
            }
        };
        r.finish()?;
        parsed.ok_or_else(|| vec![ConfigProblem::new(PREFIX, "invalid inputs")])
    }
}

pub(crate) fn path(r: &mut ParamReader<'_>, name: &str, required: bool) -> Option<RelPath> {
    let text = if required {
        r.req_str(name)?
    } else {
        r.opt_str(name).unwrap_or("")
    };
    RelPath::parse(text).map_err(|e| r.problem(name, e)).ok()
}

fn file_path(r: &mut ParamReader<'_>) -> Option<RelPath> {
    let path = path(r, "path", true)?;
    if path.is_root() {
        r.problem("path", "names the root folder; give a file path");
        return None;
    }
    Some(path)
}

pub(crate) fn encoding(r: &mut ParamReader<'_>) -> Encoding {
    match r.opt_str("encoding") {
        None | Some("auto") => Encoding::Auto,
        Some("text") => Encoding::Text,
        Some("binary" | "base64") => Encoding::Binary,
        Some(other) => {
            r.problem(
                "encoding",
                format!("'{other}' is not one of 'auto', 'text', 'binary'"),
            );
            Encoding::Auto
        }
    }
}

fn content(r: &mut ParamReader<'_>) -> Option<Vec<u8>> {
    let Some(value) = r.raw("content") else {
        r.problem("content", "is required");
        return None;
    };
    match value {
        Value::String(text) => Some(text.clone().into_bytes()),
        Value::Object(map) if map.contains_key("$content") => match map.get("$content") {
            Some(Value::String(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| r.problem("content.$content", format!("is not valid base64: {e}")))
                .ok(),
            _ => {
                r.problem("content.$content", "must be a base64 string");
                None
            }
        },
        other => Some(other.to_string().into_bytes()),
    }
}

/// Runs a file action under the canonical `root`.
pub(crate) async fn run(root: &Path, operation: FileOperation) -> Result<Value, ConnectorError> {
    match operation {
        FileOperation::List { folder } => {
            let full = folder.resolve(root).await?;
            let mut entries = tokio::fs::read_dir(&full)
                .await
                .map_err(|e| io_error(e, &format!("listing folder '{}'", folder.display())))?;
            let mut items = Vec::new();
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| io_error(e, "listing the folder"))?
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                let meta = entry
                    .metadata()
                    .await
                    .map_err(|e| io_error(e, &format!("reading '{name}'")))?;
                items.push(describe(&folder.child(&name), &meta));
            }
            items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            Ok(Value::Array(items))
        }
        FileOperation::Read { path, encoding } => read(root, &path, encoding).await,
        FileOperation::Write {
            path,
            content,
            overwrite,
        } => {
            let full = path.resolve(root).await?;
            let what = format!("writing '{}'", path.display());
            if let Some(parent) = full.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| io_error(e, &what))?;
            }
            if !overwrite
                && tokio::fs::try_exists(&full)
                    .await
                    .map_err(|e| io_error(e, &what))?
            {
                return Err(ConnectorError::invalid_input(format!(
                    "'{}' already exists and overwrite is false",
                    path.display()
                )));
            }
            // Write beside the target and rename, so pollers and readers never
            // see a half-written file.
            let temp = full.with_file_name(format!(
                ".{}.conflux-{}.tmp",
                path.name(),
                uuid::Uuid::new_v4().simple()
            ));
            tokio::fs::write(&temp, &content)
                .await
                .map_err(|e| io_error(e, &what))?;
            if let Err(e) = tokio::fs::rename(&temp, &full).await {
                let _ = tokio::fs::remove_file(&temp).await;
                return Err(io_error(e, &what));
            }
            let meta = tokio::fs::metadata(&full)
                .await
                .map_err(|e| io_error(e, &what))?;
            Ok(describe(&path, &meta))
        }
        FileOperation::Delete { path } => {
            let full = path.resolve(root).await?;
            let what = format!("deleting '{}'", path.display());
            let meta = tokio::fs::symlink_metadata(&full)
                .await
                .map_err(|e| io_error(e, &what))?;
            not_a_folder(&path, &meta)?;
            tokio::fs::remove_file(&full)
                .await
                .map_err(|e| io_error(e, &what))?;
            Ok(json!({ "path": path.display(), "deleted": true }))
        }
    }
}

/// Reads a file into its metadata plus `content`.
pub(crate) async fn read(
    root: &Path,
    path: &RelPath,
    encoding: Encoding,
) -> Result<Value, ConnectorError> {
    let full = path.resolve(root).await?;
    let what = format!("reading '{}'", path.display());
    let meta = tokio::fs::metadata(&full)
        .await
        .map_err(|e| io_error(e, &what))?;
    not_a_folder(path, &meta)?;
    let bytes = tokio::fs::read(&full)
        .await
        .map_err(|e| io_error(e, &what))?;
    let content = match (encoding, String::from_utf8(bytes)) {
        (Encoding::Auto | Encoding::Text, Ok(text)) => Value::String(text),
        (Encoding::Text, Err(_)) => {
            return Err(ConnectorError::invalid_input(format!(
                "'{}' is not UTF-8 text; read it with encoding 'binary'",
                path.display()
            )))
        }
        (_, Ok(text)) => binary(text.as_bytes()),
        (_, Err(e)) => binary(e.as_bytes()),
    };
    let mut out = describe(path, &meta);
    out["content"] = content;
    Ok(out)
}

fn binary(bytes: &[u8]) -> Value {
    json!({
        "$content-type": "application/octet-stream",
        "$content": base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

/// The metadata object of a file or folder.
pub(crate) fn describe(path: &RelPath, meta: &std::fs::Metadata) -> Value {
    let modified = meta
        .modified()
        .ok()
        .map(|t| DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::AutoSi, true));
    json!({
        "name": path.name(),
        "path": path.display(),
        "isFolder": meta.is_dir(),
        "size": meta.len(),
        "lastModified": modified,
    })
}

/// Classifies an I/O error.
/// A file operation on a folder is invalid input.
fn not_a_folder(path: &RelPath, meta: &std::fs::Metadata) -> Result<(), ConnectorError> {
    if meta.is_dir() {
        return Err(ConnectorError::invalid_input(format!(
            "'{}' is a folder, not a file",
            path.display()
        )));
    }
    Ok(())
}

pub(crate) fn io_error(error: std::io::Error, what: &str) -> ConnectorError {
    use std::io::ErrorKind;
    let message = format!("{what}: {error}");
    match error.kind() {
        ErrorKind::NotFound => ConnectorError::not_found(message),
        ErrorKind::PermissionDenied => ConnectorError::unauthorized(message),
        ErrorKind::AlreadyExists | ErrorKind::InvalidInput | ErrorKind::InvalidData => {
            ConnectorError::invalid_input(message)
        }
        ErrorKind::Interrupted | ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            ConnectorError::transient(message)
        }
        _ => ConnectorError::other(message),
    }
}
