//! Run-history retention: finished runs older than the retention period are
//! deleted in the background, so the database does not grow without bound.
//!
//! The period is the Logic Apps Standard setting
//! `Workflows.RuntimeConfiguration.RetentionInDays` (90 days by default), read
//! from host.json `extensions.workflow.settings` or from the app settings
//! (local.settings.json `Values`, overridden by the environment).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use conflux_store::Store;
use serde_json::Value;

use crate::Clock;

/// The setting's name, as in Logic Apps Standard.
pub const RETENTION_SETTING: &str = "Workflows.RuntimeConfiguration.RetentionInDays";
/// Logic Apps' default retention.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// How often expired runs are looked for.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// The retention period in days; an app setting wins over host.json. A value
/// that is not a positive whole number is an error naming where it came from.
pub fn retention_days(
    host_json: &Value,
    app_settings: &HashMap<String, String>,
) -> Result<u32, String> {
    if let Some(text) = app_settings.get(RETENTION_SETTING) {
        return parse_days(text, "the app setting");
    }
    match host_json
        .pointer("/extensions/workflow/settings")
        .and_then(|s| s.get(RETENTION_SETTING))
    {
        None => Ok(DEFAULT_RETENTION_DAYS),
        Some(Value::Number(n)) => parse_days(&n.to_string(), "host.json"),
        Some(Value::String(s)) => parse_days(s, "host.json"),
        Some(other) => Err(format!(
            "{RETENTION_SETTING} in host.json must be a number of days, got {other}"
        )),
    }
}

fn parse_days(text: &str, source: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(days) if days > 0 => Ok(days),
        _ => Err(format!(
            "{RETENTION_SETTING} in {source} must be a whole number of days above 0, got '{text}'"
        )),
    }
}

/// Purges once now and then every [`PURGE_INTERVAL`], until the task is aborted.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    days: u32,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let cutoff = clock.now() - chrono::Duration::days(i64::from(days));
            match store.purge_older_than(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(runs = n, days, "Deleted runs past the retention period."),
                Err(err) => {
                    tracing::warn!(error = %err, "Purging old runs failed; retrying later.")
                }
            }
            tokio::time::sleep(PURGE_INTERVAL).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_to_ninety_days() {
        assert_eq!(retention_days(&json!({}), &settings(&[])), Ok(90));
    }

    #[test]
    fn host_json_and_app_settings_set_it_app_settings_win() {
        let host = json!({"extensions": {"workflow": {"settings": {RETENTION_SETTING: "30"}}}});
        assert_eq!(retention_days(&host, &settings(&[])), Ok(30));
        assert_eq!(
            retention_days(&host, &settings(&[(RETENTION_SETTING, "7")])),
            Ok(7)
        );
        let numeric = json!({"extensions": {"workflow": {"settings": {RETENTION_SETTING: 14}}}});
        assert_eq!(retention_days(&numeric, &settings(&[])), Ok(14));
    }

    #[test]
    fn bad_values_say_where_they_came_from() {
        let err = retention_days(&json!({}), &settings(&[(RETENTION_SETTING, "0")])).unwrap_err();
        assert!(err.contains("app setting") && err.contains("'0'"), "{err}");
        let host = json!({"extensions": {"workflow": {"settings": {RETENTION_SETTING: "soon"}}}});
        let err = retention_days(&host, &settings(&[])).unwrap_err();
        assert!(err.contains("host.json"), "{err}");
    }
}
