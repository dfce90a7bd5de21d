//! String functions. Text is measured and indexed in UTF-16 code units, as the
//! Logic Apps runtime (.NET) counts characters; see [`utf16`].

use super::FunctionDef;

pub mod culture;
mod edit;
mod format_number;
mod guid;
pub mod numeric;
mod search;
pub mod utf16;

pub use edit::check_result_length;
pub use format_number::format_number_text;
pub use guid::format_guid;

pub static FUNCTIONS: &[FunctionDef] = &[
    edit::CONCAT,
    search::ENDS_WITH,
    search::STARTS_WITH,
    search::INDEX_OF,
    search::LAST_INDEX_OF,
    search::NTH_INDEX_OF,
    edit::REPLACE,
    edit::SPLIT,
    edit::SUBSTRING,
    edit::SLICE,
    edit::TO_LOWER,
    edit::TO_UPPER,
    edit::TRIM,
    edit::LENGTH,
    edit::CHUNK,
    format_number::FORMAT_NUMBER,
    guid::GUID,
    numeric::IS_INT,
    numeric::IS_FLOAT,
];
