//! Usage for the console: the day rows that runs add to as they end (`usage_days`, written in
//! `runs.rs`), summed by day, agent, model and user over a range of days; the time to first
//! words of the runs in that range; model prices; and the refusals of the rate limits.

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::dsl::{sql, sql_query};
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Text};

use super::db::{AnyConnection, MultiBackend};
use super::schema::{limit_refusals, model_prices, runs, threads, usage_days};
use super::{Store, StoreError};

/// Which usage: UTC days `from..=until`, of one agent or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageFilter {
    pub from: NaiveDate,
    pub until: NaiveDate,
    pub agent_id: Option<String>,
}

/// Sums over some day rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    pub runs: i64,
    pub failed_runs: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
}

/// One line of the CSV export: a day, agent, model and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLine {
    pub day: NaiveDate,
    pub agent_id: String,
    pub model: String,
    pub user_id: String,
    pub totals: UsageTotals,
}

/// Everything the usage page shows for a filter.
#[derive(Debug, Clone, Default)]
pub struct UsageReport {
    pub total: UsageTotals,
    /// Days that had runs, oldest first.
    pub days: Vec<(NaiveDate, UsageTotals)>,
    /// Agent ids, most tokens first.
    pub agents: Vec<(String, UsageTotals)>,
    /// Models (empty when a run never reached one), most tokens first.
    pub models: Vec<(String, UsageTotals)>,
    /// The users with most tokens, at most [`TOP_USERS`].
    pub users: Vec<(String, UsageTotals)>,
    /// Milliseconds to the first words, over the runs that wrote any.
    pub first_token_p50_ms: Option<i64>,
    pub first_token_p99_ms: Option<i64>,
    /// Who ran into which limit, most refusals first, at most [`TOP_REFUSALS`].
    pub refusals: Vec<RefusalCount>,
}

/// Refusals of one limit for one user on one day.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct RefusalCount {
    pub day: NaiveDate,
    pub account_id: String,
    pub user_id: String,
    pub limit_kind: String,
    pub refusals: i64,
}

/// A model's prices, in millionths of a dollar per million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, serde::Serialize)]
pub struct ModelPrice {
    pub model: String,
    pub input_micros_per_mtok: i64,
    pub output_micros_per_mtok: i64,
    #[serde(skip)]
    pub updated_at: NaiveDateTime,
}

pub const TOP_USERS: i64 = 20;
pub const TOP_REFUSALS: i64 = 50;

type Sum = SqlLiteral<BigInt>;

/// The five sums of the rows a query groups (BIGINT on both databases: Postgres sums BIGINT
/// into NUMERIC).
fn sums() -> (Sum, Sum, Sum, Sum, Sum) {
    (
        sql("CAST(SUM(usage_days.runs) AS BIGINT)"),
        sql("CAST(SUM(usage_days.failed_runs) AS BIGINT)"),
        sql("CAST(SUM(usage_days.prompt_tokens) AS BIGINT)"),
        sql("CAST(SUM(usage_days.completion_tokens) AS BIGINT)"),
        sql("CAST(SUM(usage_days.cost_micros) AS BIGINT)"),
    )
}

fn totals((runs, failed_runs, prompt_tokens, completion_tokens, cost_micros): Sums) -> UsageTotals {
    UsageTotals {
        runs,
        failed_runs,
        prompt_tokens,
        completion_tokens,
        cost_micros,
    }
}

type Sums = (i64, i64, i64, i64, i64);

/// Most tokens first.
const BY_TOKENS: &str = "SUM(usage_days.prompt_tokens + usage_days.completion_tokens) DESC";

/// The day rows of `filter`.
fn rows_of(
    filter: &UsageFilter,
) -> Box<dyn BoxableExpression<usage_days::table, MultiBackend, SqlType = Bool>> {
    let days = usage_days::day
        .ge(filter.from)
        .and(usage_days::day.le(filter.until));
    match &filter.agent_id {
        Some(agent_id) => Box::new(days.and(usage_days::agent_id.eq(agent_id.clone()))),
        None => Box::new(days),
    }
}

fn report(conn: &mut AnyConnection, filter: &UsageFilter) -> Result<UsageReport, StoreError> {
    let days: Vec<(NaiveDate, Sums)> = usage_days::table
        .filter(rows_of(filter))
        .group_by(usage_days::day)
        .select((usage_days::day, sums()))
        .order(usage_days::day.asc())
        .load(conn)?;
    let agents: Vec<(String, Sums)> = usage_days::table
        .filter(rows_of(filter))
        .group_by(usage_days::agent_id)
        .select((usage_days::agent_id, sums()))
        .order(sql::<BigInt>(BY_TOKENS))
        .load(conn)?;
    let models: Vec<(String, Sums)> = usage_days::table
        .filter(rows_of(filter))
        .group_by(usage_days::model)
        .select((usage_days::model, sums()))
        .order(sql::<BigInt>(BY_TOKENS))
        .load(conn)?;
    let users: Vec<(String, Sums)> = usage_days::table
        .filter(rows_of(filter))
        .group_by(usage_days::user_id)
        .select((usage_days::user_id, sums()))
        .order(sql::<BigInt>(BY_TOKENS))
        .limit(TOP_USERS)
        .load(conn)?;
    let mut total = UsageTotals::default();
    for (_, sums) in &days {
        let day = totals(*sums);
        total.runs += day.runs;
        total.failed_runs += day.failed_runs;
        total.prompt_tokens += day.prompt_tokens;
        total.completion_tokens += day.completion_tokens;
        total.cost_micros += day.cost_micros;
    }
    let (p50, p99) = first_token_percentiles(conn, filter)?;
    let refusals = limit_refusals::table
        .filter(limit_refusals::day.ge(filter.from))
        .filter(limit_refusals::day.le(filter.until))
        .order((
            limit_refusals::refusals.desc(),
            limit_refusals::day.desc(),
            limit_refusals::user_id.asc(),
        ))
        .limit(TOP_REFUSALS)
        .load(conn)?;
    let pairs = |rows: Vec<(String, Sums)>| {
        rows.into_iter()
            .map(|(key, sums)| (key, totals(sums)))
            .collect()
    };
    Ok(UsageReport {
        total,
        days: days
            .into_iter()
            .map(|(day, sums)| (day, totals(sums)))
            .collect(),
        agents: pairs(agents),
        models: pairs(models),
        users: pairs(users),
        first_token_p50_ms: p50,
        first_token_p99_ms: p99,
        refusals,
    })
}

/// The median and 99th percentile (nearest rank) of the time to first words of the runs that
/// started in the filter's days: counted, then each read at its rank from the sorted times.
fn first_token_percentiles(
    conn: &mut AnyConnection,
    filter: &UsageFilter,
) -> Result<(Option<i64>, Option<i64>), StoreError> {
    let start = filter.from.and_hms_opt(0, 0, 0).unwrap_or_default();
    let end = filter
        .until
        .succ_opt()
        .unwrap_or(filter.until)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    macro_rules! timed_runs {
        () => {{
            let mut query = runs::table
                .inner_join(threads::table)
                .filter(runs::started_at.ge(start))
                .filter(runs::started_at.lt(end))
                .filter(runs::first_token_ms.is_not_null())
                .into_boxed();
            if let Some(agent_id) = &filter.agent_id {
                query = query.filter(threads::agent_id.eq(agent_id.clone()));
            }
            query
        }};
    }
    let n: i64 = timed_runs!().count().get_result(conn)?;
    if n == 0 {
        return Ok((None, None));
    }
    let mut at_rank = |percent: i64| -> Result<Option<i64>, StoreError> {
        // Nearest rank: the smallest value with at least `percent`% of the values at or below it.
        let rank = ((n * percent + 99) / 100).max(1);
        Ok(timed_runs!()
            .select(runs::first_token_ms)
            .order(runs::first_token_ms.asc())
            .offset(rank - 1)
            .limit(1)
            .first::<Option<i64>>(conn)?)
    };
    Ok((at_rank(50)?, at_rank(99)?))
}

impl Store {
    /// Usage over the filter's days: totals, by day, agent, model and top user; time to first
    /// words; refusals of the limits.
    pub async fn usage_report(&self, filter: &UsageFilter) -> Result<UsageReport, StoreError> {
        let filter = filter.clone();
        self.with_conn(move |conn| report(conn, &filter)).await
    }

    /// Every day row of the filter, by day, agent, model and user: the CSV export.
    pub async fn usage_lines(&self, filter: &UsageFilter) -> Result<Vec<UsageLine>, StoreError> {
        let filter = filter.clone();
        self.with_conn(move |conn| {
            let rows: Vec<(NaiveDate, String, String, String, Sums)> = usage_days::table
                .filter(rows_of(&filter))
                .order((
                    usage_days::day.asc(),
                    usage_days::agent_id.asc(),
                    usage_days::model.asc(),
                    usage_days::user_id.asc(),
                ))
                .select((
                    usage_days::day,
                    usage_days::agent_id,
                    usage_days::model,
                    usage_days::user_id,
                    (
                        usage_days::runs,
                        usage_days::failed_runs,
                        usage_days::prompt_tokens,
                        usage_days::completion_tokens,
                        usage_days::cost_micros,
                    ),
                ))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|(day, agent_id, model, user_id, sums)| UsageLine {
                    day,
                    agent_id,
                    model,
                    user_id,
                    totals: totals(sums),
                })
                .collect())
        })
        .await
    }

    /// The price table, by model.
    pub async fn model_prices(&self) -> Result<Vec<ModelPrice>, StoreError> {
        self.with_conn(|conn| {
            Ok(model_prices::table
                .order(model_prices::model.asc())
                .load(conn)?)
        })
        .await
    }

    /// Sets a model's prices (`None` removes them); returns the prices it had, for the audit.
    pub async fn set_model_price(
        &self,
        model: &str,
        prices: Option<(i64, i64)>,
    ) -> Result<Option<ModelPrice>, StoreError> {
        let model = model.to_owned();
        self.with_conn(move |conn| {
            conn.transaction(|conn| {
                let before: Option<ModelPrice> =
                    model_prices::table.find(&model).first(conn).optional()?;
                diesel::delete(model_prices::table.find(&model)).execute(conn)?;
                if let Some((input, output)) = prices {
                    diesel::insert_into(model_prices::table)
                        .values((
                            model_prices::model.eq(&model),
                            model_prices::input_micros_per_mtok.eq(input),
                            model_prices::output_micros_per_mtok.eq(output),
                            model_prices::updated_at.eq(Utc::now().naive_utc()),
                        ))
                        .execute(conn)?;
                }
                Ok(before)
            })
        })
        .await
    }

    /// Adds refusals of the rate limits to their day rows.
    pub async fn add_refusals(&self, counts: Vec<RefusalCount>) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let sql = match conn {
                AnyConnection::Sqlite(_) => REFUSALS_UPSERT_SQLITE,
                AnyConnection::Postgresql(_) => REFUSALS_UPSERT_POSTGRES,
            };
            conn.transaction(|conn| {
                for count in counts {
                    sql_query(sql)
                        .bind::<Date, _>(count.day)
                        .bind::<Text, _>(count.account_id)
                        .bind::<Text, _>(count.user_id)
                        .bind::<Text, _>(count.limit_kind)
                        .bind::<BigInt, _>(count.refusals)
                        .execute(conn)?;
                }
                Ok(())
            })
        })
        .await
    }
}

const REFUSALS_UPSERT_SQLITE: &str = "INSERT INTO limit_refusals \
    (day, account_id, user_id, limit_kind, refusals) VALUES (?, ?, ?, ?, ?) \
    ON CONFLICT (day, account_id, user_id, limit_kind) \
    DO UPDATE SET refusals = limit_refusals.refusals + excluded.refusals";
const REFUSALS_UPSERT_POSTGRES: &str = "INSERT INTO limit_refusals \
    (day, account_id, user_id, limit_kind, refusals) VALUES ($1, $2, $3, $4, $5) \
    ON CONFLICT (day, account_id, user_id, limit_kind) \
    DO UPDATE SET refusals = limit_refusals.refusals + excluded.refusals";
