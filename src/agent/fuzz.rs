//! Property tests: what tools and models hand the agent (widget payloads in tool results, form
//! and question arguments, MCP elicitation schemas) and what users answer to forms never make
//! it panic. Inputs are arbitrary JSON shaped like the real thing, from the strategies of
//! `chatkit::fuzz`.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::human::{
    self, FormSpec, Outcome, Questions, answers_text, copy_text, elicitation_of, form_widget,
    summary_widget,
};
use super::widgets::{self, WIDGET_MIME};
use crate::chatkit::fuzz::{CASES, json_object, json_value, text, widget_tree};
use crate::chatkit::states::InteractionKind;
use crate::chatkit::types::StructuredInputSubmission;

/// Keys of form specs, questions, answers and elicitation schemas.
const FORM_KEYS: &[&str] = &[
    "title",
    "description",
    "fields",
    "name",
    "label",
    "type",
    "required",
    "options",
    "questions",
    "id",
    "question",
    "multiple",
    "status",
    "answers",
    "values",
    "skipped",
    "method",
    "params",
    "mode",
    "requestedSchema",
    "properties",
    "enum",
    "oneOf",
    "anyOf",
    "const",
    "format",
    "minimum",
    "maximum",
    "default",
    "string",
    "number",
    "integer",
    "boolean",
    "select",
    "multi_select",
    "long_text",
    "date",
    "elicitation/create",
    "form",
    "a",
    "b",
    "email",
];

const FIELD_KINDS: &[&str] = &[
    "string",
    "long_text",
    "number",
    "boolean",
    "select",
    "multi_select",
    "date",
    "color",
];

/// A form field of random make, often with a real kind and a short name.
fn field() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("a".to_owned()), Just("b".to_owned()), text(FORM_KEYS)],
        proptest::sample::select(FIELD_KINDS),
        proptest::option::of(text(FORM_KEYS)),
        any::<bool>(),
        proptest::collection::vec(text(FORM_KEYS), 0..4),
    )
        .prop_map(|(name, kind, label, required, options)| {
            json!({"name": name, "type": kind, "label": label, "required": required,
                   "options": options})
        })
}

/// Form arguments as a model writes them, and answers as a user sends them.
fn form_and_answers() -> impl Strategy<Value = (Value, Value)> {
    (
        text(FORM_KEYS),
        proptest::collection::vec(field(), 0..6),
        json_object(FORM_KEYS),
        proptest::collection::vec(json_value(FORM_KEYS), 0..3),
    )
        .prop_map(|(title, fields, mut answers, values)| {
            // Answers under the fields' own names, so validation looks at them.
            for (field, value) in fields.iter().zip(values) {
                if let Some(name) = field["name"].as_str() {
                    answers[name] = value;
                }
            }
            (json!({"title": title, "fields": fields}), answers)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn widget_extraction_survives_random_payloads(tree in widget_tree(), copy in text(FORM_KEYS)) {
        let payload = json!({"widget": tree, "copy_text": copy});
        let _ = widgets::from_payload(&payload, Some("fallback"), "test");
        let _ = widgets::from_structured(&tree, None);
        let blocks = [
            json!({"type": "resource", "resource": {"uri": "ui://w", "mimeType": WIDGET_MIME, "text": payload.to_string()}}),
            json!({"type": "resource", "resource": {"uri": "ui://w", "mimeType": WIDGET_MIME, "blob": copy}}),
        ];
        let _ = widgets::from_content(&blocks, None);
    }

    #[test]
    fn widget_extraction_survives_random_content(content in proptest::collection::vec(json_value(FORM_KEYS), 0..4)) {
        let _ = widgets::from_content(&content, None);
        for block in &content {
            let _ = widgets::from_resource_contents(block, None);
            let _ = widgets::from_structured(block, None);
        }
    }

    #[test]
    fn forms_and_their_answers_survive_random_input((arguments, answers) in form_and_answers()) {
        let Ok(spec) = FormSpec::parse(&arguments) else {
            return Ok(());
        };
        let (values, errors) = match human::validate(&spec, &answers) {
            Ok(values) => (Some(values), Default::default()),
            Err(errors) => (None, errors),
        };
        let _ = form_widget("hin_1", InteractionKind::Form, &spec, &answers, &errors);
        if let Some(values) = values {
            let outcome = Outcome::Answered(values);
            let _ = summary_widget(&spec, &outcome, false);
            let _ = copy_text(&spec, Some(&outcome));
            let _ = outcome.model_text();
        }
    }

    #[test]
    fn form_parsing_survives_random_json(arguments in json_value(FORM_KEYS), answers in json_value(FORM_KEYS)) {
        if let Ok(spec) = FormSpec::parse(&arguments) {
            let _ = human::validate(&spec, &answers);
        }
    }

    #[test]
    fn questions_and_their_answers_survive_random_input(
        questions in proptest::collection::vec(json_object(FORM_KEYS), 0..5),
        submission in json_value(FORM_KEYS),
    ) {
        let Ok(questions) = Questions::parse(&json!({"questions": questions})) else {
            return Ok(());
        };
        let _ = questions.form_spec();
        let mut item = questions.item();
        if let Ok(submission) = serde_json::from_value::<StructuredInputSubmission>(submission) {
            item.apply_submission(&submission);
        }
        let _ = answers_text(&item);
    }

    #[test]
    fn elicitations_survive_random_schemas(
        properties in json_object(FORM_KEYS),
        required in json_value(FORM_KEYS),
        mode in json_value(FORM_KEYS),
    ) {
        let request = json!({"method": "elicitation/create", "params": {
            "mode": mode, "message": "?",
            "requestedSchema": {"type": "object", "properties": properties, "required": required},
        }});
        let _ = elicitation_of("tool", &[("k".to_owned(), request)], None);
    }
}

#[test]
fn shaped_forms_often_parse() {
    // The strategies must reach past the parser, or the properties above test little.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = form_and_answers();
    let parsed = (0..200)
        .filter(|_| {
            let (arguments, _) = strategy
                .new_tree(&mut runner)
                .map(|tree| tree.current())
                .unwrap_or_default();
            FormSpec::parse(&arguments).is_ok()
        })
        .count();
    assert!(parsed >= 20, "only {parsed} of 200 forms parsed");
}
