//! The typed form of a workflow definition.
//!
//! Every expression is compiled when the definition is loaded; the engine only
//! evaluates. Inputs whose parts are evaluated per item (Query `where`, Select
//! `select`, Table `columns`) are kept apart from the parts evaluated once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use conflux_expr::{CompiledValue, Template};
use indexmap::IndexMap;

/// A map keyed by names the definition's author chose (actions, results):
/// hashed with foldhash, which is fast for short keys; its keys are never a
/// caller's data.
pub type NameMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// `kind` of a Standard workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkflowKind {
    #[default]
    Stateful,
    Stateless,
}

/// A declared parameter type (matched case-insensitively on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterType {
    String,
    SecureString,
    Int,
    Float,
    Bool,
    Array,
    Object,
    SecureObject,
}

impl ParameterType {
    pub fn parse(text: &str) -> Option<ParameterType> {
        Some(match text.to_ascii_lowercase().as_str() {
            "string" => ParameterType::String,
            "securestring" => ParameterType::SecureString,
            "int" | "integer" => ParameterType::Int,
            "float" => ParameterType::Float,
            "bool" | "boolean" => ParameterType::Bool,
            "array" => ParameterType::Array,
            "object" => ParameterType::Object,
            "secureobject" => ParameterType::SecureObject,
            _ => return None,
        })
    }

    /// Secure types are masked in run history and API answers.
    pub fn is_secure(self) -> bool {
        matches!(
            self,
            ParameterType::SecureString | ParameterType::SecureObject
        )
    }
}

#[derive(Debug, Clone)]
pub struct ParameterDefinition {
    pub name: String,
    pub kind: ParameterType,
    pub default_value: Option<serde_json::Value>,
    pub allowed_values: Option<Vec<serde_json::Value>>,
}

/// A status an action may be required to have by a successor's `runAfter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunAfterStatus {
    Succeeded,
    Failed,
    Skipped,
    TimedOut,
}

impl RunAfterStatus {
    pub fn parse(text: &str) -> Option<RunAfterStatus> {
        Some(match text.to_ascii_lowercase().as_str() {
            "succeeded" => RunAfterStatus::Succeeded,
            "failed" => RunAfterStatus::Failed,
            "skipped" => RunAfterStatus::Skipped,
            "timedout" => RunAfterStatus::TimedOut,
            _ => return None,
        })
    }
}

/// One `runAfter` entry: the predecessor (its index in the same container) and
/// the statuses that let the successor run.
#[derive(Debug, Clone)]
pub struct RunAfter {
    pub action: String,
    pub index: usize,
    pub statuses: Vec<RunAfterStatus>,
}

/// `operationOptions`, parsed once into flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationOptions {
    pub disable_async_pattern: bool,
    pub asynchronous: bool,
    pub sequential: bool,
    pub single_instance: bool,
    pub suppress_workflow_headers: bool,
    pub suppress_workflow_headers_on_response: bool,
    pub fail_when_limits_reached: bool,
    pub include_authorization_headers_in_outputs: bool,
    pub enable_schema_validation: bool,
    pub disable_automatic_decompression: bool,
    pub optimized_for_high_throughput: bool,
    /// Options Conflux does not act on, kept so nothing is lost.
    pub other: Vec<String>,
}

impl OperationOptions {
    pub fn parse(text: &str) -> OperationOptions {
        let mut o = OperationOptions::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "disableasyncpattern" => o.disable_async_pattern = true,
                "asynchronous" => o.asynchronous = true,
                "sequential" => o.sequential = true,
                "singleinstance" => o.single_instance = true,
                "suppressworkflowheaders" => o.suppress_workflow_headers = true,
                "suppressworkflowheadersonresponse" => {
                    o.suppress_workflow_headers_on_response = true
                }
                "failwhenlimitsreached" => o.fail_when_limits_reached = true,
                "includeauthorizationheadersinoutputs" => {
                    o.include_authorization_headers_in_outputs = true
                }
                "enableschemavalidation" => o.enable_schema_validation = true,
                "disableautomaticdecompression" => o.disable_automatic_decompression = true,
                "optimizedforhighthroughput" => o.optimized_for_high_throughput = true,
                _ => o.other.push(part.to_string()),
            }
        }
        o
    }
}

/// `retryPolicy` of an action or trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryPolicy {
    /// Exponential, 4 retries, 7.5 s scale, each wait clamped to 5–45 s.
    Default,
    None,
    Fixed {
        count: u32,
        interval: Duration,
    },
    Exponential {
        count: u32,
        interval: Duration,
        minimum_interval: Duration,
        maximum_interval: Duration,
    },
}

/// Which sections of an action's record are hidden in history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecureData {
    pub inputs: bool,
    pub outputs: bool,
}

/// `runtimeConfiguration.staticResult`.
#[derive(Debug, Clone)]
pub struct StaticResultRef {
    pub name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RuntimeConfiguration {
    /// Foreach `concurrency.repetitions`.
    pub repetitions: Option<u32>,
    /// Trigger `concurrency.runs` and `maximumWaitingRuns`.
    pub runs: Option<u32>,
    pub maximum_waiting_runs: Option<u32>,
    pub secure_data: SecureData,
    pub static_result: Option<StaticResultRef>,
    pub pagination_minimum_item_count: Option<u64>,
}

/// `limit` of an action: `timeout` for async actions and Until, `count` for Until.
#[derive(Debug, Clone, Default)]
pub struct Limit {
    pub timeout: Option<Duration>,
    pub count: Option<u32>,
}

/// The actions of one container (the top level, a Scope, a branch, a loop body),
/// with their `runAfter` graph resolved to indexes.
#[derive(Debug, Clone, Default)]
pub struct ActionMap {
    pub actions: Vec<Arc<ActionDefinition>>,
    pub by_name: NameMap<String, usize>,
    /// For each action, the indexes of the actions that run after it.
    pub successors: Vec<Vec<usize>>,
}

impl ActionMap {
    pub fn get(&self, name: &str) -> Option<&Arc<ActionDefinition>> {
        self.by_name.get(name).map(|&i| &self.actions[i])
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Actions no other action of this container runs after: the tails of its branches.
    pub fn tails(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.actions.len()).filter(|&i| self.successors[i].is_empty())
    }
}

/// One action, as loaded.
pub struct ActionDefinition {
    pub name: Arc<str>,
    /// JSON path of the action in the document (`$.definition.actions.A`).
    pub path: String,
    /// The `type` as written.
    pub type_name: String,
    pub kind: ActionKind,
    pub run_after: Vec<RunAfter>,
    pub retry_policy: RetryPolicy,
    pub limit: Limit,
    pub runtime: RuntimeConfiguration,
    pub options: OperationOptions,
    pub tracked_properties: Option<CompiledValue>,
    /// Names of actions whose records the inputs read (`body('X')`), for secure
    /// data propagation.
    pub input_references: Vec<String>,
    /// Whether the inputs read a `securestring`/`secureobject` parameter, which
    /// hides them in run history.
    pub reads_secure_parameters: bool,
    /// Whether the inputs read the trigger's record (`triggerBody()`,
    /// `triggerOutputs()`, `trigger()`, ...), for secure data propagation.
    pub reads_trigger: bool,
    /// The action's JSON as written.
    pub raw: Arc<serde_json::Value>,
}

/// A Switch case.
pub struct SwitchCase {
    pub name: String,
    pub value: serde_json::Value,
    pub actions: ActionMap,
}

/// A column of a Table action.
pub struct TableColumn {
    pub header: Option<CompiledValue>,
    pub value: CompiledValue,
}

/// The `select` of a Select action.
pub enum SelectMap {
    /// `{"key": "@item()..."}`; keys may be interpolated.
    Object(Vec<(CompiledValue, CompiledValue)>),
    /// A single expression producing each element.
    Single(CompiledValue),
}

/// An If condition: an expression string or the designer's predicate object.
pub enum Condition {
    Expression(Template),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// `{"equals": ["@x", 1]}`: a function applied to argument values.
    Call {
        function: String,
        args: Vec<CompiledValue>,
    },
    /// A literal boolean (or other literal the engine checks at run time).
    Literal(serde_json::Value),
}

/// What an action does, by type.
pub enum ActionKind {
    Compose {
        inputs: CompiledValue,
    },
    ParseJson {
        content: CompiledValue,
        schema: serde_json::Value,
    },
    Query {
        from: CompiledValue,
        where_: CompiledValue,
    },
    Select {
        from: CompiledValue,
        select: SelectMap,
    },
    Join {
        inputs: CompiledValue,
    },
    Table {
        from: CompiledValue,
        format: CompiledValue,
        columns: Option<Vec<TableColumn>>,
    },
    InitializeVariable {
        inputs: CompiledValue,
    },
    /// SetVariable, Increment/Decrement, AppendTo*: `{name, value}`.
    Variable {
        op: VariableOp,
        inputs: CompiledValue,
    },
    If {
        condition: Condition,
        actions: ActionMap,
        else_actions: ActionMap,
    },
    Switch {
        expression: CompiledValue,
        cases: Vec<SwitchCase>,
        default: ActionMap,
    },
    Foreach {
        foreach: CompiledValue,
        actions: ActionMap,
    },
    Until {
        expression: Condition,
        actions: ActionMap,
    },
    Scope {
        actions: ActionMap,
    },
    Terminate {
        inputs: CompiledValue,
    },
    Wait {
        inputs: CompiledValue,
    },
    Response {
        inputs: CompiledValue,
    },
    Http {
        inputs: CompiledValue,
    },
    Workflow {
        inputs: CompiledValue,
    },
    /// `type: Expression` date/time actions; `kind` lower-cased.
    Expression {
        kind: String,
        inputs: CompiledValue,
    },
    /// Any other type (ServiceProvider, ApiConnection, custom): executed by a
    /// plugged executor, or rejected when none takes it.
    Other {
        type_name: String,
        kind: Option<String>,
        inputs: CompiledValue,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableOp {
    Set,
    Increment,
    Decrement,
    AppendToArray,
    AppendToString,
}

impl ActionKind {
    /// The child containers, in document order, with their role in the path.
    pub fn containers(&self) -> Vec<&ActionMap> {
        match self {
            ActionKind::If {
                actions,
                else_actions,
                ..
            } => vec![actions, else_actions],
            ActionKind::Switch { cases, default, .. } => {
                let mut v: Vec<&ActionMap> = cases.iter().map(|c| &c.actions).collect();
                v.push(default);
                v
            }
            ActionKind::Foreach { actions, .. }
            | ActionKind::Until { actions, .. }
            | ActionKind::Scope { actions } => vec![actions],
            _ => Vec::new(),
        }
    }
}

/// A trigger, as loaded. Its inputs stay compiled; the server interprets them.
pub struct TriggerDefinition {
    pub name: String,
    pub path: String,
    pub type_name: String,
    pub kind: Option<String>,
    pub inputs: Option<CompiledValue>,
    pub recurrence: Option<serde_json::Value>,
    pub conditions: Vec<Template>,
    pub split_on: Option<Template>,
    pub runtime: RuntimeConfiguration,
    pub options: OperationOptions,
    pub retry_policy: RetryPolicy,
    pub raw: Arc<serde_json::Value>,
}

/// A workflow output (`outputs` section).
pub struct OutputDefinition {
    pub name: String,
    pub type_name: String,
    pub value: CompiledValue,
}

/// A mocked result (`staticResults` section).
#[derive(Debug, Clone)]
pub struct StaticResult {
    pub status: String,
    pub outputs: serde_json::Value,
    pub error: Option<serde_json::Value>,
}

/// A whole, loaded workflow.
pub struct Workflow {
    pub kind: WorkflowKind,
    pub parameters: IndexMap<String, ParameterDefinition>,
    pub triggers: IndexMap<String, TriggerDefinition>,
    pub actions: ActionMap,
    pub outputs: Vec<OutputDefinition>,
    pub static_results: HashMap<String, StaticResult>,
    /// Every action anywhere, by name (names are unique across the definition).
    pub all_actions: NameMap<String, Arc<ActionDefinition>>,
    /// Whether the definition contains a Response action.
    pub has_response: bool,
    /// Lower-cased names passed as a literal to `result(...)` anywhere in the
    /// definition: only those loops keep every iteration's records for it.
    pub result_targets: std::collections::HashSet<String>,
}

impl std::fmt::Debug for ActionDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionDefinition")
            .field("name", &self.name)
            .field("type", &self.type_name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TriggerDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerDefinition")
            .field("name", &self.name)
            .field("type", &self.type_name)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("kind", &self.kind)
            .field("triggers", &self.triggers)
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}
