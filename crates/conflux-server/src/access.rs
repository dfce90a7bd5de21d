//! `accessControl`: which callers may fire triggers and read run-history contents.
//!
//! Trigger calls are authorized here ([`authorize_trigger_call`]): by shared
//! access signature or, when the workflow has OAuth authorization policies
//! (`triggers.openAuthenticationPolicies`, see [`crate::oauth_policy`]), by
//! a bearer token.
//!
//! Read from two places: `host.json` `extensions.workflow.accessControl`
//! applies to every workflow, and a top-level `accessControl` object in a
//! `workflow.json` replaces it section by section for that workflow. The
//! shape is that of the Logic Apps workflow resource (wdl-spec §10.1).

use axum::http::{header::AUTHORIZATION, HeaderMap};
use conflux_security::IpFilter;
use serde_json::Value;

use crate::callback::{is_trigger_permissions, verify_trigger_call, QueryParams};
use crate::oauth_policy::{OAuthPolicies, TrustError};
use crate::reply::{ApiError, ErrorKind};
use crate::state::{HostState, HostedWorkflow};
use crate::triggers::CallPlan;

/// The parsed restrictions of one workflow.
#[derive(Debug, Clone, Default)]
pub struct AccessControl {
    /// Who may call Request triggers (absent: everyone; empty: nobody over HTTP).
    pub triggers: IpFilter,
    /// Who may open inputs/outputs content links.
    pub contents: IpFilter,
    /// `triggers.sasAuthenticationPolicy.state == "Disabled"`.
    pub sas_disabled: bool,
    /// `triggers.openAuthenticationPolicies`: which bearer tokens may call.
    pub oauth: OAuthPolicies,
}

impl AccessControl {
    /// Combines the app-wide object (from host.json) with the workflow's own;
    /// returns every invalid range, prefixed with where it was found.
    pub fn from_sources(
        host: Option<&Value>,
        workflow: Option<&Value>,
    ) -> Result<AccessControl, Vec<String>> {
        let mut errors = Vec::new();
        let pick = |section: &str| {
            workflow
                .and_then(|w| w.get(section))
                .map(|v| ("workflow.json $.accessControl", v))
                .or_else(|| {
                    host.and_then(|h| h.get(section))
                        .map(|v| ("host.json $.extensions.workflow.accessControl", v))
                })
        };
        let filter_of = |section: &str, errors: &mut Vec<String>| -> IpFilter {
            let Some((origin, value)) = pick(section) else {
                return IpFilter::allow_all();
            };
            let Some(list) = value.get("allowedCallerIpAddresses") else {
                return IpFilter::allow_all();
            };
            let ranges: Vec<&str> = list
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| {
                            item.get("addressRange")
                                .and_then(Value::as_str)
                                .or(item.as_str())
                        })
                        .collect()
                })
                .unwrap_or_default();
            match IpFilter::parse(ranges) {
                Ok(filter) => filter,
                Err(bad) => {
                    errors.extend(bad.into_iter().map(|e| format!("{origin}.{section}: {e}")));
                    IpFilter::only(Vec::new())
                }
            }
        };
        let triggers = filter_of("triggers", &mut errors);
        let contents = filter_of("contents", &mut errors);
        let sas_disabled = pick("triggers")
            .and_then(|(_, v)| v.pointer("/sasAuthenticationPolicy/state"))
            .and_then(Value::as_str)
            .is_some_and(|state| state.eq_ignore_ascii_case("disabled"));
        let oauth = match pick("triggers") {
            Some((origin, section)) => OAuthPolicies::parse(
                section.get("openAuthenticationPolicies"),
                origin,
                &mut errors,
            ),
            None => OAuthPolicies::default(),
        };
        if errors.is_empty() {
            Ok(AccessControl {
                triggers,
                contents,
                sas_disabled,
                oauth,
            })
        } else {
            Err(errors)
        }
    }
}

/// How a trigger call proves it may run the trigger.
enum Scheme<'a> {
    Sas,
    Bearer(&'a str),
}

/// Decides whether a call to a Request trigger is authorized: by its shared
/// access signature, or, when the workflow has OAuth authorization
/// policies, by a bearer token. Runs before anything else happens for the
/// call; a refusal starts nothing and records nothing.
///
/// Without policies the `Authorization` header is not a credential: it is
/// passed to the workflow like any header (subject to
/// `IncludeAuthorizationHeadersInOutputs`). With policies, a call may
/// present one scheme only: a bearer token together with `sig` is refused.
pub async fn authorize_trigger_call(
    state: &HostState,
    wf: &HostedWorkflow,
    plan: &CallPlan,
    raw_query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    // A caller calls the same signed URL again and again: a query string
    // that passed every check below on this thread passes again as it is.
    let keys = state.keys();
    if let Some(raw) = raw_query.filter(|_| wf.access.oauth.is_empty() && !wf.access.sas_disabled) {
        if keys
            .accepted_query(&plan.invoke_path, raw, || state.clock.now())
            .is_some()
        {
            return Ok(());
        }
    }
    let query = &QueryParams::parse(raw_query);
    let scheme = if wf.access.oauth.is_empty() {
        Scheme::Sas
    } else {
        oauth_scheme(wf, query, headers)?
    };
    match scheme {
        // Boxed: the token check (which may fetch signing keys) stays out of
        // the future of every SAS-signed call.
        Scheme::Bearer(token) => Box::pin(authorize_bearer(state, wf, token)).await,
        Scheme::Sas => {
            if wf.access.sas_disabled {
                let hint = if wf.access.oauth.is_empty() {
                    ""
                } else {
                    "; call it with `Authorization: Bearer <token>` matching one of its authorization policies"
                };
                return Err(ApiError::unauthorized(
                    "SasAuthenticationDisabled",
                    format!(
                        "shared access signatures are disabled for workflow '{}'{hint}",
                        wf.name
                    ),
                ));
            }
            let key = verify_trigger_call(&keys, &plan.invoke_path, query, || state.clock.now())
                .map_err(|err| {
                    let hint = if query.get("sig").is_some() {
                        ""
                    } else if !wf.access.oauth.is_empty() {
                        " (or send `Authorization: Bearer <token>` matching an authorization policy)"
                    } else if has_bearer(headers) {
                        " (the bearer token is not a credential here: the workflow has no OAuth authorization policies)"
                    } else {
                        ""
                    };
                    ApiError::unauthorized("AuthorizationFailed", format!("{err}{hint}"))
                })?;
            if !query
                .get("sp")
                .is_some_and(|sp| is_trigger_permissions(sp, &plan.trigger))
            {
                return Err(ApiError::unauthorized(
                    "AuthorizationFailed",
                    "the signed permissions `sp` do not allow running this trigger; use the URL returned by listCallbackUrl",
                ));
            }
            if let Some(raw) = raw_query {
                keys.accept_query(&plan.invoke_path, raw, key, query.get("se"));
            }
            Ok(())
        }
    }
}

fn has_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
}

/// Which scheme a call to a workflow with OAuth policies uses.
fn oauth_scheme<'a>(
    wf: &HostedWorkflow,
    query: &QueryParams<'_>,
    headers: &'a HeaderMap,
) -> Result<Scheme<'a>, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(Scheme::Sas);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "MultipleAuthorizationHeaders",
            "the call has more than one Authorization header; send exactly one",
        ));
    }
    let text = value.to_str().unwrap_or_default().trim();
    let (name, credential) = text.split_once(' ').unwrap_or((text, ""));
    let is_bearer = name.eq_ignore_ascii_case("Bearer");
    let is_pop = name.eq_ignore_ascii_case("PoP");
    if !is_bearer && !is_pop {
        // Another scheme (Basic, ...) is the workflow's business, not a credential here.
        return Ok(Scheme::Sas);
    }
    if query.get("sig").is_some() {
        return Err(ApiError::bad_request(
            "MultipleAuthorizationSchemes",
            format!(
                "the call presents both a shared access signature (`sig`) and an OAuth token; workflow '{}' accepts one scheme per call: drop `sig` from the URL or the Authorization header",
                wf.name
            ),
        ));
    }
    if is_pop {
        return Err(ApiError::unauthorized(
            "UnsupportedAuthorizationScheme",
            "proof-of-possession (PoP) tokens are not supported; send `Authorization: Bearer <token>`",
        ));
    }
    let token = credential.trim();
    if token.is_empty() {
        return Err(ApiError::unauthorized(
            "InvalidAuthenticationToken",
            "the Authorization header has no token after `Bearer`",
        ));
    }
    Ok(Scheme::Bearer(token))
}

async fn authorize_bearer(
    state: &HostState,
    wf: &HostedWorkflow,
    token: &str,
) -> Result<(), ApiError> {
    use conflux_security::jwt::JwtError;
    let claims = state
        .token_trust
        .verify(token, state.clock.now())
        .await
        .map_err(|err| {
            let code = match &err {
                TrustError::Token(JwtError::Expired { .. }) => "ExpiredAuthenticationToken",
                TrustError::Token(JwtError::NotYetValid { .. }) => "AuthenticationTokenNotYetValid",
                TrustError::Token(JwtError::UnknownKey { .. } | JwtError::BadSignature)
                | TrustError::ForeignOwnIssuer => "InvalidAuthenticationTokenSignature",
                TrustError::Token(_) => "InvalidAuthenticationToken",
                TrustError::NoTrustedKeys | TrustError::Unavailable(_) => {
                    return ApiError::new(
                        ErrorKind::Unavailable,
                        "TrustedKeysUnavailable",
                        format!("the OAuth token cannot be checked now: {err}"),
                    )
                }
            };
            ApiError::unauthorized(code, format!("the OAuth token was refused: {err}"))
        })?;
    match wf.access.oauth.matching(&claims) {
        Ok(policy) => {
            tracing::debug!(workflow = %wf.name, %policy, "OAuth token accepted.");
            Ok(())
        }
        Err(reasons) => Err(ApiError::unauthorized(
            "MisMatchingOAuthClaims",
            format!(
                "the token's claims match none of the authorization policies of workflow '{}' (accessControl.triggers.openAuthenticationPolicies): {}",
                wf.name,
                reasons.join("; ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn workflow_section_replaces_host_section() {
        let host = json!({"triggers": {"allowedCallerIpAddresses": [{"addressRange": "10.0.0.0/8"}]},
                          "contents": {"allowedCallerIpAddresses": [{"addressRange": "0.0.0.0-0.0.0.0"}]}});
        let wf = json!({"triggers": {"allowedCallerIpAddresses": [{"addressRange": "127.0.0.1"}]}});
        let access = AccessControl::from_sources(Some(&host), Some(&wf)).unwrap();
        assert!(access.triggers.allows("127.0.0.1".parse().unwrap()));
        assert!(!access.triggers.allows("10.1.1.1".parse().unwrap()));
        assert!(!access.contents.allows("127.0.0.1".parse().unwrap()));
        let open = AccessControl::from_sources(None, None).unwrap();
        assert!(open.triggers.allows("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn oauth_policies_follow_the_triggers_section() {
        let host = json!({"triggers": {"openAuthenticationPolicies": {"policies": {
            "p": {"type": "AAD", "claims": [{"name": "iss", "value": "https://issuer"}]}}}}});
        let from_host = AccessControl::from_sources(Some(&host), None).unwrap();
        assert!(!from_host.oauth.is_empty());
        // A workflow's own triggers section replaces the host's, policies included.
        let wf = json!({"triggers": {"allowedCallerIpAddresses": []}});
        let replaced = AccessControl::from_sources(Some(&host), Some(&wf)).unwrap();
        assert!(replaced.oauth.is_empty());
        let bad = json!({"triggers": {"openAuthenticationPolicies": {"policies": {"p": {"type": "AAD", "claims": []}}}}});
        let errors = AccessControl::from_sources(Some(&bad), None).unwrap_err();
        assert!(
            errors[0].starts_with("host.json $.extensions.workflow.accessControl.triggers.openAuthenticationPolicies.policies.p"),
            "{errors:?}"
        );
    }

    #[test]
    fn bad_ranges_name_their_origin() {
        let wf =
            json!({"contents": {"allowedCallerIpAddresses": [{"addressRange": "10.0.0.0/99"}]}});
        let errors = AccessControl::from_sources(None, Some(&wf)).unwrap_err();
        assert!(
            errors[0].starts_with("workflow.json $.accessControl.contents"),
            "{errors:?}"
        );
    }
}
