//! The small parsers every concern shares. Each reads one variable through `get` (trimmed, an
//! empty value counts as unset) and names that variable in its error.

use std::time::Duration;

use super::ConfigError;

/// A comma list (`a, b ,`): items trimmed, empty ones dropped; `None` when the variable is unset.
pub fn list(get: &impl Fn(&str) -> Option<String>, var: &str) -> Option<Vec<String>> {
    get(var).map(|raw| {
        raw.split(',')
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect()
    })
}

/// `1|true|yes|on` or `0|false|no|off`, in any case.
pub fn flag(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError::new(
            var,
            format!("'{other}' is not true or false"),
        )),
    }
}

/// A number from `min` to `max`, both included.
pub fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = get(var) else {
        return Ok(default);
    };
    match raw.parse::<T>() {
        Ok(value) if value >= min && value <= max => Ok(value),
        _ => Err(ConfigError::new(
            var,
            format!("'{raw}' is not a number from {min} to {max}"),
        )),
    }
}

/// A duration in whole seconds, from `min` to `max`.
pub fn secs(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    number(get, var, default, min, max).map(Duration::from_secs)
}

/// A duration in whole milliseconds, from `min` to `max`.
pub fn millis(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    number(get, var, default, min, max).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> impl Fn(&str) -> Option<String> + '_ {
        move |_| Some(value.to_owned())
    }

    #[test]
    fn lists_numbers_and_flags() {
        assert_eq!(list(&one("a, b ,,c"), "X").unwrap(), ["a", "b", "c"]);
        assert_eq!(list(&|_: &str| None, "X"), None);
        assert_eq!(number(&one("7"), "X", 1u32, 1, 10).unwrap(), 7);
        let e = number(&one("11"), "X", 1u32, 1, 10).unwrap_err();
        assert_eq!(e.to_string(), "X: '11' is not a number from 1 to 10");
        assert_eq!(
            millis(&one("250"), "X", 0, 0, 1000).unwrap(),
            Duration::from_millis(250)
        );
        assert!(flag(&one("ON"), "X", false).unwrap());
        assert_eq!(flag(&one("maybe"), "X", false).unwrap_err().var, "X");
    }
}
