//! Functions that build new text: `concat`, `replace`, `split`, `substring`,
//! `slice`, `toLower`, `toUpper`, `trim`, `length` and `chunk`.

use super::utf16;
use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::Value;

/// The documented ceiling for `concat` and `join` results, in characters.
pub const MAX_RESULT_CHARS: usize = 104_857_600;

/// Rejects a result longer than [`MAX_RESULT_CHARS`].
pub fn check_result_length(text: &str) -> Result<(), EvalError> {
    // Byte length bounds the UTF-16 length from above, so most texts skip the count.
    if text.len() > MAX_RESULT_CHARS && utf16::len(text) > MAX_RESULT_CHARS {
        return Err(EvalError::new(format!(
            "the result would be {} characters long, more than the limit of {MAX_RESULT_CHARS}",
            utf16::len(text)
        )));
    }
    Ok(())
}

fn concat(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    // Sized for the strings (most arguments), so it grows at most for the rest.
    let strings: usize = args
        .iter()
        .map(|a| match a {
            Value::String(s) => s.len(),
            _ => 0,
        })
        .sum();
    let mut out = String::with_capacity(strings);
    for i in 0..args.len() {
        out.push_str(&args::text(args, i));
    }
    check_result_length(&out)?;
    Ok(Value::from(out))
}

fn replace(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let text = args::string(args, 0)?;
    let old = args::string(args, 1)?;
    let new = args::string(args, 2)?;
    if old.is_empty() {
        return Err(EvalError::new(
            "the text to replace (second argument) must not be empty",
        ));
    }
    Ok(Value::from(text.replace(old, new)))
}

fn split(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let text = args::string(args, 0)?;
    let delimiter = args::string(args, 1)?;
    let parts: Vec<Value> = if delimiter.is_empty() {
        vec![Value::from(text)]
    } else {
        text.split(delimiter).map(Value::from).collect()
    };
    Ok(Value::array(parts))
}

fn substring(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let units = utf16::units(args::string(args, 0)?);
    let len = units.len() as i64;
    let start = args::integer(args, 1)?;
    if start < 0 {
        return Err(EvalError::new(format!(
            "startIndex ({start}) must not be negative"
        )));
    }
    if start > len {
        return Err(EvalError::new(format!(
            "startIndex ({start}) exceeds the length of the string ({len})"
        )));
    }
    let end = match args::opt_integer(args, 2)? {
        None => len,
        Some(n) if n < 0 => {
            return Err(EvalError::new(format!("length ({n}) must not be negative")))
        }
        Some(n) => {
            let end = start.saturating_add(n);
            if end > len {
                return Err(EvalError::new(format!(
                    "startIndex + length ({end}) exceeds the length of the string ({len}); \
                     use slice() to stop at the end of the string"
                )));
            }
            end
        }
    };
    Ok(Value::from(utf16::text(
        &units[start as usize..end as usize],
    )))
}

/// A slice bound: negative counts from the end, then clamped to `0..=len`.
fn slice_bound(index: i64, len: i64) -> i64 {
    if index < 0 {
        (len + index).max(0)
    } else {
        index.min(len)
    }
}

fn slice(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let units = utf16::units(args::string(args, 0)?);
    let len = units.len() as i64;
    let start = slice_bound(args::integer(args, 1)?, len);
    let end = match args::opt_integer(args, 2)? {
        None => len,
        Some(e) => slice_bound(e, len),
    };
    if end <= start {
        return Ok(Value::from(""));
    }
    Ok(Value::from(utf16::text(
        &units[start as usize..end as usize],
    )))
}

/// Case mapping character by character, as .NET's invariant culture does: a
/// character whose mapping is more than one character (`ß` → `SS`) stays as it
/// is, so the length of the text never changes.
fn map_case(text: &str, upper: bool) -> String {
    fn single(mut mapped: impl Iterator<Item = char>, original: char) -> char {
        match (mapped.next(), mapped.next()) {
            (Some(m), None) => m,
            _ => original,
        }
    }
    text.chars()
        .map(|c| {
            if upper {
                single(c.to_uppercase(), c)
            } else {
                single(c.to_lowercase(), c)
            }
        })
        .collect()
}

fn to_lower(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::from(map_case(args::string(args, 0)?, false)))
}

fn to_upper(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::from(map_case(args::string(args, 0)?, true)))
}

fn trim(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::from(args::string(args, 0)?.trim()))
}

fn length(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match args::arg(args, 0) {
        Value::String(s) => Ok(Value::Int(utf16::len(s) as i64)),
        Value::Array(a) => Ok(Value::Int(a.len() as i64)),
        other => Err(EvalError::new(format!(
            "the argument must be a String or an Array, got {}",
            other.type_name()
        ))),
    }
}

fn chunk(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let size = args::integer(args, 1)?;
    if size <= 0 {
        return Err(EvalError::new(format!(
            "the chunk length ({size}) must be greater than 0"
        )));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let chunks: Vec<Value> = match args::arg(args, 0) {
        Value::String(s) => utf16::units(s)
            .chunks(size)
            .map(|c| Value::from(utf16::text(c)))
            .collect(),
        Value::Array(a) => a.chunks(size).map(|c| Value::array(c.to_vec())).collect(),
        other => {
            return Err(EvalError::new(format!(
                "the first argument must be a String or an Array, got {}",
                other.type_name()
            )))
        }
    };
    Ok(Value::array(chunks))
}

pub const CONCAT: FunctionDef = FunctionDef {
    name: "concat",
    min_args: 1,
    max_args: None,
    body: concat,
    examples: &[
        ("@concat('Hello', 'World')", "\"HelloWorld\""),
        ("@concat('n=', 5, ', ok=', true)", "\"n=5, ok=True\""),
        ("@concat('a', null, 'b')", "\"ab\""),
    ],
};

pub const REPLACE: FunctionDef = FunctionDef {
    name: "replace",
    min_args: 3,
    max_args: Some(3),
    body: replace,
    examples: &[
        (
            "@replace('the old string', 'old', 'new')",
            "\"the new string\"",
        ),
        ("@replace('a-b-c', '-', '+')", "\"a+b+c\""),
        (
            "@replace('the old string', 'OLD', 'new')",
            "\"the old string\"",
        ),
    ],
};

pub const SPLIT: FunctionDef = FunctionDef {
    name: "split",
    min_args: 2,
    max_args: Some(2),
    body: split,
    examples: &[
        ("@split('a_b_c', '_')", r#"["a","b","c"]"#),
        ("@split('a_b_c', ' ')", r#"["a_b_c"]"#),
        ("@split('a,,b', ',')", r#"["a","","b"]"#),
    ],
};

pub const SUBSTRING: FunctionDef = FunctionDef {
    name: "substring",
    min_args: 2,
    max_args: Some(3),
    body: substring,
    examples: &[
        ("@substring('hello world', 6, 5)", "\"world\""),
        ("@substring('hello world', 6)", "\"world\""),
        (
            "@substring('hello world', 6, 6)",
            "error: startIndex + length (12) exceeds the length of the string (11)",
        ),
    ],
};

pub const SLICE: FunctionDef = FunctionDef {
    name: "slice",
    min_args: 2,
    max_args: Some(3),
    body: slice,
    examples: &[
        ("@slice('Hello World', 2)", "\"llo World\""),
        ("@slice('Hello World', 30)", "\"\""),
        ("@slice('Hello World', 10, 2)", "\"\""),
        ("@slice('Hello World', 0)", "\"Hello World\""),
        ("@slice('Hello World', 2, 5)", "\"llo\""),
        ("@slice('Hello World', 6, 20)", "\"World\""),
        ("@slice('Hello World', -2)", "\"ld\""),
        ("@slice('Hello World', 3, -1)", "\"lo Worl\""),
        ("@slice('Hello World', 3, 3)", "\"\""),
    ],
};

pub const TO_LOWER: FunctionDef = FunctionDef {
    name: "toLower",
    min_args: 1,
    max_args: Some(1),
    body: to_lower,
    examples: &[("@toLower('Hello World')", "\"hello world\"")],
};

pub const TO_UPPER: FunctionDef = FunctionDef {
    name: "toUpper",
    min_args: 1,
    max_args: Some(1),
    body: to_upper,
    examples: &[("@toUpper('Hello World')", "\"HELLO WORLD\"")],
};

pub const TRIM: FunctionDef = FunctionDef {
    name: "trim",
    min_args: 1,
    max_args: Some(1),
    body: trim,
    examples: &[("@trim(' Hello World  ')", "\"Hello World\"")],
};

pub const LENGTH: FunctionDef = FunctionDef {
    name: "length",
    min_args: 1,
    max_args: Some(1),
    body: length,
    examples: &[
        ("@length('abcd')", "4"),
        ("@length(createArray(0, 1, 2, 3))", "4"),
    ],
};

pub const CHUNK: FunctionDef = FunctionDef {
    name: "chunk",
    min_args: 2,
    max_args: Some(2),
    body: chunk,
    examples: &[
        (
            "@chunk('abcdefghijklmnopqrstuvwxyz', 10)",
            r#"["abcdefghij","klmnopqrst","uvwxyz"]"#,
        ),
        (
            "@chunk(createArray(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), 5)",
            "[[1,2,3,4,5],[6,7,8,9,10],[11,12]]",
        ),
    ],
};
