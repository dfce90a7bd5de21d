//! The `whenFileAddedOrModified` polling trigger.
//!
//! Files are ordered by (modification time, path); the cursor is the pair of
//! the last file delivered and the next poll returns files strictly after it.
//! A file whose modification time is set backwards (e.g. copied with its
//! original time preserved) is therefore not seen: writers should write and
//! then rename, or touch the file.

use std::path::Path;
use std::time::UNIX_EPOCH;

use conflux_connector_api::{
    ConfigProblem, ConnectorContext, ConnectorError, ParamReader, PollOutcome,
};
use serde_json::{json, Value};

use super::actions::{describe, encoding, io_error, path, read, Encoding};
use super::paths::RelPath;

/// Parsed trigger inputs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FileTrigger {
    folder: RelPath,
    recursive: bool,
    include_content: bool,
    encoding: Encoding,
    start_now: bool,
    max_files: Option<usize>,
}

impl FileTrigger {
    pub(crate) fn parse(inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, "inputs.parameters");
        let folder = path(&mut r, "folder", false);
        let recursive = r.opt_bool("recursive").unwrap_or(false);
        let include_content = r.opt_bool("includeContent").unwrap_or(false);
        let encoding = encoding(&mut r);
        let start_now = match r.opt_str("startFrom") {
            None | Some("now") => true,
            Some("beginning") => false,
            Some(other) => {
                r.problem(
                    "startFrom",
                    format!("'{other}' is not one of 'now', 'beginning'"),
                );
                true
            }
        };
        let max_files = match r.opt_i64("maxFiles") {
            Some(n) if n < 1 => {
                r.problem("maxFiles", "must be at least 1");
                None
            }
            n => n.and_then(|n| usize::try_from(n).ok()),
        };
        r.finish()?;
        Ok(Self {
            folder: folder.unwrap_or_else(RelPath::root),
            recursive,
            include_content,
            encoding,
            start_now,
            max_files,
        })
    }
}

/// A file seen by a poll: its position in (mtime, path) order.
struct Seen {
    modified_ns: i64,
    path: RelPath,
    meta: std::fs::Metadata,
}

pub(crate) async fn poll(
    root: &Path,
    ctx: &ConnectorContext,
    trigger: &FileTrigger,
    cursor: Option<Value>,
) -> Result<PollOutcome, ConnectorError> {
    let mut files = Vec::new();
    collect(root, &trigger.folder, trigger.recursive, &mut files).await?;
    files.sort_by_key(|f| (f.modified_ns, f.path.display()));
    let after = match cursor {
        Some(cursor) => parse_cursor(&cursor)?,
        None if trigger.start_now => {
            let cursor = files.last().map_or_else(
                || cursor_json(i64::MIN, ""),
                |f| cursor_json(f.modified_ns, &f.path.display()),
            );
            return Ok(PollOutcome {
                items: Vec::new(),
                cursor: Some(cursor),
            });
        }
        None => (i64::MIN, String::new()),
    };
    let limit = trigger
        .max_files
        .unwrap_or(ctx.max_poll_items)
        .min(ctx.max_poll_items)
        .max(1);
    let mut items = Vec::new();
    let mut last = None;
    for file in files
        .into_iter()
        .filter(|f| (f.modified_ns, f.path.display()) > after)
        .take(limit)
    {
        let item = if trigger.include_content {
            read(root, &file.path, trigger.encoding).await?
        } else {
            describe(&file.path, &file.meta)
        };
        items.push(item);
        last = Some(cursor_json(file.modified_ns, &file.path.display()));
    }
    Ok(PollOutcome {
        items,
        cursor: last,
    })
}

fn cursor_json(modified_ns: i64, path: &str) -> Value {
    json!({ "modifiedNs": modified_ns, "path": path })
}

fn parse_cursor(cursor: &Value) -> Result<(i64, String), ConnectorError> {
    match (
        cursor.get("modifiedNs").and_then(Value::as_i64),
        cursor.get("path").and_then(Value::as_str),
    ) {
        (Some(ns), Some(path)) => Ok((ns, path.to_owned())),
        _ => Err(ConnectorError::other(format!(
            "the stored trigger cursor {cursor} is not a file cursor; reset the trigger state"
        ))),
    }
}

/// Collects the files of `folder` (and its subfolders when `recursive`),
/// skipping Conflux's own temporary files.
async fn collect(
    root: &Path,
    folder: &RelPath,
    recursive: bool,
    out: &mut Vec<Seen>,
) -> Result<(), ConnectorError> {
    let mut pending = vec![folder.clone()];
    while let Some(folder) = pending.pop() {
        let full = folder.resolve(root).await?;
        let what = format!("listing folder '{}'", folder.display());
        let mut entries = tokio::fs::read_dir(&full)
            .await
            .map_err(|e| io_error(e, &what))?;
        while let Some(entry) = entries.next_entry().await.map_err(|e| io_error(e, &what))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") && name.contains(".conflux-") {
                continue;
            }
            let Ok(meta) = entry.metadata().await else {
                continue;
            }; // vanished meanwhile
            let path = folder.child(&name);
            if meta.is_dir() {
                if recursive {
                    pending.push(path);
                }
                continue;
            }
            let modified_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_nanos()).ok())
                .unwrap_or(0);
            out.push(Seen {
                modified_ns,
                path,
                meta,
            });
        }
    }
    Ok(())
}
