//! Threads, always read and written within a [`Scope`].

use chrono::Utc;
use diesel::prelude::*;

use super::attachments::delete_thread_attachments;
use super::db::{self, AnyConnection};
use super::kept::InsertThread;
use super::models::ThreadRow;
use super::paging::{self, Listing, PageRequest};
use super::schema::threads;
use super::{Found, Scope, Store, StoreError, to_db_time};
use crate::chatkit::types::{Order, Page, Thread};

/// The scoped thread `id`, or `NotFound` (also when it belongs to someone else).
pub(super) fn find_owned(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> Result<ThreadRow, StoreError> {
    threads::table
        .filter(threads::id.eq(id))
        .filter(threads::account_id.eq(&scope.account_id))
        .filter(threads::agent_id.eq(&scope.agent_id))
        .filter(threads::user_id.eq(&scope.user_id))
        .select(ThreadRow::as_select())
        .first(conn)
        .found("thread")
}

/// The row of a new thread of `scope`.
pub(super) fn new_thread_row(scope: &Scope, thread: &Thread) -> Result<ThreadRow, StoreError> {
    Ok(ThreadRow {
        id: thread.id.clone(),
        account_id: scope.account_id.clone(),
        agent_id: scope.agent_id.clone(),
        user_id: scope.user_id.clone(),
        title: thread.title.clone(),
        status: serde_json::to_string(&thread.status)?,
        allowed_image_domains: thread
            .allowed_image_domains
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
        metadata: serde_json::to_string(&thread.metadata)?,
        created_at: to_db_time(thread.created_at),
        updated_at: to_db_time(thread.created_at),
    })
}

impl Store {
    pub async fn save_new_thread(&self, scope: &Scope, thread: &Thread) -> Result<(), StoreError> {
        let row = new_thread_row(scope, thread)?;
        self.with_conn(move |conn| {
            InsertThread(&row).execute(conn)?;
            Ok(())
        })
        .await
    }

    /// The thread's metadata, items left empty.
    pub async fn load_thread(&self, scope: &Scope, id: &str) -> Result<Thread, StoreError> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.read_conn(move |conn| find_owned(conn, &scope, &id)?.into_thread())
            .await
    }

    /// One page of the caller's threads, newest or oldest first, strictly after the cursor.
    pub async fn load_threads(
        &self,
        scope: &Scope,
        limit: usize,
        after: Option<String>,
        order: Order,
    ) -> Result<Page<Thread>, StoreError> {
        let scope = scope.clone();
        let request = PageRequest {
            after,
            limit,
            order,
        };
        self.read_conn(move |conn| {
            let listing = Listing {
                rows: threads::table.select(ThreadRow::as_select()).into_boxed(),
                scope: threads::account_id
                    .eq(scope.account_id.clone())
                    .and(threads::agent_id.eq(scope.agent_id.clone()))
                    .and(threads::user_id.eq(scope.user_id.clone())),
            };
            let page = listing.load(conn, &request, |row: &ThreadRow| row.id.clone())?;
            paging::try_map(page, ThreadRow::into_thread)
        })
        .await
    }

    /// Saves what the protocol lets change on a thread: title, status, image domains, metadata.
    pub async fn save_thread(&self, scope: &Scope, thread: &Thread) -> Result<(), StoreError> {
        let scope = scope.clone();
        let id = thread.id.clone();
        let title = thread.title.clone();
        let status = serde_json::to_string(&thread.status)?;
        let domains = thread
            .allowed_image_domains
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        let metadata = serde_json::to_string(&thread.metadata)?;
        self.with_conn(move |conn| {
            find_owned(conn, &scope, &id)?;
            diesel::update(threads::table.find(&id))
                .set((
                    threads::title.eq(title),
                    threads::status.eq(status),
                    threads::allowed_image_domains.eq(domains),
                    threads::metadata.eq(metadata),
                    threads::updated_at.eq(Utc::now().naive_utc()),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Sets the title unless the thread has one (a user's own title is never overwritten);
    /// `true` when it was set.
    pub async fn set_title_if_unset(
        &self,
        scope: &Scope,
        id: &str,
        title: &str,
    ) -> Result<bool, StoreError> {
        let (scope, id, title) = (scope.clone(), id.to_owned(), title.to_owned());
        self.with_conn(move |conn| {
            find_owned(conn, &scope, &id)?;
            let set = diesel::update(threads::table.find(&id).filter(threads::title.is_null()))
                .set((
                    threads::title.eq(title),
                    threads::updated_at.eq(Utc::now().naive_utc()),
                ))
                .execute(conn)?;
            Ok(set > 0)
        })
        .await
    }

    /// Deletes the thread and everything in it, its attachments included; `NotFound` when the
    /// caller has no such thread. Returns the attachments' storage keys to remove.
    pub async fn delete_thread(&self, scope: &Scope, id: &str) -> Result<Vec<String>, StoreError> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                find_owned(conn, &scope, &id)?;
                let keys = delete_thread_attachments(conn, &id)?;
                diesel::delete(threads::table.find(&id)).execute(conn)?;
                Ok(keys)
            })
        })
        .await
    }
}
