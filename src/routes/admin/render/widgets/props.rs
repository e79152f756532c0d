//! Reading widget props: allow-listed tokens, spacing steps, colours and clipped text.

use std::borrow::Cow;

use serde_json::Value;

use super::{MAX_TEXT, Props};

/// `base` classes followed by `extra` ones, space-separated. Every class is ours: fixed
/// strings or tokens checked against an allow-list.
pub(super) fn classes<'a>(
    base: impl IntoIterator<Item = &'a str>,
    extra: impl IntoIterator<Item = String>,
) -> String {
    let mut out: Vec<String> = base.into_iter().map(str::to_owned).collect();
    out.extend(extra);
    out.join(" ")
}

pub(super) fn size_class(base: &str, size: &str) -> String {
    format!("{base}-{size}")
}

/// The flex/box props ChatKit puts on containers, as classes.
pub(super) fn box_classes(props: &Props) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(spacing(props, "gap", "w-gap"));
    out.extend(spacing(props, "padding", "w-pad"));
    if let Some(align) = token(
        props.get("align"),
        &["start", "center", "end", "baseline", "stretch"],
    ) {
        out.push(format!("w-align-{align}"));
    }
    let justify = [
        "start", "center", "end", "between", "around", "evenly", "stretch",
    ];
    if let Some(justify) = token(props.get("justify"), &justify) {
        out.push(format!("w-justify-{justify}"));
    }
    if flag(props, "wrap") || props.get("wrap").and_then(Value::as_str) == Some("wrap") {
        out.push("w-wrap".to_owned());
    }
    if props
        .get("flex")
        .is_some_and(|f| f.as_f64().is_some_and(|f| f > 0.0) || f.is_string())
    {
        out.push("w-flex".to_owned());
    }
    if props
        .get("border")
        .is_some_and(|b| !b.is_null() && b != &Value::Bool(false))
    {
        out.push("w-bordered".to_owned());
    }
    if props.get("radius").is_some_and(|r| !r.is_null()) {
        out.push("w-rounded".to_owned());
    }
    out
}

/// ChatKit spacing is in units of 4px; the stylesheet has steps 0 to 8. An object
/// (`{x, y, top, ...}`) counts by its largest side.
pub(super) fn spacing(props: &Props, key: &str, prefix: &str) -> Option<String> {
    let units = match props.get(key)? {
        Value::Number(n) => n.as_f64()?,
        Value::Object(sides) => sides
            .values()
            .filter_map(Value::as_f64)
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))?,
        _ => return None,
    };
    if !units.is_finite() {
        return None;
    }
    // Clamped to 0..=8 first, so the cast cannot truncate.
    let step = units.round().clamp(0.0, 8.0) as u8;
    Some(format!("{prefix}-{step}"))
}

pub(super) fn background(props: &Props) -> Option<String> {
    let value = props.get("background").filter(|b| !b.is_null())?;
    Some(match color(Some(value)) {
        Some(tone @ ("success" | "danger" | "warning" | "info" | "discovery")) => {
            format!("w-bg-{tone}")
        }
        _ => "w-bg-surface".to_owned(),
    })
}

/// `value` if it is a string in `allowed` (returned as the allow-list's own `'static` copy).
pub(super) fn token(value: Option<&Value>, allowed: &[&'static str]) -> Option<&'static str> {
    let value = value?.as_str()?;
    allowed.iter().copied().find(|a| *a == value)
}

/// A ChatKit colour (a semantic token, a palette shade like `blue-500`, or `{light, dark}`)
/// reduced to one of the stylesheet's tones; `None` keeps the default text colour.
pub(super) fn color(value: Option<&Value>) -> Option<&'static str> {
    let name = match value? {
        Value::String(name) => name.as_str(),
        Value::Object(themed) => themed.get("light")?.as_str()?,
        _ => return None,
    };
    let hue = name.split('-').next().unwrap_or(name);
    Some(match hue {
        "secondary" | "gray" | "slate" | "zinc" | "neutral" | "stone" => "secondary",
        "tertiary" => "tertiary",
        "emphasis" => "emphasis",
        "success" | "green" | "emerald" | "lime" | "teal" => "success",
        "danger" | "red" | "rose" => "danger",
        "warning" | "caution" | "orange" | "amber" | "yellow" => "warning",
        "info" | "blue" | "sky" | "cyan" | "indigo" => "info",
        "discovery" | "purple" | "violet" | "fuchsia" | "pink" => "discovery",
        _ => return None,
    })
}

pub(super) fn flag(props: &Props, key: &str) -> bool {
    props.get(key).and_then(Value::as_bool) == Some(true)
}

/// A string prop (numbers and booleans shown as written), clipped to [`MAX_TEXT`] characters.
pub(super) fn text_prop<'a>(props: &'a Props, key: &str) -> Option<Cow<'a, str>> {
    match props.get(key)? {
        Value::String(text) => Some(clip(text, MAX_TEXT)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

pub(super) fn text_prop_of<'a>(value: &'a Value, key: &str) -> Option<Cow<'a, str>> {
    text_prop(value.as_object()?, key)
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub(super) fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    match text.char_indices().nth(max) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

/// A glyph for ChatKit's common icon names; others are shown by name.
pub(super) fn icon_glyph(name: &str) -> Option<&'static str> {
    Some(match name {
        "check" | "check-circle" | "check-circle-filled" => "✓",
        "x" | "close" => "✕",
        "plus" => "+",
        "star" => "☆",
        "star-filled" => "★",
        "chevron-left" => "‹",
        "chevron-right" => "›",
        "circle-question" => "?",
        "info" => "ⓘ",
        "dot" => "•",
        "dots-horizontal" => "⋯",
        "dots-vertical" => "⋮",
        "empty-circle" => "○",
        "external-link" => "↗",
        "mail" => "✉",
        "phone" => "☎",
        "play" => "▶",
        "reload" => "↻",
        "search" => "⌕",
        "sparkle" | "sparkle-double" => "✦",
        "bolt" => "ϟ",
        "settings-slider" => "⚙",
        "write" | "write-alt" | "write-alt2" | "notebook-pencil" => "✎",
        "calendar" | "book-clock" => "▦",
        "globe" | "compass" => "◎",
        "lightbulb" => "✧",
        "user" | "profile" | "profile-card" | "agent" => "◉",
        "document" | "page-blank" | "square-text" | "notebook" => "▤",
        "keys" => "⚷",
        "map-pin" => "⌖",
        _ => return None,
    })
}
