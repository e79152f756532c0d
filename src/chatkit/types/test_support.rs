//! Helpers shared by the unit tests of the wire types.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ThreadItem;

/// Deserializes `json` as `T`, serializes it back and compares as JSON values.
pub(super) fn roundtrip<T: DeserializeOwned + Serialize>(json: &str) -> T {
    let expected: Value = serde_json::from_str(json).expect("sample is valid JSON");
    let typed: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(back, expected, "round trip changed {json}");
    typed
}

/// Parses a whole thread item (header and body) from JSON.
pub(super) fn item(json: Value) -> ThreadItem {
    serde_json::from_value(json).expect("valid item")
}

/// A button as the SDK serializes it, shared by the widget samples.
pub(super) const WIDGET_BUTTON: &str = r#"{"key":"peer_button","type":"Button","label":"Click me","onClickAction":{"type":"peer.widget_click","payload":{"count":0},"handler":"server","loadingBehavior":"auto"}}"#;
