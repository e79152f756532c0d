//! Markdown to safe HTML for the console: assistant messages and `Markdown` widgets.
//!
//! The text comes from users and models, so the HTML pulldown-cmark produces (raw HTML
//! included) goes through ammonia before it reaches a page. Only http, https and mailto
//! links and http, https or small-raster `data:` images survive; relative URLs are dropped
//! so model output cannot aim requests at the console itself.

use std::borrow::Cow;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Options, Parser, html};

/// Built once: the allow-lists are fixed and ammonia's builder is `Sync`.
static SANITIZER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = Builder::default();
    builder
        .url_schemes(["http", "https", "mailto", "data"].into())
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        // Task-list checkboxes; forced disabled so a transcript never grows live controls.
        .add_tags(["input"])
        .add_tag_attribute_values("input", "type", ["checkbox"])
        .add_tag_attribute_values("input", "checked", [""])
        .set_tag_attribute_value("input", "disabled", "")
        // External images must not learn which console page showed them.
        .set_tag_attribute_value("img", "referrerpolicy", "no-referrer")
        .set_tag_attribute_value("img", "loading", "lazy")
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("a", "href") if is_link_url(value) => Some(Cow::Borrowed(value)),
            ("img", "src") if is_image_url(value) => Some(Cow::Borrowed(value)),
            ("a", "href") | ("img", "src") => None,
            _ => Some(Cow::Borrowed(value)),
        });
    builder
});

/// Renders `text` as CommonMark (with tables, strikethrough and task lists) and sanitises it.
pub fn markdown_to_html(text: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut raw = String::with_capacity(text.len() + text.len() / 4);
    html::push_html(&mut raw, Parser::new_ext(text, options));
    SANITIZER
        .clean(&table_alignment_as_attribute(&raw))
        .to_string()
}

/// Whether a link target is one the console lets an operator follow.
pub(crate) fn is_link_url(url: &str) -> bool {
    let url = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
}

/// Whether an image source may be loaded: http(s) or an inline PNG, JPEG, GIF or WebP
/// (not SVG, which can carry script).
pub(crate) fn is_image_url(url: &str) -> bool {
    let url = url.trim_start().to_ascii_lowercase();
    url.starts_with("http://")
        || url.starts_with("https://")
        || ["png", "jpeg", "jpg", "gif", "webp"].iter().any(|kind| {
            url.strip_prefix("data:image/")
                .and_then(|rest| rest.strip_prefix(kind))
                .is_some_and(|rest| rest.starts_with(';') || rest.starts_with(','))
        })
}

/// pulldown-cmark aligns table cells with `style=`, which the console's CSP and ammonia both
/// refuse; the `align` attribute says the same without being a style.
fn table_alignment_as_attribute(html: &str) -> Cow<'_, str> {
    if !html.contains(" style=\"text-align: ") {
        return Cow::Borrowed(html);
    }
    let mut out = html.to_owned();
    for side in ["left", "center", "right"] {
        out = out.replace(
            &format!(" style=\"text-align: {side}\">"),
            &format!(" align=\"{side}\">"),
        );
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_basic_markdown() {
        let html = markdown_to_html("Hello **world**, _you_ and ~~them~~.");
        assert_eq!(
            html.trim(),
            "<p>Hello <strong>world</strong>, <em>you</em> and <del>them</del>.</p>"
        );
    }

    #[test]
    fn script_tags_and_their_content_are_removed() {
        let html = markdown_to_html(
            "before <script>alert(1)</script> after\n\n<script>\nalert(2)\n</script>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("alert"), "{html}");
        assert!(html.contains("before"));
        assert!(html.contains("after"));
    }

    #[test]
    fn event_handler_attributes_are_removed() {
        let html =
            markdown_to_html("<img src=x onerror=alert(1)>\n\n<b onclick=\"alert(2)\">bold</b>");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(!html.contains("alert"), "{html}");
        // The relative `src=x` is dropped; the harmless tag survives.
        assert!(html.contains("<img"), "{html}");
        assert!(!html.contains("src="), "{html}");
        assert!(html.contains("<b>bold</b>"), "{html}");
    }

    #[test]
    fn javascript_links_are_neutralised() {
        for input in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x]( javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "[x](data:text/html,<script>alert(1)</script>)",
            "[x](vbscript:msgbox)",
        ] {
            let html = markdown_to_html(input);
            assert!(
                !html.to_lowercase().contains("script:"),
                "{input} -> {html}"
            );
            assert!(!html.contains("href"), "{input} -> {html}");
            assert!(!html.contains("data:"), "{input} -> {html}");
        }
    }

    #[test]
    fn links_keep_safe_schemes_and_get_rel() {
        let html = markdown_to_html(
            "[a](https://example.com/x?y=1&z=2) [m](mailto:a@b.c) <https://e.org>",
        );
        assert!(
            html.contains(
                r#"<a href="https://example.com/x?y=1&amp;z=2" rel="noopener noreferrer nofollow">a</a>"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"href="mailto:a@b.c""#), "{html}");
        assert!(html.contains(r#"href="https://e.org""#), "{html}");
    }

    #[test]
    fn relative_and_other_scheme_links_lose_their_target() {
        let html = markdown_to_html("[a](/admin/logout) [b](ftp://x.org/f) [c](#top)");
        assert!(!html.contains("href"), "{html}");
        assert!(html.contains(">a</a>"), "{html}");
    }

    #[test]
    fn images_only_from_http_or_raster_data() {
        let html = markdown_to_html(
            "![ok](https://example.com/a.png) ![png](data:image/png;base64,iVBORw0K) \
             ![svg](data:image/svg+xml;base64,PHN2Zz4=) ![js](javascript:alert(1)) ![rel](/x.png)",
        );
        assert!(
            html.contains(r#"src="https://example.com/a.png""#),
            "{html}"
        );
        assert!(
            html.contains(r#"src="data:image/png;base64,iVBORw0K""#),
            "{html}"
        );
        assert!(!html.contains("svg+xml"), "{html}");
        assert!(!html.contains("javascript"), "{html}");
        assert!(!html.contains("/x.png"), "{html}");
        assert!(html.contains(r#"referrerpolicy="no-referrer""#), "{html}");
    }

    #[test]
    fn data_urls_are_not_links() {
        let html = markdown_to_html("[img](data:image/png;base64,iVBORw0K)");
        assert!(!html.contains("href"), "{html}");
    }

    #[test]
    fn iframes_objects_and_styles_are_removed() {
        let html = markdown_to_html(
            "<iframe src=\"https://evil.example\"></iframe>\n\n<object data=x></object>\n\n\
             <p style=\"color:red\">text</p>\n\n<style>body{display:none}</style>\n\n<form action=x><input name=a></form>",
        );
        for needle in [
            "<iframe",
            "<object",
            "style",
            "display:none",
            "<form",
            "name=",
        ] {
            assert!(!html.contains(needle), "{needle} in {html}");
        }
        assert!(html.contains("text"), "{html}");
    }

    #[test]
    fn tables_render_with_alignment_as_attribute() {
        let html =
            markdown_to_html("| item | qty |\n|:-----|----:|\n| tea | 2 |\n| <b>cake</b> | 10 |");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<th align=\"left\">item</th>"), "{html}");
        assert!(html.contains("<td align=\"right\">10</td>"), "{html}");
        assert!(
            html.contains("<td align=\"left\"><b>cake</b></td>"),
            "{html}"
        );
        assert!(!html.contains("style"), "{html}");
    }

    #[test]
    fn code_blocks_are_escaped_and_keep_their_text() {
        let html = markdown_to_html("```html\n<script>alert(1)</script>\n```\n\nand `inline <b>`");
        assert!(
            html.contains("<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;\n</code></pre>"),
            "{html}"
        );
        assert!(html.contains("<code>inline &lt;b&gt;</code>"), "{html}");
    }

    #[test]
    fn task_lists_render_disabled_checkboxes() {
        let html = markdown_to_html("- [x] done\n- [ ] todo");
        assert!(html.contains(r#"type="checkbox""#), "{html}");
        assert_eq!(html.matches(r#"disabled="""#).count(), 2, "{html}");
        assert_eq!(html.matches(r#"checked="""#).count(), 1, "{html}");
    }

    #[test]
    fn raw_inputs_cannot_become_live_controls() {
        let html =
            markdown_to_html("<input type=\"text\" name=\"password\" value=\"x\" autofocus>");
        assert!(!html.contains("type=\"text\""), "{html}");
        assert!(!html.contains("name="), "{html}");
        assert!(!html.contains("autofocus"), "{html}");
        assert!(html.contains(r#"disabled="""#), "{html}");
    }

    #[test]
    fn url_checks() {
        assert!(is_link_url("https://a.b"));
        assert!(is_link_url("MAILTO:x@y.z"));
        assert!(!is_link_url("javascript:alert(1)"));
        assert!(!is_link_url("//evil.example"));
        assert!(is_image_url("data:image/webp;base64,AAAA"));
        assert!(is_image_url("data:image/jpeg,xyz"));
        assert!(!is_image_url("data:image/svg+xml,<svg/>"));
        assert!(!is_image_url("data:image/pngx;base64,AAAA"));
        assert!(!is_image_url("data:text/html,hi"));
    }
}
