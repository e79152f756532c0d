//! Timestamp (de)serialization used for every `created_at`.
//!
//! Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits and `Z`),
//! reads RFC 3339 as well as the naive ISO strings the SDK emits (local time
//! without offset), which are taken as UTC.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serializer, de};

/// Serializes in the fixed microsecond `Z` form.
pub fn serialize<S: Serializer>(value: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&value.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// Deserializes RFC 3339 or a naive ISO 8601 date-time (treated as UTC).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).ok_or_else(|| de::Error::custom(format!("invalid timestamp `{text}`")))
}

/// Parses one timestamp string as accepted on the wire.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(text, fmt).ok())
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use crate::chatkit::types::{Thread, timestamp};

    #[test]
    fn sdk_naive_timestamps_parse_as_utc() {
        let sample = r#"{"id":"thr_ceeaedc1","created_at":"2026-11-23T23:04:25.852670","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}"#;
        let thread: Thread = serde_json::from_str(sample).expect("naive timestamp accepted");
        let json = serde_json::to_value(&thread).expect("serializes");
        assert_eq!(json["created_at"], "2026-11-23T23:04:25.852670Z");

        let parse = |s| timestamp::parse(s).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        // The SDK drops the fraction when it is zero.
        assert_eq!(
            parse("2026-11-23T23:04:25").as_deref(),
            Some("2026-11-23T23:04:25.000000Z")
        );
        assert_eq!(
            parse("2026-11-23T23:04:25.5+02:00").as_deref(),
            Some("2026-11-23T21:04:25.500000Z")
        );
        assert_eq!(
            parse("2026-11-23T23:04:25.123456789Z").as_deref(),
            Some("2026-11-23T23:04:25.123456Z")
        );
        assert_eq!(parse("yesterday"), None);
        let err =
            serde_json::from_str::<Thread>(&sample.replace("2026-11-23T23:04:25.852670", "soon"))
                .expect_err("bad timestamp rejected");
        assert!(
            err.to_string().contains("invalid timestamp `soon`"),
            "{err}"
        );
    }
}
