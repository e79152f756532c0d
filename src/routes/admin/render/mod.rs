//! Presentation helpers shared by the console's pages: Markdown and widget trees turned into
//! safe HTML, escaped JSON for "raw JSON" toggles, and the flash message the layout shows.
//!
//! Everything here returns finished HTML that templates insert with `|safe`, so every piece of
//! user or model text is escaped (or sanitised, for Markdown) on the way in. Pages never mark
//! anything else as safe.

pub mod markdown;
pub mod widgets;

use std::fmt::Write as _;

use serde_json::Value;

/// The value pretty-printed and HTML-escaped, for a `<pre>` inside a `<details>` toggle.
pub fn pretty_json(value: &Value) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = write!(text, "{value:#}");
    escape_html(&text)
}

/// `text` with the five HTML-significant characters escaped, safe in element content and in
/// quoted attribute values.
/// A duration as people read it: `420 ms`, `1.3 s`.
pub fn duration_text(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// Appends `text` to `out`, escaped as in [`escape_html`].
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A one-line notice shown above a page's content after an action ("Operator added.").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Ok,
    Error,
}

impl Flash {
    pub fn ok(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Ok,
            message: message.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Error,
            message: message.into(),
        }
    }

    /// The CSS class `static/admin.css` styles this kind of message with.
    pub fn class(&self) -> &'static str {
        match self.kind {
            FlashKind::Ok => "flash flash-ok",
            FlashKind::Error => "flash flash-error",
        }
    }

    /// Errors interrupt screen readers; confirmations wait their turn.
    pub fn role(&self) -> &'static str {
        match self.kind {
            FlashKind::Ok => "status",
            FlashKind::Error => "alert",
        }
    }
}

#[cfg(test)]
mod tests;
