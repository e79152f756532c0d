//! `/admin/webhooks`: the human-input webhook deliveries, newest first, filtered by status and
//! event, paged by keyset ("Older" carries the last row's id); every operator may look. Admins
//! get "Retry now" on pending and failed ones: a POST with the session's CSRF token, audited
//! by the service.

use crate::routes::admin::session::Chrome;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::audit::some;
use super::error::list_link;
use super::render::Flash;
use super::session::{AdminError, Console, render, see_other};
use crate::chatkit::states::{DeliveryStatus, WebhookEvent};
use crate::routes::AppState;
use crate::service::console::webhooks::host_of;
use crate::store::{Delivery, DeliveryFilter};

/// Rows per page.
const PAGE_SIZE: usize = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::get().to(list))
        .route("/webhooks/{id}/retry", web::post().to(retry));
}

#[derive(Debug, Default, Deserialize)]
struct WebhookQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    done: String,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// An instant for `<time>`: machine-readable UTC, and text that reads without the script.
struct When {
    iso: String,
    text: String,
}

impl When {
    fn of(at: DateTime<Utc>) -> When {
        When {
            iso: at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            text: at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        }
    }
}

/// One delivery as the page shows it.
struct DeliveryView {
    id: String,
    event: &'static str,
    form_id: String,
    /// The form's title and agent, from the body that was sent.
    form_title: String,
    agent: String,
    host: String,
    status: &'static str,
    status_class: &'static str,
    attempts: u32,
    /// `200`, `HTTP 500`, or nothing before the first attempt.
    last_status: Option<u16>,
    last_error: Option<String>,
    created: When,
    /// When the next attempt is due (pending rows only).
    next: Option<When>,
    delivered: Option<When>,
    sending: bool,
    can_retry: bool,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage<'a> {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    enabled: bool,
    query: &'a WebhookQuery,
    statuses: &'static [DeliveryStatus],
    events: &'static [WebhookEvent],
    rows: Vec<DeliveryView>,
    older: Option<String>,
    paged: bool,
    first: String,
    filtered: bool,
}

/// `GET /admin/webhooks`.
async fn list(
    state: web::Data<AppState>,
    console: Console,
    query: web::Query<WebhookQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let filter = DeliveryFilter {
        status: parse(&query.status, "Status", &mut problems),
        event: parse(&query.event, "Event", &mut problems),
    };
    let after = some(&query.after);
    let page = state
        .webhooks
        .page(&filter, PAGE_SIZE, after.clone())
        .await?;
    let older = page.after.as_deref().map(|last| link(&query, Some(last)));
    let now = Utc::now();
    let rows = page.data.iter().map(|d| view(d, now)).collect();
    let flash = if problems.is_empty() {
        (query.done == "retried").then(|| Flash::ok("Queued to be sent again now."))
    } else {
        Some(Flash::error(problems.join(" ")))
    };
    let page = WebhooksPage {
        chrome: console.chrome("webhooks").await,
        flash,
        enabled: state.webhooks.enabled(),
        statuses: DeliveryStatus::ALL,
        events: WebhookEvent::ALL,
        rows,
        older,
        paged: after.is_some(),
        first: link(&query, None),
        filtered: filter != DeliveryFilter::default(),
        query: &query,
    };
    render(&page)
}

/// `POST /admin/webhooks/{id}/retry`.
async fn retry(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    state.webhooks.retry(&console.actor(), &id).await?;
    Ok(see_other("/admin/webhooks?done=retried"))
}

/// A filter's value, `None` when empty or unknown (an unknown one is reported and ignored).
fn parse<T: std::str::FromStr>(raw: &str, label: &str, problems: &mut Vec<String>) -> Option<T> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = raw.parse().ok();
    if parsed.is_none() {
        problems.push(format!(
            "{label}: '{raw}' is not one of the choices; ignored."
        ));
    }
    parsed
}

/// `/admin/webhooks?…` with the query's filters and, for a later page, `after`.
fn link(query: &WebhookQuery, after: Option<&str>) -> String {
    let pairs = [
        ("status", query.status.as_str()),
        ("event", query.event.as_str()),
        ("after", after.unwrap_or("")),
    ];
    list_link("/admin/webhooks", &pairs)
}

fn view(delivery: &Delivery, now: DateTime<Utc>) -> DeliveryView {
    let body: Value = serde_json::from_str(&delivery.body).unwrap_or_default();
    let form = &body["form"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let pending = delivery.status == DeliveryStatus::Pending;
    let sending = delivery.locked_until.is_some_and(|until| until > now);
    DeliveryView {
        id: delivery.id.clone(),
        event: delivery.event.as_str(),
        form_id: delivery.interaction_id.clone(),
        form_title: text(&form["title"]),
        agent: text(&form["agent"]["slug"]),
        host: host_of(&delivery.url),
        status: delivery.status.as_str(),
        status_class: match delivery.status {
            DeliveryStatus::Pending => "badge-pending",
            DeliveryStatus::Delivered => "badge-ok",
            DeliveryStatus::Failed => "badge-error",
        },
        attempts: delivery.attempts,
        last_status: delivery.last_status,
        last_error: delivery.last_error.clone(),
        created: When::of(delivery.created_at),
        next: pending.then(|| When::of(delivery.next_attempt_at)),
        delivered: delivery.delivered_at.map(When::of),
        sending,
        can_retry: !sending && delivery.status != DeliveryStatus::Delivered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_links_keep_the_filters() {
        let query = WebhookQuery {
            status: "failed".into(),
            ..Default::default()
        };
        assert_eq!(
            link(&query, Some("whd_1")),
            "/admin/webhooks?status=failed&after=whd_1"
        );
        assert_eq!(link(&WebhookQuery::default(), None), "/admin/webhooks");
    }

    #[test]
    fn unknown_filters_are_reported_and_ignored() {
        let mut problems = Vec::new();
        let status: Option<DeliveryStatus> = parse("lost", "Status", &mut problems);
        assert_eq!(status, None);
        assert_eq!(problems.len(), 1);
        let status: Option<DeliveryStatus> = parse("failed", "Status", &mut problems);
        assert_eq!(status, Some(DeliveryStatus::Failed));
    }
}
