//! Log lines: the format `main` installs in env_logger, as text for people or as JSON lines
//! for collectors, each with the id of the request the line was written for (see
//! [`super::context`]), so one grep finds everything a request did, its run included.

use std::fmt;
use std::io::{self, Write};

use crate::config::LogFormat;

use super::context::request_id;

/// Writes one line for `record` (ending with a newline) in `format`.
pub fn write_line(out: &mut impl Write, format: LogFormat, record: &log::Record) -> io::Result<()> {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
    match format {
        LogFormat::Text => writeln!(
            out,
            "[{now} {:<5} {}] {}",
            record.level(),
            record.target(),
            Message(record)
        ),
        LogFormat::Json => {
            let line = JsonLine {
                timestamp: now.to_string(),
                level: record.level().as_str(),
                target: record.target(),
                message: record.args().to_string(),
                request_id: request_id(),
            };
            serde_json::to_writer(&mut *out, &line).map_err(io::Error::other)?;
            out.write_all(b"\n")
        }
    }
}

/// The message of a text line with its request id after it (` request_id=…`), as written in
/// the text format; what tests capture.
pub struct Message<'a, 'r>(pub &'a log::Record<'r>);

impl fmt::Display for Message<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.args())?;
        match request_id() {
            Some(id) => write!(f, " request_id={id}"),
            None => Ok(()),
        }
    }
}

#[derive(serde::Serialize)]
struct JsonLine<'a> {
    timestamp: String,
    level: &'static str,
    target: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<std::sync::Arc<str>>,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::context::within_request;
    use super::*;

    fn line(format: LogFormat) -> String {
        let mut out = Vec::new();
        write_line(
            &mut out,
            format,
            &log::Record::builder()
                .args(format_args!("turn \"failed\"\n twice"))
                .level(log::Level::Warn)
                .target("chatkit_server::runs")
                .build(),
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn json_lines_parse_and_carry_the_request_id() {
        let (written, _) =
            within_request(Arc::from("req-7"), async { line(LogFormat::Json) }).await;
        assert!(written.ends_with('\n'));
        assert_eq!(written.matches('\n').count(), 1, "one line: {written}");
        let value: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["target"], "chatkit_server::runs");
        assert_eq!(value["message"], "turn \"failed\"\n twice");
        assert_eq!(value["request_id"], "req-7");
        let timestamp = value["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
            "{timestamp}"
        );

        let outside: serde_json::Value = serde_json::from_str(&line(LogFormat::Json)).unwrap();
        assert!(outside.get("request_id").is_none(), "{outside}");
    }

    #[tokio::test]
    async fn text_lines_end_with_the_request_id() {
        let (written, _) =
            within_request(Arc::from("req-8"), async { line(LogFormat::Text) }).await;
        assert!(written.starts_with('['));
        assert!(
            written.contains(" WARN  chatkit_server::runs] turn \"failed\""),
            "{written}"
        );
        assert!(written.ends_with(" twice request_id=req-8\n"), "{written}");
        assert!(!line(LogFormat::Text).contains("request_id"));
    }
}
