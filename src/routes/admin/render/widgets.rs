//! ChatKit widget trees (as stored in `widget` items) rendered to static, read-only HTML for
//! transcripts.
//!
//! A widget is model- or tool-made JSON, so it is treated as hostile: every string is escaped,
//! URLs are vetted, and the only attribute values taken from the widget are escaped text.
//! Layout props (sizes, gaps, colours) map onto a fixed set of `w-*` classes in
//! `static/admin.css`; anything outside those sets is dropped, never passed through as a style.
//! Depth and output size are bounded so one widget cannot swamp a page. Controls render
//! disabled and without `name`s, so a transcript inside a form submits nothing.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::markdown::{is_image_url, markdown_to_html};
use super::push_escaped;
use props::{
    background, box_classes, classes, clip, color, flag, icon_glyph, size_class, spacing,
    text_prop, text_prop_of, token,
};

/// Deeper subtrees are replaced by a notice.
pub const MAX_DEPTH: usize = 64;
/// Once the output is this long, remaining components are skipped and a notice says so.
pub const MAX_OUTPUT: usize = 512 * 1024;
/// Characters kept from any one string prop.
const MAX_TEXT: usize = 20_000;
/// Longest image source shown (inline `data:` images beyond this become a placeholder).
const MAX_SRC: usize = 256 * 1024;
/// Characters of JSON shown for an unknown component.
const MAX_JSON: usize = 16 * 1024;
/// Rows of a chart's data table, options of a select or radio group.
const MAX_ROWS: usize = 200;

type Props = Map<String, Value>;

/// The widget tree (the item's `widget` value, a `Card`, `ListView` or `Basic` root, or any
/// component) as HTML wrapped in `<div class="w-widget">`.
pub fn widget_to_html(widget: &Value) -> String {
    let mut renderer = Renderer {
        out: String::with_capacity(2048),
        truncated: false,
    };
    renderer.out.push_str(r#"<div class="w-widget">"#);
    renderer.node(widget, 0);
    if renderer.truncated {
        renderer
            .out
            .push_str(r#"<p class="w-notice">Widget too large: the rest is not shown.</p>"#);
    }
    renderer.out.push_str("</div>");
    renderer.out
}

struct Renderer {
    out: String,
    truncated: bool,
}

impl Renderer {
    fn node(&mut self, node: &Value, depth: usize) {
        if self.out.len() >= MAX_OUTPUT {
            self.truncated = true;
            return;
        }
        if depth >= MAX_DEPTH {
            self.out.push_str(&format!(
                r#"<p class="w-notice">Nested more than {MAX_DEPTH} levels deep: not shown.</p>"#
            ));
            return;
        }
        let Some((kind, props)) = node
            .as_object()
            .and_then(|props| Some((props.get("type")?.as_str()?, props)))
        else {
            return self.unknown(node);
        };
        match kind {
            "Card" => self.card(props, depth),
            "Basic" | "Box" | "Row" | "Col" | "Form" => self.container(kind, props, depth),
            "ListView" => self.list_view(props, depth),
            "ListViewItem" => self.list_view_item(props, depth),
            "Transition" => self.children(props, depth),
            "Text" | "Title" | "Caption" => self.text(kind, props),
            "Markdown" => {
                self.out.push_str(r#"<div class="w-markdown md">"#);
                self.out.push_str(&markdown_to_html(
                    &text_prop(props, "value").unwrap_or_default(),
                ));
                self.out.push_str("</div>");
            }
            "Label" => self.leaf(
                "span",
                "w-label",
                &text_prop(props, "value").unwrap_or_default(),
            ),
            "Badge" => self.badge(props),
            "Button" => self.button(props),
            "Image" => self.image(props),
            "Icon" => self.icon(
                props
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            "Divider" => self.push_tag(
                "hr",
                classes(["w-divider"], spacing(props, "spacing", "w-space")),
            ),
            "Spacer" => self.out.push_str(r#"<div class="w-spacer"></div>"#),
            "Input" | "Textarea" | "DatePicker" => self.input(kind, props),
            "Select" => self.select(props),
            "Checkbox" => self.checkbox(props),
            "RadioGroup" => self.radio_group(props),
            "Chart" => self.chart(props),
            _ => self.unknown(node),
        }
    }

    fn children(&mut self, props: &Props, depth: usize) {
        match props.get("children") {
            Some(Value::Array(children)) => {
                for child in children {
                    self.node(child, depth + 1);
                }
            }
            Some(child @ Value::Object(_)) => self.node(child, depth + 1),
            _ => {}
        }
    }

    fn card(&mut self, props: &Props, depth: usize) {
        let size = token(props.get("size"), &["sm", "md", "lg", "full"]).unwrap_or("md");
        let class = classes(
            ["w-card", &size_class("w-card", size)],
            box_classes(props).into_iter().chain(background(props)),
        );
        self.open("div", &class);
        if let Some(status) = props.get("status") {
            self.out.push_str(r#"<div class="w-card-status">"#);
            if let Some(icon) = status.get("icon").and_then(Value::as_str) {
                self.icon(icon);
            }
            self.escaped(&text_prop_of(status, "text").unwrap_or_default());
            self.out.push_str("</div>");
        }
        self.out.push_str(r#"<div class="w-col w-gap-3">"#);
        self.children(props, depth);
        self.out.push_str("</div>");
        let buttons: Vec<(&Value, &str)> = [("cancel", "secondary"), ("confirm", "primary")]
            .into_iter()
            .filter_map(|(key, style)| Some((props.get(key)?, style)))
            .collect();
        if !buttons.is_empty() {
            self.out.push_str(r#"<div class="w-card-actions">"#);
            for (button, style) in buttons {
                self.button_like(
                    &text_prop_of(button, "label").unwrap_or_default(),
                    if style == "primary" {
                        "w-btn w-btn-primary"
                    } else {
                        "w-btn w-btn-secondary"
                    },
                    button.get("action"),
                    None,
                    false,
                );
            }
            self.out.push_str("</div>");
        }
        self.out.push_str("</div>");
    }

    fn container(&mut self, kind: &str, props: &Props, depth: usize) {
        let direction = match kind {
            "Row" => "w-row",
            "Col" | "Basic" | "Form" => "w-col",
            _ => match props.get("direction").and_then(Value::as_str) {
                Some("row") => "w-row",
                _ => "w-col",
            },
        };
        let form = (kind == "Form").then(|| "w-form".to_owned());
        let class = classes(
            [direction],
            box_classes(props)
                .into_iter()
                .chain(background(props))
                .chain(form),
        );
        self.open("div", &class);
        self.children(props, depth);
        if let Some(action) = props.get("onSubmitAction").filter(|_| kind == "Form") {
            self.out
                .push_str(r#"<div class="w-form-action">On submit "#);
            self.action(action);
            self.out.push_str("</div>");
        }
        self.out.push_str("</div>");
    }

    fn list_view(&mut self, props: &Props, depth: usize) {
        self.out.push_str(r#"<div class="w-listview">"#);
        let children = props.get("children").and_then(Value::as_array);
        let total = children.map_or(0, Vec::len);
        let limit = props
            .get("limit")
            .and_then(Value::as_u64)
            .and_then(|limit| usize::try_from(limit).ok())
            .filter(|limit| *limit < total);
        for (index, child) in children.into_iter().flatten().enumerate() {
            if Some(index) == limit {
                self.out.push_str(&format!(
                    r#"<div class="w-limit-note">The user saw the first {index} of {total}; the rest is behind "more".</div>"#
                ));
            }
            self.node(child, depth + 1);
        }
        self.out.push_str("</div>");
    }

    fn list_view_item(&mut self, props: &Props, depth: usize) {
        let class = classes(["w-listitem", "w-row"], box_classes(props));
        self.open("div", &class);
        self.out.push_str(r#"<div class="w-row w-gap-2 w-flex">"#);
        self.children(props, depth);
        self.out.push_str("</div>");
        if let Some(action) = props.get("onClickAction") {
            self.action(action);
        }
        self.out.push_str("</div>");
    }

    fn text(&mut self, kind: &str, props: &Props) {
        let value = text_prop(props, "value").unwrap_or_default();
        if let Some(editable) = props.get("editable").filter(|e| e.is_object()) {
            self.field_open();
            self.out
                .push_str(r#"<input class="w-input" type="text" disabled"#);
            self.attr("value", &value);
            self.attr_opt("placeholder", text_prop_of(editable, "placeholder"));
            self.out.push('>');
            self.field_close(text_prop_of(editable, "name"));
            return;
        }
        let (base, sizes): (&str, &[&'static str]) = match kind {
            "Title" => (
                "w-title",
                &["sm", "md", "lg", "xl", "2xl", "3xl", "4xl", "5xl"],
            ),
            "Caption" => ("w-caption", &["sm", "md", "lg"]),
            _ => ("w-text", &["xs", "sm", "md", "lg", "xl"]),
        };
        let mut class = String::from(base);
        let mut add = |c: Option<String>| {
            if let Some(c) = c {
                class.push(' ');
                class.push_str(&c);
            }
        };
        add(token(props.get("size"), sizes).map(|s| size_class(base, s)));
        add(token(
            props.get("weight"),
            &["normal", "medium", "semibold", "bold"],
        )
        .map(|w| format!("w-weight-{w}")));
        add(token(props.get("textAlign"), &["start", "center", "end"]).map(|a| format!("w-ta-{a}")));
        add(color(props.get("color")).map(|c| format!("w-c-{c}")));
        add(flag(props, "italic").then(|| "w-italic".to_owned()));
        add(flag(props, "lineThrough").then(|| "w-strike".to_owned()));
        add(flag(props, "truncate").then(|| "w-truncate".to_owned()));
        add(props
            .get("maxLines")
            .and_then(Value::as_u64)
            .filter(|n| (1..=6).contains(n))
            .map(|n| format!("w-clamp w-clamp-{n}")));
        let tag = if kind == "Text" { "p" } else { "div" };
        self.leaf(tag, &class, &value);
    }

    fn badge(&mut self, props: &Props) {
        let mut class = String::from("w-badge");
        let tone = token(
            props.get("color"),
            &[
                "secondary",
                "success",
                "danger",
                "warning",
                "info",
                "discovery",
            ],
        )
        .unwrap_or("secondary");
        class.push_str(&format!(" w-badge-{tone}"));
        if let Some(variant) = token(props.get("variant"), &["solid", "soft", "outline"]) {
            class.push_str(&format!(" w-badge-{variant}"));
        }
        if flag(props, "pill") {
            class.push_str(" w-pill");
        }
        self.leaf(
            "span",
            &class,
            &text_prop(props, "label").unwrap_or_default(),
        );
    }

    fn button(&mut self, props: &Props) {
        let mut class = String::from("w-btn");
        let style = token(props.get("style"), &["primary", "secondary"]).unwrap_or("secondary");
        class.push_str(&format!(" w-btn-{style}"));
        if let Some(tone) = token(
            props.get("color"),
            &["danger", "success", "warning", "info", "discovery"],
        ) {
            class.push_str(&format!(" w-btn-{tone}"));
        }
        if let Some(variant) = token(props.get("variant"), &["solid", "soft", "outline", "ghost"]) {
            class.push_str(&format!(" w-btn-{variant}"));
        }
        for (key, extra) in [
            ("pill", " w-pill"),
            ("block", " w-block"),
            ("disabled", " w-btn-disabled"),
        ] {
            if flag(props, key) {
                class.push_str(extra);
            }
        }
        let icons = (
            props.get("iconStart").and_then(Value::as_str),
            props.get("iconEnd").and_then(Value::as_str),
        );
        let label = text_prop(props, "label").unwrap_or_default();
        let action = props.get("onClickAction");
        self.button_like(&label, &class, action, Some(icons), flag(props, "submit"));
    }

    /// A button as a non-interactive span, followed by what clicking it would have sent.
    fn button_like(
        &mut self,
        label: &str,
        class: &str,
        action: Option<&Value>,
        icons: Option<(Option<&str>, Option<&str>)>,
        submit: bool,
    ) {
        self.out.push_str(r#"<span class="w-btn-wrap">"#);
        self.open("span", class);
        let (start, end) = icons.unwrap_or_default();
        if let Some(icon) = start {
            self.icon(icon);
        }
        self.escaped(label);
        if let Some(icon) = end {
            self.icon(icon);
        }
        self.out.push_str("</span>");
        if let Some(action) = action {
            self.action(action);
        } else if submit {
            self.out
                .push_str(r#"<code class="w-action" title="submits the form">form submit</code>"#);
        }
        self.out.push_str("</span>");
    }

    /// The action's type as a small tag; its handler and payload in the tooltip.
    fn action(&mut self, action: &Value) {
        let kind = text_prop_of(action, "type").unwrap_or(Cow::Borrowed("?"));
        let handler = action
            .get("handler")
            .and_then(Value::as_str)
            .unwrap_or("server");
        let mut title = format!("{handler} action");
        if let Some(payload) = action.get("payload").filter(|p| !p.is_null()) {
            title.push_str(": ");
            title.push_str(&clip(&payload.to_string(), 500));
        }
        self.out.push_str(r#"<code class="w-action""#);
        self.attr("title", &title);
        self.out.push('>');
        self.escaped(&kind);
        self.out.push_str("</code>");
    }

    fn image(&mut self, props: &Props) {
        let src = props.get("src").and_then(Value::as_str).unwrap_or_default();
        let alt = text_prop(props, "alt").unwrap_or_default();
        if !is_image_url(src) || src.len() > MAX_SRC {
            let why = if src.len() > MAX_SRC {
                "image too large to show"
            } else {
                "image not shown"
            };
            self.out.push_str(r#"<span class="w-image-blocked""#);
            self.attr("title", &clip(src, 200));
            self.out.push('>');
            self.escaped(why);
            if !alt.is_empty() {
                self.out.push_str(": ");
                self.escaped(&alt);
            }
            self.out.push_str("</span>");
            return;
        }
        let largest = ["size", "width", "height"]
            .iter()
            .filter_map(|key| props.get(*key).and_then(Value::as_f64))
            .fold(None, |acc: Option<f64>, v| {
                Some(acc.map_or(v, |a| a.max(v)))
            });
        let bucket = match largest {
            None => "w-img-auto",
            Some(px) if px <= 32.0 => "w-img-xs",
            Some(px) if px <= 64.0 => "w-img-sm",
            Some(px) if px <= 160.0 => "w-img-md",
            Some(px) if px <= 320.0 => "w-img-lg",
            Some(_) => "w-img-xl",
        };
        let mut class = format!("w-image {bucket}");
        if let Some(fit) = token(
            props.get("fit"),
            &["cover", "contain", "fill", "scale-down", "none"],
        ) {
            class.push_str(&format!(" w-fit-{fit}"));
        }
        if props.get("radius").is_some_and(|r| !r.is_null()) {
            class.push_str(" w-rounded");
        }
        if flag(props, "frame") {
            class.push_str(" w-framed");
        }
        self.out.push_str("<img");
        self.attr("class", &class);
        self.attr("src", src.trim_start());
        self.attr("alt", &alt);
        self.out
            .push_str(r#" loading="lazy" referrerpolicy="no-referrer">"#);
    }

    fn icon(&mut self, name: &str) {
        match icon_glyph(name) {
            Some(glyph) => {
                self.out
                    .push_str(r#"<span class="w-icon" aria-hidden="true""#);
                self.attr("title", name);
                self.out.push('>');
                self.out.push_str(glyph);
                self.out.push_str("</span>");
            }
            None => self.leaf("span", "w-icon w-icon-name", &clip(name, 64)),
        }
    }

    fn unknown(&mut self, node: &Value) {
        let kind = node
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("(no type)");
        self.out
            .push_str(r#"<div class="w-unknown"><div class="w-unknown-label">Unknown component "#);
        self.leaf("code", "", &clip(kind, 100));
        self.out.push_str(r#"</div><pre class="w-json">"#);
        let json = format!("{node:#}");
        self.escaped(&clip(&json, MAX_JSON));
        self.out.push_str("</pre></div>");
    }

    /// `<tag class="class">` (no class attribute when empty); `class` is always ours.
    fn open(&mut self, tag: &str, class: &str) {
        self.out.push('<');
        self.out.push_str(tag);
        if !class.is_empty() {
            self.attr("class", class);
        }
        self.out.push('>');
    }

    fn push_tag(&mut self, tag: &str, class: String) {
        self.open(tag, &class);
    }

    fn leaf(&mut self, tag: &str, class: &str, text: &str) {
        self.open(tag, class);
        self.escaped(text);
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    fn escaped(&mut self, text: &str) {
        push_escaped(&mut self.out, text);
    }

    fn attr(&mut self, name: &str, value: &str) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        self.escaped(value);
        self.out.push('"');
    }

    fn attr_opt(&mut self, name: &str, value: Option<Cow<'_, str>>) {
        if let Some(value) = value {
            self.attr(name, &value);
        }
    }
}

mod controls;
mod props;

#[cfg(test)]
mod tests;
