//! `conflux eval`: evaluate WDL value strings from the command line.
//!
//! One expression: `conflux eval '@add(1,2)'` prints `3`. Many: `conflux eval
//! --jsonl` reads `{"expr": "...", "context": {...}}` lines from stdin and writes
//! one `{"value": ...}` or `{"error": "..."}` line per input line, in order.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use conflux_expr::{EvalError, JsonContext, Template, Value};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// The value string, written as in a definition: `@add(1,2)`, `Total: @{...}`, `plain`.
    pub expr: Option<String>,
    /// Read `{"expr": "...", "context": {...}}` lines from stdin; write one
    /// `{"value": ...}` or `{"error": "..."}` line for each.
    #[arg(long, conflicts_with = "expr")]
    pub jsonl: bool,
    /// A JSON file with the run state: parameters, variables, triggerBody,
    /// triggerOutputs, outputs, items, appsettings, workflow, result, iterationIndexes.
    /// With --jsonl it applies to lines that bring no context of their own.
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
}

pub fn main(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let context = match &args.context {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the context file {}", path.display()))?;
            let json: serde_json::Value = serde_json::from_str(&text).with_context(|| {
                format!("the context file {} is not valid JSON", path.display())
            })?;
            JsonContext::from_json(&json)
                .with_context(|| format!("in the context file {}", path.display()))?
        }
        None => JsonContext::default(),
    };
    if args.jsonl {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        let input = BufReader::with_capacity(64 * 1024, stdin.lock());
        run_jsonl(
            input,
            BufWriter::with_capacity(64 * 1024, stdout.lock()),
            &context,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(expr) = args.expr else {
        anyhow::bail!("give the value string to evaluate (for example '@add(1,2)'), or --jsonl to read lines from stdin");
    };
    let template = Template::compile(&expr).map_err(|e| anyhow::anyhow!("{e}"))?;
    let value = template
        .eval(&context)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // A closed stdout is an error to report, not a panic as with `println!`.
    writeln!(std::io::stdout().lock(), "{}", value.to_json_string())
        .context("cannot write standard output")?;
    Ok(ExitCode::SUCCESS)
}

/// Evaluates every line of `input`, writing one result line per non-blank line.
///
/// Output is flushed whenever no more input is buffered, so a caller that
/// writes one line and waits for its answer gets it, while bulk input is
/// answered in large writes.
fn run_jsonl<R: Read>(
    mut input: BufReader<R>,
    mut out: impl Write,
    base: &JsonContext,
) -> anyhow::Result<()> {
    let mut raw = Vec::new();
    loop {
        if input.buffer().is_empty() {
            out.flush().context("cannot write standard output")?;
        }
        raw.clear();
        let n = input
            .read_until(b'\n', &mut raw)
            .context("cannot read standard input")?;
        if n == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match eval_line(line, base) {
            Ok(value) => {
                out.write_all(b"{\"value\":")?;
                out.write_all(value.to_json_string().as_bytes())?;
                out.write_all(b"}\n")?;
            }
            Err(e) => {
                let body = serde_json::json!({ "error": e.message });
                out.write_all(body.to_string().as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush().context("cannot write standard output")?;
    Ok(())
}

const LINE_SHAPE: &str = "expected {\"expr\": \"...\", \"context\": {...}}";

fn eval_line(line: &str, base: &JsonContext) -> Result<Value, EvalError> {
    // Straight into expression values: no intermediate JSON tree to convert.
    let parsed: Value = serde_json::from_str(line)
        .map_err(|e| EvalError::new(format!("malformed input line ({LINE_SHAPE}): {e}")))?;
    let Some(obj) = parsed.as_object() else {
        return Err(EvalError::new(format!(
            "malformed input line ({LINE_SHAPE}): not an object"
        )));
    };
    if let Some(unknown) = obj.keys().find(|k| *k != "expr" && *k != "context") {
        return Err(EvalError::new(format!(
            "malformed input line ({LINE_SHAPE}): unknown key '{unknown}'"
        )));
    }
    let Some(expr) = obj.get("expr").and_then(Value::as_str) else {
        return Err(EvalError::new(format!(
            "malformed input line ({LINE_SHAPE}): 'expr' must be a string"
        )));
    };
    let template = Template::compile(expr)?;
    match obj.get("context") {
        Some(context) if !context.is_null() => template.eval(&JsonContext::from_value(context)?),
        _ => template.eval(base),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> String {
        let mut out = Vec::new();
        run_jsonl(
            BufReader::new(input.as_bytes()),
            &mut out,
            &JsonContext::default(),
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_line_out_per_line_in_and_blank_lines_skipped() {
        let out = run("{\"expr\":\"@add(1,2)\"}\n\nnot json\n{\"expr\":\"@{add(1,2)}\"}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "{\"value\":3}");
        assert!(lines[1].starts_with("{\"error\":\"malformed input line"));
        assert_eq!(lines[2], "{\"value\":\"3\"}");
    }
}
