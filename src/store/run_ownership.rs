//! Who owns a running run, and what happens to runs whose owner died. A running run is a row
//! with its process's instance id and a heartbeat that the process refreshes for all its runs
//! at once; the unique partial index `runs_one_running` makes "one running run per thread" hold
//! across processes. A run whose heartbeat stopped is marked `interrupted` by whichever process
//! sees it first, with the items that keep its partial answer visible.

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::db::{self, AnyConnection};
use super::kept::{AddUsage, ClaimRun, SavePartial};
use super::models::ItemRow;
use super::schema::{items, runs};
use super::{Store, StoreError};
use crate::chatkit::states::RunStatus;
use crate::chatkit::types::ThreadItem;

/// A run to record as running by the same write that saves its input
/// ([`Store::add_user_message`]): one commit fewer before a turn's first token.
#[derive(Debug, Clone)]
pub struct RunClaim {
    pub run_id: String,
    /// The process that will drive the run.
    pub instance_id: String,
}

/// Later than any heartbeat: `stale_runs(None)` takes every running run.
const NEVER: NaiveDateTime = NaiveDate::from_ymd_opt(9999, 12, 31)
    .unwrap()
    .and_hms_opt(0, 0, 0)
    .unwrap();

/// Running runs refreshed before `before` (or never), oldest first. Every process asks this on
/// each heartbeat, so it reads the partial index `runs_running_started` (running runs only),
/// never an index of every run ever made. The status is a literal, not a bound value: SQLite
/// with its planner stability guarantee, and Postgres's generic plans, use a partial index
/// only for a condition written as the index writes it.
#[diesel::dsl::auto_type(no_type_alias)]
fn stale_runs_query(before: NaiveDateTime) -> _ {
    let running: SqlLiteral<Bool> = sql("runs.status = 'running'");
    runs::table
        .filter(running)
        .filter(
            runs::heartbeat_at
                .lt(before)
                .or(runs::heartbeat_at.is_null()),
        )
        .select((
            runs::id,
            runs::thread_id,
            runs::instance_id,
            runs::partial_text,
        ))
        .order(runs::started_at.asc())
}

/// Records the run as running on the thread, `false` when the thread already has a running
/// run.
pub(super) fn claim_in(
    conn: &mut AnyConnection,
    claim: &RunClaim,
    thread_id: &str,
) -> Result<bool, StoreError> {
    let inserted = ClaimRun {
        id: &claim.run_id,
        thread_id,
        instance_id: &claim.instance_id,
        at: Utc::now().naive_utc(),
    }
    .execute(conn)?;
    Ok(inserted == 1)
}

/// A running run whose process stopped refreshing it.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct StaleRun {
    pub id: String,
    pub thread_id: String,
    /// The process that owned it.
    pub instance_id: Option<String>,
    /// What it had streamed, as last flushed.
    pub partial_text: Option<String>,
}

impl Store {
    /// Records `claim`'s run as running on the thread; `false` when the thread already
    /// has a running run (in this process or another).
    pub async fn claim_run(&self, claim: RunClaim, thread_id: &str) -> Result<bool, StoreError> {
        let thread_id = thread_id.to_owned();
        self.write_conn(move |conn| claim_in(conn, &claim, &thread_id))
            .await
    }

    /// Removes a run that never started (the request that claimed it failed), freeing its
    /// thread.
    pub async fn release_run(&self, run_id: &str) -> Result<(), StoreError> {
        let run_id = run_id.to_owned();
        self.with_conn(move |conn| {
            diesel::delete(runs::table.find(run_id))
                .filter(runs::status.eq(RunStatus::Running.as_str()))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Keeps what runs have streamed so far on their rows (and refreshes their heartbeats),
    /// so that a crash loses only what came after: `(run id, text)` pairs, in one transaction
    /// however many runs stream (a write per run and second cost a tenth of a stream's CPU at
    /// 2,000 streams). A run that has ended meanwhile is left as it is.
    pub async fn save_partial_texts(&self, texts: Vec<(String, String)>) -> Result<(), StoreError> {
        if texts.is_empty() {
            return Ok(());
        }
        self.write_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let at = Utc::now().naive_utc();
                for (id, text) in &texts {
                    SavePartial { id, text, at }.execute(conn)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Refreshes the heartbeat of a process's live runs, in one statement; the ids of those
    /// still running (the others were ended elsewhere or deleted with their thread).
    pub async fn refresh_runs(&self, run_ids: Vec<String>) -> Result<Vec<String>, StoreError> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.with_conn(move |conn| {
            let running = || {
                runs::table
                    .filter(runs::id.eq_any(&run_ids))
                    .filter(runs::status.eq(RunStatus::Running.as_str()))
            };
            diesel::update(running())
                .set(runs::heartbeat_at.eq(Utc::now().naive_utc()))
                .execute(conn)?;
            Ok(running().select(runs::id).load(conn)?)
        })
        .await
    }

    /// Whether the thread has a running run, in any process.
    pub async fn has_running_run(&self, thread_id: &str) -> Result<bool, StoreError> {
        let thread_id = thread_id.to_owned();
        self.read_conn(move |conn| {
            let running: i64 = runs::table
                .filter(runs::thread_id.eq(&thread_id))
                .filter(runs::status.eq(RunStatus::Running.as_str()))
                .count()
                .get_result(conn)?;
            Ok(running > 0)
        })
        .await
    }

    /// Running runs last refreshed before `before`; every running run when `None`.
    pub async fn stale_runs(
        &self,
        before: Option<NaiveDateTime>,
    ) -> Result<Vec<StaleRun>, StoreError> {
        let before = before.unwrap_or(NEVER);
        self.with_conn(move |conn| Ok(stale_runs_query(before).load(conn)?))
            .await
    }

    /// Marks a stale run interrupted for `reason` and adds `items` to its thread, counting it
    /// in its day's usage, all in one transaction; `false` (and nothing written) when the run
    /// is no longer running or was refreshed since `before`, e.g. another process got to it
    /// first.
    pub async fn interrupt_run(
        &self,
        run_id: &str,
        before: Option<NaiveDateTime>,
        reason: String,
        items: Vec<ThreadItem>,
    ) -> Result<bool, StoreError> {
        let run_id = run_id.to_owned();
        let rows = items
            .iter()
            .map(ItemRow::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let mut update = diesel::update(runs::table)
                    .filter(runs::id.eq(&run_id))
                    .filter(runs::status.eq(RunStatus::Running.as_str()))
                    .into_boxed();
                if let Some(before) = before {
                    update = update.filter(
                        runs::heartbeat_at
                            .lt(before)
                            .or(runs::heartbeat_at.is_null()),
                    );
                }
                let marked = update
                    .set((
                        runs::status.eq(RunStatus::Interrupted.as_str()),
                        runs::finished_at.eq(Utc::now().naive_utc()),
                        runs::error.eq(reason),
                    ))
                    .execute(conn)?;
                if marked == 0 {
                    return Ok(false);
                }
                for row in &rows {
                    diesel::insert_into(items::table)
                        .values(row)
                        .execute(conn)?;
                }
                AddUsage::of(conn, &run_id).execute(conn)?;
                Ok(true)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use diesel::sql_types::Text;
    use diesel::sqlite::Sqlite;

    use super::*;
    use crate::store::test_db::each_backend;

    #[derive(QueryableByName)]
    struct PlanStep {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    /// The heartbeat's query reads the running runs' partial index, on a connection set up as
    /// the pool sets up every one (planner stability on), not an index of every run. SQLite
    /// only: Postgres picks its plan from the table's statistics.
    #[tokio::test]
    async fn stale_runs_read_only_the_running_runs() {
        let sqlite = each_backend().into_iter().next().unwrap();
        let store = Store::connect(&sqlite.url, 1).unwrap();
        let query = diesel::debug_query::<Sqlite, _>(&stale_runs_query(NEVER)).to_string();
        let sql = query.split(" -- binds").next().unwrap().to_owned();
        let plan: Vec<String> = store
            .with_conn(move |conn| {
                let steps = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                    .load::<PlanStep>(conn)?;
                Ok(steps.into_iter().map(|s| s.detail).collect())
            })
            .await
            .unwrap();
        assert_eq!(plan, ["SCAN runs USING INDEX runs_running_started"]);
    }
}
