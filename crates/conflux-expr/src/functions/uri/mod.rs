//! URI parsing functions.

use super::FunctionDef;

mod parts;

pub static FUNCTIONS: &[FunctionDef] = &[
    parts::URI_HOST,
    parts::URI_PATH,
    parts::URI_PATH_AND_QUERY,
    parts::URI_PORT,
    parts::URI_QUERY,
    parts::URI_SCHEME,
];
