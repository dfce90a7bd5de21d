//! Signed callback URLs of Request triggers and signed content links.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use conflux_security::{format_expiry, AccessKeys, KeyType, SasError, SasRequest, SAS_VERSION};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use crate::state::{HostState, HostedWorkflow};

/// The `api-version` printed in callback URLs (that of Logic Apps Standard).
pub const API_VERSION: &str = "2022-05-01";

/// Characters left as they are in a query value: the unreserved set.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// The signed path of a trigger: what callers call, without any relative path.
pub fn invoke_path(workflow: &str, trigger: &str) -> String {
    // Checked on every call: written straight into one string.
    let mut path = String::with_capacity(27 + workflow.len() + trigger.len());
    path.push_str("/api/");
    path.extend(utf8_percent_encode(workflow, QUERY_VALUE));
    path.push_str("/triggers/");
    path.extend(utf8_percent_encode(trigger, QUERY_VALUE));
    path.push_str("/invoke");
    path
}

/// `sp` of a trigger callback.
pub fn trigger_permissions(trigger: &str) -> String {
    format!("/triggers/{trigger}/run")
}

/// Whether `sp` is [`trigger_permissions`] of `trigger`, without building it.
pub fn is_trigger_permissions(sp: &str, trigger: &str) -> bool {
    sp.strip_prefix("/triggers/")
        .and_then(|rest| rest.strip_suffix("/run"))
        == Some(trigger)
}

/// The answer of listCallbackUrl.
pub fn callback_url(
    state: &HostState,
    workflow: &HostedWorkflow,
    trigger: &str,
    key: KeyType,
    not_after: Option<DateTime<Utc>>,
) -> Value {
    let path = invoke_path(&workflow.name, trigger);
    let sp = trigger_permissions(trigger);
    let se = not_after.map(format_expiry);
    let sig = state.keys().sign(
        key,
        &SasRequest {
            path: &path,
            permissions: &sp,
            version: SAS_VERSION,
            expiry: se.as_deref(),
        },
    );
    let base_path = format!("{}{path}", state.base_url());
    let mut value = format!(
        "{base_path}?api-version={API_VERSION}&sp={}&sv={SAS_VERSION}&sig={sig}",
        encode(&sp)
    );
    let mut queries = json!({"api-version": API_VERSION, "sp": sp, "sv": SAS_VERSION, "sig": sig});
    if let Some(se) = &se {
        value.push_str(&format!("&se={}", encode(se)));
        queries["se"] = json!(se);
    }
    let trigger_def = workflow.workflow.triggers.get(trigger);
    let raw = trigger_def.map(|t| t.raw.as_ref());
    let method = raw
        .and_then(|r| r.pointer("/inputs/method"))
        .and_then(Value::as_str)
        .unwrap_or("POST")
        .to_ascii_uppercase();
    let mut answer = json!({
        "value": value,
        "method": method,
        "basePath": base_path,
        "queries": queries,
    });
    if let Some(relative) = raw
        .and_then(|r| r.pointer("/inputs/relativePath"))
        .and_then(Value::as_str)
    {
        let relative = relative.trim_matches('/');
        answer["relativePath"] = json!(relative);
        let names: Vec<&str> = relative
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        answer["relativePathParameters"] = json!(names);
    }
    answer
}

/// Checks the SAS parameters of a trigger call.
/// `path`: the trigger's [`invoke_path`].
pub fn verify_trigger_call(
    keys: &AccessKeys,
    path: &str,
    query: &QueryParams,
    now: impl FnOnce() -> DateTime<Utc>,
) -> Result<KeyType, SasError> {
    let sig = query.get("sig").ok_or(SasError::MissingSignature)?;
    let sp = query.get("sp").ok_or(SasError::MissingParameter("sp"))?;
    let sv = query.get("sv").ok_or(SasError::MissingParameter("sv"))?;
    keys.verify_at(
        &SasRequest {
            path,
            permissions: sp,
            version: sv,
            expiry: query.get("se"),
        },
        sig,
        now,
    )
}

/// Path of a content link (inputs or outputs of an action record).
pub fn content_path(
    workflow: &str,
    run: &str,
    action: &str,
    repetition: Option<&str>,
    section: &str,
) -> String {
    let mut path = format!(
        "/runtime/webhooks/workflow/api/contents/{}/runs/{}/actions/{}",
        encode(workflow),
        encode(run),
        encode(action)
    );
    if let Some(rep) = repetition.filter(|r| !r.is_empty()) {
        path.push_str(&format!("/repetitions/{}", encode(rep)));
    }
    path.push('/');
    path.push_str(section);
    path
}

pub const CONTENT_PERMISSIONS: &str = "/contents/read";

/// An absolute, signed, expiring link to one section of an action record.
pub fn content_link(
    state: &HostState,
    path: &str,
    now: DateTime<Utc>,
    content_size: usize,
) -> Value {
    let ttl = chrono::Duration::from_std(state.config.content_link_ttl)
        .unwrap_or_else(|_| chrono::Duration::hours(1));
    let se = format_expiry(now + ttl);
    let sig = state.keys().sign(
        KeyType::Primary,
        &SasRequest {
            path,
            permissions: CONTENT_PERMISSIONS,
            version: SAS_VERSION,
            expiry: Some(&se),
        },
    );
    json!({
        "uri": format!(
            "{}{path}?api-version={API_VERSION}&sp={}&sv={SAS_VERSION}&se={}&sig={sig}",
            state.base_url(),
            encode(CONTENT_PERMISSIONS),
            encode(&se)
        ),
        "contentSize": content_size,
    })
}

/// Decoded query parameters, in order (names may repeat). Parts that need no
/// decoding borrow from the query string.
#[derive(Debug, Default, Clone)]
pub struct QueryParams<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> QueryParams<'a> {
    pub fn parse(raw: Option<&'a str>) -> QueryParams<'a> {
        let Some(raw) = raw else {
            return QueryParams::default();
        };
        // Split with memchr: the query of a signed URL is a hundred bytes,
        // parsed on every trigger call.
        let bytes = raw.as_bytes();
        let mut pairs = Vec::with_capacity(4);
        let mut start = 0;
        while start <= bytes.len() {
            let end = memchr::memchr(b'&', &bytes[start..]).map_or(bytes.len(), |at| start + at);
            if end > start {
                let pair = &raw[start..end];
                let (name, value) = match memchr::memchr(b'=', pair.as_bytes()) {
                    Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                    None => (pair, ""),
                };
                pairs.push((decode(name), decode(value)));
            }
            start = end + 1;
        }
        QueryParams(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }
}

fn decode(text: &str) -> Cow<'_, str> {
    // Most values (the signature, `sv`, `api-version`) need no decoding.
    if escape_at(text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    // '+' is a space, "%hh" is the byte hh (so an escaped "%2B" stays a
    // '+'), and a '%' without two hex digits after it is kept as is. The
    // text between two of them is copied whole.
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = escape_at(rest) {
        out.extend_from_slice(&rest[..at]);
        let escape = &rest[at..];
        match (
            escape[0],
            escape.get(1).and_then(hex),
            escape.get(2).and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(high << 4 | low);
                rest = &escape[3..];
                continue;
            }
            (b'+', ..) => out.push(b' '),
            _ => out.push(b'%'),
        }
        rest = &escape[1..];
    }
    out.extend_from_slice(rest);
    Cow::Owned(match String::from_utf8(out) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

/// Where the next '+' or '%' is. Query names and values are short: a
/// plain scan costs less than setting up a vectorised search for each.
fn escape_at(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'+' || b == b'%')
}

fn hex(digit: &u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_permissions_are_recognised_without_building_them() {
        assert!(is_trigger_permissions(
            &trigger_permissions("manual"),
            "manual"
        ));
        assert!(!is_trigger_permissions("/triggers/manual/run", "other"));
        assert!(!is_trigger_permissions("/triggers/manual/runs", "manual"));
        assert!(!is_trigger_permissions("/triggers//run", "manual"));
        assert!(!is_trigger_permissions("", "manual"));
    }

    #[test]
    fn query_values_are_decoded() {
        let q = QueryParams::parse(Some("sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&a=b+c&flag"));
        assert_eq!(q.get("sp"), Some("/triggers/manual/run"));
        assert_eq!(q.get("a"), Some("b c"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("missing"), None);
        let odd = QueryParams::parse(Some("a=100%&b=%zz&c=%C3%A9&d=%ff&e=%2B+%2b%4&f=%%41"));
        assert_eq!(odd.get("a"), Some("100%"));
        assert_eq!(odd.get("b"), Some("%zz"));
        assert_eq!(odd.get("c"), Some("é"));
        assert_eq!(odd.get("d"), Some("\u{fffd}"));
        assert_eq!(odd.get("e"), Some("+ +%4"), "an escaped plus stays a plus");
        assert_eq!(odd.get("f"), Some("%A"));
    }

    #[test]
    fn query_pairs_keep_their_order_and_shape() {
        let q = QueryParams::parse(Some("&&x=1=2&=v&x=3&&a%20b=c&"));
        let pairs: Vec<(&str, &str)> = q.0.iter().map(|(n, v)| (n.as_ref(), v.as_ref())).collect();
        assert_eq!(pairs, [("x", "1=2"), ("", "v"), ("x", "3"), ("a b", "c")]);
        assert_eq!(q.get("x"), Some("1=2"), "the first of repeated names");
        assert!(QueryParams::parse(Some("")).0.is_empty());
        assert!(QueryParams::parse(None).0.is_empty());
    }

    #[test]
    fn encoding_keeps_unreserved_characters() {
        assert_eq!(encode("a-b_c.d~e f/g:"), "a-b_c.d~e%20f%2Fg%3A");
        assert_eq!(
            invoke_path("hello", "manual"),
            "/api/hello/triggers/manual/invoke"
        );
    }
}
