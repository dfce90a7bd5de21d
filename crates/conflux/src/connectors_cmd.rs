//! `conflux connectors`: the built-in connectors of this build, their
//! connection parameters and operations, as text or as JSON descriptors.

use std::process::ExitCode;

use conflux_connector_api::{ConnectorDescriptor, OperationKind, ParameterDescriptor};

#[derive(clap::Args)]
pub struct ConnectorsArgs {
    /// Show only this connector (its name, e.g. `postgres`, or its
    /// serviceProviderId), with every operation's inputs and an example.
    connector: Option<String>,
    /// Print the descriptors as JSON.
    #[arg(long)]
    json: bool,
}

pub fn main(args: ConnectorsArgs) -> anyhow::Result<ExitCode> {
    let all: Vec<&'static ConnectorDescriptor> = conflux_connectors::all()
        .iter()
        .map(|c| c.descriptor())
        .collect();
    let selected: Vec<&'static ConnectorDescriptor> = match &args.connector {
        None => all.clone(),
        Some(wanted) => all
            .iter()
            .copied()
            .filter(|d| d.name.eq_ignore_ascii_case(wanted) || d.id.eq_ignore_ascii_case(wanted))
            .collect(),
    };
    if let (Some(wanted), true) = (&args.connector, selected.is_empty()) {
        let names: Vec<&str> = all.iter().map(|d| d.name).collect();
        anyhow::bail!(
            "no connector named '{wanted}' in this build; available: {}",
            names.join(", ")
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&selected)?);
    } else {
        let detailed = args.connector.is_some();
        for (i, descriptor) in selected.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", render(descriptor, detailed));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn kind_label(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Action => "action",
        OperationKind::PollingTrigger => "polling trigger",
        OperationKind::PushTrigger => "push trigger",
    }
}

fn parameter_line(p: &ParameterDescriptor) -> String {
    let mut flags = Vec::new();
    if p.required {
        flags.push("required");
    }
    if p.secret {
        flags.push("secret");
    }
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", flags.join(", "))
    };
    format!("{}{flags}: {}", p.name, p.description)
}

/// The text form: a header, the connection parameters, one line per operation
/// and, when `detailed`, each operation's inputs and example.
fn render(d: &ConnectorDescriptor, detailed: bool) -> String {
    let mut out = format!(
        "{} ({})\n  {}\n  {}\n",
        d.display_name, d.name, d.id, d.description
    );
    if !d.connection_parameters.is_empty() {
        out.push_str("  connection parameters:\n");
        for p in d.connection_parameters {
            out.push_str(&format!("    {}\n", parameter_line(p)));
        }
    }
    let width = d.operations.iter().map(|o| o.id.len()).max().unwrap_or(0);
    out.push_str("  operations:\n");
    for op in d.operations {
        out.push_str(&format!(
            "    {:<15}  {:<width$}  {}\n",
            kind_label(op.kind),
            op.id,
            op.display_name
        ));
        if detailed {
            out.push_str(&format!("        {}\n", op.description));
            for p in op.inputs {
                out.push_str(&format!("        - {}\n", parameter_line(p)));
            }
            out.push_str(&format!(
                "        outputs: {}\n        example: {}\n",
                op.outputs_description, op.example
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_appears_in_the_listing_and_examples_are_json() {
        for connector in conflux_connectors::all() {
            let d = connector.descriptor();
            let text = render(d, true);
            for op in d.operations {
                assert!(text.contains(op.id), "{} missing from {}", op.id, d.name);
                let example: serde_json::Value = serde_json::from_str(op.example)
                    .unwrap_or_else(|e| panic!("{}/{}: example is not JSON: {e}", d.name, op.id));
                assert!(example.is_object(), "{}/{}", d.name, op.id);
            }
        }
    }
}
