//! Pending human interactions (forms, approvals, elicitations) and their answers. A row holds
//! everything needed to answer and resume, so nothing about a waiting run lives in memory.
//! Every change of a row's state also queues its webhook (`store::webhooks`) in the same
//! transaction, when webhooks are on, and signals the console's live updates in every process.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{agents, human_interactions, threads};
use super::signals::{Signal, notify_in};
use super::threads::find_owned;
use super::{AgentRow, Found, Scope, Store, StoreError, db, webhooks};
use crate::chatkit::states::{AnsweredBy, InteractionKind, InteractionStatus};
use crate::chatkit::types::Thread;

/// A question a run asked a person, as the services see it.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionRow {
    pub id: String,
    pub thread_id: String,
    pub run_id: Option<String>,
    /// The widget item that shows the form.
    pub item_id: String,
    /// The model's id for the tool call that asked.
    pub call_id: String,
    pub tool_name: String,
    /// The call's arguments as the model wrote them.
    pub arguments: String,
    pub kind: InteractionKind,
    /// JSON of what was asked (see `agent::human::FormSpec`).
    pub schema: String,
    pub status: InteractionStatus,
    /// JSON of the answer, once there is one.
    pub answer: Option<String>,
    pub answered_by: Option<AnsweredBy>,
    /// Kind-specific JSON, e.g. an MCP server's input key and opaque `requestState`.
    pub details: Option<String>,
    pub created_at: NaiveDateTime,
    pub answered_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
}

/// The table's row as stored: states as text, converted at this edge.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = human_interactions)]
pub(super) struct Record {
    id: String,
    thread_id: String,
    run_id: Option<String>,
    item_id: String,
    call_id: String,
    tool_name: String,
    arguments: String,
    kind: String,
    schema: String,
    status: String,
    answer: Option<String>,
    answered_by: Option<String>,
    details: Option<String>,
    created_at: NaiveDateTime,
    answered_at: Option<NaiveDateTime>,
    expires_at: NaiveDateTime,
}

impl Record {
    fn of(row: InteractionRow) -> Record {
        Record {
            id: row.id,
            thread_id: row.thread_id,
            run_id: row.run_id,
            item_id: row.item_id,
            call_id: row.call_id,
            tool_name: row.tool_name,
            arguments: row.arguments,
            kind: row.kind.into(),
            schema: row.schema,
            status: row.status.into(),
            answer: row.answer,
            answered_by: row.answered_by.map(String::from),
            details: row.details,
            created_at: row.created_at,
            answered_at: row.answered_at,
            expires_at: row.expires_at,
        }
    }

    pub(super) fn typed(self) -> Result<InteractionRow, StoreError> {
        Ok(InteractionRow {
            kind: self.kind.parse()?,
            status: self.status.parse()?,
            answered_by: self.answered_by.as_deref().map(str::parse).transpose()?,
            id: self.id,
            thread_id: self.thread_id,
            run_id: self.run_id,
            item_id: self.item_id,
            call_id: self.call_id,
            tool_name: self.tool_name,
            arguments: self.arguments,
            schema: self.schema,
            answer: self.answer,
            details: self.details,
            created_at: self.created_at,
            answered_at: self.answered_at,
            expires_at: self.expires_at,
        })
    }
}

impl Store {
    /// Stores a new pending interaction and, when webhooks are on, its `form.waiting`
    /// delivery in the same transaction.
    pub async fn save_interaction(&self, row: &InteractionRow) -> Result<(), StoreError> {
        let record = Record::of(row.clone());
        let (row, outbox) = (row.clone(), self.outbox.clone());
        let queued = self
            .with_conn(move |conn| {
                db::write_transaction(conn, |conn| {
                    diesel::insert_into(human_interactions::table)
                        .values(record)
                        .execute(conn)?;
                    notify_in(conn, &[Signal::FormsChanged])?;
                    match &outbox {
                        Some(outbox) => webhooks::enqueue(conn, outbox, &row),
                        None => Ok(false),
                    }
                })
            })
            .await?;
        self.ring(queued);
        self.after_commit(vec![Signal::FormsChanged]);
        Ok(())
    }

    /// One interaction by id, whoever owns it (callers check the thread).
    pub async fn load_interaction(&self, id: &str) -> Result<InteractionRow, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            human_interactions::table
                .find(id)
                .select(Record::as_select())
                .first(conn)
                .found("interaction")?
                .typed()
        })
        .await
    }

    /// The newest unanswered interaction of a thread, if any.
    pub async fn pending_interaction(
        &self,
        thread_id: &str,
    ) -> Result<Option<InteractionRow>, StoreError> {
        let thread_id = thread_id.to_owned();
        self.read_conn(move |conn| pending_in(conn, &thread_id))
            .await
    }

    /// The caller's thread and its newest unanswered interaction: what a new message must know
    /// before it is kept, in one trip to the database rather than two.
    pub async fn load_thread_for_message(
        &self,
        scope: &Scope,
        thread_id: &str,
    ) -> Result<(Thread, Option<InteractionRow>), StoreError> {
        let (scope, thread_id) = (scope.clone(), thread_id.to_owned());
        self.read_conn(move |conn| {
            let thread = find_owned(conn, &scope, &thread_id)?.into_thread()?;
            Ok((thread, pending_in(conn, &thread_id)?))
        })
        .await
    }

    /// How many interactions, across all threads, wait for an answer (the console's badge).
    /// The state is written out, not bound: SQLite uses the partial index
    /// `human_interactions_pending` only for a predicate in its own words.
    pub async fn count_pending_interactions(&self) -> Result<i64, StoreError> {
        self.read_conn(|conn| {
            Ok(human_interactions::table
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "human_interactions.status = 'pending'",
                ))
                .count()
                .get_result(conn)?)
        })
        .await
    }

    /// Records the answer if the interaction is still pending; `false` when another answer
    /// got there first. One conditional UPDATE, so concurrent answers cannot both win; the
    /// webhook reporting the answer (or the expiry) is queued in the same transaction.
    pub async fn resolve_interaction(
        &self,
        id: &str,
        status: InteractionStatus,
        answer: Option<String>,
        answered_by: Option<AnsweredBy>,
    ) -> Result<bool, StoreError> {
        let (id, outbox) = (id.to_owned(), self.outbox.clone());
        let (won, queued) = self
            .with_conn(move |conn| {
                db::write_transaction(conn, |conn| {
                    let updated = diesel::update(
                        human_interactions::table
                            .filter(human_interactions::id.eq(&id))
                            .filter(
                                human_interactions::status.eq(InteractionStatus::Pending.as_str()),
                            ),
                    )
                    .set((
                        human_interactions::status.eq(status.as_str()),
                        human_interactions::answer.eq(answer),
                        human_interactions::answered_by.eq(answered_by.map(AnsweredBy::as_str)),
                        human_interactions::answered_at.eq(Utc::now().naive_utc()),
                    ))
                    .execute(conn)?;
                    if updated == 1 {
                        notify_in(conn, &[Signal::FormsChanged])?;
                    }
                    let Some(outbox) = outbox.filter(|_| updated == 1) else {
                        return Ok((updated == 1, false));
                    };
                    let row = human_interactions::table
                        .find(&id)
                        .select(Record::as_select())
                        .first(conn)?
                        .typed()?;
                    Ok::<_, StoreError>((true, webhooks::enqueue(conn, &outbox, &row)?))
                })
            })
            .await?;
        self.ring(queued);
        if won {
            self.after_commit(vec![Signal::FormsChanged]);
        }
        Ok(won)
    }

    /// Closes every unanswered interaction of a thread as cancelled (their forms are gone,
    /// e.g. after a retry deleted them), each reported as `form.answered`; returns how many.
    pub async fn cancel_pending_interactions(&self, thread_id: &str) -> Result<usize, StoreError> {
        let (thread_id, outbox) = (thread_id.to_owned(), self.outbox.clone());
        let (closed, queued) = self
            .with_conn(move |conn| {
                db::write_transaction(conn, |conn| {
                    let pending: Vec<Record> = human_interactions::table
                        .filter(human_interactions::thread_id.eq(&thread_id))
                        .filter(human_interactions::status.eq(InteractionStatus::Pending.as_str()))
                        .select(Record::as_select())
                        .load(conn)?;
                    let now = Utc::now().naive_utc();
                    let (mut closed, mut queued) = (0, false);
                    for record in pending {
                        // Still pending: an answer may have won since the read (Postgres).
                        let updated = diesel::update(
                            human_interactions::table
                                .filter(human_interactions::id.eq(&record.id))
                                .filter(
                                    human_interactions::status
                                        .eq(InteractionStatus::Pending.as_str()),
                                ),
                        )
                        .set((
                            human_interactions::status.eq(InteractionStatus::Cancelled.as_str()),
                            human_interactions::answered_at.eq(now),
                        ))
                        .execute(conn)?;
                        closed += updated;
                        if let (1, Some(outbox)) = (updated, &outbox) {
                            let mut row = record.typed()?;
                            row.status = InteractionStatus::Cancelled;
                            row.answered_at = Some(now);
                            queued |= webhooks::enqueue(conn, outbox, &row)?;
                        }
                    }
                    if closed > 0 {
                        notify_in(conn, &[Signal::FormsChanged])?;
                    }
                    Ok::<_, StoreError>((closed, queued))
                })
            })
            .await?;
        self.ring(queued);
        if closed > 0 {
            self.after_commit(vec![Signal::FormsChanged]);
        }
        Ok(closed)
    }

    /// Pending interactions whose time ran out, oldest first, at most `limit` (the expiry
    /// sweep closes them through the human-interaction service).
    pub async fn overdue_interactions(
        &self,
        limit: usize,
    ) -> Result<Vec<InteractionRow>, StoreError> {
        self.with_conn(move |conn| {
            human_interactions::table
                .filter(human_interactions::status.eq(InteractionStatus::Pending.as_str()))
                .filter(human_interactions::expires_at.le(Utc::now().naive_utc()))
                .order(human_interactions::expires_at.asc())
                .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                .select(Record::as_select())
                .load::<Record>(conn)?
                .into_iter()
                .map(Record::typed)
                .collect()
        })
        .await
    }

    /// Who owns a thread, and the agent it talks to (for work started by an operator).
    pub async fn thread_owner(&self, thread_id: &str) -> Result<(Scope, AgentRow), StoreError> {
        let thread_id = thread_id.to_owned();
        self.with_conn(move |conn| {
            let (account_id, agent_id, user_id): (String, String, String) = threads::table
                .find(thread_id)
                .select((threads::account_id, threads::agent_id, threads::user_id))
                .first(conn)
                .found("thread")?;
            let agent = agents::table
                .find(&agent_id)
                .select(AgentRow::as_select())
                .first(conn)
                .found("agent")?;
            Ok((
                Scope {
                    account_id,
                    agent_id,
                    user_id,
                },
                agent,
            ))
        })
        .await
    }
}

/// [`Store::pending_interaction`] on a connection.
fn pending_in(
    conn: &mut db::AnyConnection,
    thread_id: &str,
) -> Result<Option<InteractionRow>, StoreError> {
    human_interactions::table
        .filter(human_interactions::thread_id.eq(thread_id))
        .filter(human_interactions::status.eq(InteractionStatus::Pending.as_str()))
        .order(human_interactions::created_at.desc())
        .select(Record::as_select())
        .first(conn)
        .optional()?
        .map(Record::typed)
        .transpose()
}
