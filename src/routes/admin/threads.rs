//! `/admin/threads`: every conversation, newest activity first, with filters that combine
//! (agent, user, last-activity dates, pending form, negative feedback, failed run) and
//! full-text search, paged by keyset both ways; `/admin/threads/{id}`: the transcript, its
//! exports and, for admins, deletion behind a confirmation page.
//!
//! Handlers extract, make one service call and render; the transcript's presentation is in
//! [`transcript`].

pub(super) mod transcript;

use crate::routes::admin::session::Chrome;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::error::encode_component;
use super::render::Flash;
use super::session::{AdminError, Console, render, see_other};
use crate::routes::AppState;
use crate::service::console::threads::{ExportFormat, ListForm, ThreadQuery};
use crate::store::{ActivityCursor, ThreadSummary};
use transcript::{DeletePage, TranscriptPage};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/threads", web::get().to(list_threads_page))
        .route("/threads/{id}", web::get().to(show_thread_page))
        .route("/threads/{id}/export.json", web::get().to(export_json))
        .route("/threads/{id}/export.md", web::get().to(export_markdown))
        .route("/threads/{id}/delete", web::get().to(delete_thread_page))
        .route("/threads/{id}/delete", web::post().to(delete_thread));
}

/// A row of the list as the page shows it.
struct RowView {
    id: String,
    title: Option<String>,
    user: String,
    user_link: String,
    agent_name: String,
    agent_slug: String,
    items: i64,
    activity_iso: String,
    activity_text: String,
    pending: i64,
    negative: i64,
    failed: i64,
}

struct AgentOption {
    id: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/threads.html")]
struct ThreadsPage<'a> {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    form: &'a ListForm,
    agents: Vec<AgentOption>,
    rows: Vec<RowView>,
    older: Option<String>,
    newer: Option<String>,
    filtered: bool,
    searching: bool,
}

/// The list's query string, built back from a form: for pager links and "this user's
/// threads" links.
fn list_link(
    form: &ListForm,
    older: Option<&ActivityCursor>,
    newer: Option<&ActivityCursor>,
) -> String {
    let flag = |on: &Option<String>| if on.is_some() { "1" } else { "" };
    let older = older.map(ActivityCursor::encode).unwrap_or_default();
    let newer = newer.map(ActivityCursor::encode).unwrap_or_default();
    let pairs = [
        ("q", form.q.as_str()),
        ("agent", form.agent.as_str()),
        ("user", form.user.as_str()),
        ("from", form.from.as_str()),
        ("to", form.to.as_str()),
        ("pending", flag(&form.pending)),
        ("negative", flag(&form.negative)),
        ("failed", flag(&form.failed)),
        ("older", older.as_str()),
        ("newer", newer.as_str()),
    ];
    let params: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode_component(v.trim())))
        .collect();
    if params.is_empty() {
        "/admin/threads".to_owned()
    } else {
        format!("/admin/threads?{}", params.join("&"))
    }
}

/// `/admin/threads?user=...`: everything of one user.
pub(super) fn user_link(user_id: &str) -> String {
    let form = ListForm {
        user: user_id.to_owned(),
        ..ListForm::default()
    };
    list_link(&form, None, None)
}

pub(super) fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub(super) fn readable(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn row(thread: ThreadSummary) -> RowView {
    RowView {
        user_link: user_link(&thread.user_id),
        activity_iso: iso(thread.updated_at),
        activity_text: readable(thread.updated_at),
        id: thread.id,
        title: thread.title,
        user: thread.user_id,
        agent_name: thread.agent_name,
        agent_slug: thread.agent_slug,
        items: thread.item_count,
        pending: thread.pending_interactions,
        negative: thread.negative_feedback,
        failed: thread.failed_runs,
    }
}

#[derive(Debug, Default, Deserialize)]
struct Deleted {
    #[serde(default)]
    deleted: String,
}

/// `GET /admin/threads`.
async fn list_threads_page(
    state: web::Data<AppState>,
    console: Console,
    form: web::Query<ListForm>,
    deleted: web::Query<Deleted>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let query = ThreadQuery::parse(&form);
    let list = state.threads.list(&query).await?;
    let mut notes: Vec<String> = query
        .problems
        .iter()
        .map(|(field, why)| {
            format!(
                "{}: {why}; ignored.",
                if *field == "from" { "From" } else { "To" }
            )
        })
        .collect();
    if query.text.is_some()
        && query
            .text
            .as_deref()
            .is_some_and(|t| !t.chars().any(char::is_alphanumeric))
    {
        notes.push("The search has no words to look for; it is ignored.".to_owned());
    }
    let flash = if !notes.is_empty() {
        Some(Flash::error(notes.join(" ")))
    } else if !deleted.deleted.is_empty() {
        Some(Flash::ok(format!("Thread {} deleted.", deleted.deleted)))
    } else {
        None
    };
    let agents = list
        .agents
        .iter()
        .map(|a| AgentOption {
            selected: query.agent_id.as_deref() == Some(a.id.as_str()),
            label: format!("{} ({})", a.name, a.slug),
            id: a.id.clone(),
        })
        .collect();
    let page = ThreadsPage {
        chrome: console.chrome("threads").await,
        flash,
        older: list
            .page
            .older
            .as_ref()
            .map(|c| list_link(&form, Some(c), None)),
        newer: list
            .page
            .newer
            .as_ref()
            .map(|c| list_link(&form, None, Some(c))),
        rows: list.page.threads.into_iter().map(row).collect(),
        agents,
        filtered: query.is_filtered(),
        searching: query.text.is_some(),
        form: &form,
    };
    render(&page)
}

/// `GET /admin/threads/{id}`: the transcript (the view is audited).
async fn show_thread_page(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let transcript = state.threads.transcript(&console.actor(), &id).await?;
    let page = TranscriptPage::new(console.chrome("threads").await, &transcript);
    render(&page)
}

async fn export(
    state: &AppState,
    console: &Console,
    id: &str,
    format: ExportFormat,
) -> Result<HttpResponse, AdminError> {
    let file = state.threads.export(&console.actor(), id, format).await?;
    Ok(HttpResponse::Ok()
        .content_type(file.content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", file.file_name),
        ))
        .body(file.body))
}

/// `GET /admin/threads/{id}/export.json` (audited).
async fn export_json(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    export(&state, &console, &id, ExportFormat::Json).await
}

/// `GET /admin/threads/{id}/export.md` (audited).
async fn export_markdown(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    export(&state, &console, &id, ExportFormat::Markdown).await
}

/// `GET /admin/threads/{id}/delete`: what goes, and the button (admins only).
async fn delete_thread_page(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    console.require_admin()?;
    let preview = state.threads.deletion(&console.actor(), &id).await?;
    let page = DeletePage::new(console.chrome("threads").await, &preview.transcript);
    render(&page)
}

#[derive(Debug, Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /admin/threads/{id}/delete` (admins only, CSRF-checked, audited).
async fn delete_thread(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let deleted = state.threads.delete(&console.actor(), &id).await?;
    Ok(see_other(&format!(
        "/admin/threads?deleted={}",
        encode_component(&deleted.id)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filters_and_encode_them() {
        let form = ListForm {
            q: "refund & \"x\"".into(),
            user: "ann+1@example.com".into(),
            failed: Some("on".into()),
            older: Some("ignored".into()),
            ..ListForm::default()
        };
        let cursor = ActivityCursor::decode("1772366400000000.thr_a").unwrap();
        assert_eq!(
            list_link(&form, Some(&cursor), None),
            "/admin/threads?q=refund%20%26%20%22x%22&user=ann%2B1%40example.com&failed=1&older=1772366400000000.thr_a"
        );
        assert_eq!(user_link("bob"), "/admin/threads?user=bob");
        assert_eq!(
            list_link(&ListForm::default(), None, None),
            "/admin/threads"
        );
    }
}
