//! The `conflux` command line: one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod connector_host;
mod connectors_cmd;
mod eval;
mod identity_source;
mod outbound;
mod run;
mod serve;
mod validate;

/// Many small, short-lived allocations cross threads on the request path; mimalloc
/// keeps them off a shared lock (see BENCHMARKS.md, "HTTP load"), and
/// `conflux-alloc` asks it for plain blocks where their alignment suffices.
#[global_allocator]
static GLOBAL: conflux_alloc::Mimalloc = conflux_alloc::Mimalloc;

/// Conflux: run Logic Apps workflow definitions, unmodified, as one binary.
#[derive(Parser)]
#[command(name = "conflux", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a WDL value string (`@add(1,2)`, `@{...}`, `plain`) and print it as JSON.
    Eval(eval::EvalArgs),
    /// Validate a workflow.json or a whole project folder; prints every finding.
    Validate(validate::ValidateArgs),
    /// Run one workflow of a project once and print what happened.
    Run(run::RunArgs),
    /// Host a Logic Apps Standard project folder over HTTP.
    Serve(serve::ServeArgs),
    /// List the built-in connectors and their operations.
    Connectors(connectors_cmd::ConnectorsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => eval::main(args),
        Command::Validate(args) => validate::main(args),
        Command::Run(args) => run::main(args),
        Command::Serve(args) => serve::main(args),
        Command::Connectors(args) => connectors_cmd::main(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
