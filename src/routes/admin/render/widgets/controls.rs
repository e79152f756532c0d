//! Form controls and charts: shown as they looked, disabled and without field names of
//! their own, with the form field each one fills written next to it.

use std::borrow::Cow;

use serde_json::Value;

use super::props::{flag, text_prop, text_prop_of, token};
use super::{MAX_ROWS, Props, Renderer};

impl Renderer {
    pub(super) fn input(&mut self, kind: &str, props: &Props) {
        let value = text_prop(props, "defaultValue").unwrap_or_default();
        let placeholder = text_prop(props, "placeholder");
        self.field_open();
        if kind == "Textarea" {
            let rows = props
                .get("rows")
                .and_then(Value::as_u64)
                .unwrap_or(3)
                .clamp(1, 12);
            self.out.push_str(&format!(
                r#"<textarea class="w-input w-textarea" rows="{rows}" disabled"#
            ));
            self.attr_opt("placeholder", placeholder);
            self.out.push('>');
            self.escaped(&value);
            self.out.push_str("</textarea>");
        } else {
            let input_type = match kind {
                "DatePicker" => "text",
                _ => token(
                    props.get("inputType"),
                    &["number", "email", "text", "password", "tel", "url"],
                )
                .unwrap_or("text"),
            };
            let class = if kind == "DatePicker" {
                "w-input w-date"
            } else {
                "w-input"
            };
            self.out.push_str(&format!(
                r#"<input class="{class}" type="{input_type}" disabled"#
            ));
            self.attr("value", &value);
            self.attr_opt("placeholder", placeholder);
            self.out.push('>');
        }
        let mut notes = Vec::new();
        if flag(props, "required") {
            notes.push("required".to_owned());
        }
        for (key, label) in [("min", "from"), ("max", "until"), ("pattern", "pattern")] {
            if let Some(v) = text_prop(props, key) {
                notes.push(format!("{label} {v}"));
            }
        }
        if !notes.is_empty() {
            self.leaf("span", "w-field-note", &notes.join(" · "));
        }
        self.field_close(text_prop(props, "name"));
    }

    pub(super) fn select(&mut self, props: &Props) {
        let default = props.get("defaultValue").and_then(Value::as_str);
        let options = props
            .get("options")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let shown = options
            .iter()
            .find(|o| default.is_some() && o.get("value").and_then(Value::as_str) == default)
            .and_then(|o| text_prop_of(o, "label"))
            .or_else(|| default.map(Cow::Borrowed))
            .or_else(|| text_prop(props, "placeholder"))
            .unwrap_or(Cow::Borrowed("Select…"));
        self.field_open();
        self.leaf("span", "w-input w-select", &shown);
        self.out.push_str(r#"<ul class="w-options">"#);
        for option in options.iter().take(MAX_ROWS) {
            let value = text_prop_of(option, "value").unwrap_or_default();
            let selected = default.is_some_and(|d| d == value);
            let mut class = String::new();
            if selected {
                class.push_str("w-selected");
            }
            if option.get("disabled").and_then(Value::as_bool) == Some(true) {
                class.push_str(" w-option-disabled");
            }
            self.open("li", class.trim());
            self.escaped(&text_prop_of(option, "label").unwrap_or_else(|| value.clone()));
            self.out.push(' ');
            self.leaf("code", "w-option-value", &value);
            self.out.push_str("</li>");
        }
        self.out.push_str("</ul>");
        self.field_close(text_prop(props, "name"));
    }

    pub(super) fn checkbox(&mut self, props: &Props) {
        self.field_open();
        self.check(
            "checkbox",
            flag(props, "defaultChecked"),
            &text_prop(props, "label").unwrap_or_default(),
        );
        self.field_close(text_prop(props, "name"));
    }

    pub(super) fn radio_group(&mut self, props: &Props) {
        let default = text_prop(props, "defaultValue");
        let direction = match props.get("direction").and_then(Value::as_str) {
            Some("row") => "w-row w-gap-3",
            _ => "w-col w-gap-1",
        };
        self.field_open();
        self.open("div", &format!("w-radios {direction}"));
        let options = props
            .get("options")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for option in options.iter().take(MAX_ROWS) {
            let value = text_prop_of(option, "value");
            let checked = default.is_some() && value == default;
            let label = text_prop_of(option, "label").or(value).unwrap_or_default();
            self.check("radio", checked, &label);
        }
        self.out.push_str("</div>");
        self.field_close(text_prop(props, "name"));
    }

    fn check(&mut self, input_type: &str, checked: bool, label: &str) {
        let checked = if checked { " checked" } else { "" };
        self.out.push_str(&format!(
            r#"<label class="w-check"><input type="{input_type}" disabled{checked}> "#
        ));
        self.escaped(label);
        self.out.push_str("</label>");
    }

    pub(super) fn chart(&mut self, props: &Props) {
        let x_key = match props.get("xAxis") {
            Some(Value::String(key)) => Some(key.as_str()),
            Some(axis) => axis.get("dataKey").and_then(Value::as_str),
            None => None,
        };
        let data = props
            .get("data")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let series: Vec<(&str, Cow<'_, str>, &str)> = props
            .get("series")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(20)
            .filter_map(|s| {
                let key = s.get("dataKey")?.as_str()?;
                let label = text_prop_of(s, "label").unwrap_or(Cow::Borrowed(key));
                Some((
                    key,
                    label,
                    s.get("type").and_then(Value::as_str).unwrap_or(""),
                ))
            })
            .collect();
        let columns: Vec<(&str, Cow<'_, str>)> = match (x_key, series.is_empty()) {
            (_, false) => x_key
                .map(|k| (k, Cow::Borrowed(k)))
                .into_iter()
                .chain(series.iter().map(|(key, label, _)| (*key, label.clone())))
                .collect(),
            (_, true) => data
                .first()
                .and_then(Value::as_object)
                .map(|first| {
                    first
                        .keys()
                        .take(20)
                        .map(|k| (k.as_str(), Cow::Borrowed(k.as_str())))
                        .collect()
                })
                .unwrap_or_default(),
        };
        self.out
            .push_str(r#"<div class="w-chart"><table class="w-chart-table"><caption>Chart"#);
        let kinds: Vec<&str> = series
            .iter()
            .map(|(_, _, kind)| *kind)
            .filter(|k| !k.is_empty())
            .collect();
        if !kinds.is_empty() {
            self.out.push_str(" · ");
            self.escaped(&kinds.join(", "));
        }
        self.out.push_str("</caption><thead><tr>");
        for (_, label) in &columns {
            self.leaf("th", "", label);
        }
        self.out.push_str("</tr></thead><tbody>");
        for row in data.iter().take(MAX_ROWS) {
            self.out.push_str("<tr>");
            for (key, _) in &columns {
                let cell = text_prop_of(row, key).unwrap_or_default();
                let class = if row.get(*key).is_some_and(Value::is_number) {
                    "w-num"
                } else {
                    ""
                };
                self.leaf("td", class, &cell);
            }
            self.out.push_str("</tr>");
        }
        self.out.push_str("</tbody></table>");
        if data.len() > MAX_ROWS {
            self.out.push_str(&format!(
                r#"<p class="w-notice">{} more rows not shown.</p>"#,
                data.len() - MAX_ROWS
            ));
        }
        self.out.push_str("</div>");
    }

    pub(super) fn field_open(&mut self) {
        self.out.push_str(r#"<div class="w-field">"#);
    }

    /// Closes a control, naming the form field it fills (operators match answers by it).
    pub(super) fn field_close(&mut self, name: Option<Cow<'_, str>>) {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            self.leaf("code", "w-field-name", &name);
        }
        self.out.push_str("</div>");
    }
}
