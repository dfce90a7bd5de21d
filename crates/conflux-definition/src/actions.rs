//! Loading actions and their containers: per-type inputs, runAfter graphs
//! (missing names, cycles), placement rules and limits.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map as JsonMap, Value as Json};

use crate::condition::null_value;
use crate::model::*;
use crate::parse::{child, Loader, Place, MAX_DEPTH, MAX_SWITCH_CASES};

fn empty_obj() -> &'static JsonMap<String, Json> {
    static EMPTY: std::sync::OnceLock<JsonMap<String, Json>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(JsonMap::new)
}

impl Loader {
    pub(crate) fn action_map(
        &mut self,
        json: Option<&Json>,
        path: &str,
        place: Place,
    ) -> ActionMap {
        let map = match json {
            None | Some(Json::Null) => return ActionMap::default(),
            Some(Json::Object(m)) => m,
            Some(_) => {
                self.finding(path, "'actions' must be an object of named actions");
                return ActionMap::default();
            }
        };
        if place.depth > MAX_DEPTH {
            self.finding(
                path,
                &format!(
                    "actions are nested {} levels deep; at most {MAX_DEPTH} are allowed",
                    place.depth
                ),
            );
        }
        let mut actions = Vec::with_capacity(map.len());
        let mut by_name = NameMap::with_capacity_and_hasher(map.len(), Default::default());
        for (name, a) in map {
            let apath = child(path, name);
            if let Some(def) = self.action(name, a, &apath, place) {
                by_name.insert(name.clone(), actions.len());
                actions.push(def);
            }
        }
        // Resolve runAfter to sibling indexes.
        let mut successors = vec![Vec::new(); actions.len()];
        let mut resolved: Vec<Vec<RunAfter>> = Vec::with_capacity(actions.len());
        for (i, (name, a)) in map
            .iter()
            .filter(|(n, _)| by_name.contains_key(*n))
            .enumerate()
        {
            let mut list = Vec::new();
            let rpath = child(&child(path, name), "runAfter");
            match a.get("runAfter") {
                None | Some(Json::Null) => {}
                Some(Json::Object(ra)) => {
                    for (pred, statuses) in ra {
                        let ppath = child(&rpath, pred);
                        let statuses = self.run_after_statuses(statuses, &ppath);
                        if pred == name {
                            self.finding(&ppath, "an action cannot run after itself");
                            continue;
                        }
                        match by_name.get(pred) {
                            Some(&j) => {
                                successors[j].push(i);
                                list.push(RunAfter {
                                    action: pred.clone(),
                                    index: j,
                                    statuses,
                                });
                            }
                            None => self.foreign_run_after.push((ppath, pred.clone())),
                        }
                    }
                }
                Some(_) => self.finding(
                    &rpath,
                    "runAfter must be an object {\"Action\": [\"Succeeded\"]}",
                ),
            }
            resolved.push(list);
        }
        self.check_cycles(&resolved, &actions, path);
        if !place.in_loop {
            // Inside loops any Response is reported already.
            self.check_parallel_responses(&resolved, &actions);
        }
        // The graph is final: move it into the definitions (they are not shared yet).
        let actions: Vec<Arc<ActionDefinition>> = actions
            .into_iter()
            .zip(resolved)
            .map(|(mut a, ra)| {
                a.run_after = ra;
                let a = Arc::new(a);
                self.all
                    .entry(a.name.to_string())
                    .or_insert_with(|| a.clone());
                a
            })
            .collect();
        ActionMap {
            actions,
            by_name,
            successors,
        }
    }

    fn run_after_statuses(&mut self, json: &Json, path: &str) -> Vec<RunAfterStatus> {
        let Json::Array(items) = json else {
            self.finding(
                path,
                "must be an array of statuses (Succeeded, Failed, Skipped, TimedOut)",
            );
            return vec![RunAfterStatus::Succeeded];
        };
        let mut out = Vec::new();
        for (k, s) in items.iter().enumerate() {
            match s.as_str().and_then(RunAfterStatus::parse) {
                Some(st) => out.push(st),
                None => self.finding(
                    &format!("{path}[{k}]"),
                    &format!("{s} is not a runAfter status (Succeeded, Failed, Skipped, TimedOut)"),
                ),
            }
        }
        if items.is_empty() {
            // An empty list is the designer's way of saying "after it succeeded".
            out.push(RunAfterStatus::Succeeded);
        }
        out
    }

    fn check_cycles(
        &mut self,
        run_after: &[Vec<RunAfter>],
        actions: &[ActionDefinition],
        path: &str,
    ) {
        let n = run_after.len();
        let (order, indegree) = run_after_order(run_after);
        if order.len() < n {
            let names: Vec<&str> = (0..n)
                .filter(|&i| indegree[i] > 0)
                .map(|i| &*actions[i].name)
                .collect();
            for i in (0..n).filter(|&i| indegree[i] > 0) {
                let msg = format!(
                    "runAfter forms a cycle among {}; no action of it could ever start",
                    names.join(", ")
                );
                self.finding(&child(&child(path, &actions[i].name), "runAfter"), &msg);
            }
        }
    }

    /// Response actions must not be in parallel branches (§5.4). Only the case
    /// that certainly fails at run time is reported: two branches that both
    /// hold a Response and may both run (the second would find the request
    /// answered). A Response beside a branch of other work is accepted, as
    /// real projects have that shape. Two actions of
    /// one container are *parallel* when neither runs after the other
    /// (directly or through others) and their runAfter conditions do not
    /// exclude each other. They exclude each other when both depend on a
    /// common action with disjoint status lists — `Ok` after `Try:
    /// [Succeeded]` and `Error` after `Try: [Failed, TimedOut]` never both
    /// run — where "depends" follows runAfter through every action that must
    /// have run (its list does not accept Skipped). A Response inside a Scope,
    /// If or Switch is in a parallel branch when that container is.
    fn check_parallel_responses(
        &mut self,
        run_after: &[Vec<RunAfter>],
        actions: &[ActionDefinition],
    ) {
        let n = actions.len();
        let mut holds_response = vec![false; n];
        let holders: Vec<(usize, Vec<String>)> = (0..n)
            .filter_map(|i| {
                let mut paths = Vec::new();
                response_paths(&actions[i], &mut paths);
                holds_response[i] = !paths.is_empty();
                paths.retain(|p| !self.parallel_responses.contains(p));
                (!paths.is_empty()).then_some((i, paths))
            })
            .collect();
        if holders.is_empty() || n < 2 {
            return;
        }
        let Some(order) = topological_order(run_after) else {
            // A cycle is reported on its own.
            return;
        };
        // ancestors[i][j]: i runs (transitively) after j.
        let mut ancestors = vec![vec![false; n]; n];
        // For each action, the statuses each action it depends on must have
        // for it to run (bit set over Succeeded, Failed, Skipped, TimedOut).
        let mut needs: Vec<HashMap<usize, u8>> = vec![HashMap::new(); n];
        for &i in &order {
            for ra in &run_after[i] {
                let j = ra.index;
                let inherited = ancestors[j].clone();
                ancestors[i][j] = true;
                for (k, yes) in inherited.into_iter().enumerate() {
                    ancestors[i][k] |= yes;
                }
                let mut add = vec![(j, status_mask(&ra.statuses))];
                if !ra.statuses.contains(&RunAfterStatus::Skipped) {
                    // `j` must have run, so its own conditions held.
                    add.extend(needs[j].iter().map(|(&k, &m)| (k, m)));
                }
                for (k, m) in add {
                    *needs[i].entry(k).or_insert(ALL_STATUSES) &= m;
                }
            }
        }
        let exclusive = |a: usize, b: usize| {
            needs[a]
                .iter()
                .any(|(k, m)| needs[b].get(k).is_some_and(|o| m & o == 0))
        };
        for (i, paths) in holders {
            let Some(j) = (0..n).find(|&j| {
                j != i
                    && holds_response[j]
                    && !ancestors[i][j]
                    && !ancestors[j][i]
                    && !exclusive(i, j)
            }) else {
                continue;
            };
            let holder = &actions[i];
            let other = &actions[j].name;
            for p in paths {
                let place = if p == holder.path {
                    String::new()
                } else {
                    format!(" (it is inside '{}')", holder.name)
                };
                let msg = format!(
                    "Response is not allowed in a parallel branch: it may run at the same time as '{other}', which also responds{place}, as neither runs after the other; make one run after the other, or give them exclusive runAfter conditions (e.g. one after an action's Succeeded, the other after its Failed)"
                );
                self.finding(&p, &msg);
                self.parallel_responses.insert(p);
            }
        }
    }

    fn action(
        &mut self,
        name: &str,
        json: &Json,
        path: &str,
        place: Place,
    ) -> Option<ActionDefinition> {
        self.check_name(name, path);
        self.action_count += 1;
        let Some(obj) = json.as_object() else {
            self.finding(path, "an action must be an object");
            return None;
        };
        let type_name = match obj.get("type").and_then(Json::as_str) {
            Some(t) => t.to_string(),
            None => {
                self.finding(&child(path, "type"), "an action needs a 'type'");
                return None;
            }
        };
        let ipath = child(path, "inputs");
        let (inputs, retry_policy) = self.inputs_and_retry(obj.get("inputs"), &ipath);
        let input_references = inputs
            .as_ref()
            .map(|i| i.action_references())
            .unwrap_or_default();
        let inputs_or_null = |i: Option<conflux_expr::CompiledValue>| i.unwrap_or_else(null_value);
        let runtime = self.runtime(
            obj.get("runtimeConfiguration"),
            &child(path, "runtimeConfiguration"),
        );
        let options = self.options(
            obj.get("operationOptions"),
            &child(path, "operationOptions"),
        );
        let limit = self.limit(obj.get("limit"), &child(path, "limit"));
        let tracked_properties = obj
            .get("trackedProperties")
            .map(|t| self.compile(t, &child(path, "trackedProperties")));
        let raw_inputs = obj
            .get("inputs")
            .and_then(Json::as_object)
            .unwrap_or(empty_obj());
        let inner = Place {
            depth: place.depth + 1,
            top_level: false,
            in_loop: place.in_loop,
        };
        let lower = type_name.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "compose" => ActionKind::Compose {
                inputs: inputs_or_null(inputs),
            },
            "parsejson" => {
                let schema = raw_inputs.get("schema").cloned().unwrap_or(Json::Null);
                if !schema.is_object() && !schema.is_null() {
                    self.finding(
                        &child(&ipath, "schema"),
                        "the schema must be a JSON Schema object",
                    );
                }
                ActionKind::ParseJson {
                    content: self.compile_field(raw_inputs, "content", &ipath, true),
                    schema,
                }
            }
            "query" => ActionKind::Query {
                from: self.compile_field(raw_inputs, "from", &ipath, true),
                where_: self.compile_field(raw_inputs, "where", &ipath, true),
            },
            "select" => {
                let from = self.compile_field(raw_inputs, "from", &ipath, true);
                let spath = child(&ipath, "select");
                let select = match raw_inputs.get("select") {
                    Some(Json::Object(m)) => SelectMap::Object(
                        m.iter()
                            .map(|(k, v)| {
                                let kp = child(&spath, k);
                                (
                                    self.compile(&Json::String(k.clone()), &kp),
                                    self.compile(v, &kp),
                                )
                            })
                            .collect(),
                    ),
                    Some(v) => SelectMap::Single(self.compile(v, &spath)),
                    None => {
                        self.finding(&spath, "Select needs a 'select' map or expression");
                        SelectMap::Single(null_value())
                    }
                };
                ActionKind::Select { from, select }
            }
            "join" => ActionKind::Join {
                inputs: inputs_or_null(inputs),
            },
            "table" => {
                let columns = match raw_inputs.get("columns") {
                    None | Some(Json::Null) => None,
                    Some(Json::Array(cols)) => Some(
                        cols.iter()
                            .enumerate()
                            .map(|(k, c)| {
                                let cp = format!("{}[{k}]", child(&ipath, "columns"));
                                TableColumn {
                                    header: c
                                        .get("header")
                                        .map(|h| self.compile(h, &child(&cp, "header"))),
                                    value: self.compile(
                                        c.get("value").unwrap_or(&Json::Null),
                                        &child(&cp, "value"),
                                    ),
                                }
                            })
                            .collect(),
                    ),
                    Some(_) => {
                        self.finding(
                            &child(&ipath, "columns"),
                            "must be an array of {header, value}",
                        );
                        None
                    }
                };
                ActionKind::Table {
                    from: self.compile_field(raw_inputs, "from", &ipath, true),
                    format: self.compile_field(raw_inputs, "format", &ipath, false),
                    columns,
                }
            }
            "initializevariable" => {
                if !place.top_level {
                    self.finding(path, "InitializeVariable is only allowed at the top level of the workflow, not inside Scope, If, Switch, Foreach or Until");
                }
                self.check_variables(raw_inputs, &ipath);
                ActionKind::InitializeVariable {
                    inputs: inputs_or_null(inputs),
                }
            }
            "setvariable"
            | "incrementvariable"
            | "decrementvariable"
            | "appendtoarrayvariable"
            | "appendtostringvariable" => {
                let op = match lower.as_str() {
                    "setvariable" => VariableOp::Set,
                    "incrementvariable" => VariableOp::Increment,
                    "decrementvariable" => VariableOp::Decrement,
                    "appendtoarrayvariable" => VariableOp::AppendToArray,
                    _ => VariableOp::AppendToString,
                };
                if !raw_inputs.contains_key("name") {
                    self.finding(&ipath, "a variable action needs inputs.name");
                }
                if op == VariableOp::Set && !raw_inputs.contains_key("value") {
                    self.finding(&ipath, "SetVariable needs inputs.value");
                }
                ActionKind::Variable {
                    op,
                    inputs: inputs_or_null(inputs),
                }
            }
            "if" => {
                let condition = self.condition(obj.get("expression"), &child(path, "expression"));
                let actions = self.action_map(obj.get("actions"), &child(path, "actions"), inner);
                let epath = child(path, "else");
                let else_actions = self.action_map(
                    obj.get("else").and_then(|e| e.get("actions")),
                    &child(&epath, "actions"),
                    inner,
                );
                ActionKind::If {
                    condition,
                    actions,
                    else_actions,
                }
            }
            "switch" => self.switch(obj, path, inner),
            "foreach" => {
                let foreach = match obj.get("foreach") {
                    Some(f) => self.compile(f, &child(path, "foreach")),
                    None => {
                        self.finding(
                            &child(path, "foreach"),
                            "Foreach needs a 'foreach' expression giving an array",
                        );
                        null_value()
                    }
                };
                if let Some(r) = runtime.repetitions {
                    if !(1..=50).contains(&r) {
                        self.finding(
                            &format!("{path}.runtimeConfiguration.concurrency.repetitions"),
                            "Foreach repetitions must be from 1 to 50",
                        );
                    }
                    if options.sequential {
                        self.finding(&child(path, "operationOptions"), "Sequential cannot be combined with runtimeConfiguration.concurrency.repetitions; use one of them");
                    }
                }
                let actions = self.action_map(
                    obj.get("actions"),
                    &child(path, "actions"),
                    Place {
                        in_loop: true,
                        ..inner
                    },
                );
                ActionKind::Foreach { foreach, actions }
            }
            "until" => {
                if let Some(c) = limit.count {
                    if !(1..=5000).contains(&c) {
                        self.finding(
                            &format!("{path}.limit.count"),
                            "Until count must be from 1 to 5000",
                        );
                    }
                }
                let expression = self.condition(obj.get("expression"), &child(path, "expression"));
                let actions = self.action_map(
                    obj.get("actions"),
                    &child(path, "actions"),
                    Place {
                        in_loop: true,
                        ..inner
                    },
                );
                ActionKind::Until {
                    expression,
                    actions,
                }
            }
            "scope" => ActionKind::Scope {
                actions: self.action_map(obj.get("actions"), &child(path, "actions"), inner),
            },
            "terminate" => {
                if place.in_loop {
                    self.finding(path, "Terminate is not allowed inside Foreach or Until");
                }
                if let Some(s) = raw_inputs.get("runStatus").and_then(Json::as_str) {
                    if !["failed", "cancelled", "succeeded"]
                        .contains(&s.to_ascii_lowercase().as_str())
                    {
                        self.finding(
                            &child(&ipath, "runStatus"),
                            &format!(
                                "'{s}' is not a Terminate status (Failed, Cancelled, Succeeded)"
                            ),
                        );
                    }
                }
                ActionKind::Terminate {
                    inputs: inputs_or_null(inputs),
                }
            }
            "wait" => {
                if let Some(iv) = raw_inputs.get("interval").and_then(Json::as_object) {
                    if let Some(u) = iv.get("unit").and_then(Json::as_str) {
                        if !["second", "minute", "hour", "day", "week", "month"]
                            .contains(&u.to_ascii_lowercase().as_str())
                        {
                            self.finding(
                                &format!("{ipath}.interval.unit"),
                                &format!(
                                    "'{u}' is not a unit (Second, Minute, Hour, Day, Week, Month)"
                                ),
                            );
                        }
                    }
                } else if !raw_inputs.contains_key("until") {
                    self.finding(
                        &ipath,
                        "Wait needs inputs.interval {count, unit} or inputs.until {timestamp}",
                    );
                }
                ActionKind::Wait {
                    inputs: inputs_or_null(inputs),
                }
            }
            "response" => {
                self.has_response = true;
                if place.in_loop {
                    self.finding(path, "Response is not allowed inside Foreach or Until");
                }
                ActionKind::Response {
                    inputs: inputs_or_null(inputs),
                }
            }
            "http" => {
                for k in ["method", "uri"] {
                    if !raw_inputs.contains_key(k) {
                        self.finding(&ipath, &format!("an Http action needs inputs.{k}"));
                    }
                }
                ActionKind::Http {
                    inputs: inputs_or_null(inputs),
                }
            }
            "workflow" => ActionKind::Workflow {
                inputs: inputs_or_null(inputs),
            },
            "expression" => {
                let kind = obj
                    .get("kind")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let known = [
                    "addtotime",
                    "subtractfromtime",
                    "converttimezone",
                    "currenttime",
                    "getfuturetime",
                    "getpasttime",
                ];
                if !known.contains(&kind.as_str()) {
                    self.finding(&child(path, "kind"), &format!("'{kind}' is not an Expression kind (AddToTime, SubtractFromTime, ConvertTimeZone, CurrentTime, GetFutureTime, GetPastTime)"));
                }
                ActionKind::Expression {
                    kind,
                    inputs: inputs_or_null(inputs),
                }
            }
            _ => ActionKind::Other {
                type_name: type_name.clone(),
                kind: obj.get("kind").and_then(Json::as_str).map(str::to_string),
                inputs: inputs_or_null(inputs),
            },
        };
        Some(ActionDefinition {
            name: name.into(),
            path: path.to_string(),
            type_name,
            kind,
            run_after: Vec::new(),
            retry_policy,
            limit,
            runtime,
            options,
            tracked_properties,
            input_references,
            reads_secure_parameters: self.reads_secure_parameters(obj.get("inputs")),
            reads_trigger: reads_trigger(obj.get("inputs")),
            raw: Arc::new(json.clone()),
        })
    }

    /// A textual check for `parameters('<secure name>')` in the inputs.
    fn reads_secure_parameters(&self, inputs: Option<&Json>) -> bool {
        let Some(inputs) = inputs else { return false };
        if self.secure_parameters.is_empty() {
            return false;
        }
        let text = inputs.to_string().to_ascii_lowercase().replace(' ', "");
        self.secure_parameters
            .iter()
            .any(|p| text.contains(&format!("parameters('{p}')")))
    }

    fn compile_field(
        &mut self,
        inputs: &JsonMap<String, Json>,
        key: &str,
        ipath: &str,
        required: bool,
    ) -> conflux_expr::CompiledValue {
        match inputs.get(key) {
            Some(v) => self.compile(v, &child(ipath, key)),
            None => {
                if required {
                    self.finding(ipath, &format!("inputs.{key} is required"));
                }
                null_value()
            }
        }
    }

    fn limit(&mut self, json: Option<&Json>, path: &str) -> Limit {
        let Some(obj) = json.and_then(Json::as_object) else {
            return Limit::default();
        };
        Limit {
            timeout: self.duration(obj.get("timeout"), &child(path, "timeout")),
            count: match obj.get("count") {
                None => None,
                Some(c) => match c.as_u64() {
                    Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
                    None if c.as_str().is_some_and(|s| s.starts_with('@')) => None,
                    None => {
                        self.finding(&child(path, "count"), "must be a positive integer");
                        None
                    }
                },
            },
        }
    }

    fn check_variables(&mut self, inputs: &JsonMap<String, Json>, ipath: &str) {
        let vpath = child(ipath, "variables");
        let Some(Json::Array(vars)) = inputs.get("variables") else {
            self.finding(
                &vpath,
                "InitializeVariable needs inputs.variables: [{name, type, value}]",
            );
            return;
        };
        for (k, v) in vars.iter().enumerate() {
            let p = format!("{vpath}[{k}]");
            if v.get("name").and_then(Json::as_str).is_none() {
                self.finding(&p, "a variable needs a 'name'");
            }
            match v.get("type").and_then(Json::as_str) {
                Some(t) if ["boolean", "integer", "float", "string", "object", "array"].contains(&t.to_ascii_lowercase().as_str()) => {}
                Some(t) => self.finding(&child(&p, "type"), &format!("'{t}' is not a variable type (boolean, integer, float, string, object, array)")),
                None => self.finding(&p, "a variable needs a 'type'"),
            }
        }
    }

    fn switch(&mut self, obj: &JsonMap<String, Json>, path: &str, inner: Place) -> ActionKind {
        let expression = match obj.get("expression") {
            Some(e) => self.compile(e, &child(path, "expression")),
            None => {
                self.finding(&child(path, "expression"), "Switch needs an 'expression'");
                null_value()
            }
        };
        let cpath = child(path, "cases");
        let mut cases = Vec::new();
        match obj.get("cases") {
            None => {}
            Some(Json::Object(map)) => {
                if map.len() > MAX_SWITCH_CASES {
                    self.finding(
                        &cpath,
                        &format!(
                            "a Switch has {} cases; at most {MAX_SWITCH_CASES} are allowed",
                            map.len()
                        ),
                    );
                }
                let mut seen: Vec<&Json> = Vec::new();
                for (cname, c) in map {
                    let p = child(&cpath, cname);
                    let value = c.get("case").cloned().unwrap_or(Json::Null);
                    if !(value.is_string() || value.is_i64() || value.is_u64()) {
                        self.finding(
                            &child(&p, "case"),
                            "a case value must be a string or an integer",
                        );
                    }
                    if let Some(v) = c.get("case") {
                        if seen.contains(&v) {
                            self.finding(&child(&p, "case"), &format!("the case value {v} is used by another case; case values must be unique"));
                        }
                        seen.push(v);
                    }
                    let actions = self.action_map(c.get("actions"), &child(&p, "actions"), inner);
                    cases.push(SwitchCase {
                        name: cname.clone(),
                        value,
                        actions,
                    });
                }
            }
            Some(_) => self.finding(&cpath, "'cases' must be an object of named cases"),
        }
        let dpath = child(path, "default");
        let default = self.action_map(
            obj.get("default").and_then(|d| d.get("actions")),
            &child(&dpath, "actions"),
            inner,
        );
        ActionKind::Switch {
            expression,
            cases,
            default,
        }
    }
}

/// A textual check for a call of `trigger()`, `triggerBody()`,
/// `triggerOutputs()`, `triggerFormDataValue()`, ... in expression inputs.
fn reads_trigger(inputs: Option<&Json>) -> bool {
    let Some(inputs) = inputs else { return false };
    let text = inputs.to_string().to_ascii_lowercase();
    text.contains('@')
        && [
            "trigger(",
            "triggerbody(",
            "triggeroutputs(",
            "triggerformdata",
            "triggermultipartbody(",
        ]
        .iter()
        .any(|f| text.contains(f))
}

const ALL_STATUSES: u8 = 0b1111;

fn status_mask(statuses: &[RunAfterStatus]) -> u8 {
    statuses.iter().fold(0, |m, s| {
        m | match s {
            RunAfterStatus::Succeeded => 1,
            RunAfterStatus::Failed => 2,
            RunAfterStatus::Skipped => 4,
            RunAfterStatus::TimedOut => 8,
        }
    })
}

/// Indexes in an order where every action comes after those it runs after;
/// `None` when runAfter has a cycle.
fn topological_order(run_after: &[Vec<RunAfter>]) -> Option<Vec<usize>> {
    let (order, _) = run_after_order(run_after);
    (order.len() == run_after.len()).then_some(order)
}

/// Orders actions so that each comes after those it runs after (Kahn's
/// algorithm), as far as runAfter allows. Also returns, per action, how many
/// of its runAfter entries were never reached: non-zero exactly for the
/// actions left out of the order, those on or behind a cycle.
fn run_after_order(run_after: &[Vec<RunAfter>]) -> (Vec<usize>, Vec<usize>) {
    let n = run_after.len();
    let mut indegree: Vec<usize> = run_after.iter().map(Vec::len).collect();
    let mut succ = vec![Vec::new(); n];
    for (i, ra) in run_after.iter().enumerate() {
        for r in ra {
            succ[r.index].push(i);
        }
    }
    let mut queue: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = queue.pop() {
        order.push(i);
        for &s in &succ[i] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                queue.push(s);
            }
        }
    }
    (order, indegree)
}

/// Paths of the Response actions `def` is or holds in its Scope, If and Switch
/// branches (those inside loops are reported for the loop instead).
fn response_paths(def: &ActionDefinition, out: &mut Vec<String>) {
    match &def.kind {
        ActionKind::Response { .. } => out.push(def.path.clone()),
        ActionKind::Foreach { .. } | ActionKind::Until { .. } => {}
        kind => {
            for map in kind.containers() {
                for a in &map.actions {
                    response_paths(a, out);
                }
            }
        }
    }
}
