//! `/admin/audit`: the audit log, newest first, filtered by operator, action, object and date
//! range, paged by keyset ("Older" carries the last row's id). Read-only: nothing here or
//! anywhere changes a row.

use crate::routes::admin::session::Chrome;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::error::list_link;
use super::render::{Flash, pretty_json};
use super::session::{AdminError, Console, render};
use crate::routes::AppState;
use crate::store::{AuditEntry, AuditFilter};

/// Rows per page.
const PAGE_SIZE: usize = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(audit_page));
}

/// The query string: every filter optional; dates as `YYYY-MM-DD` (UTC days, both included).
#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    operator: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    object_type: String,
    #[serde(default)]
    object_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    after: String,
}

struct EntryView {
    at_iso: String,
    at_text: String,
    operator: Option<String>,
    ip: Option<String>,
    action: String,
    object: Option<String>,
    /// Escaped, pretty-printed JSON; `None` for an empty object.
    detail_html: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    query: &'a AuditQuery,
    actions: Vec<String>,
    entries: Vec<EntryView>,
    /// Link to the next (older) page, with the same filters.
    older: Option<String>,
    /// Whether this is a later page (offer a way back to the first).
    paged: bool,
    /// Link to the first page with the same filters.
    first: String,
    filtered: bool,
}

/// `GET /admin/audit`.
async fn audit_page(
    state: web::Data<AppState>,
    console: Console,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let filter = AuditFilter {
        operator_email: some(&query.operator),
        action: some(&query.action),
        object_type: some(&query.object_type),
        object_id: some(&query.object_id),
        from: day(&query.from, 0, "From", &mut problems),
        until: day(&query.until, 1, "Until", &mut problems),
    };
    let after = some(&query.after);
    let page = state.audit.page(&filter, PAGE_SIZE, after.clone()).await?;
    let older = page.after.as_deref().map(|last| link(&query, Some(last)));
    let entries = page.data.iter().map(view).collect();
    let page = AuditPage {
        chrome: console.chrome("audit").await,
        flash: (!problems.is_empty()).then(|| Flash::error(problems.join(" "))),
        actions: state.audit.actions().await?,
        entries,
        older,
        paged: after.is_some(),
        first: link(&query, None),
        filtered: filter != AuditFilter::default(),
        query: &query,
    };
    render(&page)
}

/// The trimmed value, `None` when empty (an unset filter).
pub(super) fn some(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// The start of the UTC day `raw` names, plus `offset_days` (1 for an inclusive "until").
pub(super) fn day(
    raw: &str,
    offset_days: u64,
    label: &str,
    problems: &mut Vec<String>,
) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_days(chrono::Days::new(offset_days)))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    if parsed.is_none() {
        problems.push(format!(
            "{label}: '{raw}' is not a date like 2026-01-31; ignored."
        ));
    }
    parsed
}

/// `/admin/audit?…` with the query's filters and, for a later page, `after`.
fn link(query: &AuditQuery, after: Option<&str>) -> String {
    let pairs = [
        ("operator", query.operator.as_str()),
        ("action", query.action.as_str()),
        ("object_type", query.object_type.as_str()),
        ("object_id", query.object_id.as_str()),
        ("from", query.from.as_str()),
        ("until", query.until.as_str()),
        ("after", after.unwrap_or("")),
    ];
    list_link("/admin/audit", &pairs)
}

fn view(entry: &AuditEntry) -> EntryView {
    let empty = entry.detail.as_object().is_some_and(|o| o.is_empty()) || entry.detail.is_null();
    EntryView {
        at_iso: entry.at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        at_text: entry.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        operator: entry.operator_email.clone(),
        ip: entry.ip.clone(),
        action: entry.action.clone(),
        object: match (&entry.object_type, &entry.object_id) {
            (Some(t), Some(id)) => Some(format!("{t} {id}")),
            (Some(t), None) => Some(t.clone()),
            (None, Some(id)) => Some(id.clone()),
            (None, None) => None,
        },
        detail_html: (!empty).then(|| pretty_json(&entry.detail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_links_keep_the_filters_and_encode_them() {
        let query = AuditQuery {
            operator: "a+b@example.com".into(),
            action: "login_failed".into(),
            from: "2026-11-01".into(),
            ..Default::default()
        };
        assert_eq!(
            link(&query, Some("aud_1")),
            "/admin/audit?operator=a%2Bb%40example.com&action=login_failed&from=2026-11-01&after=aud_1"
        );
        assert_eq!(link(&AuditQuery::default(), None), "/admin/audit");
    }

    #[test]
    fn dates_are_utc_days_with_until_included() {
        let mut problems = Vec::new();
        let from = day("2026-11-29", 0, "From", &mut problems).unwrap();
        let until = day("2026-11-29", 1, "Until", &mut problems).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-11-29T00:00:00+00:00");
        assert_eq!(until.to_rfc3339(), "2026-11-30T00:00:00+00:00");
        assert!(problems.is_empty());
        assert_eq!(day("29/11/2026", 0, "From", &mut problems), None);
        assert_eq!(problems.len(), 1);
    }
}
