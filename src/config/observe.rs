//! Logs and metrics: how log lines are written (`CHATKIT_LOG_FORMAT`) and the bearer token
//! that guards `GET /metrics` (`CHATKIT_METRICS_TOKEN`).

use super::{ConfigError, Secret};

/// How each log line is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `[time LEVEL target] message request_id=…`, for people reading a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors that index fields.
    Json,
}

#[derive(Debug, Clone, Default)]
pub struct ObserveSettings {
    /// `CHATKIT_LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
    /// `CHATKIT_METRICS_TOKEN`: when set, `/metrics` answers only `Authorization: Bearer
    /// <token>`; unset, it is open like `/healthz`, since it holds counts and no user data.
    pub metrics_token: Option<Secret>,
}

impl ObserveSettings {
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<ObserveSettings, ConfigError> {
        let log_format = match get("CHATKIT_LOG_FORMAT")
            .map(|raw| raw.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "CHATKIT_LOG_FORMAT",
                    format!("'{other}' is not text or json"),
                ));
            }
        };
        let metrics_token = match get("CHATKIT_METRICS_TOKEN") {
            Some(token) if token.len() < 16 => {
                return Err(ConfigError::new(
                    "CHATKIT_METRICS_TOKEN",
                    "is shorter than 16 characters (e.g. `openssl rand -hex 32`)",
                ));
            }
            token => token.map(Secret::new),
        };
        Ok(ObserveSettings {
            log_format,
            metrics_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    #[test]
    fn defaults_are_text_logs_and_open_metrics() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.observe.log_format, LogFormat::Text);
        assert!(s.observe.metrics_token.is_none());
    }

    #[test]
    fn values_are_read_and_bad_ones_named() {
        let token = "metrics-token-0123456789";
        let s = settings(&[
            ("CHATKIT_LOG_FORMAT", "JSON"),
            ("CHATKIT_METRICS_TOKEN", token),
        ])
        .unwrap();
        assert_eq!(s.observe.log_format, LogFormat::Json);
        assert_eq!(s.observe.metrics_token.unwrap().expose(), token);
        let e = settings(&[("CHATKIT_LOG_FORMAT", "xml")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_LOG_FORMAT");
        let e = settings(&[("CHATKIT_METRICS_TOKEN", "short")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_METRICS_TOKEN");
    }
}
