//! Thread items, ordered by `(created_at, id)` so that ties still page stably.

use diesel::prelude::*;

use super::attachments::attach_to_thread;
use super::db::{self, AnyConnection};
use super::kept::{InsertItem, InsertThread, UpdateItem};
use super::models::{ItemRow, Visibility};
use super::paging::{self, Listing, PageRequest};
use super::run_ownership::{RunClaim, claim_in};
use super::schema::items;
use super::threads::{find_owned, new_thread_row};
use super::{AgentChanges, Found, Scope, Store, StoreError};
use crate::chatkit::records::{HistoryEntry, ToolCallRecord};
use crate::chatkit::types::{Order, Page, Thread, ThreadItem, WireItem};

/// Insert, or replace the item with the same id (the SDK's `add_thread_item` may be called for
/// an id that exists, and `save_item` is an upsert).
fn upsert(conn: &mut AnyConnection, row: &ItemRow) -> Result<(), StoreError> {
    let updated = UpdateItem(row).execute(conn)?;
    if updated == 0 {
        InsertItem(row).execute(conn)?;
    }
    Ok(())
}

/// A user message saved (with its run's claim, when one was asked for).
#[derive(Debug, Clone, Copy)]
pub struct SavedMessage {
    /// The count of agent changes in the transaction that saved it: what the run's agent must
    /// be at least as new as (`None` when the count's row is gone).
    pub agent_changes: Option<AgentChanges>,
}

impl Store {
    /// Saves a new user message: creates its thread first when `new_thread` is given, claims
    /// the thread for `claim`'s run, and stamps the thread on the message's attachments, all
    /// in one transaction, so a refused attachment ([`StoreError::Attach`]) leaves neither
    /// thread, run nor message behind. `None`, with nothing saved, when the thread already
    /// has a running run.
    pub async fn add_user_message(
        &self,
        scope: &Scope,
        new_thread: Option<&Thread>,
        item: &ThreadItem,
        attachment_ids: &[String],
        claim: Option<RunClaim>,
    ) -> Result<Option<SavedMessage>, StoreError> {
        let scope = scope.clone();
        let thread_row = new_thread.map(|t| new_thread_row(&scope, t)).transpose()?;
        let row = ItemRow::from_item(item)?;
        let attachment_ids = attachment_ids.to_vec();
        self.write_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                if let Some(thread_row) = &thread_row {
                    InsertThread(thread_row).execute(conn)?;
                } else {
                    find_owned(conn, &scope, &row.thread_id)?;
                }
                if let Some(claim) = &claim
                    && !claim_in(conn, claim, &row.thread_id)?
                {
                    return Ok(None);
                }
                attach_to_thread(conn, &scope, &row.thread_id, &attachment_ids)?;
                // The message's id is new, made by the server for it.
                InsertItem(&row).execute(conn)?;
                let agent_changes = super::agents::agent_changes(conn)?;
                Ok(Some(SavedMessage { agent_changes }))
            })
        })
        .await
    }

    /// Saves an item (insert or replace in place), checking the thread is the caller's.
    pub async fn save_item(&self, scope: &Scope, item: &ThreadItem) -> Result<(), StoreError> {
        self.save_row(scope, ItemRow::from_item(item)?).await
    }

    /// Saves a tool call record (model-only: never listed to ChatKit clients).
    pub async fn save_tool_call(
        &self,
        scope: &Scope,
        record: &ToolCallRecord,
    ) -> Result<(), StoreError> {
        self.save_row(scope, ItemRow::from_tool_call(record)?).await
    }

    /// Inserts or replaces an item row of one of the caller's threads.
    async fn save_row(&self, scope: &Scope, row: ItemRow) -> Result<(), StoreError> {
        let scope = scope.clone();
        self.write_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                find_owned(conn, &scope, &row.thread_id)?;
                upsert(conn, &row)
            })
        })
        .await
    }

    /// One item of one of the caller's threads; hidden items included (the server needs them).
    pub async fn load_item(
        &self,
        scope: &Scope,
        thread_id: &str,
        item_id: &str,
    ) -> Result<ThreadItem, StoreError> {
        let (scope, thread_id, item_id) = (scope.clone(), thread_id.to_owned(), item_id.to_owned());
        self.read_conn(move |conn| {
            find_owned(conn, &scope, &thread_id)?;
            items::table
                .filter(items::thread_id.eq(&thread_id))
                .filter(items::id.eq(&item_id))
                .filter(items::visibility.ne(Visibility::ModelOnly.as_str()))
                .select(ItemRow::as_select())
                .first(conn)
                .found("item")?
                .into_item()
        })
        .await
    }

    /// One page of the items a ChatKit client may see, strictly after the cursor. Hidden items
    /// are filtered in the query, so a page is only short when it is the last one.
    pub async fn load_thread_items(
        &self,
        scope: &Scope,
        thread_id: &str,
        after: Option<String>,
        limit: usize,
        order: Order,
    ) -> Result<Page<ThreadItem>, StoreError> {
        self.owned_items_page(scope, thread_id, after, limit, order, ItemRow::into_item)
            .await
    }

    /// [`Store::load_thread_items`] for an answer to a client: the items as they were stored.
    pub async fn load_wire_items(
        &self,
        scope: &Scope,
        thread_id: &str,
        after: Option<String>,
        limit: usize,
        order: Order,
    ) -> Result<Page<WireItem>, StoreError> {
        self.owned_items_page(scope, thread_id, after, limit, order, ItemRow::into_wire)
            .await
    }

    /// A page of the visible items of a thread the scope owns, each row made into a `T`.
    async fn owned_items_page<T: Send + 'static>(
        &self,
        scope: &Scope,
        thread_id: &str,
        after: Option<String>,
        limit: usize,
        order: Order,
        convert: fn(ItemRow) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let (scope, thread_id) = (scope.clone(), thread_id.to_owned());
        self.read_conn(move |conn| {
            find_owned(conn, &scope, &thread_id)?;
            let request = PageRequest {
                after: after.clone(),
                limit,
                order,
            };
            paging::try_map(item_rows(conn, &thread_id, &request)?, convert)
        })
        .await
    }

    /// [`Store::load_thread_with_items`] for an answer to a client: the thread (its own items
    /// empty) and its first page of items as they were stored.
    pub async fn load_thread_with_wire_items(
        &self,
        scope: &Scope,
        thread_id: &str,
        limit: usize,
    ) -> Result<(Thread, Page<WireItem>), StoreError> {
        self.owned_thread_with_page(scope, thread_id, limit, ItemRow::into_wire)
            .await
    }

    /// The thread with its first `limit` visible items, oldest first (`threads.get_by_id`), in
    /// one trip to the database.
    pub async fn load_thread_with_items(
        &self,
        scope: &Scope,
        thread_id: &str,
        limit: usize,
    ) -> Result<Thread, StoreError> {
        let (mut thread, items) = self
            .owned_thread_with_page(scope, thread_id, limit, ItemRow::into_item)
            .await?;
        thread.items = items;
        Ok(thread)
    }

    /// A thread the scope owns and its first `limit` visible items, oldest first, each row made
    /// into a `T`.
    async fn owned_thread_with_page<T: Send + 'static>(
        &self,
        scope: &Scope,
        thread_id: &str,
        limit: usize,
        convert: fn(ItemRow) -> Result<T, StoreError>,
    ) -> Result<(Thread, Page<T>), StoreError> {
        let (scope, thread_id) = (scope.clone(), thread_id.to_owned());
        self.read_conn(move |conn| {
            let thread = find_owned(conn, &scope, &thread_id)?.into_thread()?;
            let request = PageRequest {
                after: None,
                limit,
                order: Order::Asc,
            };
            let items = paging::try_map(item_rows(conn, &thread_id, &request)?, convert)?;
            Ok((thread, items))
        })
        .await
    }

    /// Every ChatKit item of the thread in order, hidden ones included.
    pub async fn load_history(
        &self,
        scope: &Scope,
        thread_id: &str,
    ) -> Result<Vec<ThreadItem>, StoreError> {
        let entries = self.load_model_history(scope, thread_id).await?;
        Ok(entries
            .into_iter()
            .filter_map(|entry| match entry {
                HistoryEntry::Item(item) => Some(item),
                HistoryEntry::ToolCall(_) => None,
            })
            .collect())
    }

    /// The thread as the model sees it: every item, hidden and model-only ones included.
    pub async fn load_model_history(
        &self,
        scope: &Scope,
        thread_id: &str,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let (scope, thread_id) = (scope.clone(), thread_id.to_owned());
        self.with_conn(move |conn| {
            find_owned(conn, &scope, &thread_id)?;
            items::table
                .filter(items::thread_id.eq(&thread_id))
                .order((items::created_at.asc(), items::id.asc()))
                .select(ItemRow::as_select())
                .load(conn)?
                .into_iter()
                .map(ItemRow::into_entry)
                .collect()
        })
        .await
    }

    /// Deletes one item of one of the caller's threads; `false` when there was none.
    pub async fn delete_thread_item(
        &self,
        scope: &Scope,
        thread_id: &str,
        item_id: &str,
    ) -> Result<bool, StoreError> {
        let (scope, thread_id, item_id) = (scope.clone(), thread_id.to_owned(), item_id.to_owned());
        self.with_conn(move |conn| {
            find_owned(conn, &scope, &thread_id)?;
            let deleted = diesel::delete(
                items::table
                    .filter(items::thread_id.eq(&thread_id))
                    .filter(items::id.eq(&item_id)),
            )
            .execute(conn)?;
            Ok(deleted > 0)
        })
        .await
    }

    /// Deletes every item that follows `item_id` in the thread (hidden and model-only ones
    /// too), for a retry. Returns `NotFound` when the item is not in the thread.
    pub async fn delete_items_after(
        &self,
        scope: &Scope,
        thread_id: &str,
        item_id: &str,
    ) -> Result<usize, StoreError> {
        let (scope, thread_id, item_id) = (scope.clone(), thread_id.to_owned(), item_id.to_owned());
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                find_owned(conn, &scope, &thread_id)?;
                let (at, id): (chrono::NaiveDateTime, String) = items::table
                    .filter(items::thread_id.eq(&thread_id))
                    .filter(items::id.eq(&item_id))
                    .select((items::created_at, items::id))
                    .first(conn)
                    .found("item")?;
                Ok(diesel::delete(
                    items::table.filter(items::thread_id.eq(&thread_id)).filter(
                        items::created_at
                            .gt(at)
                            .or(items::created_at.eq(at).and(items::id.gt(id))),
                    ),
                )
                .execute(conn)?)
            })
        })
        .await
    }

    // --- admin ---

    /// How many items of any visibility a thread has (zero for an unknown thread).
    pub async fn count_items(&self, thread_id: &str) -> Result<i64, StoreError> {
        let thread_id = thread_id.to_owned();
        self.with_conn(move |conn| {
            Ok(items::table
                .filter(items::thread_id.eq(thread_id))
                .count()
                .get_result(conn)?)
        })
        .await
    }
}

/// A page of a thread's visible item rows, strictly after `after` in `order`. The cursor may
/// name any item of the thread.
fn item_rows(
    conn: &mut AnyConnection,
    thread_id: &str,
    request: &PageRequest,
) -> Result<Page<ItemRow>, StoreError> {
    let listing = Listing {
        rows: items::table
            .filter(items::visibility.eq(Visibility::Visible.as_str()))
            .select(ItemRow::as_select())
            .into_boxed(),
        scope: items::thread_id.eq(thread_id.to_owned()),
    };
    listing.load(conn, request, |row: &ItemRow| row.id.clone())
}
