//! Timestamp (de)serialization used for every `created_at`.
//!
//! Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits and `Z`),
//! reads RFC 3339 as well as the naive ISO strings the SDK emits (local time
//! without offset), which are taken as UTC.

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer, de};

/// Serializes in the fixed microsecond `Z` form.
pub fn serialize<S: Serializer>(value: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    match fixed(value) {
        // Always ASCII digits and separators.
        Some(text) => serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default()),
        None => serializer.collect_str(&value.format(FORMAT)),
    }
}

/// The chrono format [`serialize`] writes, for the times [`fixed`] leaves to it.
const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// `value` in the wire form, written digit by digit: every item of every listed page carries
/// a timestamp, and chrono's `format` interprets its pattern each time. `None` for what the
/// fixed width cannot hold (years outside 0..=9999, a leap second), which chrono writes.
fn fixed(value: &DateTime<Utc>) -> Option<[u8; 27]> {
    let year = u32::try_from(value.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = value.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, value.month());
    put(8, 2, value.day());
    put(11, 2, value.hour());
    put(14, 2, value.minute());
    put(17, 2, value.second());
    put(20, 6, nanos / 1_000);
    Some(out)
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

    /// The hand-written form is chrono's, digit for digit, over dates, times and fractions
    /// across the range it covers; times outside it still serialize, through chrono.
    #[test]
    fn fixed_form_matches_chrono() {
        use chrono::{DateTime, Utc};
        let check = |t: DateTime<Utc>| {
            let ours = serde_json::to_value(crate::chatkit::types::Thread::new("t".into(), t))
                .expect("serializes")["created_at"]
                .clone();
            let chrono = t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            assert_eq!(ours, serde_json::Value::String(chrono), "{t:?}");
        };
        // Years 0000 to 9999 in steps of a little under 116 days, each with its own fraction.
        let (first, last) = (-62_167_219_200_i64, 253_402_300_799_i64);
        let mut secs = first;
        let mut n = 0u32;
        while secs <= last {
            let nanos = n.wrapping_mul(2_654_435_761) % 1_000_000_000;
            check(DateTime::<Utc>::from_timestamp(secs, nanos).expect("in range"));
            secs += 10_000_019;
            n += 1;
        }
        for t in [first, last, 0, 951_782_400, 1_780_000_000] {
            check(DateTime::<Utc>::from_timestamp(t, 999_999_999).expect("in range"));
            check(DateTime::<Utc>::from_timestamp(t, 0).expect("in range"));
        }
        check(DateTime::<Utc>::MIN_UTC);
        check(DateTime::<Utc>::MAX_UTC);
    }
}
