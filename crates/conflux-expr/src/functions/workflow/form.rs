//! Form data and multipart bodies, as `triggerFormDataValue`, `formDataValue`,
//! `triggerMultipartBody`, `multipartBody` and the multi-value variants read them.
//!
//! A body may arrive in three shapes: the runtime's decoded envelope
//! (`{"$content-type", "$content", "$formdata": [{"key","value"}]}` or
//! `{"$content-type", "$content", "$multipart": [{"headers","body"}]}`), or raw
//! content with a form-urlencoded or multipart/form-data media type, which is
//! decoded here.

use crate::error::EvalError;
use crate::value::{Content, Map, Value};

/// Every value given for `key` in a form body, in order.
pub fn form_values(body: &Value, key: &str) -> Result<Vec<Value>, EvalError> {
    if let Some(Value::Array(entries)) = body.get("$formdata") {
        return Ok(entries
            .iter()
            .filter(|e| e.get("key").and_then(|k| k.as_str().map(|k| k == key)) == Some(true))
            .map(|e| e.get("value").unwrap_or_default())
            .collect());
    }
    if let Some(Value::Array(parts)) = body.get("$multipart") {
        return Ok(parts
            .iter()
            .filter(|p| part_name(p).as_deref() == Some(key))
            .map(|p| part_text(&p.get("body").unwrap_or_default()))
            .collect());
    }
    let content = body.as_content().ok_or_else(|| not_form(body))?;
    let media = content.content_type.to_ascii_lowercase();
    if media.starts_with("application/x-www-form-urlencoded") {
        return Ok(url::form_urlencoded::parse(&content.data)
            .filter(|(k, _)| k == key)
            .map(|(_, v)| Value::string(v.into_owned()))
            .collect());
    }
    if media.starts_with("multipart/") {
        return Ok(split_multipart(&content)?
            .iter()
            .filter(|p| part_name(p).as_deref() == Some(key))
            .map(|p| part_text(&p.get("body").unwrap_or_default()))
            .collect());
    }
    Err(not_form(body))
}

/// The single value for `key`; several values are an error, none is null.
pub fn form_value(body: &Value, key: &str) -> Result<Value, EvalError> {
    let mut values = form_values(body, key)?;
    match values.len() {
        0 => Ok(Value::Null),
        1 => Ok(values.remove(0)),
        n => Err(EvalError::new(format!(
            "the form key '{key}' has {n} values; use the MultiValues variant to read them all"
        ))),
    }
}

/// The body of part `index` of a multipart body.
pub fn multipart_body(body: &Value, index: i64) -> Result<Value, EvalError> {
    let parts: Vec<Value> = if let Some(Value::Array(parts)) = body.get("$multipart") {
        parts.to_vec()
    } else {
        match body.as_content() {
            Some(c)
                if c.content_type
                    .to_ascii_lowercase()
                    .starts_with("multipart/") =>
            {
                split_multipart(&c)?
            }
            _ => {
                return Err(EvalError::new(format!(
                    "the body is not multipart content (it is {})",
                    media_of(body)
                )))
            }
        }
    };
    usize::try_from(index)
        .ok()
        .and_then(|i| parts.get(i))
        .map(|p| p.get("body").unwrap_or_default())
        .ok_or_else(|| {
            EvalError::new(format!(
                "the part index {index} is out of range: the body has {} part(s)",
                parts.len()
            ))
        })
}

fn media_of(body: &Value) -> String {
    match body.get("$content-type") {
        Some(Value::String(ct)) => format!("content of type '{ct}'"),
        _ => crate::eval::a_type(body),
    }
}

fn not_form(body: &Value) -> EvalError {
    EvalError::new(format!(
        "the body is not form data (it is {}); expected application/x-www-form-urlencoded \
         or multipart/form-data",
        media_of(body)
    ))
}

/// The `name` parameter of a part's `Content-Disposition` header.
fn part_name(part: &Value) -> Option<String> {
    let headers = part.get("headers")?;
    let disposition = headers.get("Content-Disposition")?;
    let disposition = disposition.as_str()?;
    disposition.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("name")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// A part's body as text when it is text, else the body as it is.
fn part_text(body: &Value) -> Value {
    match body {
        Value::String(_) => body.clone(),
        _ => match body.as_content() {
            Some(c) => match std::str::from_utf8(&c.data) {
                Ok(s) => Value::from(s),
                Err(_) => body.clone(),
            },
            None => body.clone(),
        },
    }
}

/// Splits raw multipart content into `{"headers": {...}, "body": <content>}` parts.
fn split_multipart(content: &Content) -> Result<Vec<Value>, EvalError> {
    let boundary = content
        .content_type
        .split(';')
        .find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| v.trim().trim_matches('"').to_string())
        })
        .ok_or_else(|| EvalError::new("the multipart content type has no boundary"))?;
    let delimiter = format!("--{boundary}");
    let data = &content.data;
    let mut positions = Vec::new();
    let mut from = 0;
    while let Some(p) = find(data, delimiter.as_bytes(), from) {
        positions.push(p);
        from = p + delimiter.len();
    }
    let mut parts = Vec::new();
    for pair in positions.windows(2) {
        let mut start = pair[0] + delimiter.len();
        let mut end = pair[1];
        // Line breaks around the delimiter belong to it.
        if data[start..end].starts_with(b"\r\n") {
            start += 2;
        } else if data[start..end].starts_with(b"\n") {
            start += 1;
        }
        if data[start..end].ends_with(b"\r\n") {
            end -= 2;
        } else if data[start..end].ends_with(b"\n") {
            end -= 1;
        }
        let raw = &data[start..end];
        let (head, body) = match find(raw, b"\r\n\r\n", 0) {
            Some(p) => (&raw[..p], &raw[p + 4..]),
            None => match find(raw, b"\n\n", 0) {
                Some(p) => (&raw[..p], &raw[p + 2..]),
                None => (&raw[..0], raw),
            },
        };
        let mut headers = Map::default();
        for line in String::from_utf8_lossy(head).lines() {
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().into(), Value::from(v.trim()));
            }
        }
        let ct = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Content-Type"))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "text/plain".to_string());
        let mut part = Map::default();
        part.insert("headers".into(), Value::object(headers));
        part.insert(
            "body".into(),
            Value::content(Content::new(ct, body.to_vec())),
        );
        parts.push(Value::object(part));
    }
    Ok(parts)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_content_is_decoded() {
        let body = Value::content(Content::new(
            "application/x-www-form-urlencoded",
            b"a=1&b=x%20y&b=2".to_vec(),
        ));
        assert_eq!(form_value(&body, "a").unwrap(), Value::from("1"));
        assert!(form_value(&body, "b").is_err());
        assert_eq!(form_values(&body, "b").unwrap().len(), 2);
        assert_eq!(form_value(&body, "zzz").unwrap(), Value::Null);
    }

    #[test]
    fn raw_multipart_is_split() {
        let raw = "--XX\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nhello\r\n--XX\r\nContent-Disposition: form-data; name=\"g\"\r\nContent-Type: application/json\r\n\r\n{}\r\n--XX--\r\n";
        let body = Value::content(Content::new(
            "multipart/form-data; boundary=XX",
            raw.as_bytes().to_vec(),
        ));
        assert_eq!(form_value(&body, "f").unwrap(), Value::from("hello"));
        let second = multipart_body(&body, 1).unwrap();
        assert_eq!(second.as_content().unwrap().data, b"{}");
        assert!(multipart_body(&body, 2).is_err());
    }
}
