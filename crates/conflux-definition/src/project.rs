//! Loading a Logic Apps Standard project folder.
//!
//! A project is a folder holding one sub-folder per workflow (each with its
//! `workflow.json`) and the shared files `connections.json`,
//! `parameters.json`, `host.json` and `local.settings.json`. Loading reads and
//! parses them, strips comments, and resolves `@appsetting('X')` references
//! in parameters and connection parameter values. One broken file never stops
//! the others: it becomes a [`ProjectProblem`] naming the file and JSON path.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use crate::WorkflowKind;

/// A loaded project: what could be read, and what could not.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    /// Sorted by name.
    pub workflows: Vec<ProjectWorkflow>,
    pub connections: Connections,
    /// `parameters.json`, with app settings resolved.
    pub parameters: IndexMap<String, ProjectParameter>,
    /// `host.json` as written (`{}` when absent).
    pub host: Value,
    /// `local.settings.json` `Values`, overridden by process environment variables.
    pub app_settings: BTreeMap<String, String>,
    pub problems: Vec<ProjectProblem>,
}

/// One workflow folder.
#[derive(Debug, Clone)]
pub struct ProjectWorkflow {
    /// The folder name.
    pub name: String,
    /// Path of its `workflow.json`.
    pub path: PathBuf,
    /// The whole `workflow.json` (`{"definition", "kind"}`).
    pub document: Value,
    pub kind: WorkflowKind,
}

/// `connections.json`.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    pub service_providers: IndexMap<String, ServiceProviderConnection>,
    /// `managedApiConnections`, kept as written (Conflux does not call Azure-managed APIs).
    pub managed_api: Value,
}

/// An entry of `serviceProviderConnections`.
#[derive(Debug, Clone)]
pub struct ServiceProviderConnection {
    pub name: String,
    /// With app settings resolved.
    pub parameter_values: serde_json::Map<String, Value>,
    /// `serviceProvider.id`, e.g. `/serviceProviders/sql`.
    pub service_provider_id: String,
    pub display_name: Option<String>,
}

/// An entry of `parameters.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectParameter {
    pub type_name: String,
    pub value: Value,
}

/// Something in the project that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectProblem {
    pub file: PathBuf,
    /// JSON path inside the file (`$` for the whole file).
    pub path: String,
    pub message: String,
}

impl fmt::Display for ProjectProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.file.display(), self.path, self.message)
    }
}

/// The project folder itself could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read the project folder {path}: {error}; pass the folder that holds host.json and one sub-folder per workflow")]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a folder; pass the folder that holds host.json and one sub-folder per workflow")]
    NotAFolder { path: PathBuf },
}

impl Project {
    /// Loads `dir`, reading app settings overrides from the process environment.
    pub fn load(dir: &Path) -> Result<Project, ProjectError> {
        Project::load_with_env(dir, &|name| std::env::var(name).ok())
    }

    /// Loads `dir`, asking `env` for environment overrides of app settings.
    pub fn load_with_env(
        dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Project, ProjectError> {
        let metadata = std::fs::metadata(dir).map_err(|error| ProjectError::Unreadable {
            path: dir.to_path_buf(),
            error,
        })?;
        if !metadata.is_dir() {
            return Err(ProjectError::NotAFolder {
                path: dir.to_path_buf(),
            });
        }
        let mut loader = Loader {
            problems: Vec::new(),
        };
        let host = loader
            .read_json(&dir.join("host.json"))
            .unwrap_or_else(|| Value::Object(Default::default()));
        for setting in [RUN_TIMEOUT_SETTING, STATELESS_RUN_TIMEOUT_SETTING] {
            if let Err(message) = duration_setting(&host, setting) {
                loader.problem(
                    &dir.join("host.json"),
                    format!("$.extensions.workflow.settings['{setting}']"),
                    message,
                );
            }
        }
        let app_settings = loader.app_settings(&dir.join("local.settings.json"), env);
        let parameters = loader.parameters(&dir.join("parameters.json"), &app_settings);
        let connections = loader.connections(&dir.join("connections.json"), &app_settings);
        let workflows = loader.workflows(dir)?;
        Ok(Project {
            root: dir.to_path_buf(),
            workflows,
            connections,
            parameters,
            host,
            app_settings,
            problems: loader.problems,
        })
    }

    pub fn workflow(&self, name: &str) -> Option<&ProjectWorkflow> {
        self.workflows.iter().find(|wf| wf.name == name)
    }

    /// The run duration limit host.json sets (`Runtime.Backend.FlowRunTimeout`);
    /// `None` when it sets none or an invalid one (then listed in `problems`).
    pub fn run_timeout(&self) -> Option<Duration> {
        run_timeout_setting(&self.host).ok().flatten()
    }

    /// [`STATELESS_RUN_TIMEOUT_SETTING`] from host.json, when set and valid.
    pub fn stateless_run_timeout(&self) -> Option<Duration> {
        duration_setting(&self.host, STATELESS_RUN_TIMEOUT_SETTING)
            .ok()
            .flatten()
    }
}

/// The host.json setting that limits how long a stateless run (and so any
/// Until loop in it) may last; 5 minutes when absent.
pub const STATELESS_RUN_TIMEOUT_SETTING: &str = "Runtime.Backend.Stateless.FlowRunTimeout";

/// The host.json setting (under `extensions.workflow.settings`) that limits how
/// long a run may last before it ends `TimedOut`; 90 days when absent.
pub const RUN_TIMEOUT_SETTING: &str = "Runtime.Backend.FlowRunTimeout";

/// Reads [`RUN_TIMEOUT_SETTING`] from a host.json document: a .NET TimeSpan
/// (`90.00:00:00`, `00:05:00`, `2` for two days) or an ISO 8601 duration
/// (`PT5M`). `Ok(None)` when the setting is absent.
pub fn run_timeout_setting(host: &Value) -> Result<Option<Duration>, String> {
    duration_setting(host, RUN_TIMEOUT_SETTING)
}

/// A duration setting under `extensions.workflow.settings` of host.json, in
/// either form [`run_timeout_setting`] accepts.
fn duration_setting(host: &Value, setting: &str) -> Result<Option<Duration>, String> {
    let Some(value) = host
        .pointer("/extensions/workflow/settings")
        .and_then(|s| s.get(setting))
    else {
        return Ok(None);
    };
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("{setting} must be a duration such as \"90.00:00:00\" (days.hours:minutes:seconds) or \"PT1H\", not {other}")),
    };
    let parsed = if text.starts_with('P') || text.starts_with('p') {
        conflux_expr::time::parse_duration(&text)
            .ok()
            .and_then(|d| d.to_std())
    } else {
        parse_time_span(&text)
    };
    match parsed {
        Some(d) if !d.is_zero() => Ok(Some(d)),
        _ => Err(format!("{setting} must be a positive duration such as \"90.00:00:00\" (days.hours:minutes:seconds) or \"PT1H\", not '{text}'")),
    }
}

/// `[d.]hh:mm[:ss[.fraction]]`, or a whole number of days.
fn parse_time_span(text: &str) -> Option<Duration> {
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if let Some(days) = number(text) {
        return days.checked_mul(86_400).map(Duration::from_secs);
    }
    let first_colon = text.find(':')?;
    let (days, clock) = match text[..first_colon].find('.') {
        Some(dot) => (number(&text[..dot])?, &text[dot + 1..]),
        None => (0, text),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let hours = number(parts[0]).filter(|h| *h < 24)?;
    let minutes = number(parts[1]).filter(|m| *m < 60)?;
    let (seconds, nanos) = match parts.get(2) {
        None => (0, 0),
        Some(s) => {
            let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
            let whole = number(whole).filter(|v| *v < 60)?;
            let nanos = if fraction.is_empty() {
                0
            } else {
                let digits: String = fraction
                    .chars()
                    .chain(std::iter::repeat('0'))
                    .take(9)
                    .collect();
                u32::try_from(number(&digits)?).ok()?
            };
            (whole, nanos)
        }
    };
    let secs = days
        .checked_mul(86_400)?
        .checked_add(hours * 3600 + minutes * 60 + seconds)?;
    Some(Duration::new(secs, nanos))
}

struct Loader {
    problems: Vec<ProjectProblem>,
}

impl Loader {
    fn problem(&mut self, file: &Path, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(ProjectProblem {
            file: file.to_path_buf(),
            path: path.into(),
            message: message.into(),
        });
    }

    /// Reads an optional JSON file; `None` when absent or broken (broken is a problem).
    fn read_json(&mut self, file: &Path) -> Option<Value> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                self.problem(file, "$", format!("cannot read the file: {error}"));
                return None;
            }
        };
        match serde_json::from_str(&strip_comments(&text)) {
            Ok(value) => Some(value),
            Err(error) => {
                self.problem(
                    file,
                    "$",
                    format!(
                        "not valid JSON at line {} column {}: {error}",
                        error.line(),
                        error.column()
                    ),
                );
                None
            }
        }
    }

    fn app_settings(
        &mut self,
        file: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> BTreeMap<String, String> {
        let mut settings = BTreeMap::new();
        let Some(doc) = self.read_json(file) else {
            return settings;
        };
        match doc.get("Values") {
            None => {}
            Some(Value::Object(values)) => {
                for (name, value) in values {
                    let text = match value {
                        Value::String(text) => text.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    settings.insert(name.clone(), text);
                }
            }
            Some(_) => self.problem(
                file,
                "$.Values",
                "must be an object of setting names to values",
            ),
        }
        // Deployed hosts take app settings from the environment, so the
        // environment wins over the file, as it does in Azure Functions.
        for (name, value) in settings.iter_mut() {
            if let Some(overridden) = env(name) {
                *value = overridden;
            }
        }
        settings
    }

    fn parameters(
        &mut self,
        file: &Path,
        settings: &BTreeMap<String, String>,
    ) -> IndexMap<String, ProjectParameter> {
        let mut out = IndexMap::new();
        let Some(doc) = self.read_json(file) else {
            return out;
        };
        let Value::Object(entries) = doc else {
            self.problem(
                file,
                "$",
                "must be an object of parameter names to {type, value}",
            );
            return out;
        };
        for (name, mut entry) in entries {
            let path = format!("$.{name}");
            let type_name = entry
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("Object")
                .to_string();
            let Some(value) = entry.get_mut("value") else {
                self.problem(
                    file,
                    format!("{path}.value"),
                    "the parameter has no `value`",
                );
                continue;
            };
            let mut value = value.take();
            self.resolve_settings(&mut value, file, &format!("{path}.value"), settings);
            out.insert(name, ProjectParameter { type_name, value });
        }
        out
    }

    fn connections(&mut self, file: &Path, settings: &BTreeMap<String, String>) -> Connections {
        let mut out = Connections {
            managed_api: Value::Object(Default::default()),
            ..Connections::default()
        };
        let Some(doc) = self.read_json(file) else {
            return out;
        };
        if let Some(managed) = doc.get("managedApiConnections") {
            out.managed_api = managed.clone();
        }
        let Some(providers) = doc.get("serviceProviderConnections") else {
            return out;
        };
        let Some(providers) = providers.as_object() else {
            self.problem(
                file,
                "$.serviceProviderConnections",
                "must be an object of connection names to connections",
            );
            return out;
        };
        for (name, entry) in providers {
            let path = format!("$.serviceProviderConnections.{name}");
            let Some(id) = entry.pointer("/serviceProvider/id").and_then(Value::as_str) else {
                self.problem(file, format!("{path}.serviceProvider.id"), "the connection names no service provider; set serviceProvider.id, e.g. \"/serviceProviders/sql\"");
                continue;
            };
            let mut values = match entry.get("parameterValues") {
                Some(Value::Object(values)) => Value::Object(values.clone()),
                None => Value::Object(Default::default()),
                Some(_) => {
                    self.problem(file, format!("{path}.parameterValues"), "must be an object");
                    continue;
                }
            };
            self.resolve_settings(
                &mut values,
                file,
                &format!("{path}.parameterValues"),
                settings,
            );
            let Value::Object(parameter_values) = values else {
                continue;
            };
            out.service_providers.insert(
                name.clone(),
                ServiceProviderConnection {
                    name: name.clone(),
                    parameter_values,
                    service_provider_id: id.to_string(),
                    display_name: entry
                        .get("displayName")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                },
            );
        }
        out
    }

    fn workflows(&mut self, dir: &Path) -> Result<Vec<ProjectWorkflow>, ProjectError> {
        let entries = std::fs::read_dir(dir).map_err(|error| ProjectError::Unreadable {
            path: dir.to_path_buf(),
            error,
        })?;
        let mut folders: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.join("workflow.json").is_file())
            .collect();
        folders.sort();
        let mut out = Vec::new();
        for folder in folders {
            let Some(name) = folder
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let path = folder.join("workflow.json");
            let Some(document) = self.read_json(&path) else {
                continue;
            };
            let kind = match document.get("kind").and_then(Value::as_str) {
                None => WorkflowKind::Stateful,
                Some(text) if text.eq_ignore_ascii_case("stateful") => WorkflowKind::Stateful,
                Some(text) if text.eq_ignore_ascii_case("stateless") => WorkflowKind::Stateless,
                Some(text) => {
                    self.problem(
                        &path,
                        "$.kind",
                        format!("unknown workflow kind `{text}`; use Stateful or Stateless"),
                    );
                    continue;
                }
            };
            out.push(ProjectWorkflow {
                name,
                path,
                document,
                kind,
            });
        }
        Ok(out)
    }

    /// Replaces `@appsetting('X')` (a whole string) and `@{appsetting('X')}`
    /// (inside a string) with the setting's value.
    fn resolve_settings(
        &mut self,
        value: &mut Value,
        file: &Path,
        path: &str,
        settings: &BTreeMap<String, String>,
    ) {
        match value {
            Value::String(text) => match resolve_text(text, settings) {
                Ok(Some(resolved)) => *text = resolved,
                Ok(None) => {}
                Err(name) => self.problem(
                    file,
                    path,
                    format!("app setting `{name}` is not defined; add it to local.settings.json `Values` or set the environment variable {name}"),
                ),
            },
            Value::Array(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    self.resolve_settings(item, file, &format!("{path}[{index}]"), settings);
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    self.resolve_settings(item, file, &format!("{path}.{key}"), settings);
                }
            }
            _ => {}
        }
    }
}

/// `Ok(None)` when `text` mentions no setting; `Err(name)` for an unknown one.
fn resolve_text(text: &str, settings: &BTreeMap<String, String>) -> Result<Option<String>, String> {
    let lookup = |name: &str| settings.get(name).cloned().ok_or_else(|| name.to_string());
    let trimmed = text.trim();
    if let Some(name) = whole_reference(trimmed) {
        return lookup(name).map(Some);
    }
    if !text.contains("@{appsetting(") {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("@{appsetting(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        match whole_reference(&format!("@{}", &after[..end])) {
            Some(name) => out.push_str(&lookup(name)?),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// The setting name of `@appsetting('X')`, if `text` is exactly that.
fn whole_reference(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("@appsetting(")?.strip_suffix(')')?.trim();
    let name = inner.strip_prefix('\'')?.strip_suffix('\'')?;
    (!name.contains('\'')).then_some(name)
}

/// Removes `//` and `/* */` comments outside JSON strings, keeping line
/// breaks so parse errors still point at the right line.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for next in chars.by_ref() {
                    if next == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut previous = '\0';
                for next in chars.by_ref() {
                    if next == '\n' {
                        out.push('\n');
                    }
                    if previous == '*' && next == '/' {
                        break;
                    }
                    previous = next;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A scratch folder removed on drop (this crate has no tempfile dependency).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("conflux-project-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const WORKFLOW: &str = r#"{"definition": {"triggers": {}, "actions": {}}, "kind": "Stateful"}"#;

    #[test]
    fn strips_comments_but_not_inside_strings() {
        let text =
            "{\n // note\n \"url\": \"http://x/*y*/\", /* block\n more */ \"a\": \"\\\"//\" }";
        let value: Value = serde_json::from_str(&strip_comments(text)).unwrap();
        assert_eq!(value["url"], "http://x/*y*/");
        assert_eq!(value["a"], "\"//");
    }

    #[test]
    fn loads_workflows_kinds_and_reports_broken_ones() {
        let dir = TempDir::new();
        write(dir.path(), "hello/workflow.json", WORKFLOW);
        write(
            dir.path(),
            "quick/workflow.json",
            r#"{"definition": {}, "kind": "stateless" // comment
            }"#,
        );
        write(dir.path(), "broken/workflow.json", "{\"definition\": ");
        write(dir.path(), "odd/workflow.json", r#"{"kind": "Eventual"}"#);
        write(dir.path(), "notes/readme.txt", "no workflow here");
        let project = Project::load_with_env(dir.path(), &no_env).unwrap();
        let names: Vec<_> = project.workflows.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["hello", "quick"]);
        assert_eq!(project.workflows[1].kind, WorkflowKind::Stateless);
        assert_eq!(project.problems.len(), 2, "{:?}", project.problems);
        let broken = &project.problems[0];
        assert!(broken.file.ends_with("broken/workflow.json"));
        assert!(broken.message.contains("line 1"), "{}", broken.message);
        assert_eq!(project.problems[1].path, "$.kind");
    }

    #[test]
    fn resolves_app_settings_with_environment_overrides() {
        let dir = TempDir::new();
        write(
            dir.path(),
            "local.settings.json",
            r#"{"IsEncrypted": false, "Values": {"Greeting": "hi", "DbHost": "localhost", "Port": 5432}}"#,
        );
        write(
            dir.path(),
            "parameters.json",
            r#"{
              "greeting": {"type": "String", "value": "@appsetting('Greeting')"},
              "url": {"type": "String", "value": "http://@{appsetting('DbHost')}:@{appsetting('Port')}/x"},
              "plain": {"type": "Int", "value": 3}
            }"#,
        );
        write(
            dir.path(),
            "connections.json",
            r#"{"serviceProviderConnections": {"db": {
                "parameterValues": {"host": "@appsetting('DbHost')", "missing": ["@appsetting('Nope')"]},
                "serviceProvider": {"id": "/serviceProviders/postgres"},
                "displayName": "Orders DB"}},
              "managedApiConnections": {"office": {"api": {}}}}"#,
        );
        let env = |name: &str| (name == "DbHost").then(|| "db.internal".to_string());
        let project = Project::load_with_env(dir.path(), &env).unwrap();
        assert_eq!(project.parameters["greeting"].value, "hi");
        assert_eq!(project.parameters["url"].value, "http://db.internal:5432/x");
        assert_eq!(project.parameters["plain"].value, 3);
        let db = &project.connections.service_providers["db"];
        assert_eq!(db.parameter_values["host"], "db.internal");
        assert_eq!(db.service_provider_id, "/serviceProviders/postgres");
        assert_eq!(db.display_name.as_deref(), Some("Orders DB"));
        assert!(project.connections.managed_api.get("office").is_some());
        assert_eq!(project.problems.len(), 1, "{:?}", project.problems);
        let problem = &project.problems[0];
        assert!(problem.file.ends_with("connections.json"));
        assert_eq!(
            problem.path,
            "$.serviceProviderConnections.db.parameterValues.missing[0]"
        );
        assert!(problem.message.contains("`Nope`"));
    }

    #[test]
    fn reads_the_run_duration_limit_from_host_json() {
        let host = |v: Value| serde_json::json!({"extensions": {"workflow": {"settings": {RUN_TIMEOUT_SETTING: v}}}});
        let secs = |v: Value| run_timeout_setting(&host(v)).map(|d| d.map(|d| d.as_secs_f64()));
        assert_eq!(secs("90.00:00:00".into()), Ok(Some(90.0 * 86_400.0)));
        assert_eq!(secs("00:05:00".into()), Ok(Some(300.0)));
        assert_eq!(secs("1.02:03:04.5".into()), Ok(Some(93_784.5)));
        assert_eq!(secs("00:10".into()), Ok(Some(600.0)));
        assert_eq!(secs("PT90S".into()), Ok(Some(90.0)));
        assert_eq!(secs("3".into()), Ok(Some(3.0 * 86_400.0)));
        assert_eq!(secs(2.into()), Ok(Some(2.0 * 86_400.0)));
        for bad in ["00:00:00", "25:00:00", "soon", "1.2.3", "00:61:00", ""] {
            assert!(secs(bad.into()).is_err(), "{bad}");
        }
        assert!(secs(Value::Bool(true)).is_err());
        assert_eq!(run_timeout_setting(&serde_json::json!({})), Ok(None));

        let dir = TempDir::new();
        write(
            dir.path(),
            "host.json",
            r#"{"version": "2.0", "extensions": {"workflow": {"settings": {"Runtime.Backend.FlowRunTimeout": "00:30:00"}}}}"#,
        );
        let project = Project::load_with_env(dir.path(), &no_env).unwrap();
        assert_eq!(project.run_timeout(), Some(Duration::from_secs(1800)));
        assert!(project.problems.is_empty(), "{:?}", project.problems);

        write(
            dir.path(),
            "host.json",
            r#"{"extensions": {"workflow": {"settings": {"Runtime.Backend.FlowRunTimeout": "forever"}}}}"#,
        );
        let project = Project::load_with_env(dir.path(), &no_env).unwrap();
        assert_eq!(project.run_timeout(), None);
        assert_eq!(project.problems.len(), 1, "{:?}", project.problems);
        assert_eq!(
            project.problems[0].path,
            "$.extensions.workflow.settings['Runtime.Backend.FlowRunTimeout']"
        );
        assert!(project.problems[0].message.contains("forever"));

        // The stateless limit is its own setting, checked the same way.
        write(
            dir.path(),
            "host.json",
            r#"{"extensions": {"workflow": {"settings": {"Runtime.Backend.Stateless.FlowRunTimeout": "00:02:00"}}}}"#,
        );
        let project = Project::load_with_env(dir.path(), &no_env).unwrap();
        assert_eq!(
            project.stateless_run_timeout(),
            Some(Duration::from_secs(120))
        );
        assert_eq!(project.run_timeout(), None);
        assert!(project.problems.is_empty(), "{:?}", project.problems);
        write(
            dir.path(),
            "host.json",
            r#"{"extensions": {"workflow": {"settings": {"Runtime.Backend.Stateless.FlowRunTimeout": "later"}}}}"#,
        );
        let project = Project::load_with_env(dir.path(), &no_env).unwrap();
        assert_eq!(project.stateless_run_timeout(), None);
        assert_eq!(
            project.problems[0].path,
            "$.extensions.workflow.settings['Runtime.Backend.Stateless.FlowRunTimeout']"
        );
        assert!(project.problems[0]
            .message
            .contains("Stateless.FlowRunTimeout"));
    }

    #[test]
    fn missing_folder_is_an_error_and_empty_folder_is_an_empty_project() {
        let dir = TempDir::new();
        assert!(Project::load_with_env(&dir.path().join("absent"), &no_env).is_err());
        let project = Project::load_with_env(dir.path(), &no_env).unwrap();
        assert!(project.workflows.is_empty() && project.problems.is_empty());
        assert!(project.host.is_object());
    }
}
