//! `docs/functions.md` is generated from the function library: every function's
//! name, arity and documented examples (which `examples.rs` runs as tests). This
//! test fails when the file is out of date; `CONFLUX_BLESS=1 cargo test -p
//! conflux-expr --test function_reference` rewrites it.

use std::fmt::Write as _;
use std::path::PathBuf;

use conflux_expr::functions::{self, FunctionDef};

fn families() -> Vec<(&'static str, &'static [FunctionDef])> {
    vec![
        ("String", functions::string::FUNCTIONS),
        ("Collection", functions::collection::FUNCTIONS),
        ("Logical comparison", functions::logical::FUNCTIONS),
        ("Conversion", functions::conversion::FUNCTIONS),
        ("Math", functions::math::FUNCTIONS),
        ("Date and time", functions::datetime::FUNCTIONS),
        ("URI parsing", functions::uri::FUNCTIONS),
        ("Manipulation", functions::manipulation::FUNCTIONS),
        ("Workflow", functions::workflow::FUNCTIONS),
    ]
}

fn arity(f: &FunctionDef) -> String {
    match f.max_args {
        Some(max) if max == f.min_args => format!("{max}"),
        Some(max) => format!("{}–{max}", f.min_args),
        None => format!("{} or more", f.min_args),
    }
}

fn render() -> String {
    let mut out = String::from(
        "# Expression functions\n\n\
         Generated from the function library by `crates/conflux-expr/tests/function_reference.rs`;\n\
         every example below is also run as a test. Names are case-insensitive.\n",
    );
    for (family, defs) in families() {
        let mut defs: Vec<&FunctionDef> = defs.iter().collect();
        defs.sort_by_key(|f| f.name.to_ascii_lowercase());
        let _ = write!(out, "\n## {family} ({})\n\n", defs.len());
        out.push_str("| function | arguments | example | result |\n|---|---|---|---|\n");
        for f in defs {
            let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
            match f.examples.first() {
                Some((expr, expected)) => {
                    let _ = writeln!(
                        out,
                        "| `{}` | {} | `{}` | `{}` |",
                        f.name,
                        arity(f),
                        cell(expr),
                        cell(expected)
                    );
                    for (expr, expected) in &f.examples[1..] {
                        let _ = writeln!(out, "| | | `{}` | `{}` |", cell(expr), cell(expected));
                    }
                }
                None => {
                    let _ = writeln!(out, "| `{}` | {} | | |", f.name, arity(f));
                }
            }
        }
    }
    out
}

#[test]
fn function_reference_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/functions.md");
    let expected = render();
    if std::env::var_os("CONFLUX_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/functions.md");
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/functions.md is out of date: run `CONFLUX_BLESS=1 cargo test -p conflux-expr --test function_reference`"
    );
}

#[test]
fn every_function_is_in_a_family_listed_here() {
    let listed: usize = families().iter().map(|(_, d)| d.len()).sum();
    assert_eq!(listed, functions::all().count());
}
