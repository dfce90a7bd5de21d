//! Conversion functions: between types (`int`, `float`, `string`, ...), to and
//! from JSON and XML, and through the base64, data URI and URI-component
//! encodings.

use super::FunctionDef;

mod encoding;
mod json_xml;
mod types;
pub mod xml_map;

pub use encoding::{decode_base64, encode_component, parse_data_uri, OCTET_STREAM};
pub use types::parse_decimal;

pub static FUNCTIONS: &[FunctionDef] = &[
    types::ARRAY,
    types::CREATE_ARRAY,
    types::BOOL,
    types::INT,
    types::FLOAT,
    types::DECIMAL,
    types::STRING,
    json_xml::JSON,
    json_xml::XML,
    encoding::BASE64,
    encoding::BASE64_TO_STRING,
    encoding::BASE64_TO_BINARY,
    encoding::DECODE_BASE64,
    encoding::BINARY,
    encoding::DATA_URI,
    encoding::DATA_URI_TO_STRING,
    encoding::DATA_URI_TO_BINARY,
    encoding::DECODE_DATA_URI,
    encoding::URI_COMPONENT,
    encoding::ENCODE_URI_COMPONENT,
    encoding::URI_COMPONENT_TO_STRING,
    encoding::DECODE_URI_COMPONENT,
    encoding::URI_COMPONENT_TO_BINARY,
];
