//! Typed model and validation of Workflow Definition Language documents, and the
//! loading of a Logic Apps Standard project folder.
//!
//! [`Workflow::from_json`] turns a `workflow.json` (`{"definition", "kind"}`) or a
//! bare definition into a [`Workflow`] whose expressions are all compiled, or
//! reports every problem it found at once, each at its JSON path.
//!
//! ```
//! use conflux_definition::Workflow;
//!
//! let doc = serde_json::json!({
//!     "definition": {
//!         "triggers": {"manual": {"type": "Request", "kind": "Http"}},
//!         "actions": {
//!             "Compose": {"type": "Compose", "inputs": "@triggerBody()"},
//!             "Next": {"type": "Compose", "inputs": 1, "runAfter": {"Missing": ["Succeeded"]}}
//!         }
//!     },
//!     "kind": "Stateful"
//! });
//! let err = Workflow::from_json(&doc).unwrap_err();
//! assert_eq!(err.findings()[0].path, "$.definition.actions.Next.runAfter.Missing");
//! ```

mod actions;
mod condition;
mod model;
mod parse;
pub mod project;

use std::fmt;

pub use model::*;
pub use parse::{is_builtin, CONNECTOR_ACTION_TYPES};

/// One problem in a definition: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// JSON path, e.g. `$.definition.actions.Send.runAfter.Get`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Errors of this crate.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DefinitionError {
    /// The definition has one or more problems; all of them are listed.
    #[error("the workflow definition is not valid ({} problem(s)): {}", findings.len(), summary(findings))]
    Invalid { findings: Vec<Finding> },
}

fn summary(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(Finding::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl DefinitionError {
    /// Every problem found, sorted by path.
    pub fn findings(&self) -> &[Finding] {
        match self {
            DefinitionError::Invalid { findings } => findings,
        }
    }
}

impl Workflow {
    /// Loads a `workflow.json` document or a bare definition. Every expression is
    /// compiled; every structural rule of the language is checked. Action types
    /// Conflux does not know are kept as [`ActionKind::Other`] (see
    /// [`Workflow::unknown_action_types`]).
    pub fn from_json(doc: &serde_json::Value) -> Result<Workflow, DefinitionError> {
        parse::load(doc)
    }

    /// Loads and also rejects action types that neither Conflux nor `accepts` knows.
    pub fn from_json_with(
        doc: &serde_json::Value,
        accepts: &dyn Fn(&str) -> bool,
    ) -> Result<Workflow, DefinitionError> {
        let wf = parse::load(doc);
        match wf {
            Ok(wf) => {
                let unknown = wf.unknown_action_types(accepts);
                if unknown.is_empty() {
                    Ok(wf)
                } else {
                    Err(DefinitionError::Invalid { findings: unknown })
                }
            }
            Err(DefinitionError::Invalid { mut findings }) => {
                // Structural errors stop the build of the model; unknown types
                // are reported from the raw document so the list stays complete.
                findings.extend(parse::unknown_types_in_doc(doc, accepts));
                findings.sort_by(|a, b| a.path.cmp(&b.path));
                findings.dedup();
                Err(DefinitionError::Invalid { findings })
            }
        }
    }

    /// Findings for every [`ActionKind::Other`] action whose type `accepts` rejects.
    pub fn unknown_action_types(&self, accepts: &dyn Fn(&str) -> bool) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .all_actions
            .values()
            .filter_map(|a| match &a.kind {
                ActionKind::Other { type_name, .. } if !accepts(type_name) => Some(Finding {
                    path: format!("{}.type", a.path),
                    message: format!(
                        "the action type '{type_name}' is not known to Conflux and no installed connector provides it"
                    ),
                }),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Looks up any action, at any depth.
    pub fn action(&self, name: &str) -> Option<&std::sync::Arc<ActionDefinition>> {
        self.all_actions.get(name)
    }
}
