//! The human-interaction service: answers to the forms the agent shows (from the chat as
//! `human.*` widget actions, or from an operator), the notice a new message gets while a form
//! waits, and expiry.
//!
//! An answer is recorded with one conditional UPDATE (first answer wins), the form item is
//! replaced by a read-only summary, the tool call's record is written with the answer as its
//! result, and the run resumes with [`TurnInput::Continue`]: in the same response for the
//! chat, in the background for an operator. Everything lives in the database, so any server
//! process can take the answer, before or after a restart.
//!
//! Approvals (`CHATKIT_APPROVAL_TOOLS`) use the same rows: approve resumes the run with the
//! call itself ([`TurnInput::Approved`]), deny records "The user denied this tool call.".
//!
//! MCP elicitation uses them too: the row keeps the server's input key and `requestState`
//! (2026-07-28 `input_required`) or the token of the call parked in memory (a handshake-era
//! live `elicitation/create`); an answer resumes the run with [`TurnInput::Elicited`], which
//! calls the tool again with `inputResponses` or completes the parked call (accept with the
//! content, decline, or cancel).
//!
//! Expiry: an interaction past its `expires_at` is closed as "no answer" the next time someone
//! touches it (an answer from the chat or an operator, or a new message in its thread), or by
//! [`HumanService::expire_overdue`], which the webhook worker calls periodically so that
//! `form.expired` goes out on time; the model is then told "The user did not answer in time.".

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::agent::TurnInput;
use crate::agent::human::{self, FormSpec, ID_KEY, Outcome};
use crate::chatkit::states::{AnsweredBy, InteractionKind, InteractionStatus};
use crate::chatkit::types::{
    Action, ItemBody, NoticeLevel, ThreadItem, ThreadStreamEvent, WidgetItem,
};
use crate::runs::{AlreadyRead, RunManager, RunSlot, RunStart};
use crate::store::{AgentRow, InteractionRow, Scope, Store, StoreError};

mod outcome;

use outcome::{answered_call, is_due, outcome, resume_input, spec_of};

/// How long an answer waits for the thread's current run to end before resuming.
const RESERVE_PATIENCE: Duration = Duration::from_secs(5);

/// Why an answer was not taken.
#[derive(Debug, thiserror::Error)]
pub enum HumanError {
    #[error("This request was already answered.")]
    AlreadyAnswered,
    #[error("This request expired before it was answered.")]
    Expired,
    #[error("The answer is not valid: {}", describe(.0))]
    Invalid(BTreeMap<String, String>),
    #[error("This answer does not fit a {0}.")]
    WrongAnswer(String),
    #[error("interaction not found")]
    NotFound,
    #[error("A response is still being generated in this thread; the answer is kept.")]
    Busy,
    #[error("the stored interaction is unreadable: {0}")]
    Corrupt(String),
    /// A `human.*` action from something other than a pending form of this thread.
    #[error("this widget is not a form this server asked with")]
    NotAForm,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(errors: &BTreeMap<String, String>) -> String {
    errors
        .iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An answer, from the chat or from an operator.
#[derive(Debug, Clone, PartialEq)]
pub enum HumanAnswer {
    /// Form values keyed by field name (validated and coerced against the form).
    Submit(Value),
    BestJudgement,
    Cancel,
    Approve,
    Deny,
    /// Declines an MCP server's question.
    Decline,
}

/// What an operator may add to an answer: a note for the model (on an approval or a
/// denial), and for an approval the arguments the call runs with instead of the model's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperatorInput {
    pub note: Option<String>,
    /// A JSON object; only with [`HumanAnswer::Approve`].
    pub arguments: Option<Value>,
}

impl HumanAnswer {
    fn of_action(action: &Action) -> Option<HumanAnswer> {
        Some(match action.type_.as_str() {
            human::SUBMIT_ACTION => HumanAnswer::Submit(action.payload.clone()),
            human::BEST_JUDGEMENT_ACTION => HumanAnswer::BestJudgement,
            human::CANCEL_ACTION => HumanAnswer::Cancel,
            human::APPROVE_ACTION => HumanAnswer::Approve,
            human::DENY_ACTION => HumanAnswer::Deny,
            human::DECLINE_ACTION => HumanAnswer::Decline,
            _ => return None,
        })
    }
}

/// What the chat shows after a `human.*` action.
// Made once per answer and consumed at once: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum ChatAnswer {
    /// Events to send, and no run: the form shown again with its errors, or why the answer was
    /// not taken.
    Events(Vec<ThreadStreamEvent>),
    /// The answer is recorded and the run resumes in this response, starting with the form's
    /// read-only summary.
    Resume {
        slot: RunSlot,
        input: TurnInput,
        summary: ThreadItem,
    },
}

/// What a new user message meets in its thread.
pub enum BeforeMessage {
    /// No form waits: go on, first sending these events (an expired form's summary).
    Proceed(Vec<ThreadStreamEvent>),
    /// A form waits for its answer: show this notice instead of starting a run.
    Notice(Box<ThreadStreamEvent>),
}

fn lone_error(error: HumanError) -> ChatAnswer {
    ChatAnswer::Events(vec![ThreadStreamEvent::error_custom(
        error.to_string(),
        false,
    )])
}

/// Answers to the questions runs ask people, from the chat and from operators alike.
#[derive(Clone)]
pub struct HumanService {
    store: Store,
    runs: RunManager,
}

impl HumanService {
    pub fn new(store: Store, runs: RunManager) -> Self {
        HumanService { store, runs }
    }

    /// A `human.*` action from a widget: only a pending form this server showed, in this
    /// thread, named by both its item and the interaction id in the payload, can be answered.
    pub async fn answer_from_chat(
        &self,
        scope: &Scope,
        thread_id: &str,
        sender: Option<ThreadItem>,
        action: &Action,
    ) -> Result<ChatAnswer, HumanError> {
        let (Some(sender), Some(id)) = (sender, action.payload.get(ID_KEY).and_then(Value::as_str))
        else {
            return Err(HumanError::NotAForm);
        };
        let row = match self.store.load_interaction(id).await {
            Ok(row) => row,
            Err(StoreError::NotFound(_)) => return Err(HumanError::NotAForm),
            Err(e) => return Err(e.into()),
        };
        if row.thread_id != thread_id || row.item_id != sender.id {
            return Err(HumanError::NotAForm);
        }
        let answer = HumanAnswer::of_action(action).ok_or(HumanError::NotAForm)?;
        if row.status != InteractionStatus::Pending {
            return Ok(lone_error(HumanError::AlreadyAnswered));
        }
        let spec = spec_of(&row)?;
        let outcome = if is_due(&row) {
            Outcome::Expired
        } else {
            match outcome(&row, &spec, answer) {
                Ok(outcome) => outcome,
                Err(HumanError::Invalid(errors)) => {
                    // Shown again with the messages and what the user typed; nothing recorded.
                    let mut item = sender;
                    item.body = ItemBody::Widget(WidgetItem {
                        widget: human::form_widget(
                            &row.id,
                            row.kind,
                            &spec,
                            &action.payload,
                            &errors,
                        ),
                        copy_text: Some(human::copy_text(&spec, None)),
                    });
                    self.store.save_item(scope, &item).await?;
                    return Ok(ChatAnswer::Events(vec![ThreadStreamEvent::ItemReplaced {
                        item,
                    }]));
                }
                Err(e) => return Ok(lone_error(e)),
            }
        };
        let by = (outcome != Outcome::Expired).then_some(AnsweredBy::User);
        let input = resume_input(&row, &outcome);
        let summary = match self
            .resolve(scope, &row, &spec, outcome, by, &OperatorInput::default())
            .await
        {
            Ok(summary) => summary,
            Err(HumanError::Store(e)) => return Err(e.into()),
            Err(e) => return Ok(lone_error(e)),
        };
        let slot = self.reserve_soon(thread_id).await.ok_or(HumanError::Busy)?;
        Ok(ChatAnswer::Resume {
            slot,
            input,
            summary,
        })
    }

    /// Answers a pending interaction as an operator (the admin console's entry point). The
    /// run resumes in the background and persists; the chat shows it on its next load.
    /// Concurrent answers: exactly one succeeds, the others get [`HumanError::AlreadyAnswered`].
    pub async fn answer_as_operator(
        &self,
        interaction_id: &str,
        answer: HumanAnswer,
    ) -> Result<(), HumanError> {
        self.answer_as_operator_with(interaction_id, answer, OperatorInput::default())
            .await
    }

    /// [`Self::answer_as_operator`] with a note and, for an approval, edited arguments: the
    /// edited call is what runs, and the approval's summary keeps both.
    pub async fn answer_as_operator_with(
        &self,
        interaction_id: &str,
        answer: HumanAnswer,
        extra: OperatorInput,
    ) -> Result<(), HumanError> {
        let row = match self.store.load_interaction(interaction_id).await {
            Ok(row) => row,
            Err(StoreError::NotFound(_)) => return Err(HumanError::NotFound),
            Err(e) => return Err(e.into()),
        };
        if row.status != InteractionStatus::Pending {
            return Err(HumanError::AlreadyAnswered);
        }
        if let Some(arguments) = &extra.arguments {
            if answer != HumanAnswer::Approve {
                return Err(HumanError::WrongAnswer(row.kind.to_string()));
            }
            if !arguments.is_object() {
                let errors = [("arguments".to_owned(), "Enter a JSON object.".to_owned())];
                return Err(HumanError::Invalid(errors.into_iter().collect()));
            }
        }
        if is_due(&row) {
            self.expire(&row).await?;
            return Err(HumanError::Expired);
        }
        let (scope, agent) = self.store.thread_owner(&row.thread_id).await?;
        let spec = spec_of(&row)?;
        let outcome = outcome(&row, &spec, answer)?;
        let mut input = resume_input(&row, &outcome);
        if let TurnInput::Approved { call, note, .. } = &mut input {
            if let Some(arguments) = &extra.arguments {
                call.arguments = arguments.to_string();
            }
            note.clone_from(&extra.note);
        }
        self.resolve(
            &scope,
            &row,
            &spec,
            outcome,
            Some(AnsweredBy::Operator),
            &extra,
        )
        .await?;
        self.resume_detached(scope, agent, &row.thread_id, input)
            .await
    }

    /// Closes every interaction whose time ran out as expired, through the same path as an
    /// answer (summary, tool result, webhook), and resumes each run in the background. Returns
    /// how many it closed; an interaction answered meanwhile is left alone.
    pub async fn expire_overdue(&self) -> Result<usize, HumanError> {
        /// Most interactions closed per call; the next call takes the rest.
        const BATCH: usize = 100;
        let mut closed = 0;
        for row in self.store.overdue_interactions(BATCH).await? {
            match self.expire(&row).await {
                Ok(()) => closed += 1,
                Err(HumanError::AlreadyAnswered) => {}
                // The expiry is recorded; only the resumption failed (the thread is busy).
                Err(HumanError::Busy) => {
                    closed += 1;
                    log::warn!("expired {} but its thread is busy; not resumed", row.id);
                }
                Err(e) => log::warn!("cannot expire interaction {}: {e}", row.id),
            }
        }
        Ok(closed)
    }

    /// Closes `row` as expired and resumes its run in the background.
    async fn expire(&self, row: &InteractionRow) -> Result<(), HumanError> {
        let (scope, agent) = self.store.thread_owner(&row.thread_id).await?;
        let spec = spec_of(row)?;
        self.resolve(
            &scope,
            row,
            &spec,
            Outcome::Expired,
            None,
            &OperatorInput::default(),
        )
        .await?;
        self.resume_detached(scope, agent, &row.thread_id, TurnInput::Continue)
            .await
    }

    /// Before a new message, given the thread's `pending` interaction (read with the thread,
    /// `Store::load_thread_for_message`): a notice to answer with instead while a form waits;
    /// an expired form is closed first and its replacement returned to stream.
    pub async fn before_message(
        &self,
        scope: &Scope,
        pending: Option<InteractionRow>,
    ) -> Result<BeforeMessage, HumanError> {
        let Some(row) = pending else {
            return Ok(BeforeMessage::Proceed(vec![]));
        };
        if !is_due(&row) {
            return Ok(BeforeMessage::Notice(Box::new(ThreadStreamEvent::Notice {
                level: NoticeLevel::Warning,
                message: human::PENDING_NOTICE.to_owned(),
                title: None,
            })));
        }
        let spec = spec_of(&row)?;
        match self
            .resolve(
                scope,
                &row,
                &spec,
                Outcome::Expired,
                None,
                &OperatorInput::default(),
            )
            .await
        {
            Ok(item) => Ok(BeforeMessage::Proceed(vec![
                ThreadStreamEvent::ItemReplaced { item },
            ])),
            // Answered meanwhile: nothing to show.
            Err(HumanError::AlreadyAnswered) => Ok(BeforeMessage::Proceed(vec![])),
            Err(e) => Err(e),
        }
    }

    /// Records the outcome if the interaction is still pending (first answer wins), replaces
    /// the form by its summary, and writes the tool call's record. Returns the summary item.
    /// An operator's note and edited arguments are kept in the answer and shown in the summary.
    async fn resolve(
        &self,
        scope: &Scope,
        row: &InteractionRow,
        spec: &FormSpec,
        outcome: Outcome,
        by: Option<AnsweredBy>,
        extra: &OperatorInput,
    ) -> Result<ThreadItem, HumanError> {
        let mut answer = outcome.answer();
        let mut spec = spec.clone();
        if *extra != OperatorInput::default() {
            let mut kept: serde_json::Map<String, Value> = answer
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default();
            let mut lines: Vec<String> = spec.description.take().into_iter().collect();
            if let Some(arguments) = &extra.arguments {
                kept.insert("arguments".into(), arguments.clone());
                lines.push(format!(
                    "Run with arguments edited by the operator: {arguments}"
                ));
            }
            if let Some(note) = &extra.note {
                kept.insert("note".into(), Value::String(note.clone()));
                lines.push(format!("Note: {note}"));
            }
            answer = Some(Value::Object(kept).to_string());
            spec.description = Some(lines.join("\n"));
        }
        let spec = &spec;
        let won = self
            .store
            .resolve_interaction(&row.id, outcome.status(), answer, by)
            .await?;
        if !won {
            return Err(HumanError::AlreadyAnswered);
        }
        let form = self
            .store
            .load_item(scope, &row.thread_id, &row.item_id)
            .await?;
        let summary = ThreadItem {
            body: ItemBody::Widget(WidgetItem {
                widget: human::summary_widget(spec, &outcome, by == Some(AnsweredBy::Operator)),
                copy_text: Some(human::copy_text(spec, Some(&outcome))),
            }),
            ..form
        };
        self.store.save_item(scope, &summary).await?;
        if outcome == Outcome::Approved
            || (row.kind == InteractionKind::Elicitation && outcome != Outcome::Expired)
        {
            // The resumed run calls the tool (again) and records the real result.
            return Ok(summary);
        }
        let output = match &extra.note {
            Some(note) => format!("{} {}{note}", outcome.model_text(), human::APPROVER_NOTE),
            None => outcome.model_text(),
        };
        let content = outcome.answer().and_then(|a| serde_json::from_str(&a).ok());
        self.store
            .save_tool_call(scope, &answered_call(row, output, content))
            .await?;
        Ok(summary)
    }

    /// Takes the answers to an `ask_user_questions` item (`answered`, the item with the
    /// submission applied): records them (first answer wins) and writes the call's record with
    /// the answers as its result, so the run can resume. `Ok(false)` when no such question of
    /// this server waits on the item (a structured input from elsewhere).
    pub async fn answer_questions(
        &self,
        scope: &Scope,
        answered: &ThreadItem,
    ) -> Result<bool, HumanError> {
        let ItemBody::StructuredInput(input) = &answered.body else {
            return Ok(false);
        };
        let row = match self.store.pending_interaction(&answered.thread_id).await? {
            Some(row)
                if row.item_id == answered.id && human::is_questions(row.details.as_deref()) =>
            {
                row
            }
            _ => return Ok(false),
        };
        let (text, answers) = human::answers_text(input);
        let status = if answers.is_some() {
            InteractionStatus::Answered
        } else {
            InteractionStatus::Cancelled
        };
        let answer = answers.clone().map(|a| Value::Object(a).to_string());
        let won = self
            .store
            .resolve_interaction(&row.id, status, answer, Some(AnsweredBy::User))
            .await?;
        if !won {
            return Err(HumanError::AlreadyAnswered);
        }
        let record = answered_call(&row, text, answers.map(Value::Object));
        self.store.save_tool_call(scope, &record).await?;
        Ok(true)
    }

    /// Continues the thread's run with no subscriber.
    async fn resume_detached(
        &self,
        scope: Scope,
        agent: AgentRow,
        thread_id: &str,
        input: TurnInput,
    ) -> Result<(), HumanError> {
        let thread = self.store.load_thread(&scope, thread_id).await?;
        let slot = self.reserve_soon(thread_id).await.ok_or(HumanError::Busy)?;
        self.runs.start_detached(
            slot,
            RunStart {
                scope,
                agent,
                thread,
                input,
                leading: vec![],
                known: AlreadyRead::default(),
            },
        );
        Ok(())
    }

    /// Reserves the thread, waiting a little for a run that is just ending.
    async fn reserve_soon(&self, thread_id: &str) -> Option<RunSlot> {
        let deadline = tokio::time::Instant::now() + RESERVE_PATIENCE;
        loop {
            if let Ok(slot) = self.runs.reserve(thread_id).await {
                return Some(slot);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
