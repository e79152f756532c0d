//! Human-in-the-loop forms, without I/O: what the `request_human_input` tool accepts, the
//! ChatKit `Form` widget built from it, server-side validation and coercion of the submitted
//! values, the read-only summary that replaces an answered form, and what the model is told.
//! The service that stores and resumes lives in `chatkit::server::human`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::chatkit::widgets::{ActionConfig, WidgetComponent, WidgetRoot};

/// The built-in tool's name.
pub const TOOL_NAME: &str = "request_human_input";
/// Payload key of the interaction id on every form action. Field names cannot start with
/// `__`, so form values never collide with it.
pub const ID_KEY: &str = "__interaction";
pub const SUBMIT_ACTION: &str = "human.form_submit";
pub const BEST_JUDGEMENT_ACTION: &str = "human.best_judgement";
pub const CANCEL_ACTION: &str = "human.cancel";
pub const APPROVE_ACTION: &str = "human.approve";
pub const DENY_ACTION: &str = "human.deny";
pub const DECLINE_ACTION: &str = "human.decline";

pub const BEST_JUDGEMENT_TEXT: &str = "The user asked you to use your best judgement.";
pub const CANCELLED_TEXT: &str = "The user cancelled the request.";
pub const EXPIRED_TEXT: &str = "The user did not answer in time.";
pub const DENIED_TEXT: &str = "The user denied this tool call.";
/// The notice a new message gets while a form waits.
pub const PENDING_NOTICE: &str = "Please submit the form above before sending more messages.";

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
    fn label(&self) -> &str {
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

/// How an interaction ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Valid, coerced values keyed by field name.
    Answered(Map<String, Value>),
    BestJudgement,
    Cancelled,
    Expired,
    Approved,
    Denied,
    /// An elicitation the user declined.
    Declined,
}

impl Outcome {
    /// The row's status.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Answered(_) | Outcome::Approved => "answered",
            Outcome::BestJudgement => "best_judgement",
            Outcome::Cancelled => "cancelled",
            Outcome::Expired => "expired",
            Outcome::Denied | Outcome::Declined => "denied",
        }
    }

    /// The row's answer.
    pub fn answer(&self) -> Option<String> {
        match self {
            Outcome::Answered(values) => Some(Value::Object(values.clone()).to_string()),
            Outcome::Approved => Some(json!({"approved": true}).to_string()),
            Outcome::Denied => Some(json!({"approved": false}).to_string()),
            _ => None,
        }
    }

    /// The tool result the model reads.
    pub fn model_text(&self) -> String {
        match self {
            Outcome::Answered(values) => Value::Object(values.clone()).to_string(),
            Outcome::BestJudgement => BEST_JUDGEMENT_TEXT.into(),
            Outcome::Cancelled => CANCELLED_TEXT.into(),
            Outcome::Expired => EXPIRED_TEXT.into(),
            Outcome::Approved => "The user approved this tool call.".into(),
            Outcome::Denied => DENIED_TEXT.into(),
            Outcome::Declined => "The user declined to answer.".into(),
        }
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
                    .filter(|(i, _)| {
                        boxes
                            .get(&format!("o{i}"))
                            .is_some_and(|v| v == &Value::Bool(true) || v.as_str() == Some("true"))
                    })
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
            Some(text) => {
                // A date picker may send a full timestamp; its date part is the answer.
                let day = text.get(..10).unwrap_or(&text);
                let valid = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok()
                    && (text.len() == 10 || text.as_bytes().get(10) == Some(&b'T'));
                if valid {
                    Ok(Some(Value::String(day.to_owned())))
                } else {
                    Err("Enter a date as YYYY-MM-DD.".into())
                }
            }
        },
    }
}

fn id_payload(interaction_id: &str) -> Value {
    json!({ ID_KEY: interaction_id })
}

fn text(value: impl Into<String>) -> WidgetComponent {
    WidgetComponent::new("Text").with_prop("value", value.into())
}

fn button(label: &str, action: &str, interaction_id: &str) -> WidgetComponent {
    WidgetComponent::new("Button")
        .with_prop("label", label)
        .with_prop("style", "secondary")
        .with_prop(
            "onClickAction",
            ActionConfig::new(action).with_payload(id_payload(interaction_id)),
        )
}

/// The form of an interaction. `values` are what the user sent last time (kept on an invalid
/// answer) and `errors` the messages to show beside the fields.
pub fn form_widget(
    interaction_id: &str,
    kind: &str,
    spec: &FormSpec,
    values: &Value,
    errors: &BTreeMap<String, String>,
) -> WidgetRoot {
    let mut children = vec![WidgetComponent::new("Title").with_prop("value", spec.title.clone())];
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
    let second = if kind == "elicitation" {
        button("Decline", DECLINE_ACTION, interaction_id)
    } else {
        button(
            "Use your best judgement",
            BEST_JUDGEMENT_ACTION,
            interaction_id,
        )
    };
    let submit = WidgetComponent::new("Button")
        .with_prop("label", "Submit")
        .with_prop("submit", true)
        .with_prop("style", "primary");
    children.push(
        WidgetComponent::new("Row")
            .with_prop("gap", 2)
            .with_children(vec![
                submit,
                second,
                button("Cancel", CANCEL_ACTION, interaction_id),
            ]),
    );
    let form = WidgetComponent::new("Form")
        .with_prop("direction", "col")
        .with_prop("gap", 3)
        .with_prop(
            "onSubmitAction",
            ActionConfig::new(SUBMIT_ACTION).with_payload(id_payload(interaction_id)),
        )
        .with_children(children);
    WidgetRoot::card(vec![form])
}

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
    let shown = value.and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let checked = |v: Option<&Value>| {
        v.is_some_and(|v| v == &Value::Bool(true) || v.as_str() == Some("true"))
    };
    let mut parts = Vec::new();
    let control = |kind: &str| {
        let mut c = WidgetComponent::new(kind).with_prop("name", field.name.clone());
        if let Some(shown) = &shown {
            c = c.with_prop("defaultValue", shown.clone());
        }
        c
    };
    match field.kind {
        FieldKind::Boolean => parts.push(
            WidgetComponent::new("Checkbox")
                .with_prop("name", field.name.clone())
                .with_prop("label", label)
                .with_prop("defaultChecked", checked(value)),
        ),
        FieldKind::MultiSelect => {
            parts.push(
                WidgetComponent::new("Label")
                    .with_prop("value", label)
                    .with_prop("fieldName", field.name.clone()),
            );
            let chosen: Vec<String> = match value {
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => vec![],
            };
            for (i, option) in field.options.iter().enumerate() {
                let on =
                    chosen.contains(option) || checked(value.and_then(|v| v.get(format!("o{i}"))));
                parts.push(
                    WidgetComponent::new("Checkbox")
                        .with_prop("name", format!("{}.o{i}", field.name))
                        .with_prop("label", option.clone())
                        .with_prop("defaultChecked", on),
                );
            }
        }
        kind => {
            parts.push(
                WidgetComponent::new("Label")
                    .with_prop("value", label)
                    .with_prop("fieldName", field.name.clone()),
            );
            let input = match kind {
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
                    if let Some(day) = shown.as_deref().filter(|d| {
                        chrono::NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d")
                            .is_ok()
                    }) {
                        let day = day.get(..10).unwrap_or(day);
                        picker = picker.with_prop("defaultValue", format!("{day}T00:00:00Z"));
                    }
                    picker
                }
                _ => control("Input").with_prop("inputType", "text"),
            };
            let input = if field.required && kind != FieldKind::Date {
                input.with_prop("required", true)
            } else {
                input
            };
            parts.push(match &field.description {
                Some(d) if matches!(kind, FieldKind::String | FieldKind::LongText) => {
                    input.with_prop("placeholder", d.clone())
                }
                _ => input,
            });
        }
    }
    if let Some(description) = &field.description {
        parts.push(
            text(description.clone())
                .with_prop("size", "sm")
                .with_prop("color", "secondary"),
        );
    }
    if let Some(error) = errors.get(&field.name) {
        parts.push(
            text(error.clone())
                .with_prop("size", "sm")
                .with_prop("color", "danger"),
        );
    }
    WidgetComponent::new("Col")
        .with_prop("gap", 1)
        .with_children(parts)
}

/// An MCP server's question, as a form.
#[derive(Debug, Clone, PartialEq)]
pub struct Elicitation {
    /// The server's key for the request, under which the answer goes back.
    pub key: String,
    pub spec: FormSpec,
    pub requested_schema: Value,
    pub request_state: Option<String>,
    /// A handshake-era question: the parked call's token and how long it waits.
    pub live: Option<(String, std::time::Duration)>,
}

impl Elicitation {
    /// What the interaction row keeps beside the form, to answer the server.
    pub fn details(&self) -> Value {
        json!({"key": self.key, "request_state": self.request_state,
               "requested_schema": self.requested_schema,
               "live": self.live.as_ref().map(|(token, _)| token)})
    }
}

/// Reads an `input_required` result: one form-mode `elicitation/create` request, whose flat
/// schema of primitives becomes a form. The error says what cannot be shown.
pub fn elicitation_of(
    tool: &str,
    requests: &[(String, Value)],
    request_state: Option<String>,
) -> Result<Elicitation, String> {
    let [(key, request)] = requests else {
        return Err(format!(
            "The tool asked for {} inputs at once; this chat answers one.",
            requests.len()
        ));
    };
    if request["method"] != "elicitation/create" {
        return Err(format!(
            "The tool asked for '{}', which this chat cannot give.",
            request["method"].as_str().unwrap_or("an unknown request")
        ));
    }
    let params = &request["params"];
    if params["mode"].as_str().is_some_and(|m| m != "form") {
        return Err(
            "The tool asked for input through a web page, which this chat cannot open.".into(),
        );
    }
    let schema = &params["requestedSchema"];
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields = Vec::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let options = |p: &Value| -> Vec<String> {
            if let Some(values) = p["enum"].as_array() {
                return values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
            }
            p["oneOf"]
                .as_array()
                .or_else(|| p["anyOf"].as_array())
                .map(|list| {
                    list.iter()
                        .filter_map(|o| o["const"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (kind, options) = match property["type"].as_str() {
            Some("string") if !options(property).is_empty() => {
                (FieldKind::Select, options(property))
            }
            Some("string") if property["format"] == "date" => (FieldKind::Date, vec![]),
            Some("string") if property["maxLength"].as_u64().is_some_and(|n| n > 200) => {
                (FieldKind::LongText, vec![])
            }
            Some("string") => (FieldKind::String, vec![]),
            Some("number" | "integer") => (FieldKind::Number, vec![]),
            Some("boolean") => (FieldKind::Boolean, vec![]),
            Some("array") if !options(&property["items"]).is_empty() => {
                (FieldKind::MultiSelect, options(&property["items"]))
            }
            _ => {
                return Err(format!(
                    "The tool asked for '{name}' in a form this chat cannot show."
                ));
            }
        };
        fields.push(Field {
            name: name.clone(),
            label: property["title"].as_str().map(str::to_owned),
            kind,
            required: required.contains(&name.as_str()),
            options,
            description: property["description"].as_str().map(str::to_owned),
        });
    }
    let message = params["message"]
        .as_str()
        .unwrap_or("The tool needs your input.");
    let spec = FormSpec::parse(&json!({
        "title": message,
        "description": format!("Asked by the tool {tool}."),
        "fields": fields,
    }))?;
    Ok(Elicitation {
        key: key.clone(),
        spec,
        requested_schema: schema.clone(),
        request_state,
        live: None,
    })
}

/// What an approval asks, kept as the interaction's schema (a form without fields).
pub fn approval_spec(tool: &str, arguments: &Value) -> FormSpec {
    FormSpec {
        title: format!("Allow {tool}?"),
        description: Some(format!("Arguments: {}", compact(arguments))),
        fields: vec![],
    }
}

fn compact(arguments: &Value) -> String {
    match arguments {
        Value::Null => "{}".into(),
        other => other.to_string(),
    }
}

/// The Approve / Deny form shown before a tool that needs approval runs.
pub fn approval_widget(interaction_id: &str, tool: &str, arguments: &Value) -> WidgetRoot {
    let shown = serde_json::to_string_pretty(arguments).unwrap_or_else(|_| compact(arguments));
    let approve = WidgetComponent::new("Button")
        .with_prop("label", "Approve")
        .with_prop("submit", true)
        .with_prop("style", "primary");
    let deny = button("Deny", DENY_ACTION, interaction_id);
    let form = WidgetComponent::new("Form")
        .with_prop("direction", "col")
        .with_prop("gap", 3)
        .with_prop(
            "onSubmitAction",
            ActionConfig::new(APPROVE_ACTION).with_payload(id_payload(interaction_id)),
        )
        .with_children(vec![
            WidgetComponent::new("Title").with_prop("value", "Approve this action?"),
            text(format!("The assistant wants to run the tool {tool} with:")),
            WidgetComponent::new("Markdown").with_prop("value", format!("```json\n{shown}\n```")),
            WidgetComponent::new("Row")
                .with_prop("gap", 2)
                .with_children(vec![approve, deny]),
        ]);
    WidgetRoot::card(vec![form])
}

/// The read-only card that replaces an answered form.
pub fn summary_widget(spec: &FormSpec, outcome: &Outcome, by_operator: bool) -> WidgetRoot {
    let mut children = vec![WidgetComponent::new("Title").with_prop("value", spec.title.clone())];
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
                children.push(
                    WidgetComponent::new("Row")
                        .with_prop("gap", 2)
                        .with_children(vec![
                            text(format!("{}:", field.label())).with_prop("weight", "semibold"),
                            text(shown),
                        ]),
                );
            }
        }
        other => {
            if let Some(description) = &spec.description {
                children.push(text(description.clone()).with_prop("size", "sm"));
            }
            children.push(text(summary_line(other)));
        }
    }
    let by = if by_operator {
        "Answered by an operator."
    } else {
        "Answered."
    };
    if !matches!(outcome, Outcome::Expired) {
        children.push(
            text(by)
                .with_prop("size", "sm")
                .with_prop("color", "secondary"),
        );
    }
    WidgetRoot::card(children)
}

fn summary_line(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::BestJudgement => "The assistant was asked to use its best judgement.",
        Outcome::Cancelled => "The request was cancelled.",
        Outcome::Expired => "No answer was given in time.",
        Outcome::Approved => "Approved.",
        Outcome::Denied => "Denied.",
        Outcome::Declined => "Declined.",
        Outcome::Answered(_) => "Answered.",
    }
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
        Some(other) => format!("Form \"{}\": {}", spec.title, summary_line(other)),
    }
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
    fn elicitation_schemas_become_forms() {
        let request = json!({"method": "elicitation/create", "params": {"message": "Deploy?",
            "requestedSchema": {"type": "object", "required": ["ok"], "properties": {
                "ok": {"type": "boolean", "title": "Go ahead?"},
                "count": {"type": "integer"},
                "env": {"type": "string", "enum": ["staging", "prod"]},
                "tier": {"type": "string", "oneOf": [{"const": "a", "title": "A"}]},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
                "when": {"type": "string", "format": "date"},
                "note": {"type": "string"}}}}});
        let e = elicitation_of("deploy", &[("k".into(), request)], Some("s".into())).unwrap();
        assert_eq!(
            (e.key.as_str(), e.request_state.as_deref()),
            ("k", Some("s"))
        );
        assert_eq!(e.spec.title, "Deploy?");
        let kinds: Vec<(&str, FieldKind, bool)> = e
            .spec
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.kind, f.required))
            .collect();
        assert!(kinds.contains(&("ok", FieldKind::Boolean, true)));
        assert!(kinds.contains(&("count", FieldKind::Number, false)));
        assert!(kinds.contains(&("env", FieldKind::Select, false)));
        assert!(kinds.contains(&("tier", FieldKind::Select, false)));
        assert!(kinds.contains(&("tags", FieldKind::MultiSelect, false)));
        assert!(kinds.contains(&("when", FieldKind::Date, false)));
        assert!(kinds.contains(&("note", FieldKind::String, false)));
        let url = json!({"method": "elicitation/create", "params": {"mode": "url", "message": "m", "url": "https://x"}});
        assert!(elicitation_of("t", &[("k".into(), url)], None).is_err());
        let sampling = json!({"method": "sampling/createMessage", "params": {}});
        assert!(elicitation_of("t", &[("k".into(), sampling)], None).is_err());
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
