//! Human-in-the-loop forms, without I/O: what the `request_human_input` tool accepts, the
//! ChatKit `Form` widget built from it, server-side validation and coercion of the submitted
//! values, the read-only summary that replaces an answered form, and what the model is told.
//! The service that stores and resumes lives in `service::human`.
//!
//! - `spec`: the form a question asks ([`FormSpec`]) and the checking of an answer;
//! - `approval` and `elicitation`: the questions that are not the model's own form, a tool
//!   call waiting for approval and an MCP server's question;
//! - `widgets`: the form as a widget, and the summary that replaces it once answered;
//! - `outcome`: how a question ended, for the row and for the model;
//! - `questions`: `ask_user_questions`, clarifying questions as a `structured_input` item.

mod approval;
mod elicitation;
mod outcome;
mod questions;
mod spec;
mod widgets;

pub use approval::{approval_spec, approval_widget};
pub use elicitation::{Elicitation, elicitation_of};
pub use outcome::Outcome;
pub use questions::{
    QUESTIONS_TOOL, Questions, SKIPPED_TEXT, answers_text, is_questions, questions_details,
};
pub use spec::{Field, FieldKind, FormSpec, validate};
pub use widgets::{copy_text, form_widget, summary_widget};

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
/// What precedes an operator's note on an approval's result or a denial.
pub const APPROVER_NOTE: &str = "Note from the person who answered: ";
pub const DENIED_TEXT: &str = "The user denied this tool call.";
/// The notice a new message gets while a form waits.
pub const PENDING_NOTICE: &str = "Please submit the form above before sending more messages.";
