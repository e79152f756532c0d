//! `/admin/usage`: tokens, cost, failures and time to first words of the runs that started in
//! a range of UTC days (the last 30 by default), for all agents or one: totals, a chart of
//! tokens per day drawn here as SVG (no script, no chart library), tables by agent, model and
//! user, who ran into a rate limit, and the price table (admins set prices). `/admin/usage.csv`
//! downloads the day rows of the same filter.

use crate::routes::admin::session::Chrome;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Days, NaiveDate, Utc};
use serde::Deserialize;

use super::AgentOption;
use super::audit::some;
use super::error::{encode_component, list_link};
use super::render::{Flash, duration_text};
use super::session::{AdminError, Console, render, see_other};
use crate::routes::AppState;
use crate::service::console::ConsoleError;
use crate::service::console::usage::micros_to_dollars;
use crate::store::{UsageFilter, UsageTotals};

/// Days shown when the query names none.
const DEFAULT_DAYS: u64 = 30;
/// The chart's drawing area, in SVG units (it scales to the page's width).
const CHART_WIDTH: f64 = 720.0;
const CHART_HEIGHT: f64 = 180.0;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/usage", web::get().to(usage_page))
        .route("/usage.csv", web::get().to(usage_csv))
        .route("/usage/prices", web::post().to(set_price));
}

#[derive(Debug, Default, Deserialize)]
struct UsageQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    done: String,
}

#[derive(Deserialize)]
struct PriceForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    input: String,
    #[serde(default)]
    output: String,
}

/// A row of a table: what it is about and its sums, formatted.
struct Row {
    label: String,
    /// Where the label links (the user's threads), if anywhere.
    link: Option<String>,
    runs: i64,
    failed_runs: i64,
    prompt_tokens: String,
    completion_tokens: String,
    cost: String,
}

/// A day's bar: input tokens at the bottom, output above.
struct Bar {
    x: String,
    width: String,
    input_y: String,
    input_height: String,
    output_y: String,
    output_height: String,
    /// The tooltip: day and numbers.
    title: String,
}

struct PriceView {
    model: String,
    input: String,
    output: String,
    updated: String,
}

struct RefusalView {
    day: String,
    user_id: String,
    user_link: String,
    limit: String,
    refusals: i64,
}

#[derive(Template)]
#[template(path = "admin/usage.html")]
struct UsagePage<'a> {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    from: String,
    until: String,
    agent: &'a str,
    agents: Vec<AgentOption>,
    csv_link: String,
    total: Row,
    first_token_p50: String,
    first_token_p99: String,
    bars: Vec<Bar>,
    chart_max: String,
    chart_first_day: String,
    chart_last_day: String,
    by_agent: Vec<Row>,
    by_model: Vec<Row>,
    by_user: Vec<Row>,
    refusals: Vec<RefusalView>,
    prices: Vec<PriceView>,
    /// Models that ran but have no price, for the price form's suggestions.
    unpriced: Vec<String>,
}

/// The filter of a query: its days (or the last 30), its agent; problems noted.
fn filter_of(query: &UsageQuery, problems: &mut Vec<String>) -> UsageFilter {
    let today = Utc::now().date_naive();
    let mut parse = |raw: &str, label: &str, default: NaiveDate| match raw.trim() {
        "" => default,
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|_| {
            problems.push(format!(
                "{label}: '{text}' is not a date (YYYY-MM-DD); ignored."
            ));
            default
        }),
    };
    let until = parse(&query.until, "Until", today);
    let from = parse(
        &query.from,
        "From",
        until
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(until),
    );
    UsageFilter {
        from,
        until,
        agent_id: some(&query.agent),
    }
}

/// `GET /admin/usage`.
async fn usage_page(
    state: web::Data<AppState>,
    console: Console,
    query: web::Query<UsageQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let filter = filter_of(&query, &mut problems);
    let overview = state.usage.overview(&filter).await?;
    let report = &overview.report;
    let agent_label = |id: &str| {
        overview
            .agents
            .iter()
            .find(|a| a.id == id)
            .map_or_else(|| id.to_owned(), |a| format!("{} ({})", a.name, a.slug))
    };
    let (bars, chart_max) = chart(&report.days, filter.from, filter.until);
    let unpriced = report
        .models
        .iter()
        .map(|(model, _)| model)
        .filter(|m| !m.is_empty() && !overview.prices.iter().any(|p| &p.model == *m))
        .cloned()
        .collect();
    let flash = if problems.is_empty() {
        (query.done == "price").then(|| Flash::ok("Prices saved. Runs from now on use them."))
    } else {
        Some(Flash::error(problems.join(" ")))
    };
    let page = UsagePage {
        chrome: console.chrome("usage").await,
        flash,
        from: filter.from.format("%Y-%m-%d").to_string(),
        until: filter.until.format("%Y-%m-%d").to_string(),
        agent: query.agent.trim(),
        agents: overview.agents.iter().map(AgentOption::from).collect(),
        csv_link: link("/admin/usage.csv", &filter),
        total: row("All runs".to_owned(), None, &report.total),
        first_token_p50: millis(report.first_token_p50_ms),
        first_token_p99: millis(report.first_token_p99_ms),
        bars,
        chart_max,
        chart_first_day: filter.from.format("%b %-d").to_string(),
        chart_last_day: filter.until.format("%b %-d").to_string(),
        by_agent: report
            .agents
            .iter()
            .map(|(id, t)| row(agent_label(id), None, t))
            .collect(),
        by_model: report
            .models
            .iter()
            .map(|(model, t)| {
                let label = if model.is_empty() {
                    "(no model reached)".to_owned()
                } else {
                    model.clone()
                };
                row(label, None, t)
            })
            .collect(),
        by_user: report
            .users
            .iter()
            .map(|(user, t)| row(user.clone(), Some(user_link(user)), t))
            .collect(),
        refusals: report
            .refusals
            .iter()
            .map(|r| RefusalView {
                day: r.day.format("%Y-%m-%d").to_string(),
                user_id: r.user_id.clone(),
                user_link: user_link(&r.user_id),
                limit: r.limit_kind.clone(),
                refusals: r.refusals,
            })
            .collect(),
        prices: overview
            .prices
            .iter()
            .map(|p| PriceView {
                model: p.model.clone(),
                input: micros_to_dollars(p.input_micros_per_mtok),
                output: micros_to_dollars(p.output_micros_per_mtok),
                updated: p.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
        unpriced,
    };
    render(&page)
}

/// `GET /admin/usage.csv`: the day rows of the filter, as a download.
async fn usage_csv(
    state: web::Data<AppState>,
    _console: Console,
    query: web::Query<UsageQuery>,
) -> Result<HttpResponse, AdminError> {
    let mut problems = Vec::new();
    let filter = filter_of(&query, &mut problems);
    if let Some(problem) = problems.into_iter().next() {
        return Err(ConsoleError::InvalidInput("from", problem).into());
    }
    let csv = state.usage.csv(&filter).await?;
    let name = format!("usage-{}-{}.csv", filter.from, filter.until);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name)],
        })
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(csv))
}

/// `POST /admin/usage/prices`: sets (or with both prices empty, removes) a model's prices.
async fn set_price(
    state: web::Data<AppState>,
    console: Console,
    form: web::Form<PriceForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    state
        .usage
        .set_price(&console.actor(), &form.model, &form.input, &form.output)
        .await?;
    Ok(see_other("/admin/usage?done=price#prices"))
}

fn link(path: &str, filter: &UsageFilter) -> String {
    let (from, until) = (filter.from.to_string(), filter.until.to_string());
    let pairs = [
        ("from", from.as_str()),
        ("until", until.as_str()),
        ("agent", filter.agent_id.as_deref().unwrap_or("")),
    ];
    list_link(path, &pairs)
}

fn user_link(user: &str) -> String {
    format!("/admin/threads?user={}", encode_component(user))
}

fn row(label: String, link: Option<String>, t: &UsageTotals) -> Row {
    Row {
        label,
        link,
        runs: t.runs,
        failed_runs: t.failed_runs,
        prompt_tokens: thousands(t.prompt_tokens),
        completion_tokens: thousands(t.completion_tokens),
        cost: format!("${}", micros_to_dollars(t.cost_micros)),
    }
}

fn millis(ms: Option<i64>) -> String {
    ms.map_or_else(|| "–".to_owned(), duration_text)
}

/// `1234567` -> `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// One bar per day of the range (days without runs have none), scaled to the busiest day;
/// and the busiest day's tokens, for the axis.
fn chart(
    days: &[(NaiveDate, UsageTotals)],
    from: NaiveDate,
    until: NaiveDate,
) -> (Vec<Bar>, String) {
    let count = (until - from).num_days().max(0) + 1;
    let slot = CHART_WIDTH / count as f64;
    let max = days
        .iter()
        .map(|(_, t)| t.prompt_tokens + t.completion_tokens)
        .max()
        .unwrap_or(0);
    if max == 0 {
        return (Vec::new(), "0".to_owned());
    }
    let scale = CHART_HEIGHT / max as f64;
    let bars = days
        .iter()
        .map(|(day, t)| {
            let index = (*day - from).num_days() as f64;
            let input = t.prompt_tokens as f64 * scale;
            let output = t.completion_tokens as f64 * scale;
            Bar {
                x: format!("{:.2}", index * slot + slot * 0.15),
                width: format!("{:.2}", slot * 0.7),
                input_y: format!("{:.2}", CHART_HEIGHT - input),
                input_height: format!("{input:.2}"),
                output_y: format!("{:.2}", CHART_HEIGHT - input - output),
                output_height: format!("{output:.2}"),
                title: format!(
                    "{}: {} tokens in, {} out, {} runs",
                    day.format("%Y-%m-%d"),
                    thousands(t.prompt_tokens),
                    thousands(t.completion_tokens),
                    t.runs
                ),
            }
        })
        .collect();
    (bars, thousands(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(millis(Some(420)), "420 ms");
        assert_eq!(millis(Some(1_260)), "1.3 s");
        assert_eq!(millis(None), "–");
    }

    #[test]
    fn bars_fill_the_chart_at_the_busiest_day() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let totals = |p, c| UsageTotals {
            prompt_tokens: p,
            completion_tokens: c,
            ..Default::default()
        };
        let (bars, max) = chart(
            &[(day(1), totals(90, 10)), (day(3), totals(25, 25))],
            day(1),
            day(4),
        );
        assert_eq!(max, "100");
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].output_y, "0.00", "the busiest day reaches the top");
        assert_eq!(bars[1].input_height, "45.00");
        assert_eq!(bars[1].x, "387.00", "the third of four slots");
    }
}
