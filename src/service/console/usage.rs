//! Usage and cost: what the runs of a range of days used, by day, agent, model and user, with
//! the time to first words and who ran into a rate limit; a CSV of the day rows; and the price
//! table that turns tokens into cost (admins change it; every change is audited).

use chrono::NaiveDate;
use serde_json::json;

use super::audit::AuditService;
use super::{Actor, ConsoleError};
use crate::store::{AgentRow, ModelPrice, Store, UsageFilter, UsageLine, UsageReport};

/// The longest range one report covers.
pub const MAX_DAYS: i64 = 366;
/// Prices above this many dollars per million tokens are typing mistakes.
const MAX_DOLLARS_PER_MTOK: i64 = 100_000;
/// The longest model name kept.
const MAX_MODEL_CHARS: usize = 200;

#[derive(Clone)]
pub struct UsageService {
    store: Store,
    audit: AuditService,
}

/// A report with what it needs to name things.
pub struct UsageOverview {
    pub report: UsageReport,
    pub agents: Vec<AgentRow>,
    pub prices: Vec<ModelPrice>,
}

impl UsageService {
    pub fn new(store: Store, audit: AuditService) -> Self {
        UsageService { store, audit }
    }

    /// The report of `filter`, the agents (for names and the filter) and the prices.
    pub async fn overview(&self, filter: &UsageFilter) -> Result<UsageOverview, ConsoleError> {
        check_range(filter)?;
        Ok(UsageOverview {
            report: self.store.usage_report(filter).await?,
            agents: self.store.console_agents().await?,
            prices: self.store.model_prices().await?,
        })
    }

    /// The day rows of `filter` as CSV: one line per day, agent, model and user.
    pub async fn csv(&self, filter: &UsageFilter) -> Result<String, ConsoleError> {
        check_range(filter)?;
        let lines = self.store.usage_lines(filter).await?;
        let agents = self.store.console_agents().await?;
        Ok(to_csv(&lines, &agents))
    }

    /// Sets the prices of `model` from dollars per million tokens as typed; both empty removes
    /// them (its runs are then not priced). Admins only; audited with before and after.
    pub async fn set_price(
        &self,
        actor: &Actor,
        model: &str,
        input: &str,
        output: &str,
    ) -> Result<(), ConsoleError> {
        actor.require_admin()?;
        let model = model.trim();
        if model.is_empty() || model.chars().count() > MAX_MODEL_CHARS {
            return Err(ConsoleError::InvalidInput(
                "model",
                format!("a model name of 1 to {MAX_MODEL_CHARS} characters"),
            ));
        }
        let prices = match (input.trim(), output.trim()) {
            ("", "") => None,
            (input, output) => Some((
                dollars_to_micros(input).map_err(|m| ConsoleError::InvalidInput("input", m))?,
                dollars_to_micros(output).map_err(|m| ConsoleError::InvalidInput("output", m))?,
            )),
        };
        let before = self.store.set_model_price(model, prices).await?;
        let after = prices.map(|(input, output)| {
            json!({"input_micros_per_mtok": input, "output_micros_per_mtok": output})
        });
        self.audit
            .record(
                actor,
                "model_price_set",
                Some("model"),
                Some(model),
                json!({ "before": before, "after": after }),
            )
            .await?;
        Ok(())
    }
}

fn check_range(filter: &UsageFilter) -> Result<(), ConsoleError> {
    let days = (filter.until - filter.from).num_days();
    if days < 0 {
        return Err(ConsoleError::InvalidInput(
            "until",
            "the range ends before it starts".to_owned(),
        ));
    }
    if days >= MAX_DAYS {
        return Err(ConsoleError::InvalidInput(
            "from",
            format!("a range of at most {MAX_DAYS} days"),
        ));
    }
    Ok(())
}

/// `"2.5"` dollars -> 2,500,000 millionths; at most six decimals, not negative.
pub fn dollars_to_micros(text: &str) -> Result<i64, String> {
    let bad = || format!("'{text}' is not a price in dollars, like 2.50");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(bad());
    }
    if fraction.len() > 6 {
        return Err(format!("'{text}' has more than six decimals"));
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    if whole > MAX_DOLLARS_PER_MTOK {
        return Err(format!(
            "'{text}' is more than {MAX_DOLLARS_PER_MTOK} dollars per million tokens"
        ));
    }
    let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| bad())?;
    Ok(whole * 1_000_000 + fraction)
}

/// Millionths of a dollar as dollars with as many decimals as needed (2 at least).
pub fn micros_to_dollars(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    let fraction = format!("{:06}", micros % 1_000_000);
    let trimmed = fraction.trim_end_matches('0');
    let shown = if trimmed.len() < 2 {
        &fraction[..2]
    } else {
        trimmed
    };
    format!("{sign}{}.{shown}", micros / 1_000_000)
}

fn to_csv(lines: &[UsageLine], agents: &[AgentRow]) -> String {
    let mut out = String::from(
        "day,agent,model,user,runs,failed_runs,prompt_tokens,completion_tokens,cost_usd\r\n",
    );
    for line in lines {
        let agent = agents
            .iter()
            .find(|a| a.id == line.agent_id)
            .map_or(line.agent_id.as_str(), |a| a.slug.as_str());
        let t = &line.totals;
        let cells = [
            day_text(line.day),
            cell(agent),
            cell(&line.model),
            cell(&line.user_id),
            t.runs.to_string(),
            t.failed_runs.to_string(),
            t.prompt_tokens.to_string(),
            t.completion_tokens.to_string(),
            micros_to_dollars(t.cost_micros),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// A text cell: quoted when it holds a separator, a quote or a line break; and led by `'`
/// when a spreadsheet would take it for a formula (user ids are chosen by users).
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_parsed_as_dollars() {
        assert_eq!(dollars_to_micros("2.5"), Ok(2_500_000));
        assert_eq!(dollars_to_micros("0.15"), Ok(150_000));
        assert_eq!(dollars_to_micros(".000001"), Ok(1));
        assert_eq!(dollars_to_micros("10"), Ok(10_000_000));
        for bad in ["", ".", "-1", "1e3", "1,5", "abc", "1.0000001", "100001"] {
            assert!(dollars_to_micros(bad).is_err(), "{bad}");
        }
        assert_eq!(micros_to_dollars(2_500_000), "2.50");
        assert_eq!(micros_to_dollars(7_500), "0.0075");
        assert_eq!(micros_to_dollars(0), "0.00");
        assert_eq!(micros_to_dollars(-1), "-0.000001");
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(cell("ann"), "ann");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("-1,2"), "\"'-1,2\"");
    }
}
