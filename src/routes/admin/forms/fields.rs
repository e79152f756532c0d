//! A question's form as HTML inputs, and the posted inputs read back as the answer payload
//! that `agent::human::validate` checks (the same one the chat's form sends).
//!
//! Every field type the chat's form has gets its native control: text, textarea, number,
//! checkbox, select, a checkbox per option of a multi-select (all named after the field),
//! and a date input. Values and errors are kept, so a refused answer is shown again as typed.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::agent::human::{FieldKind, FormSpec};

/// One input as the template draws it.
pub(in crate::routes::admin) struct FieldView {
    pub(in crate::routes::admin) name: String,
    pub(in crate::routes::admin) label: String,
    /// `text`, `textarea`, `number`, `checkbox`, `select`, `multi` or `date`.
    pub(in crate::routes::admin) control: &'static str,
    pub(in crate::routes::admin) required: bool,
    pub(in crate::routes::admin) description: Option<String>,
    /// What the input holds (text-like controls).
    pub(in crate::routes::admin) value: String,
    /// A ticked single checkbox.
    pub(in crate::routes::admin) checked: bool,
    pub(in crate::routes::admin) options: Vec<OptionView>,
    pub(in crate::routes::admin) error: Option<String>,
}

pub(in crate::routes::admin) struct OptionView {
    pub(in crate::routes::admin) value: String,
    pub(in crate::routes::admin) selected: bool,
}

/// Names of posted inputs that are not form fields (field names never start with `__`, and
/// these are the page's own).
const PAGE_INPUTS: [&str; 4] = ["csrf_token", "action", "note", "arguments"];

/// The form's inputs holding `values` (what was posted, or nothing) with `errors` by field.
pub(in crate::routes::admin) fn field_views(
    spec: &FormSpec,
    values: &Value,
    errors: &BTreeMap<String, String>,
) -> Vec<FieldView> {
    spec.fields
        .iter()
        .map(|field| {
            let posted = values.get(&field.name);
            let text = match posted {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            let chosen: Vec<&str> = match posted {
                Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
                Some(Value::String(s)) => vec![s.as_str()],
                _ => vec![],
            };
            FieldView {
                name: field.name.clone(),
                label: field.label.clone().unwrap_or_else(|| field.name.clone()),
                control: match field.kind {
                    FieldKind::String => "text",
                    FieldKind::LongText => "textarea",
                    FieldKind::Number => "number",
                    FieldKind::Boolean => "checkbox",
                    FieldKind::Select => "select",
                    FieldKind::MultiSelect => "multi",
                    FieldKind::Date => "date",
                },
                required: field.required,
                description: field.description.clone(),
                checked: matches!(text.as_str(), "true" | "on"),
                options: field
                    .options
                    .iter()
                    .map(|option| OptionView {
                        value: option.clone(),
                        selected: chosen.contains(&option.as_str()),
                    })
                    .collect(),
                value: text,
                error: errors.get(&field.name).cloned(),
            }
        })
        .collect()
}

/// The posted inputs as the answer payload: a multi-select's ticked options as a list, every
/// other field as its text; the page's own inputs and unknown names left out.
pub(in crate::routes::admin) fn payload(spec: &FormSpec, posted: &[(String, String)]) -> Value {
    let mut values = Map::new();
    for (name, value) in posted {
        if PAGE_INPUTS.contains(&name.as_str()) {
            continue;
        }
        let Some(field) = spec.fields.iter().find(|f| &f.name == name) else {
            continue;
        };
        if field.kind == FieldKind::MultiSelect {
            let list = values
                .entry(name.clone())
                .or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(list) = list {
                list.push(Value::String(value.clone()));
            }
        } else {
            values.insert(name.clone(), Value::String(value.clone()));
        }
    }
    Value::Object(values)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> FormSpec {
        FormSpec::parse(&json!({"title": "Trip", "fields": [
            {"name": "city", "type": "string", "required": true},
            {"name": "pets", "type": "boolean"},
            {"name": "extras", "type": "multi_select", "options": ["breakfast", "parking"]}
        ]}))
        .unwrap()
    }

    #[test]
    fn posted_inputs_become_the_payload_the_chat_sends() {
        let posted: Vec<(String, String)> = [
            ("csrf_token", "t"),
            ("city", "Oslo"),
            ("extras", "breakfast"),
            ("extras", "parking"),
            ("action", "submit"),
            ("other", "x"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let payload = payload(&spec(), &posted);
        assert_eq!(
            payload,
            json!({"city": "Oslo", "extras": ["breakfast", "parking"]})
        );
        let values = crate::agent::human::validate(&spec(), &payload).unwrap();
        assert_eq!(values["pets"], json!(false));
    }

    #[test]
    fn a_refused_answer_keeps_what_was_typed() {
        let errors = BTreeMap::from([("city".to_owned(), "This field is required.".to_owned())]);
        let views = field_views(
            &spec(),
            &json!({"pets": "true", "extras": ["parking"]}),
            &errors,
        );
        assert_eq!(views[0].error.as_deref(), Some("This field is required."));
        assert!(views[1].checked);
        let ticked: Vec<bool> = views[2].options.iter().map(|o| o.selected).collect();
        assert_eq!(ticked, [false, true]);
    }
}
