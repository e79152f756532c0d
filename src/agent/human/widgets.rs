//! The widgets of a question: the form (shown again with messages after an invalid answer),
//! the read-only summary that replaces it once answered, and the text the model reads for it.

use crate::chatkit::states::InteractionKind;
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::outcome::Outcome;
use super::spec::{Field, FieldKind, FormSpec, date_part, is_checked};
use super::{BEST_JUDGEMENT_ACTION, CANCEL_ACTION, DECLINE_ACTION, ID_KEY, SUBMIT_ACTION};
use crate::chatkit::actions::ActionConfig;
use crate::chatkit::widgets::{WidgetComponent, WidgetRoot};

fn id_payload(interaction_id: &str) -> Value {
    json!({ ID_KEY: interaction_id })
}

pub(super) fn text(value: impl Into<String>) -> WidgetComponent {
    WidgetComponent::new("Text").with_prop("value", value.into())
}

pub(super) fn title(value: impl Into<String>) -> WidgetComponent {
    WidgetComponent::new("Title").with_prop("value", value.into())
}

/// Small print in `color`: a field's description or error, or who answered.
fn small(value: impl Into<String>, color: &str) -> WidgetComponent {
    text(value)
        .with_prop("size", "sm")
        .with_prop("color", color)
}

/// Components side by side, e.g. a form's buttons.
pub(super) fn row(children: Vec<WidgetComponent>) -> WidgetComponent {
    WidgetComponent::new("Row")
        .with_prop("gap", 2)
        .with_children(children)
}

/// A button that sends `action` for the interaction.
pub(super) fn button(label: &str, action: &str, interaction_id: &str) -> WidgetComponent {
    WidgetComponent::new("Button")
        .with_prop("label", label)
        .with_prop("style", "secondary")
        .with_prop(
            "onClickAction",
            ActionConfig::new(action).with_payload(id_payload(interaction_id)),
        )
}

/// The button that submits a form (see [`form_card`]).
pub(super) fn submit_button(label: &str) -> WidgetComponent {
    WidgetComponent::new("Button")
        .with_prop("label", label)
        .with_prop("submit", true)
        .with_prop("style", "primary")
}

/// A card holding one form, whose submission sends `action` for the interaction.
pub(super) fn form_card(
    action: &str,
    interaction_id: &str,
    children: Vec<WidgetComponent>,
) -> WidgetRoot {
    let form = WidgetComponent::new("Form")
        .with_prop("direction", "col")
        .with_prop("gap", 3)
        .with_prop(
            "onSubmitAction",
            ActionConfig::new(action).with_payload(id_payload(interaction_id)),
        )
        .with_children(children);
    WidgetRoot::card(vec![form])
}

fn checkbox(name: String, label: String, checked: bool) -> WidgetComponent {
    WidgetComponent::new("Checkbox")
        .with_prop("name", name)
        .with_prop("label", label)
        .with_prop("defaultChecked", checked)
}

/// The form of an interaction. `values` are what the user sent last time (kept on an invalid
/// answer) and `errors` the messages to show beside the fields.
pub fn form_widget(
    interaction_id: &str,
    kind: InteractionKind,
    spec: &FormSpec,
    values: &Value,
    errors: &BTreeMap<String, String>,
) -> WidgetRoot {
    let mut children = vec![title(spec.title.clone())];
    if let Some(description) = &spec.description {
        children.push(text(description.clone()));
    }
    for field in &spec.fields {
        children.push(field_widget(field, values.get(&field.name), errors));
    }
    if !errors.is_empty() {
        children.push(
            text("Some answers need fixing; see the messages above.").with_prop("color", "danger"),
        );
    }
    // An MCP server's question can be declined; the agent's own can be left to the agent.
    let second = if kind == InteractionKind::Elicitation {
        button("Decline", DECLINE_ACTION, interaction_id)
    } else {
        button(
            "Use your best judgement",
            BEST_JUDGEMENT_ACTION,
            interaction_id,
        )
    };
    children.push(row(vec![
        submit_button("Submit"),
        second,
        button("Cancel", CANCEL_ACTION, interaction_id),
    ]));
    form_card(SUBMIT_ACTION, interaction_id, children)
}

/// One field: its label and control (a checkbox per option of a multi-select), then its
/// description and error.
fn field_widget(
    field: &Field,
    value: Option<&Value>,
    errors: &BTreeMap<String, String>,
) -> WidgetComponent {
    let label = if field.required {
        format!("{} *", field.label())
    } else {
        field.label().to_owned()
    };
    let mut parts = Vec::new();
    match field.kind {
        FieldKind::Boolean => parts.push(checkbox(
            field.name.clone(),
            label,
            value.is_some_and(is_checked),
        )),
        kind => {
            parts.push(
                WidgetComponent::new("Label")
                    .with_prop("value", label)
                    .with_prop("fieldName", field.name.clone()),
            );
            if kind == FieldKind::MultiSelect {
                let chosen: Vec<String> = match value {
                    Some(Value::Array(list)) => list
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => vec![],
                };
                for (i, option) in field.options.iter().enumerate() {
                    let on = chosen.contains(option)
                        || value
                            .and_then(|v| v.get(format!("o{i}")))
                            .is_some_and(is_checked);
                    parts.push(checkbox(format!("{}.o{i}", field.name), option.clone(), on));
                }
            } else {
                parts.push(input_widget(field, value));
            }
        }
    }
    if let Some(description) = &field.description {
        parts.push(small(description.clone(), "secondary"));
    }
    if let Some(error) = errors.get(&field.name) {
        parts.push(small(error.clone(), "danger"));
    }
    WidgetComponent::new("Col")
        .with_prop("gap", 1)
        .with_children(parts)
}

/// The control of a field that is typed in or picked from a list, showing `value`.
fn input_widget(field: &Field, value: Option<&Value>) -> WidgetComponent {
    let shown = value.and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let control = |kind: &str| {
        let mut c = WidgetComponent::new(kind).with_prop("name", field.name.clone());
        if let Some(shown) = &shown {
            c = c.with_prop("defaultValue", shown.clone());
        }
        c
    };
    let input = match field.kind {
        FieldKind::LongText => control("Textarea").with_prop("rows", 3),
        FieldKind::Number => control("Input").with_prop("inputType", "number"),
        FieldKind::Select => {
            let options: Vec<Value> = field
                .options
                .iter()
                .map(|o| json!({"value": o, "label": o}))
                .collect();
            control("Select").with_prop("options", options)
        }
        FieldKind::Date => {
            // The official type wants a timestamp; the answer keeps the date only.
            let mut picker =
                WidgetComponent::new("DatePicker").with_prop("name", field.name.clone());
            if let Some(day) = shown.as_deref().and_then(date_part) {
                picker = picker.with_prop("defaultValue", format!("{day}T00:00:00Z"));
            }
            picker
        }
        _ => control("Input").with_prop("inputType", "text"),
    };
    let input = if field.required && field.kind != FieldKind::Date {
        input.with_prop("required", true)
    } else {
        input
    };
    match &field.description {
        Some(d) if matches!(field.kind, FieldKind::String | FieldKind::LongText) => {
            input.with_prop("placeholder", d.clone())
        }
        _ => input,
    }
}

/// The read-only card that replaces an answered form.
pub fn summary_widget(spec: &FormSpec, outcome: &Outcome, by_operator: bool) -> WidgetRoot {
    let mut children = vec![title(spec.title.clone())];
    match outcome {
        Outcome::Answered(values) => {
            for field in &spec.fields {
                let shown = match values.get(&field.name) {
                    None => "—".to_owned(),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Bool(true)) => "Yes".to_owned(),
                    Some(Value::Bool(false)) => "No".to_owned(),
                    Some(Value::Array(list)) => list
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    Some(other) => other.to_string(),
                };
                children.push(row(vec![
                    text(format!("{}:", field.label())).with_prop("weight", "semibold"),
                    text(shown),
                ]));
            }
        }
        other => {
            if let Some(description) = &spec.description {
                children.push(text(description.clone()).with_prop("size", "sm"));
            }
            children.push(text(other.summary()));
        }
    }
    let by = if by_operator {
        "Answered by an operator."
    } else {
        "Answered."
    };
    if !matches!(outcome, Outcome::Expired) {
        children.push(small(by, "secondary"));
    }
    WidgetRoot::card(children)
}

/// What the model reads for a form item in the history.
pub fn copy_text(spec: &FormSpec, outcome: Option<&Outcome>) -> String {
    match outcome {
        None => format!("Form \"{}\" (waiting for the user's answer)", spec.title),
        Some(Outcome::Answered(values)) => {
            format!(
                "Form \"{}\" answered: {}",
                spec.title,
                Value::Object(values.clone())
            )
        }
        Some(other) => format!("Form \"{}\": {}", spec.title, other.summary()),
    }
}
