//! The console's queue of pending human input: every interaction still waiting, oldest first,
//! with its thread and agent, and the operators' claims on them. A claim is a lease in
//! `interaction_claims`; taking it is a conditional UPDATE (renewal, or an expired lease) or
//! else an INSERT that yields to an existing row, so two operators cannot both hold one.
//! Claims concern operators only: the chat's user answers whatever the claim says.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::human::Record;
use super::schema::{agents, human_interactions, interaction_claims, threads};
use super::{Found, Store, StoreError};
use crate::chatkit::states::{InteractionKind, InteractionStatus};
use crate::store::InteractionRow;

/// Which pending entries the queue shows; every field that is set narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    pub kind: Option<InteractionKind>,
    pub agent_id: Option<String>,
}

/// Who holds an entry, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub operator_id: String,
    pub email: String,
    pub until: NaiveDateTime,
}

/// One interaction with what the queue shows beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    pub row: InteractionRow,
    pub user_id: String,
    pub thread_title: Option<String>,
    pub agent_id: String,
    pub agent_name: String,
    /// The live claim, if any (an expired lease is no claim).
    pub claim: Option<Claim>,
}

type Joined = (
    Record,
    (String, Option<String>),
    (String, String),
    Option<(String, String, NaiveDateTime)>,
);

fn entry(
    (record, (user_id, thread_title), (agent_id, agent_name), claim): Joined,
) -> Result<QueueEntry, StoreError> {
    let now = Utc::now().naive_utc();
    let claim = claim
        .filter(|(_, _, until)| *until > now)
        .map(|(operator_id, email, until)| Claim {
            operator_id,
            email,
            until,
        });
    Ok(QueueEntry {
        row: record.typed()?,
        user_id,
        thread_title,
        agent_id,
        agent_name,
        claim,
    })
}

macro_rules! joined {
    () => {
        human_interactions::table
            .inner_join(threads::table.inner_join(agents::table))
            .left_join(interaction_claims::table)
            .select((
                Record::as_select(),
                (threads::user_id, threads::title),
                (agents::id, agents::name),
                (
                    interaction_claims::operator_id,
                    interaction_claims::operator_email,
                    interaction_claims::claimed_until,
                )
                    .nullable(),
            ))
    };
}

impl Store {
    /// Pending interactions matching `filter`, oldest first, at most `limit`.
    pub async fn pending_queue(
        &self,
        filter: &QueueFilter,
        limit: usize,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        let filter = filter.clone();
        self.with_conn(move |conn| {
            let mut query = joined!()
                .filter(human_interactions::status.eq(InteractionStatus::Pending.as_str()))
                .order((
                    human_interactions::created_at.asc(),
                    human_interactions::id.asc(),
                ))
                .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                .into_boxed();
            if let Some(kind) = filter.kind {
                query = query.filter(human_interactions::kind.eq(kind.as_str()));
            }
            if let Some(agent) = filter.agent_id {
                query = query.filter(agents::id.eq(agent));
            }
            query.load::<Joined>(conn)?.into_iter().map(entry).collect()
        })
        .await
    }

    /// One interaction, answered or not, with its thread, agent and claim.
    pub async fn queue_entry(&self, id: &str) -> Result<QueueEntry, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            entry(
                joined!()
                    .filter(human_interactions::id.eq(id))
                    .first::<Joined>(conn)
                    .found("interaction")?,
            )
        })
        .await
    }

    /// Takes or renews `operator_id`'s lease on a pending interaction until `until`; `false`
    /// when it is answered or another operator's lease is still running.
    pub async fn claim_interaction(
        &self,
        id: &str,
        operator_id: &str,
        email: &str,
        until: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let (id, operator_id, email) = (id.to_owned(), operator_id.to_owned(), email.to_owned());
        self.with_conn(move |conn| {
            let pending: i64 = human_interactions::table
                .filter(human_interactions::id.eq(&id))
                .filter(human_interactions::status.eq(InteractionStatus::Pending.as_str()))
                .count()
                .get_result(conn)?;
            if pending == 0 {
                return Ok(false);
            }
            let now = Utc::now().naive_utc();
            let taken = diesel::update(
                interaction_claims::table
                    .filter(interaction_claims::interaction_id.eq(&id))
                    .filter(
                        interaction_claims::operator_id
                            .eq(&operator_id)
                            .or(interaction_claims::claimed_until.lt(now)),
                    ),
            )
            .set((
                interaction_claims::operator_id.eq(&operator_id),
                interaction_claims::operator_email.eq(&email),
                interaction_claims::claimed_until.eq(until),
            ))
            .execute(conn)?;
            if taken == 1 {
                return Ok(true);
            }
            // Someone else's live lease is already there: the key refuses the second row.
            match diesel::insert_into(interaction_claims::table)
                .values((
                    interaction_claims::interaction_id.eq(&id),
                    interaction_claims::operator_id.eq(&operator_id),
                    interaction_claims::operator_email.eq(&email),
                    interaction_claims::claimed_until.eq(until),
                ))
                .execute(conn)
            {
                Ok(inserted) => Ok(inserted == 1),
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// Ends `operator_id`'s lease on an interaction, if they hold it.
    pub async fn release_interaction(&self, id: &str, operator_id: &str) -> Result<(), StoreError> {
        let (id, operator_id) = (id.to_owned(), operator_id.to_owned());
        self.with_conn(move |conn| {
            diesel::delete(
                interaction_claims::table
                    .filter(interaction_claims::interaction_id.eq(id))
                    .filter(interaction_claims::operator_id.eq(operator_id)),
            )
            .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// What changes whenever an interaction is asked, answered, claimed or released: how many
    /// are pending, and the newest of their times. The console's live updates compare it.
    pub async fn queue_fingerprint(&self) -> Result<(i64, String), StoreError> {
        self.with_conn(|conn| {
            let pending = human_interactions::status.eq(InteractionStatus::Pending.as_str());
            let count: i64 = human_interactions::table
                .filter(pending)
                .count()
                .get_result(conn)?;
            let created: Option<NaiveDateTime> = human_interactions::table
                .select(diesel::dsl::max(human_interactions::created_at))
                .first(conn)?;
            let answered: Option<NaiveDateTime> = human_interactions::table
                .select(diesel::dsl::max(human_interactions::answered_at))
                .first(conn)?;
            // Who holds what (not until when: renewals alone change nothing on the page).
            let mut claims: Vec<(String, String)> = interaction_claims::table
                .select((
                    interaction_claims::interaction_id,
                    interaction_claims::operator_id,
                ))
                .load(conn)?;
            claims.sort();
            Ok((
                count,
                format!("{count}/{created:?}/{answered:?}/{claims:?}"),
            ))
        })
        .await
    }
}
