//! `guid(format?)`: a fresh GUID from the host, in a .NET `Guid.ToString` format.

use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::Value;

/// Formats a GUID with a .NET format specifier (`N`, `D`, `B`, `P`, `X`;
/// either case; empty means `D`).
pub fn format_guid(id: &uuid::Uuid, format: &str) -> Result<String, EvalError> {
    let hyphenated = id.hyphenated().to_string();
    Ok(match format {
        "" | "D" | "d" => hyphenated,
        "N" | "n" => id.simple().to_string(),
        "B" | "b" => format!("{{{hyphenated}}}"),
        "P" | "p" => format!("({hyphenated})"),
        "X" | "x" => {
            let hex = id.simple().to_string();
            let bytes: Vec<String> = (0..8)
                .map(|i| format!("0x{}", &hex[16 + 2 * i..18 + 2 * i]))
                .collect();
            format!(
                "{{0x{},0x{},0x{},{{{}}}}}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                bytes.join(",")
            )
        }
        other => {
            return Err(EvalError::new(format!(
                "the format '{other}' is not a GUID format; use N, D, B, P or X"
            )))
        }
    })
}

fn guid(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let format = args::string_or_empty(args, 0)?;
    // Validate before asking the host, so a bad format does not consume a GUID.
    format_guid(&uuid::Uuid::nil(), format)?;
    Ok(Value::from(format_guid(&ctx.host.new_guid(), format)?))
}

/// `guid()` is random, so it has no fixed documented examples to check.
pub const GUID: FunctionDef = FunctionDef {
    name: "guid",
    min_args: 0,
    max_args: Some(1),
    body: guid,
    examples: &[],
};
