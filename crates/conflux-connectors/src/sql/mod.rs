//! What the SQL connectors (PostgreSQL, MySQL/MariaDB) share: the operations'
//! descriptors and inputs, identifier validation, and statement building.
//!
//! Statements are built here as text with placeholders plus a list of JSON
//! parameter values; each driver binds those values as real parameters, so no
//! value is ever spliced into SQL text. Identifiers (tables, columns) cannot be
//! parameters; they are validated against a strict pattern and quoted.

pub(crate) mod build;
pub(crate) mod exec;
pub(crate) mod inputs;

pub(crate) use build::{Dialect, Statement};
pub(crate) use exec::{Row, SqlConnection, SqlDriver};
pub(crate) use inputs::TableName;

use conflux_connector_api::{
    OperationDescriptor, OperationKind, ParameterDescriptor, ParameterKind,
};

use crate::param;

/// `operationId`s of the SQL connectors.
pub(crate) const EXECUTE_QUERY: &str = "executeQuery";
pub(crate) const GET_ROWS: &str = "getRows";
pub(crate) const INSERT_ROW: &str = "insertRow";
pub(crate) const UPDATE_ROWS: &str = "updateRows";
pub(crate) const DELETE_ROWS: &str = "deleteRows";
pub(crate) const WHEN_ROW: &str = "whenRowInsertedOrModified";

const TABLE: ParameterDescriptor = param(
    "table",
    "Table",
    "Table name, optionally qualified by schema (`schema.table`). Letters, digits, `_` and `$` only.",
    ParameterKind::String,
    true,
);

const FILTER: ParameterDescriptor = param(
    "filter",
    "Filter",
    "Object of column = value equality conditions, joined with AND; a null value matches NULL.",
    ParameterKind::Object,
    false,
);

/// The operations both SQL connectors offer.
pub(crate) static OPERATIONS: &[OperationDescriptor] = &[
    OperationDescriptor {
        id: EXECUTE_QUERY,
        display_name: "Execute a query",
        description: "Runs one SQL statement with positional parameters bound by the driver.",
        kind: OperationKind::Action,
        inputs: &[
            param("query", "Query", "One SQL statement. Placeholders are `$1, $2, ...` (PostgreSQL) or `?` (MySQL).", ParameterKind::String, true),
            param("parameters", "Parameters", "Array of values bound to the placeholders in order.", ParameterKind::Array, false),
        ],
        outputs_description: "`{\"rows\": [row objects], \"rowsAffected\": n}`",
        example: r#"{"query": "select id, name from customers where city = $1", "parameters": ["Oslo"]}"#,
    },
    OperationDescriptor {
        id: GET_ROWS,
        display_name: "Get rows",
        description: "Reads rows of a table that match an equality filter.",
        kind: OperationKind::Action,
        inputs: &[
            TABLE,
            FILTER,
            param("top", "Top", "Most rows to return (default: all).", ParameterKind::Integer, false),
        ],
        outputs_description: "Array of row objects.",
        example: r#"{"table": "customers", "filter": {"city": "Oslo"}, "top": 10}"#,
    },
    OperationDescriptor {
        id: INSERT_ROW,
        display_name: "Insert row",
        description: "Inserts one row.",
        kind: OperationKind::Action,
        inputs: &[TABLE, param("row", "Row", "Object of column = value.", ParameterKind::Object, true)],
        outputs_description: "PostgreSQL: `{\"rowsAffected\": 1, \"row\": inserted row}`; MySQL: `{\"rowsAffected\": 1, \"lastInsertId\": n}`.",
        example: r#"{"table": "customers", "row": {"name": "Ada", "city": "Oslo"}}"#,
    },
    OperationDescriptor {
        id: UPDATE_ROWS,
        display_name: "Update rows",
        description: "Sets columns on every row that matches a non-empty equality filter.",
        kind: OperationKind::Action,
        inputs: &[
            TABLE,
            param("filter", "Filter", "Object of column = value conditions (required, non-empty).", ParameterKind::Object, true),
            param("values", "Values", "Object of column = new value.", ParameterKind::Object, true),
        ],
        outputs_description: "`{\"rowsAffected\": n}`",
        example: r#"{"table": "customers", "filter": {"id": 7}, "values": {"city": "Bergen"}}"#,
    },
    OperationDescriptor {
        id: DELETE_ROWS,
        display_name: "Delete rows",
        description: "Deletes every row that matches a non-empty equality filter.",
        kind: OperationKind::Action,
        inputs: &[
            TABLE,
            param("filter", "Filter", "Object of column = value conditions (required, non-empty).", ParameterKind::Object, true),
        ],
        outputs_description: "`{\"rowsAffected\": n}`",
        example: r#"{"table": "customers", "filter": {"id": 7}}"#,
    },
    OperationDescriptor {
        id: WHEN_ROW,
        display_name: "When a row is inserted or modified",
        description: "Polls a table for rows whose watermark column (an increasing id or a modification time) passed the last one seen. Each row is one item, oldest first; ties on the watermark are ordered by the key column.",
        kind: OperationKind::PollingTrigger,
        inputs: &[
            TABLE,
            param("watermarkColumn", "Watermark column", "Column that increases whenever a row is inserted or modified.", ParameterKind::String, true),
            param("keyColumn", "Key column", "Unique column that orders rows with equal watermarks (default: the single-column primary key).", ParameterKind::String, false),
            param("startFrom", "Start from", "`now` (default): only rows after the first poll; `beginning`: existing rows too.", ParameterKind::String, false),
            param("maxRows", "Maximum rows per poll", "Most rows returned by one poll (default: the host's limit).", ParameterKind::Integer, false),
        ],
        outputs_description: "Items are row objects.",
        example: r#"{"table": "orders", "watermarkColumn": "updated_at", "keyColumn": "id", "startFrom": "beginning"}"#,
    },
];
