//! How a question ended: what the interaction row keeps and what the model reads.

use serde_json::{Map, Value, json};

use super::{BEST_JUDGEMENT_TEXT, CANCELLED_TEXT, DENIED_TEXT, EXPIRED_TEXT};
use crate::chatkit::states::InteractionStatus;

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
    pub fn status(&self) -> InteractionStatus {
        match self {
            Outcome::Answered(_) | Outcome::Approved => InteractionStatus::Answered,
            Outcome::BestJudgement => InteractionStatus::BestJudgement,
            Outcome::Cancelled => InteractionStatus::Cancelled,
            Outcome::Expired => InteractionStatus::Expired,
            Outcome::Denied | Outcome::Declined => InteractionStatus::Denied,
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

    /// The line a summary (and the model's copy of it) shows for an outcome.
    pub(super) fn summary(&self) -> &'static str {
        match self {
            Outcome::BestJudgement => "The assistant was asked to use its best judgement.",
            Outcome::Cancelled => "The request was cancelled.",
            Outcome::Expired => "No answer was given in time.",
            Outcome::Approved => "Approved.",
            Outcome::Denied => "Denied.",
            Outcome::Declined => "Declined.",
            Outcome::Answered(_) => "Answered.",
        }
    }
}
