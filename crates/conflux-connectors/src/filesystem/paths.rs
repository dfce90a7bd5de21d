//! Confining paths to the connection's root folder.
//!
//! A path from a workflow is relative to the root (a leading `/` is allowed
//! and means the root, as on an FTP server). It is checked twice: lexically
//! when inputs are checked (no `..`, no drive prefixes), and against the real
//! file system before any I/O, so a symbolic link inside the root cannot lead
//! outside it.

use std::path::{Component, Path, PathBuf};

use conflux_connector_api::ConnectorError;

/// A path relative to the root, made only of normal components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelPath(Vec<String>);

impl RelPath {
    /// Parses a workflow path; `/` and `\` both separate components.
    pub(crate) fn parse(path: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        for part in path.split(['/', '\\']) {
            match part {
                "" | "." => {}
                ".." => {
                    return Err(format!(
                        "'{path}' contains '..'; paths must stay inside the root folder"
                    ))
                }
                _ => {
                    let component = Path::new(part).components().next();
                    if !matches!(component, Some(Component::Normal(_))) || part.contains('\0') {
                        return Err(format!(
                            "'{path}' is not a valid path inside the root folder"
                        ));
                    }
                    parts.push(part.to_owned());
                }
            }
        }
        Ok(Self(parts))
    }

    /// The root folder itself.
    pub(crate) fn root() -> Self {
        Self(Vec::new())
    }

    /// Whether this is the root itself.
    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last component (the file name), empty for the root.
    pub(crate) fn name(&self) -> &str {
        self.0.last().map_or("", String::as_str)
    }

    /// The `/`-separated form shown to workflows.
    pub(crate) fn display(&self) -> String {
        self.0.join("/")
    }

    /// This path with one more component.
    pub(crate) fn child(&self, name: &str) -> Self {
        let mut parts = self.0.clone();
        parts.push(name.to_owned());
        Self(parts)
    }

    /// The absolute path under `root`, after checking that no symbolic link
    /// along the way leads outside `root` (which must be canonical).
    pub(crate) async fn resolve(&self, root: &Path) -> Result<PathBuf, ConnectorError> {
        let mut full = root.to_path_buf();
        for part in &self.0 {
            full.push(part);
        }
        // Canonicalise the deepest existing ancestor: components that do not
        // exist yet cannot be links.
        let mut existing = full.as_path();
        loop {
            match tokio::fs::canonicalize(existing).await {
                Ok(real) if real.starts_with(root) => return Ok(full),
                Ok(_) => {
                    return Err(ConnectorError::invalid_input(format!(
                        "'{}' leads outside the root folder through a symbolic link",
                        self.display()
                    )))
                }
                Err(_) => match existing.parent() {
                    Some(parent) if parent.starts_with(root) => existing = parent,
                    _ => return Ok(full),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_rejected() {
        for bad in ["..", "a/../../etc", "a\\..\\b", "x/\0"] {
            assert!(RelPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            RelPath::parse("/in//box/./a.txt").expect("ok").display(),
            "in/box/a.txt"
        );
        assert!(RelPath::parse("/").expect("ok").is_root());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn accepted_paths_never_climb_out(path in "[a-z./\\\\]{0,24}") {
            if let Ok(rel) = RelPath::parse(&path) {
                let shown = rel.display();
                prop_assert!(!shown.split('/').any(|part| part == ".." || part == "."));
                prop_assert!(!shown.starts_with('/'));
            }
        }
    }
}
