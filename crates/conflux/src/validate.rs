//! `conflux validate PATH`: checks a workflow.json, or every `*/workflow.json`
//! of a project folder, and prints every finding as `path: message`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use conflux_definition::{Workflow, CONNECTOR_ACTION_TYPES};

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// A workflow.json file, or a project folder whose subfolders hold workflow.json files.
    pub path: PathBuf,
}

/// Action types Conflux hands to connectors are accepted here; whether a
/// connector for each is installed is checked when the project is served.
fn accepts(action_type: &str) -> bool {
    CONNECTOR_ACTION_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(action_type))
}

/// Every finding of one file, as `path: message` lines.
fn check_file(file: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return vec![format!("$: cannot read {}: {e}", file.display())],
    };
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => return vec![format!("$: not valid JSON: {e}")],
    };
    match Workflow::from_json_with(&doc, &accepts) {
        Ok(_) => Vec::new(),
        Err(e) => e.findings().iter().map(ToString::to_string).collect(),
    }
}

pub fn main(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let files: Vec<PathBuf> = if args.path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&args.path)
            .with_context(|| format!("cannot list {}", args.path.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path().join("workflow.json"))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            anyhow::bail!("{} contains no <workflow>/workflow.json; pass a project folder or a workflow.json file", args.path.display());
        }
        files
    } else {
        vec![args.path.clone()]
    };
    let many = files.len() > 1 || args.path.is_dir();
    let mut problems = 0;
    for file in &files {
        for finding in check_file(file) {
            problems += 1;
            if many {
                println!("{}: {finding}", file.display());
            } else {
                println!("{finding}");
            }
        }
    }
    if problems > 0 {
        eprintln!("{problems} problem(s) found");
        return Ok(ExitCode::FAILURE);
    }
    println!("ok: {} workflow(s) valid", files.len());
    Ok(ExitCode::SUCCESS)
}
