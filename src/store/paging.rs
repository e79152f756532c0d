//! Keyset paging, written once for every list: rows are ordered by `(timestamp, id)`, so ties
//! on the timestamp still page stably, and a page starts strictly after the cursor row's key
//! rather than at an offset, so rows added meanwhile neither repeat nor vanish.
//!
//! A table takes part through [`Keyset`]: its two ordering columns and the lookup of a
//! cursor's key, written by one line, `keyset!(table, created_at, id)`. A list is then a
//! [`Listing`]: the boxed query of its rows (select and filters) and the condition that scopes
//! it (the owner: a thread, a user). [`Listing::load`] resolves the cursor of a
//! [`PageRequest`] within that scope (`InvalidCursor` when the id names no such row), adds
//! `(ts, id) > (cursor_ts, cursor_id)` (`<` newest first) and the order, fetches `limit + 1`
//! rows, and builds the [`Page`].
//!
//! Generic over the table, with a macro for the one part that is not: the bounds are stated
//! once (on [`KeyColumn`] and [`PagedQuery`]) and a mistake in a list (a column of another
//! table, a scope that is not boolean) is a type error at the list. The cursor lookup is a
//! query on the concrete table, whose generic bounds would outweigh the query, so the macro
//! writes it for each table.

use chrono::NaiveDateTime;
use diesel::dsl::{Asc, Desc};
use diesel::expression::{ValidGrouping, is_aggregate};
use diesel::prelude::*;
use diesel::query_builder::QueryFragment;
use diesel::query_dsl::methods::{self, LoadQuery};
use diesel::sql_types::{Bool, Text, Timestamp};

use super::StoreError;
use super::db::AnyConnection;
use super::schema::{attachments, audit_log, items, threads, webhook_deliveries};
use crate::chatkit::types::{Order, Page};

/// The query backend of [`AnyConnection`].
pub(super) type Db = <AnyConnection as Connection>::Backend;

/// A boolean condition on `T`'s rows, boxed so that lists can build it at run time.
pub(super) type Filter<'a, T> = Box<dyn BoxableExpression<T, Db, SqlType = Bool> + 'a>;

/// A column usable as half of a keyset: a plain column of `T` of SQL type `ST`.
pub(super) trait KeyColumn<T, ST>:
    Column<Table = T>
    + Expression<SqlType = ST>
    + SelectableExpression<T>
    + ValidGrouping<(), IsAggregate = is_aggregate::No>
    + QueryFragment<Db>
    + Default
    + Copy
    + Send
    + 'static
{
}

impl<C, T, ST> KeyColumn<T, ST> for C where
    C: Column<Table = T>
        + Expression<SqlType = ST>
        + SelectableExpression<T>
        + ValidGrouping<(), IsAggregate = is_aggregate::No>
        + QueryFragment<Db>
        + Default
        + Copy
        + Send
        + 'static
{
}

/// A table listed by `(timestamp, id)`.
pub(super) trait Keyset: Table + Sized + 'static {
    type At: KeyColumn<Self, Timestamp>;
    type Id: KeyColumn<Self, Text>;

    /// The key of row `id` among the rows `scope` selects.
    fn key_of(
        conn: &mut AnyConnection,
        scope: Filter<'_, Self>,
        id: &str,
    ) -> QueryResult<Option<(NaiveDateTime, String)>>;
}

/// Implements [`Keyset`] for `table` ordered by its columns `at` and `id`. A macro only
/// because the cursor's lookup is a query on the concrete table, which takes no bounds.
macro_rules! keyset {
    ($table:ident, $at:ident, $id:ident) => {
        impl Keyset for $table::table {
            type At = $table::$at;
            type Id = $table::$id;

            fn key_of(
                conn: &mut AnyConnection,
                scope: Filter<'_, Self>,
                id: &str,
            ) -> QueryResult<Option<(NaiveDateTime, String)>> {
                $table::table
                    .filter(scope)
                    .filter($table::$id.eq(id))
                    .select(($table::$at, $table::$id))
                    .first(conn)
                    .optional()
            }
        }
    };
}

keyset!(threads, created_at, id);
keyset!(items, created_at, id);
keyset!(audit_log, at, id);
keyset!(attachments, created_at, id);
keyset!(webhook_deliveries, created_at, id);

/// What a caller asks of a list: the rows strictly after the row `after`, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: usize,
    pub order: Order,
}

/// A boxed query of `T`'s rows that can be paged: filtered, ordered by the keyset either way,
/// limited, and loaded as `Row`s. Every boxed `SELECT ... FROM T` is one.
pub(super) trait PagedQuery<'a, T: Keyset, Row>:
    methods::FilterDsl<Filter<'a, T>, Output = Self>
    + methods::OrderDsl<(Asc<T::At>, Asc<T::Id>), Output = Self>
    + methods::OrderDsl<(Desc<T::At>, Desc<T::Id>), Output = Self>
    + methods::LimitDsl<Output = Self>
    + LoadQuery<'a, AnyConnection, Row>
{
}

impl<'a, T: Keyset, Row, Q> PagedQuery<'a, T, Row> for Q where
    Q: methods::FilterDsl<Filter<'a, T>, Output = Self>
        + methods::OrderDsl<(Asc<T::At>, Asc<T::Id>), Output = Self>
        + methods::OrderDsl<(Desc<T::At>, Desc<T::Id>), Output = Self>
        + methods::LimitDsl<Output = Self>
        + LoadQuery<'a, AnyConnection, Row>
{
}

/// One list's query, ready to page.
pub(super) struct Listing<Q, S> {
    /// The rows of the list (a boxed query): their select and every filter but the scope.
    pub rows: Q,
    /// Whose rows these are (a condition on the table); a cursor must name one of them.
    pub scope: S,
}

impl<Q, S> Listing<Q, S> {
    /// The page `request` asks for, each row's id given by `id`.
    pub fn load<'a, T, Row>(
        self,
        conn: &mut AnyConnection,
        request: &PageRequest,
        id: impl Fn(&Row) -> String,
    ) -> Result<Page<Row>, StoreError>
    where
        T: Keyset,
        Q: PagedQuery<'a, T, Row>,
        S: BoxableExpression<T, Db, SqlType = Bool> + Clone + Send + 'a,
    {
        let (at, id_col) = (T::At::default(), T::Id::default());
        let mut rows = self
            .rows
            .filter(Box::new(self.scope.clone()) as Filter<'a, T>);
        if let Some(after) = &request.after {
            let (cursor_at, cursor_id) = T::key_of(conn, Box::new(self.scope), after)?
                .ok_or_else(|| StoreError::InvalidCursor(after.clone()))?;
            rows = rows.filter(past_cursor::<T>(cursor_at, cursor_id, request.order));
        }
        rows = match request.order {
            Order::Asc => rows.order((at.asc(), id_col.asc())),
            Order::Desc => rows.order((at.desc(), id_col.desc())),
        };
        let rows: Vec<Row> = rows.limit(window(request.limit)).load(conn)?;
        Ok(page_of(rows, request.limit, id))
    }
}

/// The rows after `(at, id)` in `order`: `(ts, id) > (at, id)` ascending, `<` descending,
/// spelled out since row-value comparison is not in diesel's portable subset.
fn past_cursor<'a, T: Keyset>(at: NaiveDateTime, id: String, order: Order) -> Filter<'a, T> {
    let (at_col, id_col) = (T::At::default(), T::Id::default());
    match order {
        Order::Asc => Box::new(at_col.gt(at).or(at_col.eq(at).and(id_col.gt(id)))),
        Order::Desc => Box::new(at_col.lt(at).or(at_col.eq(at).and(id_col.lt(id)))),
    }
}

/// Rows to fetch for a page: one more than asked, to learn whether more follow.
pub(super) fn window(limit: usize) -> i64 {
    i64::try_from(limit)
        .unwrap_or(i64::MAX - 1)
        .saturating_add(1)
}

/// Builds a page from up to `limit + 1` rows: the extra row only says that more follow, and
/// `after` is then the id of the last row returned.
pub(super) fn page_of<T>(mut rows: Vec<T>, limit: usize, id: impl Fn(&T) -> String) -> Page<T> {
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let after = if has_more { rows.last().map(id) } else { None };
    Page {
        data: rows,
        has_more,
        after,
    }
}

/// The page with each row converted, e.g. from stored rows to protocol types.
pub(super) fn try_map<A, B>(
    page: Page<A>,
    convert: impl FnMut(A) -> Result<B, StoreError>,
) -> Result<Page<B>, StoreError> {
    Ok(Page {
        data: page
            .data
            .into_iter()
            .map(convert)
            .collect::<Result<_, _>>()?,
        has_more: page.has_more,
        after: page.after,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::chatkit::types::Thread;
    use crate::store::test_db::each_backend;
    use crate::store::{Scope, Store};

    fn scope(user: &str, agent_id: &str, account_id: &str) -> Scope {
        Scope {
            account_id: account_id.to_owned(),
            agent_id: agent_id.to_owned(),
            user_id: user.to_owned(),
        }
    }

    /// Every page of the list in `order`, `limit` at a time, as ids.
    async fn walk(store: &Store, scope: &Scope, limit: usize, order: Order) -> Vec<String> {
        let (mut ids, mut after) = (Vec::new(), None);
        loop {
            let page = store
                .load_threads(scope, limit, after.clone(), order)
                .await
                .unwrap();
            assert!(page.data.len() <= limit);
            ids.extend(page.data.iter().map(|t| t.id.clone()));
            if !page.has_more {
                assert_eq!(page.after, None);
                return ids;
            }
            after = page.after;
        }
    }

    /// Rows that share a timestamp page by id, so no page repeats or skips one; a cursor
    /// that is unknown or outside the list's scope is refused.
    #[tokio::test]
    async fn pages_follow_timestamp_then_id_and_refuse_foreign_cursors() {
        for db in each_backend() {
            let store = Store::connect(&db.url, 2).unwrap();
            let (account, agent) = store.ensure_defaults().await.unwrap();
            let ann = scope("ann", &agent.id, &account.id);
            let early = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
            let tie = DateTime::<Utc>::from_timestamp(1_700_000_100, 0).unwrap();
            let mut oldest_first = vec!["thr_early".to_owned()];
            store
                .save_new_thread(&ann, &Thread::new("thr_early".into(), early))
                .await
                .unwrap();
            for id in ["thr_t3", "thr_t1", "thr_t4", "thr_t0", "thr_t2"] {
                store
                    .save_new_thread(&ann, &Thread::new(id.into(), tie))
                    .await
                    .unwrap();
            }
            oldest_first.extend((0..5).map(|n| format!("thr_t{n}")));
            let newest_first: Vec<String> = oldest_first.iter().rev().cloned().collect();

            for limit in [1, 2, 4, 6, 10] {
                assert_eq!(walk(&store, &ann, limit, Order::Asc).await, oldest_first);
                assert_eq!(walk(&store, &ann, limit, Order::Desc).await, newest_first);
            }

            let bob = scope("bob", &agent.id, &account.id);
            store
                .save_new_thread(&bob, &Thread::new("thr_bob".into(), tie))
                .await
                .unwrap();
            for cursor in ["thr_bob", "thr_nothing"] {
                let refused = store
                    .load_threads(&ann, 2, Some(cursor.into()), Order::Desc)
                    .await;
                assert!(
                    matches!(&refused, Err(StoreError::InvalidCursor(c)) if c == cursor),
                    "{refused:?}"
                );
            }
        }
    }
}
