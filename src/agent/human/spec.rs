//! The form a question asks: its fields as the model describes them, checked when asked,
//! and the submitted values validated and coerced against them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What the model asks: a titled form of typed fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormSpec {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Field {
    pub(super) fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    String,
    LongText,
    Number,
    Boolean,
    Select,
    MultiSelect,
    Date,
}

/// Most fields one form may have.
const MAX_FIELDS: usize = 30;

impl FormSpec {
    /// Reads and checks the tool's arguments; the error is what the model is told.
    pub fn parse(arguments: &Value) -> Result<FormSpec, String> {
        let spec: FormSpec = serde_json::from_value(arguments.clone())
            .map_err(|e| format!("The arguments do not describe a form: {e}"))?;
        if spec.title.trim().is_empty() {
            return Err("The form needs a title.".into());
        }
        if spec.fields.len() > MAX_FIELDS {
            return Err(format!("A form has at most {MAX_FIELDS} fields."));
        }
        for (i, field) in spec.fields.iter().enumerate() {
            let valid_name = !field.name.is_empty()
                && !field.name.starts_with("__")
                && field
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return Err(format!(
                    "Field name '{}' must be letters, digits and _ (not starting with __).",
                    field.name
                ));
            }
            if spec.fields[..i].iter().any(|f| f.name == field.name) {
                return Err(format!("Field name '{}' is used twice.", field.name));
            }
            let selects = matches!(field.kind, FieldKind::Select | FieldKind::MultiSelect);
            if selects && field.options.is_empty() {
                return Err(format!("Field '{}' needs options.", field.name));
            }
        }
        Ok(spec)
    }

    /// The JSON schema of the tool's arguments, as the model is told.
    pub fn tool_parameters() -> Value {
        json!({
            "type": "object",
            "properties": {
                "title": {"type": "string", "description": "What you ask, as the form's title."},
                "description": {"type": "string", "description": "Why you ask, shown under the title."},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "description": "Key of the answer: letters, digits and _."},
                            "label": {"type": "string"},
                            "type": {"type": "string", "enum": ["string", "long_text", "number", "boolean", "select", "multi_select", "date"]},
                            "required": {"type": "boolean"},
                            "options": {"type": "array", "items": {"type": "string"}, "description": "The choices of a select or multi_select."},
                            "description": {"type": "string"}
                        },
                        "required": ["name", "type"]
                    }
                }
            },
            "required": ["title", "fields"]
        })
    }
}

/// Validates and coerces submitted values against the form: unknown keys are dropped; the
/// error map is keyed by field name.
pub fn validate(
    spec: &FormSpec,
    payload: &Value,
) -> Result<Map<String, Value>, BTreeMap<String, String>> {
    let mut values = Map::new();
    let mut errors = BTreeMap::new();
    for field in &spec.fields {
        let raw = payload.get(&field.name).unwrap_or(&Value::Null);
        match coerce(field, raw) {
            // A required checkbox is a consent the user must give: unticked is no answer.
            Ok(Some(Value::Bool(false))) if field.required && field.kind == FieldKind::Boolean => {
                errors.insert(field.name.clone(), "Tick this box to go on.".into());
            }
            Ok(Some(value)) => {
                values.insert(field.name.clone(), value);
            }
            Ok(None) if field.required => {
                errors.insert(field.name.clone(), "This field is required.".into());
            }
            Ok(None) => {}
            Err(message) => {
                errors.insert(field.name.clone(), message);
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// One field's value: `None` when empty.
fn coerce(field: &Field, raw: &Value) -> Result<Option<Value>, String> {
    let text = match raw {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty());
    match field.kind {
        FieldKind::String | FieldKind::LongText => match raw {
            Value::Null => Ok(None),
            Value::String(_) | Value::Number(_) => Ok(text.map(Value::String)),
            _ => Err("Enter text.".into()),
        },
        FieldKind::Number => match (raw, text) {
            (Value::Null, _) | (_, None) => Ok(None),
            (_, Some(text)) => {
                if let Ok(n) = text.parse::<i64>() {
                    return Ok(Some(Value::from(n)));
                }
                text.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .and_then(serde_json::Number::from_f64)
                    .map(|n| Some(Value::Number(n)))
                    .ok_or_else(|| "Enter a number.".into())
            }
        },
        FieldKind::Boolean => match raw {
            // An unchecked checkbox sends nothing.
            Value::Null => Ok(Some(Value::Bool(false))),
            Value::Bool(b) => Ok(Some(Value::Bool(*b))),
            _ => match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("true" | "on" | "yes" | "1") => Ok(Some(Value::Bool(true))),
                Some("false" | "off" | "no" | "0") | None => Ok(Some(Value::Bool(false))),
                Some(_) => Err("Answer yes or no.".into()),
            },
        },
        FieldKind::Select => match text {
            None => Ok(None),
            Some(choice) if field.options.contains(&choice) => Ok(Some(Value::String(choice))),
            Some(_) => Err("Choose one of the options.".into()),
        },
        FieldKind::MultiSelect => {
            let chosen: Vec<String> = match raw {
                Value::Null => vec![],
                Value::Array(list) => list
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or(()))
                    .collect::<Result<_, _>>()
                    .map_err(|()| "Choose only from the options.".to_string())?,
                // The form's checkboxes, one per option, named `<field>.o<index>`.
                Value::Object(boxes) => field
                    .options
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| boxes.get(&format!("o{i}")).is_some_and(is_checked))
                    .map(|(_, option)| option.clone())
                    .collect(),
                _ => return Err("Choose only from the options.".into()),
            };
            if chosen.iter().any(|c| !field.options.contains(c)) {
                return Err("Choose only from the options.".into());
            }
            Ok((!chosen.is_empty()).then(|| json!(chosen)))
        }
        FieldKind::Date => match text {
            None => Ok(None),
            // A date picker may send a full timestamp; its date part is the answer.
            Some(text) => date_part(&text)
                .filter(|_| text.len() == 10 || text.as_bytes().get(10) == Some(&b'T'))
                .map(|day| Some(Value::String(day.to_owned())))
                .ok_or_else(|| "Enter a date as YYYY-MM-DD.".into()),
        },
    }
}

/// Whether a checkbox's value is ticked (a form sends `true` or `"true"`).
pub(super) fn is_checked(value: &Value) -> bool {
    value == &Value::Bool(true) || value.as_str() == Some("true")
}

/// The `YYYY-MM-DD` a date field's text starts with, if it is a date.
pub(super) fn date_part(text: &str) -> Option<&str> {
    let day = text.get(..10).unwrap_or(text);
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .is_ok()
        .then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FormSpec {
        FormSpec::parse(&json!({"title": "Trip", "fields": [
            {"name": "city", "type": "string", "required": true},
            {"name": "nights", "type": "number"},
            {"name": "pets", "type": "boolean"},
            {"name": "room", "type": "select", "options": ["single", "double"]},
            {"name": "extras", "type": "multi_select", "options": ["breakfast", "parking"]},
            {"name": "from", "type": "date"}
        ]}))
        .unwrap()
    }

    #[test]
    fn values_are_coerced() {
        let values = validate(
            &spec(),
            &json!({"city": "Oslo", "nights": "3", "pets": "true", "room": "double",
                    "extras": {"o0": true, "o1": false}, "from": "2026-12-01T00:00:00.000Z", "x": 1}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(values),
            json!({"city": "Oslo", "nights": 3, "pets": true, "room": "double",
                   "extras": ["breakfast"], "from": "2026-12-01"})
        );
    }

    #[test]
    fn invalid_values_name_their_field() {
        let errors = validate(
            &spec(),
            &json!({"nights": "many", "room": "suite", "extras": ["spa"], "from": "12/01/2026"}),
        )
        .unwrap_err();
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["city", "extras", "from", "nights", "room"]
        );
    }

    #[test]
    fn a_required_checkbox_must_be_ticked() {
        let spec = FormSpec::parse(&json!({"title": "Terms", "fields": [
            {"name": "agree", "type": "boolean", "required": true},
            {"name": "name", "type": "string", "required": true}
        ]}))
        .unwrap();
        for unticked in [
            json!({"name": " "}),
            json!({"agree": false, "name": ""}),
            json!({"agree": "false"}),
        ] {
            let errors = validate(&spec, &unticked).unwrap_err();
            assert_eq!(errors["agree"], "Tick this box to go on.", "{unticked}");
            assert_eq!(errors["name"], "This field is required.", "{unticked}");
        }
        let values = validate(&spec, &json!({"agree": "true", "name": "Ann"})).unwrap();
        assert_eq!(values["agree"], true);
    }

    #[test]
    fn bad_forms_are_refused() {
        for bad in [
            json!({"title": "", "fields": []}),
            json!({"title": "t", "fields": [{"name": "__x", "type": "string"}]}),
            json!({"title": "t", "fields": [{"name": "a", "type": "select"}]}),
            json!({"title": "t", "fields": [{"name": "a", "type": "color"}]}),
        ] {
            assert!(FormSpec::parse(&bad).is_err(), "{bad}");
        }
    }
}
