//! `ask_user_questions`: clarifying questions shown as ChatKit's own `structured_input` item
//! (multiple choice where the model gives options, freeform otherwise), which the client
//! renders in place of the composer and answers with `threads.add_structured_input`. The
//! questions are kept as an interaction like a form (as a [`FormSpec`] of the same fields),
//! so waiting, expiry, the notice for new messages and operator answers work the same.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::spec::{Field, FieldKind, FormSpec};
use crate::chatkit::types::{
    ChoiceOption, StructuredInput, StructuredInputItem, StructuredInputKind, StructuredInputStatus,
};

/// The built-in tool's name.
pub const QUESTIONS_TOOL: &str = "ask_user_questions";

/// The interaction's `details` that mark it as questions rather than a form.
pub fn questions_details() -> Value {
    json!({"structured_input": true})
}

/// Whether an interaction's `details` mark it as questions.
pub fn is_questions(details: Option<&str>) -> bool {
    details
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .is_some_and(|d| d["structured_input"] == true)
}

/// What the model tells the user when it skipped every question.
pub const SKIPPED_TEXT: &str = "The user skipped the questions.";

/// Most questions one call may ask, and most options of one question.
const MAX_QUESTIONS: usize = 10;
const MAX_OPTIONS: usize = 20;

/// One question as the model asks it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Asked {
    #[serde(default)]
    id: Option<String>,
    question: String,
    #[serde(default)]
    options: Option<Vec<String>>,
    #[serde(default)]
    multiple: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Arguments {
    questions: Vec<Asked>,
}

/// The checked questions of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Questions(Vec<StructuredInput>);

impl Questions {
    /// Reads and checks the tool's arguments; the error is what the model is told.
    pub fn parse(arguments: &Value) -> Result<Questions, String> {
        let args: Arguments = serde_json::from_value(arguments.clone()).map_err(|e| {
            format!(
                "The arguments must be {{\"questions\": [{{\"id\"?, \"question\", \
                 \"options\"?: [string], \"multiple\"?: bool}}]}}: {e}"
            )
        })?;
        if args.questions.is_empty() || args.questions.len() > MAX_QUESTIONS {
            return Err(format!("Ask from 1 to {MAX_QUESTIONS} questions."));
        }
        let mut inputs: Vec<StructuredInput> = Vec::new();
        for (n, asked) in args.questions.into_iter().enumerate() {
            let id = asked
                .id
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("q{}", n + 1));
            if id.starts_with("__") || inputs.iter().any(|q| q.id == id) {
                return Err(format!(
                    "Question ids must be unique and must not start with '__' ('{id}')."
                ));
            }
            if asked.question.trim().is_empty() {
                return Err(format!("Question '{id}' has no text."));
            }
            let kind = match asked.options {
                Some(options) => {
                    let options: Vec<String> = options
                        .into_iter()
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect();
                    if options.is_empty() || options.len() > MAX_OPTIONS {
                        return Err(format!(
                            "Question '{id}' needs from 1 to {MAX_OPTIONS} options (or none \
                             for a free answer)."
                        ));
                    }
                    StructuredInputKind::MultipleChoice {
                        options: options
                            .into_iter()
                            .map(|value| ChoiceOption { value })
                            .collect(),
                        multiple: asked.multiple,
                    }
                }
                None if asked.multiple => {
                    return Err(format!("Question '{id}' is 'multiple' but has no options."));
                }
                None => StructuredInputKind::Freeform { description: None },
            };
            inputs.push(StructuredInput {
                id,
                question: asked.question.trim().to_owned(),
                answer: None,
                kind,
            });
        }
        Ok(Questions(inputs))
    }

    /// The tool's JSON schema.
    pub fn tool_parameters() -> Value {
        json!({
            "type": "object",
            "properties": {
                "questions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_QUESTIONS,
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string", "description": "A short key for the answer (default q1, q2, ...)."},
                            "question": {"type": "string"},
                            "options": {"type": "array", "items": {"type": "string"}, "description": "Answers to choose from; leave out for a free answer."},
                            "multiple": {"type": "boolean", "description": "Whether several options may be chosen."}
                        },
                        "required": ["question"]
                    }
                }
            },
            "required": ["questions"]
        })
    }

    /// The pending item the user answers.
    pub fn item(&self) -> StructuredInputItem {
        StructuredInputItem {
            status: StructuredInputStatus::Pending,
            inputs: self.0.clone(),
        }
    }

    /// The same questions as a form, which the interaction keeps (and an operator answers).
    pub fn form_spec(&self) -> FormSpec {
        let fields = self
            .0
            .iter()
            .map(|q| {
                let (kind, options) = match &q.kind {
                    StructuredInputKind::MultipleChoice { options, multiple } => (
                        if *multiple {
                            FieldKind::MultiSelect
                        } else {
                            FieldKind::Select
                        },
                        options.iter().map(|o| o.value.clone()).collect(),
                    ),
                    StructuredInputKind::Freeform { .. } => (FieldKind::LongText, vec![]),
                };
                Field {
                    name: q.id.clone(),
                    label: Some(q.question.clone()),
                    kind,
                    required: false,
                    options,
                    description: None,
                }
            })
            .collect();
        FormSpec {
            title: "Questions".into(),
            description: None,
            fields,
        }
    }
}

/// The answers of an answered item as the tool's result: by question id, a text (a list for
/// a multiple choice), `null` for a skipped question; or that the whole was skipped.
pub fn answers_text(item: &StructuredInputItem) -> (String, Option<Map<String, Value>>) {
    if item.status == StructuredInputStatus::Skipped {
        return (SKIPPED_TEXT.into(), None);
    }
    let answers: Map<String, Value> = item
        .inputs
        .iter()
        .map(|q| {
            let value = match (&q.answer, &q.kind) {
                (Some(a), _) if a.skipped || a.values.is_empty() => Value::Null,
                (Some(a), StructuredInputKind::MultipleChoice { multiple: true, .. }) => {
                    json!(a.values)
                }
                (Some(a), _) => Value::String(a.values.join(", ")),
                (None, _) => Value::Null,
            };
            (q.id.clone(), value)
        })
        .collect();
    (Value::Object(answers.clone()).to_string(), Some(answers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_make_a_choice_and_none_a_free_answer() {
        let q = Questions::parse(&json!({"questions": [
            {"question": "Colour?", "options": ["Red", " ", "Blue"], "multiple": true},
            {"id": "why", "question": "Why?"}
        ]}))
        .unwrap();
        let item = q.item();
        assert_eq!(item.inputs[0].id, "q1");
        assert_eq!(
            item.inputs[0].kind,
            StructuredInputKind::MultipleChoice {
                options: vec![
                    ChoiceOption {
                        value: "Red".into()
                    },
                    ChoiceOption {
                        value: "Blue".into()
                    }
                ],
                multiple: true
            }
        );
        assert!(matches!(
            item.inputs[1].kind,
            StructuredInputKind::Freeform { .. }
        ));
        let spec = q.form_spec();
        assert_eq!(spec.fields[0].kind, FieldKind::MultiSelect);
        assert_eq!(spec.fields[1].name, "why");
    }

    #[test]
    fn bad_questions_are_refused() {
        for bad in [
            json!({}),
            json!({"questions": []}),
            json!({"questions": [{"question": " "}]}),
            json!({"questions": [{"question": "a", "options": []}]}),
            json!({"questions": [{"question": "a", "multiple": true}]}),
            json!({"questions": [{"id": "x", "question": "a"}, {"id": "x", "question": "b"}]}),
            json!({"questions": [{"question": "a", "colour": "red"}]}),
        ] {
            assert!(Questions::parse(&bad).is_err(), "{bad}");
        }
    }
}
