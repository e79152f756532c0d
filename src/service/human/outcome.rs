//! What an answer to a person's form means for the run: the outcome of the answer for the
//! interaction's kind, the input the run resumes with, and the record of the tool call that
//! asked, with the answer as its result.

use serde_json::Value;

use super::{HumanAnswer, HumanError};
use crate::agent::TurnInput;
use crate::agent::human::{self, FormSpec, Outcome};
use crate::agent::llm::ToolCall;
use crate::agent::mcp::InputAnswers;
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::records::ToolCallRecord;
use crate::chatkit::states::InteractionKind;
use crate::store::InteractionRow;

pub(super) fn spec_of(row: &InteractionRow) -> Result<FormSpec, HumanError> {
    serde_json::from_str(&row.schema).map_err(|e| HumanError::Corrupt(e.to_string()))
}

pub(super) fn is_due(row: &InteractionRow) -> bool {
    row.expires_at <= chrono::Utc::now().naive_utc()
}

/// What an answer means for this interaction.
pub(super) fn outcome(
    row: &InteractionRow,
    spec: &FormSpec,
    answer: HumanAnswer,
) -> Result<Outcome, HumanError> {
    use InteractionKind::{Approval, Elicitation, Form};
    match (row.kind, answer) {
        (Form | Elicitation, HumanAnswer::Submit(payload)) => human::validate(spec, &payload)
            .map(Outcome::Answered)
            .map_err(HumanError::Invalid),
        (Form, HumanAnswer::BestJudgement) => Ok(Outcome::BestJudgement),
        (Form | Elicitation, HumanAnswer::Cancel) => Ok(Outcome::Cancelled),
        (Approval, HumanAnswer::Approve) => Ok(Outcome::Approved),
        (Approval, HumanAnswer::Deny) => Ok(Outcome::Denied),
        (Elicitation, HumanAnswer::Decline) => Ok(Outcome::Declined),
        (kind, _) => Err(HumanError::WrongAnswer(kind.to_string())),
    }
}

/// How the run goes on after an answer: an approved call runs first; anything else is
/// already recorded as the call's result.
pub(super) fn resume_input(row: &InteractionRow, outcome: &Outcome) -> TurnInput {
    match outcome {
        Outcome::Approved => TurnInput::Approved {
            call: asked_call(row),
            asked_at: row.created_at.and_utc(),
            note: None,
        },
        Outcome::Expired => TurnInput::Continue,
        answered if row.kind == InteractionKind::Elicitation => {
            let details: Value = row
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or_default();
            let mut response = serde_json::Map::new();
            let action = match answered {
                Outcome::Answered(values) => {
                    response.insert("content".into(), Value::Object(values.clone()));
                    "accept"
                }
                Outcome::Declined => "decline",
                _ => "cancel",
            };
            response.insert("action".into(), action.into());
            let key = details["key"].as_str().unwrap_or_default().to_owned();
            let mut responses = serde_json::Map::new();
            responses.insert(key, Value::Object(response));
            TurnInput::Elicited {
                call: asked_call(row),
                asked_at: row.created_at.and_utc(),
                answers: InputAnswers {
                    responses,
                    request_state: details["request_state"].as_str().map(str::to_owned),
                    live: details["live"].as_str().map(str::to_owned),
                },
            }
        }
        _ => TurnInput::Continue,
    }
}

/// The tool call that asked `row`.
fn asked_call(row: &InteractionRow) -> ToolCall {
    ToolCall {
        call_id: row.call_id.clone(),
        name: row.tool_name.clone(),
        arguments: row.arguments.clone(),
    }
}

/// The record of the call that asked `row`, with the answer as its result, dated when the
/// model asked, so its history reads: call, result, then the form.
pub(super) fn answered_call(
    row: &InteractionRow,
    output: String,
    content: Option<Value>,
) -> ToolCallRecord {
    let asked_at = row.created_at.and_utc();
    let waited = (chrono::Utc::now() - asked_at).num_milliseconds();
    ToolCallRecord {
        id: ids::new_id(IdKind::ToolCall),
        thread_id: row.thread_id.clone(),
        created_at: asked_at,
        call_id: row.call_id.clone(),
        name: row.tool_name.clone(),
        arguments: row.arguments.clone(),
        output,
        is_error: false,
        content,
        duration_ms: u64::try_from(waited).unwrap_or(0),
    }
}
