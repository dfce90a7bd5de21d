//! `accessControl`: which callers may fire triggers and read run-history contents.
//!
//! Read from two places: `host.json` `extensions.workflow.accessControl`
//! applies to every workflow, and a top-level `accessControl` object in a
//! `workflow.json` replaces it section by section for that workflow. The
//! shape is that of the Logic Apps workflow resource (wdl-spec §10.1).

use conflux_security::IpFilter;
use serde_json::Value;

/// The parsed restrictions of one workflow.
#[derive(Debug, Clone, Default)]
pub struct AccessControl {
    /// Who may call Request triggers (absent: everyone; empty: nobody over HTTP).
    pub triggers: IpFilter,
    /// Who may open inputs/outputs content links.
    pub contents: IpFilter,
    /// `triggers.sasAuthenticationPolicy.state == "Disabled"`.
    pub sas_disabled: bool,
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
        if errors.is_empty() {
            Ok(AccessControl {
                triggers,
                contents,
                sas_disabled,
            })
        } else {
            Err(errors)
        }
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
