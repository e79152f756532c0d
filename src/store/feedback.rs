//! Thumbs up / down on items, one verdict per item and user (the latest wins).

use chrono::Utc;
use diesel::prelude::*;

use super::models::{Visibility, wire_name};
use super::schema::{feedback, items};
use super::threads::find_owned;
use super::{Scope, Store, StoreError, db};
use crate::chatkit::types::FeedbackKind;

impl Store {
    /// Records `kind` for each item; all items must be visible items of the caller's thread,
    /// otherwise nothing is recorded.
    pub async fn add_feedback(
        &self,
        scope: &Scope,
        thread_id: &str,
        item_ids: Vec<String>,
        kind: FeedbackKind,
    ) -> Result<(), StoreError> {
        let (scope, thread_id) = (scope.clone(), thread_id.to_owned());
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                find_owned(conn, &scope, &thread_id)?;
                let now = Utc::now().naive_utc();
                for item_id in &item_ids {
                    let known: i64 = items::table
                        .filter(items::thread_id.eq(&thread_id))
                        .filter(items::id.eq(item_id))
                        .filter(items::visibility.eq(Visibility::Visible.as_str()))
                        .count()
                        .get_result(conn)?;
                    if known == 0 {
                        return Err(StoreError::NotFound("item"));
                    }
                    diesel::delete(
                        feedback::table
                            .filter(feedback::item_id.eq(item_id))
                            .filter(feedback::user_id.eq(&scope.user_id)),
                    )
                    .execute(conn)?;
                    diesel::insert_into(feedback::table)
                        .values((
                            feedback::item_id.eq(item_id),
                            feedback::thread_id.eq(&thread_id),
                            feedback::user_id.eq(&scope.user_id),
                            feedback::kind.eq(wire_name(&kind)),
                            feedback::created_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// The recorded verdicts of a thread as `(item_id, user_id, kind)`, oldest first.
    pub async fn load_feedback(
        &self,
        thread_id: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let thread_id = thread_id.to_owned();
        self.with_conn(move |conn| {
            Ok(feedback::table
                .filter(feedback::thread_id.eq(thread_id))
                .order((feedback::created_at.asc(), feedback::item_id.asc()))
                .select((feedback::item_id, feedback::user_id, feedback::kind))
                .load(conn)?)
        })
        .await
    }
}
