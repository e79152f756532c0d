//! Pending human interactions (forms, approvals, elicitations) and their answers. A row holds
//! everything needed to answer and resume, so nothing about a waiting run lives in memory.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{agents, human_interactions, threads};
use super::{AgentRow, Found, Scope, Store, StoreError};

/// Status of an interaction nobody has answered yet.
pub const PENDING: &str = "pending";

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = human_interactions)]
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
    /// `form`, `approval` or `elicitation`.
    pub kind: String,
    /// JSON of what was asked (see `crate::agent::human::FormSpec`).
    pub schema: String,
    /// `pending`, `answered`, `best_judgement`, `cancelled`, `expired` or `denied`.
    pub status: String,
    /// JSON of the answer, once there is one.
    pub answer: Option<String>,
    /// `user` or `operator`.
    pub answered_by: Option<String>,
    /// Kind-specific JSON, e.g. an MCP server's input key and opaque `requestState`.
    pub details: Option<String>,
    pub created_at: NaiveDateTime,
    pub answered_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
}

impl Store {
    pub async fn save_interaction(&self, row: &InteractionRow) -> Result<(), StoreError> {
        let row = row.clone();
        self.with_conn(move |conn| {
            diesel::insert_into(human_interactions::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// One interaction by id, whoever owns it (callers check the thread).
    pub async fn load_interaction(&self, id: &str) -> Result<InteractionRow, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            human_interactions::table
                .find(id)
                .select(InteractionRow::as_select())
                .first(conn)
                .found("interaction")
        })
        .await
    }

    /// The newest unanswered interaction of a thread, if any.
    pub async fn pending_interaction(
        &self,
        thread_id: &str,
    ) -> Result<Option<InteractionRow>, StoreError> {
        let thread_id = thread_id.to_owned();
        self.with_conn(move |conn| {
            Ok(human_interactions::table
                .filter(human_interactions::thread_id.eq(thread_id))
                .filter(human_interactions::status.eq(PENDING))
                .order(human_interactions::created_at.desc())
                .select(InteractionRow::as_select())
                .first(conn)
                .optional()?)
        })
        .await
    }

    /// Records the answer if the interaction is still pending; `false` when another answer
    /// got there first. One conditional UPDATE, so concurrent answers cannot both win.
    pub async fn resolve_interaction(
        &self,
        id: &str,
        status: &'static str,
        answer: Option<String>,
        answered_by: Option<&'static str>,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let updated = diesel::update(
                human_interactions::table
                    .filter(human_interactions::id.eq(id))
                    .filter(human_interactions::status.eq(PENDING)),
            )
            .set((
                human_interactions::status.eq(status),
                human_interactions::answer.eq(answer),
                human_interactions::answered_by.eq(answered_by),
                human_interactions::answered_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
            Ok(updated == 1)
        })
        .await
    }

    /// Closes every unanswered interaction of a thread as cancelled (their forms are gone,
    /// e.g. after a retry deleted them); returns how many.
    pub async fn cancel_pending_interactions(&self, thread_id: &str) -> Result<usize, StoreError> {
        let thread_id = thread_id.to_owned();
        self.with_conn(move |conn| {
            Ok(diesel::update(
                human_interactions::table
                    .filter(human_interactions::thread_id.eq(thread_id))
                    .filter(human_interactions::status.eq(PENDING)),
            )
            .set((
                human_interactions::status.eq("cancelled"),
                human_interactions::answered_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?)
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
