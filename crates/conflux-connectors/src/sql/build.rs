//! Building SQL statements from parsed inputs: identifiers quoted, values as
//! placeholders.

use serde_json::Value;

use super::inputs::{Columns, Ident, TableName};

/// The SQL dialect, which decides quoting and placeholder syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `"name"` and `$1, $2, ...`.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
    /// `` `name` `` and `?`.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    MySql,
}

/// SQL text and the values bound to its placeholders, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

impl Dialect {
    /// The database, as messages name it.
    pub(crate) fn product(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL",
        }
    }

    fn quote(self, ident: &Ident) -> String {
        // Ident admits no quote characters, so wrapping is enough.
        match self {
            Dialect::Postgres => format!("\"{}\"", ident.as_str()),
            Dialect::MySql => format!("`{}`", ident.as_str()),
        }
    }

    fn table(self, table: &TableName) -> String {
        match &table.schema {
            Some(schema) => format!("{}.{}", self.quote(schema), self.quote(&table.table)),
            None => self.quote(&table.table),
        }
    }

    fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::MySql => "?".to_owned(),
        }
    }
}

struct Builder {
    dialect: Dialect,
    sql: String,
    params: Vec<Value>,
}

impl Builder {
    fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            sql: String::new(),
            params: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    fn bind(&mut self, value: Value) -> &mut Self {
        self.params.push(value);
        let placeholder = self.dialect.placeholder(self.params.len());
        self.sql.push_str(&placeholder);
        self
    }

    fn ident(&mut self, ident: &Ident) -> &mut Self {
        let quoted = self.dialect.quote(ident);
        self.push(&quoted)
    }

    fn table(&mut self, table: &TableName) -> &mut Self {
        let quoted = self.dialect.table(table);
        self.push(&quoted)
    }

    /// ` WHERE a = $1 AND b IS NULL`, or nothing for an empty filter.
    fn filter(&mut self, filter: &Columns) -> &mut Self {
        for (i, (column, value)) in filter.iter().enumerate() {
            self.push(if i == 0 { " WHERE " } else { " AND " })
                .ident(column);
            if value.is_null() {
                self.push(" IS NULL");
            } else {
                self.push(" = ").bind(value.clone());
            }
        }
        self
    }

    fn finish(self) -> Statement {
        Statement {
            sql: self.sql,
            params: self.params,
        }
    }
}

pub(crate) fn select(
    dialect: Dialect,
    table: &TableName,
    filter: &Columns,
    top: Option<u64>,
) -> Statement {
    let mut b = Builder::new(dialect);
    b.push("SELECT * FROM ").table(table).filter(filter);
    if let Some(top) = top {
        b.push(&format!(" LIMIT {top}"));
    }
    b.finish()
}

pub(crate) fn insert(dialect: Dialect, table: &TableName, row: &Columns) -> Statement {
    let mut b = Builder::new(dialect);
    b.push("INSERT INTO ").table(table).push(" (");
    for (i, (column, _)) in row.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.ident(column);
    }
    b.push(") VALUES (");
    for (i, (_, value)) in row.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.bind(value.clone());
    }
    b.push(")");
    if dialect == Dialect::Postgres {
        b.push(" RETURNING *");
    }
    b.finish()
}

pub(crate) fn update(
    dialect: Dialect,
    table: &TableName,
    filter: &Columns,
    values: &Columns,
) -> Statement {
    let mut b = Builder::new(dialect);
    b.push("UPDATE ").table(table).push(" SET ");
    for (i, (column, value)) in values.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.ident(column).push(" = ").bind(value.clone());
    }
    b.filter(filter);
    b.finish()
}

pub(crate) fn delete(dialect: Dialect, table: &TableName, filter: &Columns) -> Statement {
    let mut b = Builder::new(dialect);
    b.push("DELETE FROM ").table(table).filter(filter);
    b.finish()
}

/// The newest (watermark, key) of a table, to start a trigger "now".
pub(crate) fn newest(
    dialect: Dialect,
    table: &TableName,
    watermark: &Ident,
    key: &Ident,
) -> Statement {
    let mut b = Builder::new(dialect);
    b.push("SELECT ")
        .ident(watermark)
        .push(", ")
        .ident(key)
        .push(" FROM ")
        .table(table);
    b.push(" WHERE ")
        .ident(watermark)
        .push(" IS NOT NULL ORDER BY ");
    b.ident(watermark)
        .push(" DESC, ")
        .ident(key)
        .push(" DESC LIMIT 1");
    b.finish()
}

/// Rows after the cursor `(watermark, key)`, oldest first. Rows with a NULL
/// watermark are never returned.
pub(crate) fn changed_after(
    dialect: Dialect,
    table: &TableName,
    (watermark, key): (&Ident, &Ident),
    after: Option<(&Value, &Value)>,
    limit: usize,
) -> Statement {
    let mut b = Builder::new(dialect);
    b.push("SELECT * FROM ")
        .table(table)
        .push(" WHERE ")
        .ident(watermark)
        .push(" IS NOT NULL");
    if let Some((last_watermark, last_key)) = after {
        b.push(" AND (")
            .ident(watermark)
            .push(" > ")
            .bind(last_watermark.clone());
        b.push(" OR (")
            .ident(watermark)
            .push(" = ")
            .bind(last_watermark.clone());
        b.push(" AND ")
            .ident(key)
            .push(" > ")
            .bind(last_key.clone())
            .push("))");
    }
    b.push(" ORDER BY ").ident(watermark).push(", ").ident(key);
    b.push(&format!(" LIMIT {limit}"));
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cols(pairs: &[(&str, Value)]) -> Columns {
        pairs
            .iter()
            .map(|(c, v)| (Ident::parse(c).expect("ident"), v.clone()))
            .collect()
    }

    #[test]
    fn values_are_placeholders_and_identifiers_are_quoted() {
        let table = TableName::parse("app.orders").expect("table");
        let s = update(
            Dialect::Postgres,
            &table,
            &cols(&[("id", json!(7)), ("gone", Value::Null)]),
            &cols(&[("note", json!("x'); drop"))]),
        );
        assert_eq!(
            s.sql,
            r#"UPDATE "app"."orders" SET "note" = $1 WHERE "id" = $2 AND "gone" IS NULL"#
        );
        assert_eq!(s.params, [json!("x'); drop"), json!(7)]);
        let s = insert(
            Dialect::MySql,
            &table,
            &cols(&[("a", json!(1)), ("b", json!("two"))]),
        );
        assert_eq!(s.sql, "INSERT INTO `app`.`orders` (`a`, `b`) VALUES (?, ?)");
    }

    #[test]
    fn trigger_query_orders_by_watermark_then_key() {
        let table = TableName::parse("t").expect("table");
        let (w, k) = (
            Ident::parse("ts").expect("w"),
            Ident::parse("id").expect("k"),
        );
        let s = changed_after(
            Dialect::Postgres,
            &table,
            (&w, &k),
            Some((&json!("2024-01-01"), &json!(3))),
            10,
        );
        assert_eq!(
            s.sql,
            r#"SELECT * FROM "t" WHERE "ts" IS NOT NULL AND ("ts" > $1 OR ("ts" = $2 AND "id" > $3)) ORDER BY "ts", "id" LIMIT 10"#
        );
        assert_eq!(s.params.len(), 3);
    }
}
