//! The writes every turn makes, written so the connection keeps them prepared.
//!
//! Diesel marks every `UPDATE`, every upsert and every `sql_query` as unsafe to cache (their
//! SQL may vary with the values), so each run of one was parsed and planned again, with the
//! programs of the triggers it fires: a fifth of the store's CPU in a streamed turn. These
//! statements have one SQL text per backend, and a connection (whose cache it is) has one
//! backend, so diesel keeps them under their type: it need not write their SQL out again to
//! look them up, as it must for a statement keyed by its text (a tenth of the writer thread's
//! time went to that, mostly for the item insert, whose derived form varies with its values).

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text, Timestamp};
use diesel::{QueryResult, RunQueryDsl};

use super::db::AnyConnection;
use super::models::{ItemRow, ThreadRow};

/// Pushes `sql`, then `value` as a bound parameter of type `T`.
fn then<'b, DB, T, U>(out: &mut AstPass<'_, 'b, DB>, sql: &str, value: &'b U) -> QueryResult<()>
where
    DB: Backend + HasSqlType<T>,
    U: ToSql<T, DB> + ?Sized,
{
    out.push_sql(sql);
    out.push_bind_param::<T, U>(value)
}

/// Declares a fragment kept prepared under its type (a static query id), and run on the
/// backend's own connection: through the multi-backend connection, diesel walks a statement
/// once more for every pass (is it cacheable, its binds) to hand it to the backend, about
/// as much work again as the statement's own passes.
macro_rules! kept {
    ($($name:ident),*) => {$(
        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
        impl<Conn> RunQueryDsl<Conn> for $name<'_> {}
        impl $name<'_> {
            /// Runs the statement; the rows it changed. (Found before `RunQueryDsl::execute`,
            /// as an inherent method is.)
            pub(super) fn execute(self, conn: &mut AnyConnection) -> QueryResult<usize> {
                match conn {
                    AnyConnection::Sqlite(conn) => RunQueryDsl::execute(self, conn),
                    AnyConnection::Postgresql(conn) => RunQueryDsl::execute(self, conn),
                }
            }
        }
    )*};
}
kept!(
    InsertThread,
    InsertItem,
    UpdateItem,
    SavePartial,
    FinishRun,
    AddUsage,
    ClaimRun
);

/// `INSERT INTO threads` of a new thread, every column given: diesel's own insert leaves out
/// a column whose value is `None` (a new thread's title), so its SQL varied with the values
/// and it was parsed again, with its trigger's program, for every new thread.
pub(super) struct InsertThread<'a>(pub(super) &'a ThreadRow);

impl<DB> QueryFragment<DB> for InsertThread<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    chrono::NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let row = self.0;
        then::<_, Text, _>(
            &mut out,
            "INSERT INTO threads (id, account_id, agent_id, user_id, title, status, \
             allowed_image_domains, metadata, created_at, updated_at) VALUES (",
            &row.id,
        )?;
        then::<_, Text, _>(&mut out, ", ", &row.account_id)?;
        then::<_, Text, _>(&mut out, ", ", &row.agent_id)?;
        then::<_, Text, _>(&mut out, ", ", &row.user_id)?;
        then::<_, Nullable<Text>, _>(&mut out, ", ", &row.title)?;
        then::<_, Text, _>(&mut out, ", ", &row.status)?;
        then::<_, Nullable<Text>, _>(&mut out, ", ", &row.allowed_image_domains)?;
        then::<_, Text, _>(&mut out, ", ", &row.metadata)?;
        then::<_, Timestamp, _>(&mut out, ", ", &row.created_at)?;
        then::<_, Timestamp, _>(&mut out, ", ", &row.updated_at)?;
        out.push_sql(")");
        Ok(())
    }
}

/// `INSERT INTO items` of a new item, every column given.
pub(super) struct InsertItem<'a>(pub(super) &'a ItemRow);

impl<DB> QueryFragment<DB> for InsertItem<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    chrono::NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let row = self.0;
        then::<_, Text, _>(
            &mut out,
            "INSERT INTO items (id, thread_id, kind, visibility, status, created_at, data) \
             VALUES (",
            &row.id,
        )?;
        then::<_, Text, _>(&mut out, ", ", &row.thread_id)?;
        then::<_, Text, _>(&mut out, ", ", &row.kind)?;
        then::<_, Text, _>(&mut out, ", ", &row.visibility)?;
        then::<_, Nullable<Text>, _>(&mut out, ", ", &row.status)?;
        then::<_, Timestamp, _>(&mut out, ", ", &row.created_at)?;
        then::<_, Text, _>(&mut out, ", ", &row.data)?;
        out.push_sql(")");
        Ok(())
    }
}

/// `UPDATE items` of everything an item's save may change, by id within its thread.
pub(super) struct UpdateItem<'a>(pub(super) &'a ItemRow);

impl<DB> QueryFragment<DB> for UpdateItem<'_>
where
    DB: Backend + HasSqlType<Text>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let row = self.0;
        then::<_, Text, _>(&mut out, "UPDATE items SET kind = ", &row.kind)?;
        then::<_, Text, _>(&mut out, ", visibility = ", &row.visibility)?;
        then::<_, Nullable<Text>, _>(&mut out, ", status = ", &row.status)?;
        then::<_, Text, _>(&mut out, ", data = ", &row.data)?;
        then::<_, Text, _>(&mut out, " WHERE id = ", &row.id)?;
        then::<_, Text, _>(&mut out, " AND thread_id = ", &row.thread_id)
    }
}

/// `UPDATE runs` of a running run with the text it streamed so far, and its heartbeat.
pub(super) struct SavePartial<'a> {
    pub(super) id: &'a String,
    pub(super) text: &'a String,
    pub(super) at: chrono::NaiveDateTime,
}

impl<DB> QueryFragment<DB> for SavePartial<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    String: ToSql<Text, DB>,
    chrono::NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        then::<_, Text, _>(&mut out, "UPDATE runs SET partial_text = ", self.text)?;
        then::<_, Timestamp, _>(&mut out, ", heartbeat_at = ", &self.at)?;
        then::<_, Text, _>(&mut out, " WHERE id = ", self.id)?;
        out.push_sql(" AND status = 'running'");
        Ok(())
    }
}

/// `INSERT INTO runs` of a running run, or nothing when the thread already has one (the
/// unique index `runs_one_running`): a refused claim is no error, so it needs no savepoint
/// inside a larger transaction.
pub(super) struct ClaimRun<'a> {
    pub(super) id: &'a String,
    pub(super) thread_id: &'a str,
    pub(super) instance_id: &'a String,
    pub(super) at: chrono::NaiveDateTime,
}

impl<DB> QueryFragment<DB> for ClaimRun<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    String: ToSql<Text, DB>,
    str: ToSql<Text, DB>,
    chrono::NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        then::<_, Text, _>(
            &mut out,
            "INSERT INTO runs (id, thread_id, status, started_at, instance_id, heartbeat_at) \
             VALUES (",
            self.id,
        )?;
        then::<_, Text, _>(&mut out, ", ", self.thread_id)?;
        then::<_, Timestamp, _>(&mut out, ", 'running', ", &self.at)?;
        then::<_, Text, _>(&mut out, ", ", self.instance_id)?;
        then::<_, Timestamp, _>(&mut out, ", ", &self.at)?;
        out.push_sql(") ON CONFLICT DO NOTHING");
        Ok(())
    }
}

/// `UPDATE runs` with how a run ended.
pub(super) struct FinishRun<'a> {
    pub(super) id: &'a String,
    pub(super) status: &'a str,
    pub(super) model: &'a Option<String>,
    pub(super) prompt_tokens: i64,
    pub(super) completion_tokens: i64,
    pub(super) finished_at: chrono::NaiveDateTime,
    pub(super) error: &'a Option<String>,
    pub(super) partial_text: &'a Option<String>,
    pub(super) first_token_ms: Option<i64>,
    pub(super) cost_micros: Option<i64>,
    pub(super) context_dropped: Option<i64>,
}

impl<DB> QueryFragment<DB> for FinishRun<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt> + HasSqlType<Timestamp>,
    String: ToSql<Text, DB>,
    str: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
    chrono::NaiveDateTime: ToSql<Timestamp, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        then::<_, Text, _>(&mut out, "UPDATE runs SET status = ", self.status)?;
        then::<_, Nullable<Text>, _>(&mut out, ", model = ", self.model)?;
        then::<_, BigInt, _>(&mut out, ", prompt_tokens = ", &self.prompt_tokens)?;
        then::<_, BigInt, _>(&mut out, ", completion_tokens = ", &self.completion_tokens)?;
        then::<_, Timestamp, _>(&mut out, ", finished_at = ", &self.finished_at)?;
        then::<_, Nullable<Text>, _>(&mut out, ", error = ", self.error)?;
        then::<_, Nullable<Text>, _>(&mut out, ", partial_text = ", self.partial_text)?;
        then::<_, Nullable<BigInt>, _>(&mut out, ", first_token_ms = ", &self.first_token_ms)?;
        then::<_, Nullable<BigInt>, _>(&mut out, ", cost_micros = ", &self.cost_micros)?;
        then::<_, Nullable<BigInt>, _>(&mut out, ", context_dropped = ", &self.context_dropped)?;
        then::<_, Text, _>(&mut out, " WHERE id = ", self.id)
    }
}

/// Adds a finished run to its day's usage row (one per day, account, user, agent and model).
pub(super) struct AddUsage<'a> {
    run_id: &'a str,
    /// SQLite spells the day of a timestamp `date(...)`, Postgres `CAST(... AS DATE)`.
    sqlite: bool,
}

impl<'a> AddUsage<'a> {
    /// The statement for `run_id` in the dialect of `conn`.
    pub(super) fn of(conn: &AnyConnection, run_id: &'a str) -> Self {
        AddUsage {
            run_id,
            sqlite: matches!(conn, AnyConnection::Sqlite(_)),
        }
    }
}

impl<DB> QueryFragment<DB> for AddUsage<'_>
where
    DB: Backend + HasSqlType<Text>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let day = if self.sqlite {
            "date(r.started_at)"
        } else {
            "CAST(r.started_at AS DATE)"
        };
        out.push_sql(
            "INSERT INTO usage_days (day, account_id, user_id, agent_id, model, runs, \
             failed_runs, prompt_tokens, completion_tokens, cost_micros) SELECT ",
        );
        out.push_sql(day);
        then::<_, Text, _>(
            &mut out,
            ", t.account_id, t.user_id, t.agent_id, COALESCE(r.model, ''), 1, \
             CASE WHEN r.status = 'failed' THEN 1 ELSE 0 END, r.prompt_tokens, \
             r.completion_tokens, COALESCE(r.cost_micros, 0) \
             FROM runs r JOIN threads t ON t.id = r.thread_id WHERE r.id = ",
            self.run_id,
        )?;
        out.push_sql(
            " ON CONFLICT (day, account_id, user_id, agent_id, model) DO UPDATE SET \
             runs = usage_days.runs + excluded.runs, \
             failed_runs = usage_days.failed_runs + excluded.failed_runs, \
             prompt_tokens = usage_days.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = usage_days.completion_tokens + excluded.completion_tokens, \
             cost_micros = usage_days.cost_micros + excluded.cost_micros",
        );
        Ok(())
    }
}
