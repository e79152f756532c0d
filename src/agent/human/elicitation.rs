//! An MCP server's question (an `elicitation/create` request in an `input_required` result)
//! read as a form.

use serde_json::{Value, json};

use super::spec::{Field, FieldKind, FormSpec};

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
            // A server's required boolean wants a yes or a no, and an unticked checkbox is
            // the no; only the model's own forms treat a required box as one to tick.
            required: required.contains(&name.as_str()) && kind != FieldKind::Boolean,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // Required, but an unticked box is its "no".
        assert!(kinds.contains(&("ok", FieldKind::Boolean, false)));
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
}
