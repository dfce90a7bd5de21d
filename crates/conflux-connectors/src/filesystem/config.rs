//! File-system connection parameters.

use std::path::PathBuf;

use conflux_connector_api::{ConfigProblem, ConnectionConfig};

/// A checked file-system connection: the root folder.
#[derive(Debug, Clone)]
pub(crate) struct FsConfig {
    pub(crate) root: PathBuf,
}

impl FsConfig {
    pub(crate) fn parse(config: &ConnectionConfig) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = config.reader();
        let root = r.req_str("rootFolder").map(PathBuf::from);
        if let Some(root) = &root {
            if !root.is_absolute() {
                r.problem(
                    "rootFolder",
                    format!("'{}' must be an absolute path", root.display()),
                );
            }
        }
        r.finish()?;
        Ok(Self {
            root: root.unwrap_or_default(),
        })
    }
}
