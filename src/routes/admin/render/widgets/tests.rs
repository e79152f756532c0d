use serde_json::{Value, json};

use super::{MAX_DEPTH, MAX_OUTPUT, widget_to_html};

/// Elements the renderer (and ammonia, for Markdown) may emit.
const TAGS: &[&str] = &[
    "div", "span", "p", "code", "pre", "hr", "img", "input", "textarea", "label", "ul", "ol", "li",
    "table", "caption", "thead", "tbody", "tr", "th", "td", "strong", "em", "del", "a", "br",
];
/// Attributes they may carry; never `style` or an event handler.
const ATTRIBUTES: &[&str] = &[
    "class",
    "title",
    "src",
    "alt",
    "loading",
    "referrerpolicy",
    "type",
    "disabled",
    "checked",
    "value",
    "placeholder",
    "rows",
    "aria-hidden",
    "href",
    "rel",
    "align",
];

/// Walks every tag of `html` and checks its name, attributes and URLs against the allow-lists.
/// Text from widgets is escaped, so every `<` in the output opens a tag we wrote.
fn assert_structurally_safe(html: &str) {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if let Some(after) = rest.strip_prefix('/') {
            let end = after.find('>').expect("closing tag ends");
            let name = &after[..end];
            assert!(TAGS.contains(&name), "closing tag {name:?} in {html}");
            rest = &after[end + 1..];
            continue;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>')
            .expect("tag name ends");
        let name = &rest[..name_end];
        assert!(TAGS.contains(&name), "tag {name:?} in {html}");
        rest = &rest[name_end..];
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('>') {
                rest = after;
                break;
            }
            let attr_end = rest
                .find(|c: char| c == '=' || c == '>' || c.is_whitespace())
                .expect("attribute name ends");
            let attr = &rest[..attr_end];
            assert!(
                ATTRIBUTES.contains(&attr),
                "attribute {attr:?} on <{name}> in {html}"
            );
            rest = &rest[attr_end..];
            if let Some(after) = rest.strip_prefix("=\"") {
                let value_end = after.find('"').expect("attribute value ends");
                let value = &after[..value_end];
                if attr == "src" {
                    assert!(
                        value.starts_with("https://")
                            || value.starts_with("http://")
                            || value.starts_with("data:image/png"),
                        "src {value:?}"
                    );
                }
                if attr == "href" {
                    assert!(value.starts_with("https://"), "href {value:?}");
                }
                rest = &after[value_end + 1..];
            }
        }
    }
}

fn render(widget: Value) -> String {
    let html = widget_to_html(&widget);
    assert_structurally_safe(&html);
    html
}

#[test]
fn card_with_status_children_and_confirm_actions() {
    let html = render(json!({
        "type": "Card", "size": "lg", "padding": 4, "background": "green-100",
        "status": {"text": "Booking", "icon": "calendar"},
        "children": [{"type": "Text", "value": "Table for two"}],
        "confirm": {"label": "Book", "action": {"type": "booking.confirm", "payload": {"id": 7}}},
        "cancel": {"label": "Never mind", "action": {"type": "booking.cancel"}}
    }));
    assert!(
        html.starts_with(
            r#"<div class="w-widget"><div class="w-card w-card-lg w-pad-4 w-bg-success">"#
        ),
        "{html}"
    );
    assert!(html.contains(r#"<div class="w-card-status"><span class="w-icon" aria-hidden="true" title="calendar">▦</span>Booking</div>"#), "{html}");
    assert!(
        html.contains(r#"<p class="w-text">Table for two</p>"#),
        "{html}"
    );
    assert!(html.contains(r#"<span class="w-btn w-btn-primary">Book</span><code class="w-action" title="server action: {&quot;id&quot;:7}">booking.confirm</code>"#), "{html}");
    assert!(html.contains(">Never mind</span>"), "{html}");
    let cancel = html.find("Never mind").unwrap();
    let confirm = html.find(">Book<").unwrap();
    assert!(
        cancel < confirm,
        "cancel comes before confirm, as in ChatKit"
    );
}

#[test]
fn boxes_rows_and_columns_map_props_to_classes() {
    let html = render(json!({
        "type": "Basic", "children": [
            {"type": "Row", "gap": 2, "align": "center", "justify": "between", "wrap": "wrap",
             "children": [{"type": "Text", "value": "a"}]},
            {"type": "Col", "gap": 40, "padding": {"x": 2, "y": 3}, "flex": 1, "border": {"size": 1}, "radius": "md"},
            {"type": "Box", "direction": "row", "background": "surface-secondary"},
            {"type": "Box"}
        ]
    }));
    assert!(html.contains(r#"<div class="w-row w-gap-2 w-align-center w-justify-between w-wrap"><p class="w-text">a</p></div>"#), "{html}");
    assert!(
        html.contains(r#"<div class="w-col w-gap-8 w-pad-3 w-flex w-bordered w-rounded"></div>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<div class="w-row w-bg-surface"></div>"#),
        "{html}"
    );
    assert!(html.contains(r#"<div class="w-col"></div>"#), "{html}");
}

#[test]
fn text_title_caption_and_their_styles() {
    let html = render(json!({"type": "Col", "children": [
        {"type": "Title", "value": "Order 42", "size": "2xl", "weight": "bold"},
        {"type": "Caption", "value": "placed today", "size": "sm", "color": "secondary"},
        {"type": "Text", "value": "old price", "lineThrough": true, "italic": true, "color": {"light": "red-500", "dark": "red-300"}},
        {"type": "Text", "value": 12.5, "textAlign": "end", "truncate": true, "maxLines": 2},
        {"type": "Text", "value": "x", "size": "huge", "color": "#ff0000", "weight": "900"}
    ]}));
    assert!(
        html.contains(r#"<div class="w-title w-title-2xl w-weight-bold">Order 42</div>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<div class="w-caption w-caption-sm w-c-secondary">placed today</div>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<p class="w-text w-c-danger w-italic w-strike">old price</p>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<p class="w-text w-ta-end w-truncate w-clamp w-clamp-2">12.5</p>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<p class="w-text">x</p>"#),
        "unknown tokens are dropped: {html}"
    );
}

#[test]
fn editable_text_shows_as_a_disabled_input_with_its_field_name() {
    let html = render(
        json!({"type": "Text", "value": "Buy milk", "editable": {"name": "todo.title", "placeholder": "Title"}}),
    );
    assert!(
        html.contains(
            r#"<input class="w-input" type="text" disabled value="Buy milk" placeholder="Title">"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<code class="w-field-name">todo.title</code>"#),
        "{html}"
    );
}

#[test]
fn markdown_is_rendered_and_sanitised() {
    let html = render(
        json!({"type": "Markdown", "value": "**bold** [x](javascript:alert(1)) <script>alert(2)</script>"}),
    );
    assert!(html.contains(r#"<div class="w-markdown md"><p><strong>bold</strong> <a rel="noopener noreferrer nofollow">x</a>"#), "{html}");
    assert!(!html.contains("alert"), "{html}");
}

#[test]
fn badges_map_colour_variant_and_pill() {
    let html = render(json!({"type": "Row", "children": [
        {"type": "Badge", "label": "Paid", "color": "success", "variant": "outline", "pill": true},
        {"type": "Badge", "label": "Other", "color": "chartreuse"}
    ]}));
    assert!(
        html.contains(
            r#"<span class="w-badge w-badge-success w-badge-outline w-pill">Paid</span>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="w-badge w-badge-secondary">Other</span>"#),
        "{html}"
    );
}

#[test]
fn buttons_are_inert_and_name_their_action() {
    let html = render(json!({"type": "Row", "children": [
        {"type": "Button", "label": "Approve", "style": "primary", "color": "success", "iconStart": "check",
         "onClickAction": {"type": "human.approve", "handler": "client"}},
        {"type": "Button", "label": "Send", "submit": true, "block": true, "disabled": true},
        {"type": "Button", "label": "Plain"}
    ]}));
    assert!(html.contains(r#"<span class="w-btn-wrap"><span class="w-btn w-btn-primary w-btn-success"><span class="w-icon" aria-hidden="true" title="check">✓</span>Approve</span><code class="w-action" title="client action">human.approve</code></span>"#), "{html}");
    assert!(html.contains(r#"<span class="w-btn w-btn-secondary w-block w-btn-disabled">Send</span><code class="w-action" title="submits the form">form submit</code>"#), "{html}");
    assert!(
        html.contains(r#"<span class="w-btn w-btn-secondary">Plain</span></span>"#),
        "{html}"
    );
    assert!(!html.contains("<button"), "{html}");
}

#[test]
fn images_only_from_vetted_urls() {
    let html = render(json!({"type": "Row", "children": [
        {"type": "Image", "src": "https://example.com/a.png?x=1&y=2", "alt": "A", "size": 48, "fit": "cover", "radius": "full", "frame": true},
        {"type": "Image", "src": "data:image/png;base64,iVBORw0K", "width": 1000},
        {"type": "Image", "src": "javascript:alert(1)", "alt": "bad"},
        {"type": "Image", "src": "data:image/svg+xml;base64,PHN2Zz4="},
        {"type": "Image", "src": "/admin/logout"},
        {"type": "Image"}
    ]}));
    assert!(html.contains(r#"<img class="w-image w-img-sm w-fit-cover w-rounded w-framed" src="https://example.com/a.png?x=1&amp;y=2" alt="A" loading="lazy" referrerpolicy="no-referrer">"#), "{html}");
    assert!(
        html.contains(
            r#"<img class="w-image w-img-xl" src="data:image/png;base64,iVBORw0K" alt="""#
        ),
        "{html}"
    );
    assert_eq!(html.matches("<img").count(), 2, "{html}");
    assert_eq!(
        html.matches(r#"class="w-image-blocked""#).count(),
        4,
        "{html}"
    );
    assert!(
        html.contains(r#"title="javascript:alert(1)">image not shown: bad</span>"#),
        "{html}"
    );
}

#[test]
fn oversized_inline_images_become_placeholders() {
    let src = format!("data:image/png;base64,{}", "A".repeat(300 * 1024));
    let html = render(json!({"type": "Image", "src": src}));
    assert!(!html.contains("<img"), "too large");
    assert!(html.contains("image too large to show"));
    assert!(
        html.len() < 1024,
        "the placeholder does not carry the data: {}",
        html.len()
    );
}

#[test]
fn icons_as_glyphs_or_names() {
    let html = render(json!({"type": "Row", "children": [
        {"type": "Icon", "name": "star-filled"},
        {"type": "Icon", "name": "lucide:rocket"}
    ]}));
    assert!(
        html.contains(r#"<span class="w-icon" aria-hidden="true" title="star-filled">★</span>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="w-icon w-icon-name">lucide:rocket</span>"#),
        "{html}"
    );
}

#[test]
fn list_view_items_dividers_spacers_and_transitions() {
    let html = render(json!({"type": "ListView", "limit": 2, "children": [
        {"type": "ListViewItem", "gap": 3, "onClickAction": {"type": "open", "payload": {"id": 1}},
         "children": [{"type": "Text", "value": "one"}]},
        {"type": "ListViewItem", "children": [{"type": "Divider", "spacing": 2}, {"type": "Spacer"}]},
        {"type": "ListViewItem", "children": [{"type": "Transition", "children": {"type": "Text", "value": "three"}}]}
    ]}));
    assert!(html.starts_with(r#"<div class="w-widget"><div class="w-listview"><div class="w-listitem w-row w-gap-3"><div class="w-row w-gap-2 w-flex"><p class="w-text">one</p></div><code class="w-action" title="server action: {&quot;id&quot;:1}">open</code></div>"#), "{html}");
    assert!(
        html.contains(r#"<hr class="w-divider w-space-2"><div class="w-spacer"></div>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<div class="w-limit-note">The user saw the first 2 of 3"#),
        "{html}"
    );
    assert!(html.contains(r#"<p class="w-text">three</p>"#), "{html}");
}

#[test]
fn forms_and_their_inputs() {
    let html = render(
        json!({"type": "Form", "onSubmitAction": {"type": "human.form_submit"}, "children": [
            {"type": "Label", "value": "Email", "fieldName": "email"},
            {"type": "Input", "name": "email", "inputType": "email", "defaultValue": "a@b.c", "required": true, "placeholder": "you@x"},
            {"type": "Input", "name": "n", "inputType": "range"},
            {"type": "Textarea", "name": "notes", "rows": 99, "defaultValue": "line\n</textarea><b>"},
            {"type": "Select", "name": "size", "defaultValue": "m", "options": [
                {"value": "s", "label": "Small"}, {"value": "m", "label": "Medium"}, {"value": "l", "label": "Large", "disabled": true}]},
            {"type": "Checkbox", "name": "agree", "label": "I agree", "defaultChecked": true},
            {"type": "RadioGroup", "name": "when", "defaultValue": "pm", "direction": "row", "options": [
                {"value": "am", "label": "Morning"}, {"value": "pm", "label": "Afternoon"}]},
            {"type": "DatePicker", "name": "day", "defaultValue": "2026-01-02", "min": "2026-01-01", "max": "2026-02-01"}
        ]}),
    );
    assert!(
        html.contains(r#"<div class="w-col w-form"><span class="w-label">Email</span>"#),
        "{html}"
    );
    assert!(html.contains(r#"<div class="w-field"><input class="w-input" type="email" disabled value="a@b.c" placeholder="you@x"><span class="w-field-note">required</span><code class="w-field-name">email</code></div>"#), "{html}");
    assert!(
        html.contains(r#"<input class="w-input" type="text" disabled value="">"#),
        "unknown input types become text: {html}"
    );
    assert!(
        html.contains(
            r#"<textarea class="w-input w-textarea" rows="12" disabled>line
&lt;/textarea&gt;&lt;b&gt;</textarea>"#
        ),
        "{html}"
    );
    assert!(html.contains(r#"<span class="w-input w-select">Medium</span><ul class="w-options"><li>Small <code class="w-option-value">s</code></li><li class="w-selected">Medium <code class="w-option-value">m</code></li><li class="w-option-disabled">Large"#), "{html}");
    assert!(html.contains(r#"<label class="w-check"><input type="checkbox" disabled checked> I agree</label><code class="w-field-name">agree</code>"#), "{html}");
    assert!(html.contains(r#"<div class="w-radios w-row w-gap-3"><label class="w-check"><input type="radio" disabled> Morning</label><label class="w-check"><input type="radio" disabled checked> Afternoon</label></div>"#), "{html}");
    assert!(html.contains(r#"<input class="w-input w-date" type="text" disabled value="2026-01-02"><span class="w-field-note">from 2026-01-01 · until 2026-02-01</span>"#), "{html}");
    assert!(html.contains(r#"<div class="w-form-action">On submit <code class="w-action" title="server action">human.form_submit</code></div>"#), "{html}");
    assert!(
        !html.contains("name=\""),
        "controls carry no field names: {html}"
    );
}

#[test]
fn charts_become_tables() {
    let html = render(json!({"type": "Chart", "xAxis": {"dataKey": "month"},
        "series": [{"type": "bar", "dataKey": "sales", "label": "Sales"}, {"type": "line", "dataKey": "cost"}],
        "data": [{"month": "Jan", "sales": 10, "cost": 4}, {"month": "Feb", "sales": 12.5}]}));
    assert!(html.contains(r#"<caption>Chart · bar, line</caption><thead><tr><th>month</th><th>Sales</th><th>cost</th></tr></thead>"#), "{html}");
    assert!(html.contains(r#"<tr><td>Jan</td><td class="w-num">10</td><td class="w-num">4</td></tr><tr><td>Feb</td><td class="w-num">12.5</td><td></td></tr>"#), "{html}");

    let html = render(json!({"type": "Chart", "data": [{"k": "a", "v": 1}]}));
    assert!(
        html.contains("<th>k</th><th>v</th>"),
        "without series, the columns of the data: {html}"
    );
}

#[test]
fn unknown_components_show_their_json() {
    let html = render(json!({"type": "Card", "children": [
        {"type": "Table", "rows": [["<b>1</b>"]]},
        "just a string",
        {"no": "type"}
    ]}));
    assert!(html.contains(r#"<div class="w-unknown"><div class="w-unknown-label">Unknown component <code>Table</code></div><pre class="w-json">{
  &quot;rows&quot;: [
    [
      &quot;&lt;b&gt;1&lt;/b&gt;&quot;
    ]
  ],
  &quot;type&quot;: &quot;Table&quot;
}</pre></div>"#), "{html}");
    assert!(
        html.contains(
            r#"<code>(no type)</code></div><pre class="w-json">&quot;just a string&quot;</pre>"#
        ),
        "{html}"
    );
    assert_eq!(html.matches("w-unknown-label").count(), 3, "{html}");
}

#[test]
fn hostile_strings_in_every_prop_stay_text() {
    const EVIL: &str = r#""'><script>alert(1)</script><img src=x onerror=alert(2)>"#;
    let action = json!({"type": EVIL, "handler": EVIL, "payload": {EVIL: EVIL}});
    let widget = json!({"type": "Card", "size": EVIL, "padding": EVIL, "background": EVIL,
    "status": {"text": EVIL, "icon": EVIL},
    "confirm": {"label": EVIL, "action": action}, "cancel": {"label": EVIL, "action": action},
    "children": [
        {"type": "Row", "gap": EVIL, "align": EVIL, "justify": EVIL, "wrap": EVIL, "children": [
            {"type": "Text", "value": EVIL, "color": EVIL, "size": EVIL, "weight": EVIL, "textAlign": EVIL},
            {"type": "Text", "value": EVIL, "editable": {"name": EVIL, "placeholder": EVIL}},
            {"type": "Title", "value": EVIL, "size": EVIL},
            {"type": "Caption", "value": EVIL},
            {"type": "Markdown", "value": EVIL},
            {"type": "Label", "value": EVIL, "fieldName": EVIL},
            {"type": "Badge", "label": EVIL, "color": EVIL, "variant": EVIL},
            {"type": "Button", "label": EVIL, "style": EVIL, "iconStart": EVIL, "iconEnd": EVIL, "onClickAction": action},
            {"type": "Image", "src": EVIL, "alt": EVIL, "fit": EVIL},
            {"type": "Image", "src": format!("https://x.example/{EVIL}"), "alt": EVIL},
            {"type": "Icon", "name": EVIL}
        ]},
        {"type": "ListView", "children": [{"type": "ListViewItem", "onClickAction": action, "children": []}]},
        {"type": "Form", "onSubmitAction": action, "direction": EVIL, "children": [
            {"type": "Input", "name": EVIL, "inputType": EVIL, "defaultValue": EVIL, "placeholder": EVIL, "pattern": EVIL},
            {"type": "Textarea", "name": EVIL, "defaultValue": EVIL, "placeholder": EVIL, "rows": EVIL},
            {"type": "Select", "name": EVIL, "defaultValue": EVIL, "placeholder": EVIL,
             "options": [{"value": EVIL, "label": EVIL}]},
            {"type": "Checkbox", "name": EVIL, "label": EVIL},
            {"type": "RadioGroup", "name": EVIL, "defaultValue": EVIL, "options": [{"value": EVIL, "label": EVIL}]},
            {"type": "DatePicker", "name": EVIL, "defaultValue": EVIL, "min": EVIL, "max": EVIL, "placeholder": EVIL}
        ]},
        {"type": "Chart", "xAxis": EVIL, "series": [{"type": EVIL, "dataKey": EVIL, "label": EVIL}],
         "data": [{EVIL: EVIL}]},
        {"type": "Divider", "spacing": EVIL},
        {"type": EVIL, "value": EVIL}
    ]});
    let html = render(widget);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        !html.contains(r#""'>"#),
        "no attribute was broken out of: {html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the text is kept, escaped: {html}"
    );
    assert_eq!(
        html.matches("<img class=").count(),
        1,
        "only the https image: {html}"
    );
}

#[test]
fn deep_nesting_is_cut_off() {
    let mut widget = json!({"type": "Text", "value": "bottom"});
    for _ in 0..200 {
        widget = json!({"type": "Box", "children": [widget]});
    }
    let html = render(widget);
    assert_eq!(
        html.matches(r#"<div class="w-col">"#).count(),
        MAX_DEPTH,
        "{}",
        html.len()
    );
    assert!(html.contains("Nested more than 64 levels deep: not shown."));
    assert!(!html.contains("bottom"));
}

#[test]
fn output_is_bounded() {
    let item =
        json!({"type": "ListViewItem", "children": [{"type": "Text", "value": "x".repeat(1000)}]});
    let widget = json!({"type": "ListView", "children": vec![item; 5_000]});
    let html = render(widget);
    assert!(html.len() < MAX_OUTPUT + 8 * 1024, "{}", html.len());
    assert!(
        html.ends_with(r#"<p class="w-notice">Widget too large: the rest is not shown.</p></div>"#)
    );
}

#[test]
fn long_strings_are_clipped() {
    let html = render(json!({"type": "Text", "value": "é".repeat(100_000)}));
    assert!(
        html.chars().filter(|c| *c == 'é').count() == 20_000,
        "{}",
        html.len()
    );
    assert!(html.contains("é…</p>"));
}
