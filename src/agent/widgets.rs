//! `ui://` resources in MCP tool results. A result that embeds a resource of type
//! `application/vnd.ui.widget+json` (text or base64 blob; payload `{widget, copy_text}` or a
//! bare widget root) becomes a ChatKit widget item; HTML `ui://` views are never rendered, the
//! chat only says one exists. Invalid payloads are logged and dropped, never shown.

use base64::Engine;
use serde_json::Value;

use crate::chatkit::widgets::{WidgetLimits, WidgetRoot};

/// The MIME type of ChatKit widgets carried in MCP results.
pub const WIDGET_MIME: &str = "application/vnd.ui.widget+json";
/// Largest widget payload accepted.
const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// MIME types of `ui://` views a ChatKit chat cannot host.
const HTML_VIEW_MIMES: [&str; 4] = [
    "text/html",
    "text/html+skybridge",
    "text/uri-list",
    "text/html;profile=mcp-app",
];

/// A widget to show, with the text the copy button (and the model) gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Widget {
    pub widget: WidgetRoot,
    pub copy_text: Option<String>,
}

/// What a tool result shows the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Ui {
    Widget(Widget),
    /// An interactive HTML view that stays unrendered; `uri` names it.
    HtmlView {
        uri: String,
    },
}

/// The media type without parameters, lower-cased: `Application/X; charset=utf-8` -> `application/x`.
fn media_type(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

pub fn is_widget_mime(mime: &str) -> bool {
    media_type(mime) == WIDGET_MIME
}

fn is_html_view(mime: &str) -> bool {
    let full = mime.to_ascii_lowercase().replace(' ', "");
    HTML_VIEW_MIMES.contains(&media_type(mime).as_str()) || HTML_VIEW_MIMES.contains(&full.as_str())
}

/// The UI parts of a result's content blocks (embedded resources), in order. `fallback_copy`
/// is the copy text for widgets whose payload has none (the result's first text block).
pub fn from_content(content: &[Value], fallback_copy: Option<&str>) -> Vec<Ui> {
    let mut found = Vec::new();
    for block in content {
        if block["type"] != "resource" {
            continue;
        }
        let resource = &block["resource"];
        let uri = resource["uri"].as_str().unwrap_or_default();
        let mime = resource["mimeType"].as_str().unwrap_or_default();
        if !uri.starts_with("ui://") {
            continue;
        }
        if is_widget_mime(mime) {
            if let Some(widget) = from_resource_contents(resource, fallback_copy) {
                found.push(Ui::Widget(widget));
            }
        } else if is_html_view(mime) {
            found.push(Ui::HtmlView {
                uri: uri.to_owned(),
            });
        }
    }
    found
}

/// A widget from the contents of a resource (embedded, or read through a `resource_link`).
pub fn from_resource_contents(resource: &Value, fallback_copy: Option<&str>) -> Option<Widget> {
    let uri = resource["uri"].as_str().unwrap_or_default();
    let raw = if let Some(text) = resource["text"].as_str() {
        text.as_bytes().to_vec()
    } else if let Some(blob) = resource["blob"].as_str() {
        match base64::engine::general_purpose::STANDARD.decode(blob) {
            Ok(bytes) => bytes,
            Err(e) => {
                log::warn!("widget {uri}: the blob is not base64: {e}");
                return None;
            }
        }
    } else {
        log::warn!("widget {uri}: the resource has neither text nor blob");
        return None;
    };
    if raw.len() > MAX_PAYLOAD_BYTES {
        log::warn!(
            "widget {uri}: {} bytes is over the {MAX_PAYLOAD_BYTES} byte limit",
            raw.len()
        );
        return None;
    }
    match serde_json::from_slice::<Value>(&raw) {
        Ok(payload) => from_payload(&payload, fallback_copy, uri),
        Err(e) => {
            log::warn!("widget {uri}: the payload is not JSON: {e}");
            None
        }
    }
}

/// A widget from a payload `{widget, copy_text?}` or a bare widget root.
pub fn from_payload(payload: &Value, fallback_copy: Option<&str>, origin: &str) -> Option<Widget> {
    let (root, copy_text) = match payload.get("widget") {
        Some(root) => (root, payload["copy_text"].as_str().or(fallback_copy)),
        None => (payload, fallback_copy),
    };
    let widget: WidgetRoot = match serde_json::from_value(root.clone()) {
        Ok(widget) => widget,
        Err(e) => {
            log::warn!("widget {origin}: not a ChatKit widget: {e}");
            return None;
        }
    };
    if let Err(e) = widget.validate(&WidgetLimits::default()) {
        log::warn!("widget {origin}: refused: {e}");
        return None;
    }
    Some(Widget {
        widget,
        copy_text: copy_text.map(str::to_owned),
    })
}

/// A bare widget in `structuredContent` (mcp-chatkit-widget style), only for servers configured
/// to send them: any JSON with a root type would otherwise be taken for a widget.
pub fn from_structured(structured: &Value, fallback_copy: Option<&str>) -> Option<Widget> {
    let root_type = structured.get("widget").unwrap_or(structured)["type"].as_str()?;
    if !crate::chatkit::widgets::ROOT_TYPES.contains(&root_type) {
        return None;
    }
    from_payload(structured, fallback_copy, "structuredContent")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn card() -> Value {
        json!({"type": "Card", "children": [{"type": "Text", "value": "18°C"}]})
    }

    fn embedded(mime: &str, payload: &Value) -> Value {
        json!({"type": "resource", "resource": {"uri": "ui://w/1", "mimeType": mime, "text": payload.to_string()}})
    }

    #[test]
    fn canonical_blob_and_bare_forms() {
        let payload = json!({"widget": card(), "copy_text": "18 degrees"});
        let found = from_content(
            &[embedded(
                "Application/VND.UI.Widget+JSON; charset=utf-8",
                &payload,
            )],
            None,
        );
        assert!(
            matches!(&found[..], [Ui::Widget(w)] if w.copy_text.as_deref() == Some("18 degrees"))
        );

        let blob = base64::engine::general_purpose::STANDARD.encode(payload.to_string());
        let block = json!({"type": "resource", "resource": {"uri": "ui://w/2", "mimeType": WIDGET_MIME, "blob": blob}});
        assert_eq!(from_content(&[block], None).len(), 1);

        let bare = from_content(&[embedded(WIDGET_MIME, &card())], Some("first text"));
        assert!(
            matches!(&bare[..], [Ui::Widget(w)] if w.copy_text.as_deref() == Some("first text"))
        );
    }

    #[test]
    fn invalid_widgets_are_dropped() {
        let bad_root = json!({"widget": {"type": "Script", "children": []}});
        assert!(from_content(&[embedded(WIDGET_MIME, &bad_root)], None).is_empty());
        let js_link =
            json!({"type": "Card", "children": [{"type": "Image", "src": "javascript:alert(1)"}]});
        assert!(from_content(&[embedded(WIDGET_MIME, &js_link)], None).is_empty());
        let not_ui = json!({"type": "resource", "resource": {"uri": "file:///x", "mimeType": WIDGET_MIME, "text": card().to_string()}});
        assert!(from_content(&[not_ui], None).is_empty());
        let broken = json!({"type": "resource", "resource": {"uri": "ui://x", "mimeType": WIDGET_MIME, "text": "{"}});
        assert!(from_content(&[broken], None).is_empty());
    }

    #[test]
    fn html_views_are_recognised_not_rendered() {
        for mime in [
            "text/html",
            "text/html;profile=mcp-app",
            "text/html+skybridge",
            "text/uri-list",
        ] {
            let block = json!({"type": "resource", "resource": {"uri": "ui://v", "mimeType": mime, "text": "<b>x</b>"}});
            assert_eq!(
                from_content(&[block], None),
                [Ui::HtmlView {
                    uri: "ui://v".into()
                }],
                "{mime}"
            );
        }
    }

    #[test]
    fn structured_widgets_need_a_root_type() {
        assert!(from_structured(&card(), None).is_some());
        assert!(from_structured(&json!({"temp": 3}), None).is_none());
    }
}
