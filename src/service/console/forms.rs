//! The human-input queue: every pending form, approval and MCP question, oldest first; one
//! entry with its question and the thread it came from; claims (a 5-minute lease, renewed
//! while the operator's page is open); and answers, which go through the same
//! [`HumanService`] as the chat's, so the first answer wins wherever it comes from. A claim
//! stops other operators, never the chat's user. Every answer and claim is audited.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Actor, AuditService, ConsoleError, ThreadConsoleService, transcript::Transcript};
use crate::agent::human::FormSpec;
use crate::service::human::{HumanAnswer, HumanError, HumanService, OperatorInput};
use crate::store::{AgentRow, QueueEntry, QueueFilter, Signal, Store, Subscription};

/// How long a claim lasts unless renewed.
pub const CLAIM_LEASE: Duration = Duration::from_secs(5 * 60);
/// Most entries the queue lists at once.
pub const MAX_QUEUE: usize = 200;

/// The queue page's data.
pub struct Queue {
    pub entries: Vec<QueueEntry>,
    pub agents: Vec<AgentRow>,
}

/// One entry with what its page shows.
pub struct FormDetail {
    pub entry: QueueEntry,
    pub spec: FormSpec,
    /// The thread it was asked in (the page shows its last turns).
    pub transcript: Transcript,
}

/// Why an operator's answer was not taken.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Another operator holds the entry.
    #[error("{0} is answering this; wait until they are done or their claim runs out.")]
    ClaimedByOther(String),
    #[error(transparent)]
    Human(#[from] HumanError),
    #[error(transparent)]
    Console(#[from] ConsoleError),
}

/// Signals that the form queue may have changed (asked or answered in any process).
pub struct QueueChanges(Subscription);

impl QueueChanges {
    /// Resolves at the next sign of a change (or when signals may have been missed).
    pub async fn next(&mut self) {
        loop {
            if let Signal::FormsChanged | Signal::Recheck = self.0.next().await {
                return;
            }
        }
    }
}

#[derive(Clone)]
pub struct FormQueue {
    store: Store,
    human: HumanService,
    threads: ThreadConsoleService,
    audit: AuditService,
}

impl FormQueue {
    pub fn new(
        store: Store,
        human: HumanService,
        threads: ThreadConsoleService,
        audit: AuditService,
    ) -> Self {
        FormQueue {
            store,
            human,
            threads,
            audit,
        }
    }

    /// Pending entries matching `filter`, oldest first, and the agents to filter by.
    pub async fn list(&self, filter: &QueueFilter) -> Result<Queue, ConsoleError> {
        Ok(Queue {
            entries: self.store.pending_queue(filter, MAX_QUEUE).await?,
            agents: self.store.console_agents().await?,
        })
    }

    /// How many entries wait, and a fingerprint that changes whenever the queue does.
    pub async fn fingerprint(&self) -> Result<(i64, String), ConsoleError> {
        Ok(self.store.queue_fingerprint().await?)
    }

    /// Tells when the queue may have changed, in any process.
    pub fn changes(&self) -> QueueChanges {
        QueueChanges(self.store.signals().subscribe())
    }

    /// One entry and the form it asks, without its thread (to read an answer against).
    pub async fn question(&self, id: &str) -> Result<(QueueEntry, FormSpec), ConsoleError> {
        let entry = self.store.queue_entry(id).await?;
        let spec: FormSpec = serde_json::from_str(&entry.row.schema)
            .map_err(|e| ConsoleError::Conflict(format!("the stored form is unreadable: {e}")))?;
        Ok((entry, spec))
    }

    /// One entry, answered or not, with its form and thread.
    pub async fn detail(&self, actor: &Actor, id: &str) -> Result<FormDetail, ConsoleError> {
        let (entry, spec) = self.question(id).await?;
        let transcript = self.threads.transcript(actor, &entry.row.thread_id).await?;
        Ok(FormDetail {
            entry,
            spec,
            transcript,
        })
    }

    /// Takes or renews the actor's claim; a conflict names who holds it. Audited when taken,
    /// not on each renewal.
    pub async fn claim(&self, actor: &Actor, id: &str, renew: bool) -> Result<(), ConsoleError> {
        let operator = actor
            .operator
            .as_ref()
            .ok_or_else(|| ConsoleError::Forbidden("only operators claim".into()))?;
        let until = chrono::Utc::now().naive_utc()
            + chrono::Duration::from_std(CLAIM_LEASE).unwrap_or_default();
        if !self
            .store
            .claim_interaction(id, &operator.id, &operator.email, until)
            .await?
        {
            let entry = self.store.queue_entry(id).await?;
            return Err(ConsoleError::Conflict(match entry.claim {
                Some(claim) => format!("{} has claimed this.", claim.email),
                None => "This request was already answered.".into(),
            }));
        }
        if !renew {
            self.audit
                .record(
                    actor,
                    "form.claim",
                    Some("interaction"),
                    Some(id),
                    json!({}),
                )
                .await?;
        }
        Ok(())
    }

    /// Gives up the actor's claim, if they hold it.
    pub async fn release(&self, actor: &Actor, id: &str) -> Result<(), ConsoleError> {
        if let Some(operator) = &actor.operator {
            self.store.release_interaction(id, &operator.id).await?;
            self.audit
                .record(
                    actor,
                    "form.release",
                    Some("interaction"),
                    Some(id),
                    json!({}),
                )
                .await?;
        }
        Ok(())
    }

    /// Answers as the actor: refused while another operator holds a claim; otherwise the
    /// human-interaction service decides (first answer wins). Audited with what was answered.
    pub async fn answer(
        &self,
        actor: &Actor,
        id: &str,
        answer: HumanAnswer,
        extra: OperatorInput,
    ) -> Result<(), AnswerError> {
        let entry = self
            .store
            .queue_entry(id)
            .await
            .map_err(ConsoleError::from)?;
        if let (Some(claim), Some(me)) = (&entry.claim, &actor.operator)
            && claim.operator_id != me.id
        {
            return Err(AnswerError::ClaimedByOther(claim.email.clone()));
        }
        let detail = json!({
            "kind": entry.row.kind.as_str(),
            "thread": entry.row.thread_id,
            "answer": describe(&answer),
            "note": extra.note,
            "arguments": extra.arguments,
            "original_arguments": extra.arguments.as_ref()
                .map(|_| serde_json::from_str::<Value>(&entry.row.arguments).unwrap_or_default()),
        });
        self.human
            .answer_as_operator_with(id, answer, extra)
            .await?;
        if let Some(me) = &actor.operator {
            // Answered: the claim has nothing left to hold.
            self.store
                .release_interaction(id, &me.id)
                .await
                .map_err(ConsoleError::from)?;
        }
        self.audit
            .record(actor, "form.answer", Some("interaction"), Some(id), detail)
            .await?;
        Ok(())
    }

    /// The oldest pending entry nobody else holds, for "answer and next".
    pub async fn next_for(&self, actor: &Actor) -> Result<Option<String>, ConsoleError> {
        let me = actor.operator.as_ref().map(|o| o.id.as_str());
        Ok(self
            .store
            .pending_queue(&QueueFilter::default(), MAX_QUEUE)
            .await?
            .into_iter()
            .find(|e| {
                e.claim
                    .as_ref()
                    .is_none_or(|c| Some(c.operator_id.as_str()) == me)
            })
            .map(|e| e.row.id))
    }
}

/// The answer as the audit log keeps it (values included: they are what the model reads).
fn describe(answer: &HumanAnswer) -> Value {
    match answer {
        HumanAnswer::Submit(values) => json!({"submit": values}),
        HumanAnswer::BestJudgement => json!("best_judgement"),
        HumanAnswer::Cancel => json!("cancel"),
        HumanAnswer::Approve => json!("approve"),
        HumanAnswer::Deny => json!("deny"),
        HumanAnswer::Decline => json!("decline"),
    }
}
