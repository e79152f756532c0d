//! The question a tool call that needs approval asks: Approve or Deny, with its arguments.

use serde_json::Value;

use super::spec::FormSpec;
use super::widgets::{button, form_card, row, submit_button, text, title};
use super::{APPROVE_ACTION, DENY_ACTION};
use crate::chatkit::widgets::{WidgetComponent, WidgetRoot};

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
    form_card(
        APPROVE_ACTION,
        interaction_id,
        vec![
            title("Approve this action?"),
            text(format!("The assistant wants to run the tool {tool} with:")),
            WidgetComponent::new("Markdown").with_prop("value", format!("```json\n{shown}\n```")),
            row(vec![
                submit_button("Approve"),
                button("Deny", DENY_ACTION, interaction_id),
            ]),
        ],
    )
}
