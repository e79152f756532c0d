//! The record of each assistant turn, for operators: model, tokens, duration, outcome; and
//! the usage of each day that quotas and cost reports read.

use chrono::Utc;
use diesel::prelude::*;

use diesel::dsl::sql;
use diesel::sql_types::BigInt;

use super::kept::{AddUsage, FinishRun};
use super::schema::{model_prices, runs, usage_days};
use super::{Store, StoreError};
use crate::chatkit::states::RunStatus;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = runs)]
pub struct RunRow {
    pub id: String,
    pub thread_id: String,
    #[diesel(deserialize_as = String)]
    pub status: RunStatus,
    pub model: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub started_at: chrono::NaiveDateTime,
    pub finished_at: Option<chrono::NaiveDateTime>,
    pub error: Option<String>,
    pub partial_text: Option<String>,
    /// Oldest items of the thread left out of the model's input to fit its context budget.
    pub context_dropped: Option<i64>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub model: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub error: Option<String>,
    /// Assistant text that was streamed but not kept (failed turns).
    pub partial_text: Option<String>,
    /// Milliseconds from the run's start to its first text delta, when it wrote any.
    pub first_token_ms: Option<u64>,
    /// Items of the thread left out of the model's input (`None`: none were).
    pub context_dropped: Option<u64>,
}

fn tokens(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Millionths of a dollar for the tokens at prices per million tokens, rounded to the nearest.
fn cost_micros(prompt: u64, completion: u64, input_per_mtok: i64, output_per_mtok: i64) -> i64 {
    let total = (i128::from(prompt).checked_mul(i128::from(input_per_mtok)))
        .and_then(|input| {
            i128::from(completion)
                .checked_mul(i128::from(output_per_mtok))
                .and_then(|output| input.checked_add(output))
        })
        .and_then(|total| total.checked_add(500_000));
    total.map_or(i64::MAX, |total| {
        i64::try_from(total / 1_000_000).unwrap_or(i64::MAX)
    })
}

impl Store {
    /// Records that a run started, with no owning process (threads are checked by the caller);
    /// runs of the server are claimed with [`Store::claim_run`].
    pub async fn start_run(&self, run_id: &str, thread_id: &str) -> Result<(), StoreError> {
        let (run_id, thread_id) = (run_id.to_owned(), thread_id.to_owned());
        self.with_conn(move |conn| {
            diesel::insert_into(runs::table)
                .values((
                    runs::id.eq(run_id),
                    runs::thread_id.eq(thread_id),
                    runs::status.eq(RunStatus::Running.as_str()),
                    runs::started_at.eq(Utc::now().naive_utc()),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Records how a run ended, and adds it to its day's usage in the same transaction.
    pub async fn finish_run(&self, run_id: &str, outcome: RunOutcome) -> Result<(), StoreError> {
        let run_id = run_id.to_owned();
        self.write_conn(move |conn| {
            // Reads the price before writing: on SQLite the write lock is taken up front, or
            // runs ending together fail with "database is locked".
            super::db::write_transaction(conn, |conn| {
                let price = match &outcome.model {
                    Some(model) => model_prices::table
                        .find(model)
                        .select((
                            model_prices::input_micros_per_mtok,
                            model_prices::output_micros_per_mtok,
                        ))
                        .first::<(i64, i64)>(conn)
                        .optional()?,
                    None => None,
                };
                let cost = price.map(|(input, output)| {
                    cost_micros(
                        outcome.prompt_tokens,
                        outcome.completion_tokens,
                        input,
                        output,
                    )
                });
                FinishRun {
                    id: &run_id,
                    status: outcome.status.as_str(),
                    model: &outcome.model,
                    prompt_tokens: tokens(outcome.prompt_tokens),
                    completion_tokens: tokens(outcome.completion_tokens),
                    finished_at: Utc::now().naive_utc(),
                    error: &outcome.error,
                    partial_text: &outcome.partial_text,
                    first_token_ms: outcome.first_token_ms.map(tokens),
                    cost_micros: cost,
                    context_dropped: outcome.context_dropped.map(tokens),
                }
                .execute(conn)?;
                AddUsage::of(conn, &run_id).execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    /// The runs of a thread, oldest first.
    pub async fn load_runs(&self, thread_id: &str) -> Result<Vec<RunRow>, StoreError> {
        let thread_id = thread_id.to_owned();
        self.with_conn(move |conn| {
            Ok(runs::table
                .filter(runs::thread_id.eq(thread_id))
                .order((runs::started_at.asc(), runs::id.asc()))
                .select(RunRow::as_select())
                .load(conn)?)
        })
        .await
    }

    /// Prompt plus completion tokens of the runs started on `day` (UTC) in threads of
    /// `account_id` (of `user_id` alone, of `agent_id` alone, when given): what a daily quota
    /// counts. Read from the
    /// day's usage, which deleting threads does not lower, and which every process sharing the
    /// database sees.
    pub async fn tokens_on(
        &self,
        account_id: &str,
        user_id: Option<&str>,
        agent_id: Option<&str>,
        day: chrono::NaiveDate,
    ) -> Result<u64, StoreError> {
        let (account_id, user_id) = (account_id.to_owned(), user_id.map(str::to_owned));
        let agent_id = agent_id.map(str::to_owned);
        self.with_conn(move |conn| {
            // SUM of a BIGINT is NUMERIC on Postgres; the cast makes it BIGINT on both.
            let total = sql::<BigInt>(
                "CAST(COALESCE(SUM(usage_days.prompt_tokens + usage_days.completion_tokens), 0) \
                 AS BIGINT)",
            );
            let mut query = usage_days::table
                .filter(usage_days::day.eq(day))
                .filter(usage_days::account_id.eq(account_id))
                .select(total)
                .into_boxed();
            if let Some(user_id) = user_id {
                query = query.filter(usage_days::user_id.eq(user_id));
            }
            if let Some(agent_id) = agent_id {
                query = query.filter(usage_days::agent_id.eq(agent_id));
            }
            let total: i64 = query.first(conn)?;
            Ok(u64::try_from(total).unwrap_or(0))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::cost_micros;

    #[test]
    fn costs_are_millionths_of_a_dollar_rounded() {
        // 1,000 tokens in at $2.50 and 500 out at $10 per million: $0.0025 + $0.005.
        assert_eq!(cost_micros(1_000, 500, 2_500_000, 10_000_000), 7_500);
        assert_eq!(cost_micros(1, 0, 400_000, 0), 0);
        assert_eq!(cost_micros(2, 0, 400_000, 0), 1);
        assert_eq!(
            cost_micros(u64::MAX, u64::MAX, i64::MAX, i64::MAX),
            i64::MAX
        );
    }
}
