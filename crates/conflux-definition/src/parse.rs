//! From JSON to the typed model, collecting every finding on the way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use conflux_expr::{CompiledValue, Template};
use indexmap::IndexMap;
use serde_json::{Map as JsonMap, Value as Json};

use crate::condition::null_value;
use crate::model::*;
use crate::{DefinitionError, Finding};

/// Action types that Conflux hands to plugged executors (connectors) rather
/// than running itself. `conflux validate` accepts them; the engine requires an
/// executor for each one a workflow uses.
pub const CONNECTOR_ACTION_TYPES: &[&str] = &[
    "ServiceProvider",
    "ApiConnection",
    "ApiConnectionWebhook",
    "HttpWebhook",
    "Function",
    "JavaScriptCode",
    "ApiManagement",
];

/// Limits from the language reference (§9).
pub(crate) const MAX_ACTIONS: usize = 500;
pub(crate) const MAX_DEPTH: usize = 8;
pub(crate) const MAX_NAME_LEN: usize = 80;
pub(crate) const MAX_SWITCH_CASES: usize = 25;
pub(crate) const MAX_RETRY_COUNT: u64 = 90;

/// Where an action map sits, for placement rules.
#[derive(Clone, Copy)]
pub(crate) struct Place {
    pub depth: usize,
    pub top_level: bool,
    pub in_loop: bool,
}

pub(crate) struct Loader {
    pub findings: Vec<Finding>,
    pub all: NameMap<String, Arc<ActionDefinition>>,
    pub first_seen: HashMap<String, String>,
    pub action_count: usize,
    pub has_response: bool,
    /// runAfter names that are not siblings, checked once every name is known.
    pub foreign_run_after: Vec<(String, String)>,
    /// Names of secure parameters, lower-cased.
    pub secure_parameters: Vec<String>,
    /// Paths of Response actions already reported as in a parallel branch.
    pub parallel_responses: std::collections::HashSet<String>,
}

/// Appends a property to a JSON path (`$.a` + `b` → `$.a.b`, `$.a` + `x y` → `$.a['x y']`).
pub(crate) fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}['{}']", key.replace('\'', "\\'"))
    }
}

fn get_ci<'a>(map: &'a JsonMap<String, Json>, key: &str) -> Option<&'a Json> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

pub(crate) fn load(doc: &Json) -> Result<Workflow, DefinitionError> {
    let mut l = Loader {
        findings: Vec::new(),
        all: NameMap::default(),
        first_seen: HashMap::new(),
        action_count: 0,
        has_response: false,
        foreign_run_after: Vec::new(),
        secure_parameters: Vec::new(),
        parallel_responses: std::collections::HashSet::new(),
    };
    let Some(obj) = doc.as_object() else {
        return Err(DefinitionError::Invalid {
            findings: vec![Finding {
                path: "$".into(),
                message: "a workflow must be a JSON object".into(),
            }],
        });
    };
    // A workflow.json wraps the definition; a bare definition has triggers/actions.
    let (def, root, standard) = match obj.get("definition") {
        Some(Json::Object(d)) => (d, "$.definition".to_string(), true),
        Some(_) => {
            return Err(DefinitionError::Invalid {
                findings: vec![Finding {
                    path: "$.definition".into(),
                    message: "'definition' must be an object".into(),
                }],
            })
        }
        None => (obj, "$".to_string(), false),
    };
    let kind = match obj.get("kind").and_then(Json::as_str) {
        None => WorkflowKind::Stateful,
        Some(k) if k.eq_ignore_ascii_case("stateful") => WorkflowKind::Stateful,
        Some(k) if k.eq_ignore_ascii_case("stateless") => WorkflowKind::Stateless,
        Some(k) => {
            l.finding(
                "$.kind",
                &format!("'{k}' is not a workflow kind (use 'Stateful' or 'Stateless')"),
            );
            WorkflowKind::Stateful
        }
    };

    let parameters = l.parameters(def.get("parameters"), &child(&root, "parameters"));
    l.secure_parameters = parameters
        .values()
        .filter(|p| p.kind.is_secure())
        .map(|p| p.name.to_ascii_lowercase())
        .collect();
    let triggers = l.triggers(def.get("triggers"), &child(&root, "triggers"), standard);
    let actions = l.action_map(
        def.get("actions"),
        &child(&root, "actions"),
        Place {
            depth: 1,
            top_level: true,
            in_loop: false,
        },
    );
    let outputs = l.outputs(def.get("outputs"), &child(&root, "outputs"));
    let static_results = l.static_results(def.get("staticResults"), &child(&root, "staticResults"));

    if l.action_count > MAX_ACTIONS {
        l.finding(
            &child(&root, "actions"),
            &format!(
                "the workflow has {} actions; at most {MAX_ACTIONS} are allowed",
                l.action_count
            ),
        );
    }
    for (path, name) in std::mem::take(&mut l.foreign_run_after) {
        let msg = if l.all.contains_key(&name) {
            format!("runAfter names '{name}', which is not in the same container; runAfter may only name sibling actions")
        } else {
            format!("runAfter names '{name}', which does not exist")
        };
        l.finding(&path, &msg);
    }
    // Static result references must resolve.
    for a in l.all.values() {
        if let Some(sr) = &a.runtime.static_result {
            if !static_results.contains_key(&sr.name) {
                let p = format!("{}.runtimeConfiguration.staticResult.name", a.path);
                let m = format!(
                    "the static result '{}' is not defined in staticResults",
                    sr.name
                );
                l.findings.push(Finding {
                    path: p,
                    message: m,
                });
            }
        }
    }
    if !l.findings.is_empty() {
        let mut findings = l.findings;
        findings.sort_by(|a, b| a.path.cmp(&b.path));
        findings.dedup();
        return Err(DefinitionError::Invalid { findings });
    }
    Ok(Workflow {
        kind,
        parameters,
        triggers,
        actions,
        outputs,
        static_results,
        all_actions: l.all,
        has_response: l.has_response,
        result_targets: result_targets(doc),
    })
}

/// Names given as a quoted literal to `result(...)`, lower-cased (a textual
/// scan of the whole document, so conditions and loop expressions count too).
fn result_targets(doc: &Json) -> std::collections::HashSet<String> {
    let text = doc.to_string().to_ascii_lowercase();
    let mut out = std::collections::HashSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("result(") {
        rest = &rest[at + "result(".len()..];
        let arg = rest.trim_start();
        if let Some(name) = arg.strip_prefix('\'') {
            if let Some(end) = name.find('\'') {
                out.insert(name[..end].to_string());
            }
        }
    }
    out
}

/// Unknown action types, found by walking the raw document (used when the model
/// could not be built).
pub(crate) fn unknown_types_in_doc(doc: &Json, accepts: &dyn Fn(&str) -> bool) -> Vec<Finding> {
    let (def, root) = match doc.get("definition") {
        Some(d) => (d, "$.definition"),
        None => (doc, "$"),
    };
    let mut out = Vec::new();
    walk_types(
        def.get("actions"),
        &child(root, "actions"),
        accepts,
        &mut out,
    );
    out
}

fn walk_types(
    map: Option<&Json>,
    path: &str,
    accepts: &dyn Fn(&str) -> bool,
    out: &mut Vec<Finding>,
) {
    let Some(Json::Object(map)) = map else { return };
    for (name, a) in map {
        let apath = child(path, name);
        if let Some(t) = a.get("type").and_then(Json::as_str) {
            if !is_builtin(t) && !accepts(t) {
                out.push(Finding {
                    path: format!("{apath}.type"),
                    message: format!("the action type '{t}' is not known to Conflux and no installed connector provides it"),
                });
            }
        }
        walk_types(a.get("actions"), &child(&apath, "actions"), accepts, out);
        if let Some(e) = a.get("else") {
            walk_types(
                e.get("actions"),
                &child(&child(&apath, "else"), "actions"),
                accepts,
                out,
            );
        }
        if let Some(d) = a.get("default") {
            walk_types(
                d.get("actions"),
                &child(&child(&apath, "default"), "actions"),
                accepts,
                out,
            );
        }
        if let Some(Json::Object(cases)) = a.get("cases") {
            for (cname, c) in cases {
                let cp = child(&child(&apath, "cases"), cname);
                walk_types(c.get("actions"), &child(&cp, "actions"), accepts, out);
            }
        }
    }
}

const BUILTIN_TYPES: &[&str] = &[
    "compose",
    "parsejson",
    "query",
    "select",
    "join",
    "table",
    "initializevariable",
    "setvariable",
    "incrementvariable",
    "decrementvariable",
    "appendtoarrayvariable",
    "appendtostringvariable",
    "if",
    "switch",
    "foreach",
    "until",
    "scope",
    "terminate",
    "wait",
    "response",
    "http",
    "workflow",
    "expression",
];

/// Whether Conflux itself runs actions of this type.
pub fn is_builtin(type_name: &str) -> bool {
    let t = type_name.to_ascii_lowercase();
    BUILTIN_TYPES.contains(&t.as_str())
}

impl Loader {
    pub(crate) fn finding(&mut self, path: &str, message: &str) {
        self.findings.push(Finding {
            path: path.to_string(),
            message: message.to_string(),
        });
    }

    /// Compiles a JSON value; compile errors become findings.
    pub(crate) fn compile(&mut self, json: &Json, path: &str) -> CompiledValue {
        match CompiledValue::compile(json, path) {
            Ok(v) => v,
            Err(errors) => {
                for e in errors {
                    self.findings.push(Finding {
                        path: e.path.clone(),
                        message: format!("the expression could not be compiled: {}", e.error),
                    });
                }
                null_value()
            }
        }
    }

    fn compile_opt(&mut self, json: Option<&Json>, path: &str) -> CompiledValue {
        match json {
            Some(j) => self.compile(j, path),
            None => null_value(),
        }
    }

    fn template(&mut self, json: Option<&Json>, path: &str) -> Option<Template> {
        match json {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => match Template::compile(s) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.finding(path, &format!("the expression could not be compiled: {e}"));
                    None
                }
            },
            Some(_) => {
                self.finding(path, "must be an expression string");
                None
            }
        }
    }

    pub(crate) fn duration(&mut self, json: Option<&Json>, path: &str) -> Option<Duration> {
        let text = match json? {
            Json::String(s) => s,
            _ => {
                self.finding(path, "must be an ISO 8601 duration string such as 'PT30S'");
                return None;
            }
        };
        if text.starts_with('@') {
            // Computed at run time; checked then.
            return None;
        }
        match conflux_expr::time::parse_duration(text) {
            Ok(d) => match d.to_std() {
                Some(d) => Some(d),
                None => {
                    self.finding(path, &format!("'{text}' must be a positive duration of fixed length (days, hours, minutes, seconds)"));
                    None
                }
            },
            Err(e) => {
                self.finding(path, &e.to_string());
                None
            }
        }
    }

    fn parameters(
        &mut self,
        json: Option<&Json>,
        path: &str,
    ) -> IndexMap<String, ParameterDefinition> {
        let mut out = IndexMap::new();
        let Some(json) = json else { return out };
        let Some(map) = json.as_object() else {
            self.finding(path, "'parameters' must be an object");
            return out;
        };
        for (name, p) in map {
            let ppath = child(path, name);
            let type_text = p.get("type").and_then(Json::as_str).unwrap_or("");
            let Some(kind) = ParameterType::parse(type_text) else {
                self.finding(&child(&ppath, "type"), &format!("'{type_text}' is not a parameter type (string, securestring, int, float, bool, array, object, secureobject)"));
                continue;
            };
            let default_value = p.get("defaultValue").cloned();
            let allowed_values = match p.get("allowedValues") {
                None => None,
                Some(Json::Array(a)) => Some(a.clone()),
                Some(_) => {
                    self.finding(&child(&ppath, "allowedValues"), "must be an array");
                    None
                }
            };
            if let (Some(d), Some(allowed)) = (&default_value, &allowed_values) {
                if !allowed.contains(d) {
                    self.finding(
                        &child(&ppath, "defaultValue"),
                        "the default value is not one of allowedValues",
                    );
                }
            }
            out.insert(
                name.clone(),
                ParameterDefinition {
                    name: name.clone(),
                    kind,
                    default_value,
                    allowed_values,
                },
            );
        }
        out
    }

    fn triggers(
        &mut self,
        json: Option<&Json>,
        path: &str,
        standard: bool,
    ) -> IndexMap<String, TriggerDefinition> {
        let mut out = IndexMap::new();
        let empty = JsonMap::new();
        let map = match json {
            None => &empty,
            Some(Json::Object(m)) => m,
            Some(_) => {
                self.finding(path, "'triggers' must be an object");
                &empty
            }
        };
        if standard && map.len() != 1 {
            self.finding(
                path,
                &format!(
                    "a Standard workflow must have exactly one trigger, found {}",
                    map.len()
                ),
            );
        } else if map.len() > 10 {
            self.finding(path, "a workflow may have at most 10 triggers");
        }
        for (name, t) in map {
            let tpath = child(path, name);
            self.check_name(name, &tpath);
            let Some(tobj) = t.as_object() else {
                self.finding(&tpath, "a trigger must be an object");
                continue;
            };
            let type_name = match tobj.get("type").and_then(Json::as_str) {
                Some(t) => t.to_string(),
                None => {
                    self.finding(&child(&tpath, "type"), "a trigger needs a 'type'");
                    String::new()
                }
            };
            let (inputs, retry_policy) =
                self.inputs_and_retry(tobj.get("inputs"), &child(&tpath, "inputs"));
            let mut conditions = Vec::new();
            if let Some(cs) = tobj.get("conditions") {
                match cs {
                    Json::Array(items) => {
                        for (i, c) in items.iter().enumerate() {
                            let cp = format!("{}[{i}].expression", child(&tpath, "conditions"));
                            if let Some(t) = self.template(c.get("expression"), &cp) {
                                conditions.push(t);
                            }
                        }
                    }
                    _ => self.finding(
                        &child(&tpath, "conditions"),
                        "must be an array of {\"expression\": ...}",
                    ),
                }
            }
            let split_on = self.template(tobj.get("splitOn"), &child(&tpath, "splitOn"));
            let runtime = self.runtime(
                tobj.get("runtimeConfiguration"),
                &child(&tpath, "runtimeConfiguration"),
            );
            let options = self.options(
                tobj.get("operationOptions"),
                &child(&tpath, "operationOptions"),
            );
            self.check_trigger_concurrency(&runtime, &options, &tpath);
            out.insert(
                name.clone(),
                TriggerDefinition {
                    name: name.clone(),
                    path: tpath,
                    type_name,
                    kind: tobj.get("kind").and_then(Json::as_str).map(str::to_string),
                    inputs,
                    recurrence: tobj.get("recurrence").cloned(),
                    conditions,
                    split_on,
                    runtime,
                    options,
                    retry_policy,
                    raw: Arc::new(t.clone()),
                },
            );
        }
        out
    }

    fn outputs(&mut self, json: Option<&Json>, path: &str) -> Vec<OutputDefinition> {
        let Some(Json::Object(map)) = json else {
            if json.is_some() {
                self.finding(path, "'outputs' must be an object");
            }
            return Vec::new();
        };
        if map.len() > 10 {
            self.finding(path, "a workflow may have at most 10 outputs");
        }
        map.iter()
            .map(|(name, o)| {
                let opath = child(path, name);
                OutputDefinition {
                    name: name.clone(),
                    type_name: o
                        .get("type")
                        .and_then(Json::as_str)
                        .unwrap_or("object")
                        .to_string(),
                    value: self.compile_opt(o.get("value"), &child(&opath, "value")),
                }
            })
            .collect()
    }

    fn static_results(&mut self, json: Option<&Json>, path: &str) -> HashMap<String, StaticResult> {
        let mut out = HashMap::new();
        let Some(Json::Object(map)) = json else {
            return out;
        };
        for (name, r) in map {
            let status = r
                .get("status")
                .and_then(Json::as_str)
                .unwrap_or("Succeeded")
                .to_string();
            if !["succeeded", "failed", "skipped", "timedout"]
                .contains(&status.to_ascii_lowercase().as_str())
            {
                self.finding(
                    &child(&child(path, name), "status"),
                    &format!("'{status}' is not an action status"),
                );
            }
            out.insert(
                name.clone(),
                StaticResult {
                    status,
                    outputs: r.get("outputs").cloned().unwrap_or(Json::Null),
                    error: r.get("error").cloned(),
                },
            );
        }
        out
    }

    pub(crate) fn check_name(&mut self, name: &str, path: &str) {
        if name.chars().count() > MAX_NAME_LEN {
            self.finding(
                path,
                &format!(
                    "the name is {} characters long; at most {MAX_NAME_LEN} are allowed",
                    name.chars().count()
                ),
            );
        }
        if let Some(first) = self.first_seen.get(name) {
            let msg = format!("the name '{name}' is already used at {first}; names must be unique across the whole definition");
            self.finding(path, &msg);
        } else {
            self.first_seen.insert(name.to_string(), path.to_string());
        }
    }

    pub(crate) fn options(&mut self, json: Option<&Json>, path: &str) -> OperationOptions {
        match json {
            None | Some(Json::Null) => OperationOptions::default(),
            Some(Json::String(s)) => OperationOptions::parse(s),
            Some(_) => {
                self.finding(path, "must be a comma-separated string");
                OperationOptions::default()
            }
        }
    }

    /// Trigger concurrency limits (§4.9): runs 1–100, a waiting queue of
    /// 10–200 that holds at least as many runs as may run, and SingleInstance
    /// as the one-run shorthand rather than an addition to `runs`.
    fn check_trigger_concurrency(
        &mut self,
        rc: &RuntimeConfiguration,
        options: &OperationOptions,
        tpath: &str,
    ) {
        let cpath = child(&child(tpath, "runtimeConfiguration"), "concurrency");
        if let Some(runs) = rc.runs {
            if !(1..=100).contains(&runs) {
                self.finding(
                    &child(&cpath, "runs"),
                    &format!("runs must be between 1 and 100, not {runs}"),
                );
            }
            if options.single_instance {
                self.finding(
                    &child(tpath, "operationOptions"),
                    "SingleInstance cannot be combined with runtimeConfiguration.concurrency.runs; SingleInstance means runs = 1, so use one of them",
                );
            }
        }
        if let Some(waiting) = rc.maximum_waiting_runs {
            let wpath = child(&cpath, "maximumWaitingRuns");
            if !(10..=200).contains(&waiting) {
                self.finding(
                    &wpath,
                    &format!("maximumWaitingRuns must be between 10 and 200, not {waiting}"),
                );
            } else if let Some(runs) = rc.runs.filter(|r| waiting < *r) {
                self.finding(
                    &wpath,
                    &format!(
                        "maximumWaitingRuns ({waiting}) must be at least concurrency.runs ({runs})"
                    ),
                );
            }
        }
    }

    pub(crate) fn runtime(&mut self, json: Option<&Json>, path: &str) -> RuntimeConfiguration {
        let mut rc = RuntimeConfiguration::default();
        let Some(json) = json else { return rc };
        let Some(obj) = json.as_object() else {
            self.finding(path, "must be an object");
            return rc;
        };
        if let Some(c) = get_ci(obj, "concurrency") {
            let cpath = child(path, "concurrency");
            rc.repetitions = self.uint(c.get("repetitions"), &child(&cpath, "repetitions"));
            rc.runs = self.uint(c.get("runs"), &child(&cpath, "runs"));
            rc.maximum_waiting_runs = self.uint(
                c.get("maximumWaitingRuns"),
                &child(&cpath, "maximumWaitingRuns"),
            );
        }
        if let Some(sd) = get_ci(obj, "secureData") {
            match sd.get("properties") {
                Some(Json::Array(props)) => {
                    for p in props {
                        match p.as_str().map(str::to_ascii_lowercase).as_deref() {
                            Some("inputs") => rc.secure_data.inputs = true,
                            Some("outputs") => rc.secure_data.outputs = true,
                            _ => self.finding(
                                &child(&child(path, "secureData"), "properties"),
                                "entries must be \"inputs\" or \"outputs\"",
                            ),
                        }
                    }
                }
                _ => self.finding(
                    &child(path, "secureData"),
                    "secureData needs 'properties': [\"inputs\", \"outputs\"]",
                ),
            }
        }
        if let Some(sr) = get_ci(obj, "staticResult") {
            match sr.get("name").and_then(Json::as_str) {
                Some(name) => {
                    rc.static_result = Some(StaticResultRef {
                        name: name.to_string(),
                        enabled: sr
                            .get("staticResultOptions")
                            .and_then(Json::as_str)
                            .is_some_and(|o| o.eq_ignore_ascii_case("enabled")),
                    })
                }
                None => self.finding(&child(path, "staticResult"), "staticResult needs a 'name'"),
            }
        }
        if let Some(pp) = get_ci(obj, "paginationPolicy") {
            let ppath = child(path, "paginationPolicy");
            match pp.get("minimumItemCount") {
                Some(n) => match n.as_u64() {
                    Some(count) if count >= 1 => rc.pagination_minimum_item_count = Some(count),
                    _ => self.finding(
                        &child(&ppath, "minimumItemCount"),
                        &format!("minimumItemCount must be a positive integer (the number of items to collect), not {n}"),
                    ),
                },
                None => self.finding(
                    &ppath,
                    "paginationPolicy needs 'minimumItemCount': the number of items to collect across pages",
                ),
            }
        }
        rc
    }

    fn uint(&mut self, json: Option<&Json>, path: &str) -> Option<u32> {
        match json? {
            Json::Number(n) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(v) => Some(v),
                None => {
                    self.finding(path, "must be a positive integer");
                    None
                }
            },
            _ => {
                self.finding(path, "must be a positive integer");
                None
            }
        }
    }

    /// Compiles `inputs` without its `retryPolicy`, which is parsed on its own.
    pub(crate) fn inputs_and_retry(
        &mut self,
        json: Option<&Json>,
        path: &str,
    ) -> (Option<CompiledValue>, RetryPolicy) {
        let Some(json) = json else {
            return (None, RetryPolicy::Default);
        };
        if let Json::Object(map) = json {
            if let Some(rp) = map.get("retryPolicy") {
                let retry = self.retry_policy(rp, &child(path, "retryPolicy"));
                let mut rest = map.clone();
                rest.remove("retryPolicy");
                return (Some(self.compile(&Json::Object(rest), path)), retry);
            }
        }
        (Some(self.compile(json, path)), RetryPolicy::Default)
    }

    fn retry_policy(&mut self, json: &Json, path: &str) -> RetryPolicy {
        let Some(obj) = json.as_object() else {
            self.finding(path, "must be an object with a 'type'");
            return RetryPolicy::Default;
        };
        let type_name = obj
            .get("type")
            .and_then(Json::as_str)
            .unwrap_or("default")
            .to_ascii_lowercase();
        let count = match obj.get("count") {
            None => 4,
            Some(c) => match c.as_u64() {
                Some(n) if (1..=MAX_RETRY_COUNT).contains(&n) => n as u32,
                _ => {
                    self.finding(
                        &child(path, "count"),
                        &format!("the retry count must be an integer from 1 to {MAX_RETRY_COUNT}"),
                    );
                    4
                }
            },
        };
        let interval = self.duration(obj.get("interval"), &child(path, "interval"));
        let min = self.duration(obj.get("minimumInterval"), &child(path, "minimumInterval"));
        let max = self.duration(obj.get("maximumInterval"), &child(path, "maximumInterval"));
        match type_name.as_str() {
            "default" => RetryPolicy::Default,
            "none" => RetryPolicy::None,
            "fixed" => {
                if interval.is_none() && obj.get("interval").is_none() {
                    self.finding(path, "a fixed retry policy needs an 'interval'");
                }
                RetryPolicy::Fixed {
                    count,
                    interval: interval.unwrap_or(Duration::from_secs(7)),
                }
            }
            "exponential" => {
                if obj.get("interval").is_none() {
                    self.finding(path, "an exponential retry policy needs an 'interval'");
                }
                RetryPolicy::Exponential {
                    count,
                    interval: interval.unwrap_or(Duration::from_secs(7)),
                    minimum_interval: min.unwrap_or(Duration::from_secs(5)),
                    maximum_interval: max.unwrap_or(Duration::from_secs(86_400)),
                }
            }
            other => {
                self.finding(
                    &child(path, "type"),
                    &format!(
                        "'{other}' is not a retry policy type (default, none, fixed, exponential)"
                    ),
                );
                RetryPolicy::Default
            }
        }
    }
}
