//! Handshake-era MCP calls parked on a person's question, as the other processes see them: the
//! process that holds a call records it (with a heartbeat, so others can tell it is alive); a
//! process that receives the answer leaves it on the row and signals the holder, which
//! completes the call and leaves the result the same way.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::parked_calls;
use super::signals::{Signal, notify_in};
use super::{Store, StoreError, db};

/// An answer left for a call this process holds.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct ParkedAnswer {
    pub token: String,
    /// The answer's JSON.
    pub answer: String,
}

/// How long a row outlives its call's deadline before the heartbeat removes it.
const KEEP_AFTER_EXPIRY: chrono::Duration = chrono::Duration::hours(1);

impl Store {
    /// Records that `instance_id` holds the call parked under `token` until `expires_at`.
    pub async fn park_call(
        &self,
        token: &str,
        instance_id: &str,
        expires_at: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let (token, instance_id) = (token.to_owned(), instance_id.to_owned());
        self.with_conn(move |conn| {
            diesel::insert_into(parked_calls::table)
                .values((
                    parked_calls::token.eq(token),
                    parked_calls::instance_id.eq(instance_id),
                    parked_calls::heartbeat_at.eq(Utc::now().naive_utc()),
                    parked_calls::expires_at.eq(expires_at),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Refreshes the heartbeat of the calls `instance_id` holds, and forgets rows long past
    /// their deadline (whatever process left them).
    pub async fn refresh_parked(&self, instance_id: &str) -> Result<(), StoreError> {
        let instance_id = instance_id.to_owned();
        self.with_conn(move |conn| {
            let now = Utc::now().naive_utc();
            diesel::update(parked_calls::table)
                .filter(parked_calls::instance_id.eq(instance_id))
                .set(parked_calls::heartbeat_at.eq(now))
                .execute(conn)?;
            diesel::delete(parked_calls::table)
                .filter(parked_calls::expires_at.lt(now - KEEP_AFTER_EXPIRY))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Leaves `answer` for the holder of the call parked under `token` and signals it, in one
    /// transaction; `false` (nothing left) when no process holds such a call any more: none
    /// recorded it, its deadline passed, it was answered already, or its holder stopped
    /// refreshing it before `alive_after`.
    pub async fn leave_answer(
        &self,
        token: &str,
        answer: String,
        alive_after: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let token = token.to_owned();
        let signal = Signal::CallAnswered(token.clone());
        let left = self
            .with_conn({
                let signal = signal.clone();
                move |conn| {
                    db::write_transaction(conn, |conn| {
                        let now = Utc::now().naive_utc();
                        let left = diesel::update(parked_calls::table.find(&token))
                            .filter(parked_calls::answer.is_null())
                            .filter(parked_calls::expires_at.gt(now))
                            .filter(parked_calls::heartbeat_at.gt(alive_after))
                            .set(parked_calls::answer.eq(answer))
                            .execute(conn)?;
                        if left > 0 {
                            notify_in(conn, &[signal])?;
                        }
                        Ok::<_, StoreError>(left > 0)
                    })
                }
            })
            .await?;
        if left {
            self.after_commit(vec![signal]);
        }
        Ok(left)
    }

    /// The answers left for calls `instance_id` holds that have no result yet.
    pub async fn answers_for(&self, instance_id: &str) -> Result<Vec<ParkedAnswer>, StoreError> {
        let instance_id = instance_id.to_owned();
        self.read_conn(move |conn| {
            let answers: Vec<(String, Option<String>)> = parked_calls::table
                .filter(parked_calls::instance_id.eq(&instance_id))
                .filter(parked_calls::answer.is_not_null())
                .filter(parked_calls::result.is_null())
                .select((parked_calls::token, parked_calls::answer))
                .load(conn)?;
            Ok(answers
                .into_iter()
                .filter_map(|(token, answer)| {
                    Some(ParkedAnswer {
                        token,
                        answer: answer?,
                    })
                })
                .collect())
        })
        .await
    }

    /// Leaves the result of the call parked under `token` and signals the process waiting
    /// for it, in one transaction.
    pub async fn finish_parked(&self, token: &str, result: String) -> Result<(), StoreError> {
        let token = token.to_owned();
        let signal = Signal::CallDone(token.clone());
        self.with_conn({
            let signal = signal.clone();
            move |conn| {
                db::write_transaction(conn, |conn| {
                    diesel::update(parked_calls::table.find(&token))
                        .set(parked_calls::result.eq(result))
                        .execute(conn)?;
                    notify_in(conn, &[signal])?;
                    Ok::<_, StoreError>(())
                })
            }
        })
        .await?;
        self.after_commit(vec![signal]);
        Ok(())
    }

    /// The result left for the call parked under `token`, once there is one.
    pub async fn parked_result(&self, token: &str) -> Result<Option<String>, StoreError> {
        let token = token.to_owned();
        self.read_conn(move |conn| {
            Ok(parked_calls::table
                .find(&token)
                .select(parked_calls::result)
                .first::<Option<String>>(conn)
                .optional()?
                .flatten())
        })
        .await
    }

    /// Forgets the call parked under `token` (its answer was taken, or nobody waits any more).
    pub async fn forget_parked(&self, token: &str) -> Result<(), StoreError> {
        let token = token.to_owned();
        self.with_conn(move |conn| {
            diesel::delete(parked_calls::table.find(token)).execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Forgets every call `instance_id` holds (it is shutting down).
    pub async fn forget_parked_of(&self, instance_id: &str) -> Result<(), StoreError> {
        let instance_id = instance_id.to_owned();
        self.with_conn(move |conn| {
            diesel::delete(parked_calls::table)
                .filter(parked_calls::instance_id.eq(instance_id))
                .execute(conn)?;
            Ok(())
        })
        .await
    }
}
