//! End-to-end tests of `conflux eval`, run against the built binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn conflux(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conflux"))
        .args(args)
        .output()
        .expect("the conflux binary runs")
}

fn conflux_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the conflux binary starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_string();
    // Write from another thread so a full stdout pipe cannot deadlock the test.
    let writer = std::thread::spawn(move || {
        stdin
            .write_all(input.as_bytes())
            .expect("stdin accepts the input");
    });
    let out = child
        .wait_with_output()
        .expect("the conflux binary finishes");
    writer.join().expect("the writer thread finishes");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn prints_the_value_as_json() {
    for (expr, want) in [
        ("@add(1,2)", "3\n"),
        ("@{add(1,2)}", "\"3\"\n"),
        ("plain", "\"plain\"\n"),
        ("@add(1.0,2)", "3.0\n"),
        ("@createArray(1,'a',null)", "[1,\"a\",null]\n"),
        ("@@x", "\"@x\"\n"),
    ] {
        let o = conflux(&["eval", expr]);
        assert!(o.status.success(), "{expr}: {}", stderr(&o));
        assert_eq!(stdout(&o), want, "{expr}");
    }
}

#[test]
fn errors_go_to_stderr_with_exit_1() {
    let o = conflux(&["eval", "@div(1,0)"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).starts_with("error: div: the divisor"),
        "{}",
        stderr(&o)
    );

    let o = conflux(&["eval", "@concat('a') x"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: unexpected 'x' after the end of the expression"),
        "{err}"
    );
    assert!(err.contains("(column 14)"), "{err}");
    let caret = format!("\n  @concat('a') x\n  {}^", " ".repeat(13));
    assert!(err.contains(&caret), "{err}");
}

#[test]
fn a_context_file_supplies_run_state() {
    let dir = std::env::temp_dir().join(format!("conflux-eval-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("context.json");
    std::fs::write(
        &path,
        r#"{"parameters": {"name": "Ana"}, "triggerBody": {"n": 2}, "outputs": {"Compose": [1, 2]}}"#,
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let o = conflux(&[
        "eval",
        "--context",
        path,
        "@{parameters('name')} has @{add(triggerBody().n, length(outputs('Compose')))}",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "\"Ana has 4\"\n");

    let o = conflux(&["eval", "--context", path, "@parameters('x')"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: parameters: the parameter 'x' is not defined"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn jsonl_answers_every_line_in_order() {
    let input = [
        r#"{"expr": "@add(1,2)"}"#,
        r#"{"expr": "@{add(1,2)}"}"#,
        "",
        r#"{"expr": "@parameters('p')", "context": {"parameters": {"p": {"deep": [true]}}}}"#,
        "this is not json",
        r#"{"expr": "@div(1,0)"}"#,
        r#"{"expr": "@add(1,"}"#,
        r#"{"expr": "@triggerBody().a", "context": {"triggerBody": {"a": 1.5}}}"#,
        r#"{"exp": "@add(1,2)"}"#,
        r#"{"expr": "plain"}"#,
    ]
    .join("\n");
    let o = conflux_stdin(&["eval", "--jsonl"], &input);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    assert_eq!(lines.len(), 9, "{out}");
    assert_eq!(lines[0], serde_json::json!({"value": 3}));
    assert_eq!(lines[1], serde_json::json!({"value": "3"}));
    assert_eq!(lines[2], serde_json::json!({"value": {"deep": [true]}}));
    assert!(lines[3]["error"]
        .as_str()
        .unwrap()
        .starts_with("malformed input line"));
    assert!(lines[4]["error"]
        .as_str()
        .unwrap()
        .starts_with("div: the divisor"));
    assert!(lines[5]["error"].as_str().unwrap().contains("column 8"));
    assert_eq!(out.lines().nth(6), Some(r#"{"value":1.5}"#));
    assert!(lines[7]["error"]
        .as_str()
        .unwrap()
        .contains("unknown key 'exp'"));
    assert_eq!(lines[8], serde_json::json!({"value": "plain"}));
}

#[test]
fn jsonl_handles_many_lines() {
    let n = 20_000;
    let input: String = (0..n)
        .map(|i| format!("{{\"expr\": \"@add({i}, 1)\"}}\n"))
        .collect();
    let o = conflux_stdin(&["eval", "--jsonl"], &input);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut count = 0;
    for (i, line) in out.lines().enumerate() {
        assert_eq!(line, format!("{{\"value\":{}}}", i + 1));
        count += 1;
    }
    assert_eq!(count, n);
}

#[test]
fn jsonl_answers_each_line_before_the_next_arrives() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
        .args(["eval", "--jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the conflux binary starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    for i in 0..3 {
        writeln!(stdin, "{{\"expr\": \"@add({i}, 10)\"}}").unwrap();
        stdin.flush().unwrap();
        let answer = lines.next().expect("an answer line").unwrap();
        assert_eq!(answer, format!("{{\"value\":{}}}", i + 10));
    }
    drop(stdin);
    assert!(lines.next().is_none());
    assert!(child.wait().unwrap().success());
}
