//! ChatKit widgets: JSON component trees rendered by the client (the action configs
//! embedded in them are in `actions`).
//!
//! Like the SDK's dynamic model (`DynamicWidgetComponent`, `extra="allow"`),
//! any component type is accepted below the root and unknown props are kept
//! verbatim; only the root type is restricted (`Card`, `ListView`, `Basic`).
//! Null props are dropped recursively on input, as the SDK does on output.

use std::fmt;
use std::ops::Deref;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Component types allowed at the root of a widget.
pub const ROOT_TYPES: [&str; 3] = ["Card", "ListView", "Basic"];

/// Keys with their own field in [`WidgetComponent`]; never stored in `props`.
const STRUCTURAL_KEYS: [&str; 4] = ["type", "key", "id", "children"];

/// One node of a widget tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetComponent {
    /// Component name, e.g. `Text`, `Button` (PascalCase).
    #[serde(rename = "type")]
    pub type_: String,
    /// React-style key, stable across re-renders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Target of streaming text deltas and component updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Children>,
    /// All other props, preserved as sent. Must not contain the structural
    /// keys `type`, `key`, `id`, `children` (they would be written twice).
    #[serde(flatten, deserialize_with = "deserialize_props")]
    pub props: Map<String, Value>,
}

impl WidgetComponent {
    /// A component of the given type without props or children.
    pub fn new(type_: impl Into<String>) -> Self {
        Self {
            type_: type_.into(),
            key: None,
            id: None,
            children: None,
            props: Map::new(),
        }
    }

    /// Sets `id` (needed for streaming text and component updates).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets `key`.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets a prop. A null value removes it (nulls are never sent); the
    /// structural names `type`, `key`, `id`, `children` are ignored, use
    /// their dedicated builders.
    pub fn with_prop(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        if STRUCTURAL_KEYS.contains(&name.as_str()) {
            return self;
        }
        let mut value = value.into();
        if value.is_null() {
            self.props.remove(&name);
        } else {
            drop_nulls(&mut value);
            self.props.insert(name, value);
        }
        self
    }

    /// Sets the children array.
    pub fn with_children(mut self, children: Vec<WidgetComponent>) -> Self {
        self.children = Some(Children::Many(children));
        self
    }

    /// The direct children, whichever form they take.
    pub fn child_nodes(&self) -> &[WidgetComponent] {
        self.children.as_ref().map_or(&[], Children::as_slice)
    }
}

/// `children` of a component: usually an array, a single component for `Transition`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Children {
    Many(Vec<WidgetComponent>),
    One(Box<WidgetComponent>),
}

impl Children {
    /// The children as a slice (one element for [`Children::One`]).
    pub fn as_slice(&self) -> &[WidgetComponent] {
        match self {
            Self::Many(children) => children,
            Self::One(child) => std::slice::from_ref(child.as_ref()),
        }
    }
}

impl<'de> Deserialize<'de> for Children {
    /// Dispatches on the JSON shape so errors point at the faulty child
    /// (an untagged enum would only say "did not match any variant").
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChildrenVisitor;

        impl<'de> Visitor<'de> for ChildrenVisitor {
            type Value = Children;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a widget component or an array of widget components")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Children, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(Children::Many)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Children, A::Error> {
                WidgetComponent::deserialize(MapAccessDeserializer::new(map))
                    .map(|c| Children::One(Box::new(c)))
            }
        }

        deserializer.deserialize_any(ChildrenVisitor)
    }
}

fn deserialize_props<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Map<String, Value>, D::Error> {
    let mut props = Map::deserialize(deserializer)?;
    drop_nulls_in_map(&mut props);
    Ok(props)
}

/// Removes nulls from objects and arrays, recursively (the SDK's `_drop_none`).
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => drop_nulls_in_map(map),
        Value::Array(items) => {
            items.retain(|v| !v.is_null());
            items.iter_mut().for_each(drop_nulls);
        }
        _ => {}
    }
}

fn drop_nulls_in_map(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.is_null());
    map.values_mut().for_each(drop_nulls);
}

/// A widget tree whose root is a `Card`, `ListView` or `Basic`.
///
/// Reads like a [`WidgetComponent`] through `Deref`; it can only be built
/// through checked paths, so the root type stays valid.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct WidgetRoot(WidgetComponent);

impl WidgetRoot {
    /// A `Card` root.
    pub fn card(children: Vec<WidgetComponent>) -> Self {
        Self(WidgetComponent::new("Card").with_children(children))
    }

    /// A `ListView` root (children are normally `ListViewItem`s).
    pub fn list_view(children: Vec<WidgetComponent>) -> Self {
        Self(WidgetComponent::new("ListView").with_children(children))
    }

    /// A `Basic` root (a bare layout container).
    pub fn basic(children: Vec<WidgetComponent>) -> Self {
        Self(WidgetComponent::new("Basic").with_children(children))
    }

    /// Sets a prop on the root, see [`WidgetComponent::with_prop`].
    pub fn with_prop(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        Self(self.0.with_prop(name, value))
    }

    /// Unwraps the root component.
    pub fn into_component(self) -> WidgetComponent {
        self.0
    }

    /// Checks a tree before it is sent: depth (root = 1) and node count within
    /// `limits`, and every URL-bearing prop — `Image.src` and any prop named
    /// `url` or `href`, on any component — an absolute `http://` or `https://`
    /// string (`data:`, `javascript:`, relative URLs and non-strings are
    /// rejected). Props nested inside other prop values are not inspected.
    pub fn validate(&self, limits: &WidgetLimits) -> Result<(), WidgetError> {
        let mut nodes = 0;
        check_node(&self.0, 1, limits, &mut nodes)
    }
}

impl Deref for WidgetRoot {
    type Target = WidgetComponent;

    fn deref(&self) -> &WidgetComponent {
        &self.0
    }
}

impl TryFrom<WidgetComponent> for WidgetRoot {
    type Error = WidgetError;

    fn try_from(component: WidgetComponent) -> Result<Self, WidgetError> {
        if ROOT_TYPES.contains(&component.type_.as_str()) {
            Ok(Self(component))
        } else {
            Err(WidgetError::InvalidRoot(component.type_))
        }
    }
}

impl<'de> Deserialize<'de> for WidgetRoot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let component = WidgetComponent::deserialize(deserializer)?;
        Self::try_from(component).map_err(de::Error::custom)
    }
}

/// Bounds applied by [`WidgetRoot::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WidgetLimits {
    /// Maximum nesting depth, the root counting as 1.
    pub max_depth: usize,
    /// Maximum number of components in the tree, root included.
    pub max_nodes: usize,
}

impl Default for WidgetLimits {
    /// Generous for hand-made widgets, small enough to stop abuse.
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_nodes: 1000,
        }
    }
}

/// Why a widget was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WidgetError {
    /// The root type (held here) is not `Card`, `ListView` or `Basic`.
    InvalidRoot(String),
    TooDeep {
        max_depth: usize,
    },
    TooManyNodes {
        max_nodes: usize,
    },
    /// A URL prop that is not an absolute http(s) URL.
    UnsafeUrl {
        component: String,
        prop: String,
    },
}

impl fmt::Display for WidgetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRoot(found) => write!(
                f,
                "widget root must be of type {}, got `{found}`",
                ROOT_TYPES.join(", ")
            ),
            Self::TooDeep { max_depth } => {
                write!(f, "widget is nested deeper than {max_depth} levels")
            }
            Self::TooManyNodes { max_nodes } => {
                write!(f, "widget has more than {max_nodes} components")
            }
            Self::UnsafeUrl { component, prop } => {
                write!(f, "`{component}.{prop}` must be an absolute http(s) URL")
            }
        }
    }
}

impl std::error::Error for WidgetError {}

fn check_node(
    component: &WidgetComponent,
    depth: usize,
    limits: &WidgetLimits,
    nodes: &mut usize,
) -> Result<(), WidgetError> {
    if depth > limits.max_depth {
        return Err(WidgetError::TooDeep {
            max_depth: limits.max_depth,
        });
    }
    *nodes += 1;
    if *nodes > limits.max_nodes {
        return Err(WidgetError::TooManyNodes {
            max_nodes: limits.max_nodes,
        });
    }
    for (name, value) in &component.props {
        let is_url =
            name == "url" || name == "href" || (component.type_ == "Image" && name == "src");
        if is_url && !value.as_str().is_some_and(is_http_url) {
            return Err(WidgetError::UnsafeUrl {
                component: component.type_.clone(),
                prop: name.clone(),
            });
        }
    }
    component
        .child_nodes()
        .iter()
        .try_for_each(|child| check_node(child, depth + 1, limits, nodes))
}

/// `http://` or `https://` (any case) followed by something.
fn is_http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
            && url.len() > scheme.len()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chatkit::actions::ActionConfig;
    use serde_json::json;

    fn root(json: Value) -> Result<WidgetRoot, serde_json::Error> {
        serde_json::from_value(json)
    }

    #[test]
    fn unknown_props_and_types_roundtrip_unchanged() {
        let json = json!({
            "type": "Basic", "theme": "dark", "gap": 2.5, "padding": {"x": 4, "y": "8px"},
            "children": [
                {"type": "Table", "border": true, "children": [
                    {"type": "Table.Row", "key": "r1", "children": [{"type": "Table.Cell", "value": "a", "width": 120}]}
                ]},
                {"type": "Chart", "data": [{"x": "Mon", "y": 1}], "series": [{"type": "bar", "dataKey": "y", "label": "Y"}],
                 "xAxis": {"dataKey": "x", "hide": false}, "big": 12345678901234_u64, "neg": -3},
                {"type": "Transition", "children": {"type": "Text", "id": "t", "value": "v", "streaming": true}},
                {"type": "Form", "onSubmitAction": {"type": "f", "payload": {"k": [1, "2", false]}, "handler": "client",
                 "loadingBehavior": "self", "streaming": false}, "children": []}
            ]
        });
        let parsed = root(json.clone()).expect("valid widget");
        assert_eq!(serde_json::to_value(&parsed).ok(), Some(json));
        assert!(matches!(
            parsed.child_nodes()[2].children,
            Some(Children::One(_))
        ));
        assert_eq!(
            parsed.child_nodes()[2].child_nodes()[0].id.as_deref(),
            Some("t")
        );
    }

    #[test]
    fn null_props_are_dropped_recursively() {
        let parsed = root(json!({
            "type": "Card", "key": null, "id": null, "status": null, "children": [
                {"type": "Weird", "children": null, "foo": {"a": null, "b": [1, null, {"c": null}]}, "n": null}
            ]
        }))
        .expect("valid widget");
        assert_eq!(
            serde_json::to_value(&parsed).ok(),
            Some(json!({"type": "Card", "children": [{"type": "Weird", "foo": {"b": [1, {}]}}]}))
        );
    }

    #[test]
    fn invalid_roots_and_components_are_rejected() {
        let err = root(json!({"type": "Text", "value": "x"})).expect_err("Text is no root");
        assert_eq!(
            err.to_string(),
            "widget root must be of type Card, ListView, Basic, got `Text`"
        );
        assert_eq!(
            WidgetRoot::try_from(WidgetComponent::new("Row")),
            Err(WidgetError::InvalidRoot("Row".into()))
        );
        let err = root(json!({"type": "Card", "children": [{"value": "x"}]}))
            .expect_err("child without type");
        assert!(err.to_string().contains("missing field `type`"), "{err}");
        let err = root(json!({"type": "Card", "children": [{"type": "Text", "key": 5}]}))
            .expect_err("numeric key");
        assert!(
            err.to_string().contains("invalid type: integer `5`"),
            "{err}"
        );
        let err = root(json!({"type": "Card", "children": "x"})).expect_err("string children");
        assert!(
            err.to_string().contains("a widget component or an array"),
            "{err}"
        );
    }

    #[test]
    fn builders_produce_wire_json() {
        let widget = WidgetRoot::card(vec![
            WidgetComponent::new("Text")
                .with_id("peer_text")
                .with_prop("value", ""),
            WidgetComponent::new("Button")
                .with_key("peer_button")
                .with_prop("label", "Click me")
                .with_prop(
                    "onClickAction",
                    ActionConfig::new("peer.widget_click").with_payload(json!({"count": 0})),
                )
                .with_prop("id", "ignored")
                .with_prop("color", Value::Null),
        ])
        .with_prop("size", "sm")
        .with_prop("type", "Text");
        assert_eq!(
            serde_json::to_value(&widget).ok(),
            Some(json!({"type": "Card", "size": "sm", "children": [
                {"type": "Text", "id": "peer_text", "value": ""},
                {"type": "Button", "key": "peer_button", "label": "Click me", "onClickAction":
                    {"type": "peer.widget_click", "payload": {"count": 0}, "handler": "server", "loadingBehavior": "auto", "streaming": true}}
            ]}))
        );
        assert_eq!(WidgetRoot::list_view(vec![]).type_, "ListView");
        assert_eq!(WidgetRoot::basic(vec![]).into_component().type_, "Basic");
    }

    #[test]
    fn validate_checks_limits_and_urls() {
        let limits = WidgetLimits::default();
        let ok = WidgetRoot::card(vec![
            WidgetComponent::new("Image").with_prop("src", "https://example.com/a.png"),
            WidgetComponent::new("Link").with_prop("href", "HTTP://example.com"),
        ]);
        assert_eq!(ok.validate(&limits), Ok(()));

        let image = |src: Value| {
            WidgetRoot::basic(vec![WidgetComponent::new("Image").with_prop("src", src)])
        };
        for bad in [
            json!("data:image/png;base64,AA"),
            json!("/relative.png"),
            json!("https://"),
            json!(42),
            json!("é"),
        ] {
            assert_eq!(
                image(bad).validate(&limits),
                Err(WidgetError::UnsafeUrl {
                    component: "Image".into(),
                    prop: "src".into()
                })
            );
        }
        let link = WidgetRoot::basic(vec![
            WidgetComponent::new("Button").with_prop("url", "javascript:alert(1)"),
        ]);
        assert!(matches!(
            link.validate(&limits),
            Err(WidgetError::UnsafeUrl { .. })
        ));
        // `src` is only a URL prop on Image.
        let other = WidgetRoot::basic(vec![
            WidgetComponent::new("Text").with_prop("src", "anything"),
        ]);
        assert_eq!(other.validate(&limits), Ok(()));

        let mut deep = WidgetComponent::new("Text");
        for _ in 0..3 {
            deep = WidgetComponent::new("Box").with_children(vec![deep]);
        }
        let deep = WidgetRoot::card(vec![deep]); // depth 5
        assert_eq!(
            deep.validate(&WidgetLimits {
                max_depth: 5,
                max_nodes: 10
            }),
            Ok(())
        );
        assert_eq!(
            deep.validate(&WidgetLimits {
                max_depth: 4,
                max_nodes: 10
            }),
            Err(WidgetError::TooDeep { max_depth: 4 })
        );
        assert_eq!(
            deep.validate(&WidgetLimits {
                max_depth: 5,
                max_nodes: 4
            }),
            Err(WidgetError::TooManyNodes { max_nodes: 4 })
        );
        assert!(
            WidgetError::TooDeep { max_depth: 4 }
                .to_string()
                .contains('4')
        );
    }
}
