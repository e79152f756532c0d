//! Property tests: the ChatKit request parser and widget validation answer every input, however
//! wrong, with a value or an error, never a panic. Inputs are random bytes, and also arbitrary
//! JSON shaped like the real thing (a known `type`, params with the protocol's keys holding
//! values of any kind), which reaches far deeper into the parser than noise does. The JSON
//! strategies are shared with the agent's own property tests.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::types::{ChatKitRequest, RequestType};
use super::widgets::{WidgetLimits, WidgetRoot};

/// Cases per property: enough to reach the parser's branches, quick enough for every test run.
pub(crate) const CASES: u32 = 300;

/// Keys of the protocol's params and items, so random objects often hit a real field.
const REQUEST_KEYS: &[&str] = &[
    "thread_id",
    "input",
    "content",
    "type",
    "text",
    "attachments",
    "quoted_text",
    "inference_options",
    "tool_choice",
    "id",
    "model",
    "item_id",
    "item_ids",
    "kind",
    "after",
    "limit",
    "order",
    "title",
    "result",
    "action",
    "payload",
    "handler",
    "loadingBehavior",
    "inputs",
    "status",
    "answers",
    "name",
    "size",
    "mime_type",
    "attachment_id",
    "audio_base64",
    "media_type",
    "metadata",
    "params",
];

/// Component types and props of widgets, for the same reason.
const WIDGET_KEYS: &[&str] = &[
    "type",
    "children",
    "key",
    "id",
    "value",
    "label",
    "onClickAction",
    "size",
    "padding",
    "src",
    "options",
    "name",
    "defaultValue",
    "status",
    "confirm",
    "cancel",
    "widget",
    "copy_text",
];
const WIDGET_TYPES: &[&str] = &[
    "Card",
    "ListView",
    "Basic",
    "ListViewItem",
    "Text",
    "Title",
    "Caption",
    "Markdown",
    "Button",
    "Row",
    "Col",
    "Box",
    "Image",
    "Badge",
    "Form",
    "Select",
    "Input",
    "Textarea",
    "Checkbox",
    "DatePicker",
    "Divider",
    "Spacer",
    "Icon",
    "Transition",
    "Chart",
];

/// Strings: mostly short and any Unicode, sometimes one of `known`, sometimes huge.
pub(crate) fn text(known: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        4 => "\\PC{0,12}",
        3 => proptest::sample::select(known).prop_map(str::to_owned),
        1 => any::<String>(),
        1 => (1usize..20_000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

/// Any JSON value up to a few levels deep, whose strings and keys favour `known`.
pub(crate) fn json_value(known: &'static [&'static str]) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text(known).prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((text(known), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// A JSON object whose keys favour `known`.
pub(crate) fn json_object(known: &'static [&'static str]) -> BoxedStrategy<Value> {
    proptest::collection::vec((text(known), json_value(known)), 0..8)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
        .boxed()
}

/// A request with a real `type` and params of random shape.
fn shaped_request() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(RequestType::ALL.to_vec()),
        json_object(REQUEST_KEYS),
        json_value(REQUEST_KEYS),
    )
        .prop_map(|(request_type, params, metadata)| {
            json!({"type": request_type.as_str(), "params": params, "metadata": metadata})
        })
}

/// A valid request with one of its values (at any depth) replaced by a random one.
fn mutated_request() -> impl Strategy<Value = Value> {
    let valid = [
        json!({"type": "threads.create", "params": {"input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {"model": "m", "tool_choice": {"id": "t"}}}}}),
        json!({"type": "threads.add_user_message", "params": {"thread_id": "thr_1", "input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": ["atc_1"], "quoted_text": "q", "inference_options": {}}}}),
        json!({"type": "threads.custom_action", "params": {"thread_id": "thr_1", "item_id": "itm_1", "action": {"type": "form.submit", "payload": {"a": 1}}}}),
        json!({"type": "threads.add_structured_input", "params": {"thread_id": "thr_1", "item_id": "itm_1", "inputs": [{"id": "q1", "value": "x"}], "status": "submitted"}}),
        json!({"type": "items.list", "params": {"thread_id": "thr_1", "limit": 20, "order": "desc", "after": "itm_1"}}),
        json!({"type": "items.feedback", "params": {"thread_id": "thr_1", "item_ids": ["itm_1"], "kind": "positive"}}),
        json!({"type": "attachments.create", "params": {"name": "a.png", "size": 10, "mime_type": "image/png"}}),
        json!({"type": "threads.update", "params": {"thread_id": "thr_1", "title": "t"}}),
    ];
    (
        proptest::sample::select(valid.to_vec()),
        any::<proptest::sample::Index>(),
        json_value(REQUEST_KEYS),
    )
        .prop_map(|(mut request, at, replacement)| {
            let mut slots = Vec::new();
            paths(&request, &mut Vec::new(), &mut slots);
            if let Some(path) = slots.get(at.index(slots.len().max(1)))
                && let Some(slot) = pointer_mut(&mut request, path)
            {
                *slot = replacement;
            }
            request
        })
}

/// Every path to a value inside `value`, as keys and indexes.
fn paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        prefix.push(key);
        paths(child, prefix, out);
        prefix.pop();
    }
}

fn pointer_mut<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, key| match v {
        Value::Object(map) => map.get_mut(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    })
}

/// A widget-like tree: components of known types with random props and children.
pub(crate) fn widget_tree() -> BoxedStrategy<Value> {
    let component = |children: BoxedStrategy<Value>| {
        (
            proptest::sample::select(WIDGET_TYPES),
            json_object(WIDGET_KEYS),
            proptest::option::of(children),
        )
            .prop_map(|(type_, props, children)| {
                let mut node = props;
                node["type"] = json!(type_);
                if let Some(children) = children {
                    node["children"] = children;
                }
                node
            })
    };
    let leaf = component(Just(Value::Null).boxed()).boxed();
    leaf.prop_recursive(6, 80, 6, move |inner| {
        component(
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                inner,
            ]
            .boxed(),
        )
        .boxed()
    })
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn request_parser_survives_random_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ChatKitRequest::parse(&body);
    }

    #[test]
    fn request_parser_survives_random_json(value in json_value(REQUEST_KEYS)) {
        let _ = ChatKitRequest::parse(value.to_string().as_bytes());
    }

    #[test]
    fn request_parser_survives_requests_of_random_shape(request in shaped_request()) {
        let parsed = ChatKitRequest::parse(request.to_string().as_bytes());
        if let Ok(parsed) = parsed {
            prop_assert_eq!(parsed.request_type().as_str(), request["type"].as_str().unwrap_or_default());
        }
    }

    #[test]
    fn request_parser_survives_mutated_valid_requests(request in mutated_request()) {
        let _ = ChatKitRequest::parse(request.to_string().as_bytes());
    }

    #[test]
    fn widget_validation_survives_random_trees(tree in widget_tree()) {
        if let Ok(widget) = serde_json::from_value::<WidgetRoot>(tree) {
            let _ = widget.validate(&WidgetLimits::default());
            let _ = serde_json::to_string(&widget);
        }
    }
}

#[test]
fn the_mutations_reach_inside_requests() {
    let request = json!({"a": {"b": [1, 2]}});
    let mut slots = Vec::new();
    paths(&request, &mut Vec::new(), &mut slots);
    assert_eq!(slots.len(), 5, "{slots:?}");
}
