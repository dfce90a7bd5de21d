//! Parsing and checking of SQL operation inputs, without I/O.

use conflux_connector_api::{ConfigProblem, ParamReader};
use serde_json::{Map, Value};

use super::{DELETE_ROWS, EXECUTE_QUERY, GET_ROWS, INSERT_ROW, UPDATE_ROWS, WHEN_ROW};

/// Prefix of problem paths: the operation's `inputs.parameters`.
const PREFIX: &str = "inputs.parameters";

/// A validated SQL identifier (table, schema or column name).
///
/// Only ASCII letters, digits, `_` and `$`, not starting with a digit, at most
/// 63 bytes: every such name is valid, unquoted or quoted, in both PostgreSQL
/// and MySQL, and quoting it can never break out of the quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident(String);

impl Ident {
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        let valid_start = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let valid_rest = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if name.is_empty() || name.len() > 63 || !valid_start || !valid_rest {
            return Err(format!(
                "'{name}' is not a supported identifier: use 1 to 63 ASCII letters, digits, '_' or '$', starting with a letter or '_'"
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A table name, optionally qualified by its schema (database in MySQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    pub(crate) schema: Option<Ident>,
    pub(crate) table: Ident,
}

impl TableName {
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        match name.split_once('.') {
            Some((schema, table)) => Ok(Self {
                schema: Some(Ident::parse(schema)?),
                table: Ident::parse(table)?,
            }),
            None => Ok(Self {
                schema: None,
                table: Ident::parse(name)?,
            }),
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{}.{}", schema.as_str(), self.table.as_str()),
            None => f.write_str(self.table.as_str()),
        }
    }
}

/// Column = value pairs, in input order.
pub(crate) type Columns = Vec<(Ident, Value)>;

/// A parsed SQL action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlOperation {
    Execute {
        query: String,
        parameters: Vec<Value>,
    },
    GetRows {
        table: TableName,
        filter: Columns,
        top: Option<u64>,
    },
    Insert {
        table: TableName,
        row: Columns,
    },
    Update {
        table: TableName,
        filter: Columns,
        values: Columns,
    },
    Delete {
        table: TableName,
        filter: Columns,
    },
}

/// Where the trigger starts when it has no cursor yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartFrom {
    Now,
    Beginning,
}

/// Parsed inputs of `whenRowInsertedOrModified`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TriggerInputs {
    pub(crate) table: TableName,
    pub(crate) watermark: Ident,
    pub(crate) key: Option<Ident>,
    pub(crate) start_from: StartFrom,
    pub(crate) max_rows: Option<usize>,
}

/// Checks inputs of any SQL operation, reporting every problem.
pub(crate) fn check(operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>> {
    if operation == WHEN_ROW {
        TriggerInputs::parse(inputs).map(|_| ())
    } else {
        SqlOperation::parse(operation, inputs).map(|_| ())
    }
}

impl SqlOperation {
    pub(crate) fn parse(operation: &str, inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, PREFIX);
        let parsed = match operation {
            EXECUTE_QUERY => {
                let query = r.req_str("query").map(str::to_owned);
                let parameters = r.opt_array("parameters").cloned().unwrap_or_default();
                query.map(|query| Self::Execute { query, parameters })
            }
            GET_ROWS => {
                let table = table(&mut r);
                let filter = columns(&mut r, "filter", false);
                let top = non_negative(&mut r, "top");
                match (table, filter) {
                    (Some(table), Some(filter)) => Some(Self::GetRows { table, filter, top }),
                    _ => None,
                }
            }
            INSERT_ROW => {
                let table = table(&mut r);
                let row = columns(&mut r, "row", true);
                match (table, row) {
                    (Some(table), Some(row)) => Some(Self::Insert { table, row }),
                    _ => None,
                }
            }
            UPDATE_ROWS => {
                let table = table(&mut r);
                let filter = columns(&mut r, "filter", true);
                let values = columns(&mut r, "values", true);
                match (table, filter, values) {
                    (Some(table), Some(filter), Some(values)) => Some(Self::Update { table, filter, values }),
                    _ => None,
                }
            }
            DELETE_ROWS => {
                let table = table(&mut r);
                let filter = columns(&mut r, "filter", true);
                match (table, filter) {
                    (Some(table), Some(filter)) => Some(Self::Delete { table, filter }),
                    _ => None,
                }
            }
            other => {
                return Err(vec![ConfigProblem::new(
                    "inputs.serviceProviderConfiguration.operationId",
                    format!("'{other}' is not an action of this connector; use executeQuery, getRows, insertRow, updateRows or deleteRows"),
                )])
            }
        };
        r.finish()?;
        parsed.ok_or_else(|| vec![ConfigProblem::new(PREFIX, "invalid inputs")])
    }
}

impl TriggerInputs {
    pub(crate) fn parse(inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, PREFIX);
        let table = table(&mut r);
        let watermark = ident(&mut r, "watermarkColumn", true);
        let key = ident(&mut r, "keyColumn", false);
        let start_from = match r.opt_str("startFrom") {
            None | Some("now") => StartFrom::Now,
            Some("beginning") => StartFrom::Beginning,
            Some(other) => {
                r.problem(
                    "startFrom",
                    format!("'{other}' is not one of 'now', 'beginning'"),
                );
                StartFrom::Now
            }
        };
        let max_rows = non_negative(&mut r, "maxRows").and_then(|n| usize::try_from(n).ok());
        if max_rows == Some(0) {
            r.problem("maxRows", "must be at least 1");
        }
        r.finish()?;
        match (table, watermark) {
            (Some(table), Some(watermark)) => Ok(Self {
                table,
                watermark,
                key,
                start_from,
                max_rows,
            }),
            _ => Err(vec![ConfigProblem::new(PREFIX, "invalid inputs")]),
        }
    }
}

fn table(r: &mut ParamReader<'_>) -> Option<TableName> {
    let name = r.req_str("table")?;
    TableName::parse(name)
        .map_err(|e| r.problem("table", e))
        .ok()
}

fn ident(r: &mut ParamReader<'_>, name: &str, required: bool) -> Option<Ident> {
    let value = if required {
        r.req_str(name)?
    } else {
        r.opt_str(name)?
    };
    Ident::parse(value).map_err(|e| r.problem(name, e)).ok()
}

fn non_negative(r: &mut ParamReader<'_>, name: &str) -> Option<u64> {
    let n = r.opt_i64(name)?;
    u64::try_from(n)
        .map_err(|_| r.problem(name, "must not be negative"))
        .ok()
}

/// Reads an object of column = value; `required` also means non-empty.
fn columns(r: &mut ParamReader<'_>, name: &str, required: bool) -> Option<Columns> {
    if r.raw(name).is_none() {
        if required {
            r.problem(name, "is required: give an object of column = value");
            return None;
        }
        return Some(Vec::new());
    }
    let object = r.opt_object(name)?;
    if required && object.is_empty() {
        r.problem(name, "must name at least one column");
        return None;
    }
    collect_columns(r, name, object)
}

fn collect_columns(
    r: &mut ParamReader<'_>,
    name: &str,
    object: &Map<String, Value>,
) -> Option<Columns> {
    let mut out = Vec::with_capacity(object.len());
    let mut ok = true;
    for (column, value) in object {
        match Ident::parse(column) {
            Ok(ident) => out.push((ident, value.clone())),
            Err(e) => {
                r.problem(&format!("{name}.{column}"), e);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifiers_reject_anything_that_could_escape_quotes() {
        for bad in [
            "",
            "1abc",
            "a b",
            "a\"b",
            "a`b",
            "a;drop",
            "a-b",
            &"x".repeat(64),
        ] {
            assert!(Ident::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "_x", "Orders2", "col$1"] {
            assert!(Ident::parse(good).is_ok(), "{good:?} rejected");
        }
        assert!(TableName::parse("public.orders").is_ok());
        assert!(TableName::parse("a.b.c").is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let problems = SqlOperation::parse(
            UPDATE_ROWS,
            &json!({"table": "bad name", "filter": {}, "values": {"ok": 1, "no good": 2}}),
        )
        .expect_err("invalid");
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "inputs.parameters.table",
                "inputs.parameters.filter",
                "inputs.parameters.values.no good"
            ]
        );
    }

    #[test]
    fn missing_required_object_is_a_problem() {
        let problems =
            SqlOperation::parse(DELETE_ROWS, &json!({"table": "t"})).expect_err("invalid");
        assert_eq!(problems[0].path, "inputs.parameters.filter");
    }

    #[test]
    fn trigger_inputs_parse_with_defaults() {
        let t =
            TriggerInputs::parse(&json!({"table": "s.t", "watermarkColumn": "id"})).expect("valid");
        assert_eq!(t.start_from, StartFrom::Now);
        assert_eq!(t.key, None);
        let problems =
            TriggerInputs::parse(&json!({"table": "t", "startFrom": "later", "maxRows": 0}))
                .expect_err("invalid");
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn unknown_operation_is_reported() {
        assert!(check("dropDatabase", &json!({})).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn accepted_identifiers_cannot_carry_quotes_or_spaces(name in "\\PC{0,70}") {
            if let Ok(ident) = Ident::parse(&name) {
                prop_assert!(ident.as_str().chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$'));
            }
            let _ = TableName::parse(&name);
        }
    }
}
