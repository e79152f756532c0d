//! `/admin/forms`: the human-input queue. Every pending form, approval and MCP question,
//! oldest first, filtered by kind and agent; each opens `/admin/forms/{id}` with the question,
//! the last turns of its thread (drawn as in the transcript) and the form itself as real HTML
//! inputs (`fields`), or for an approval the call's arguments, editable, with Approve / Deny
//! and a note. Answers, claims and releases are form posts (CSRF-checked, audited by the
//! service); "… and next" opens the oldest entry nobody else holds. The pages work without
//! JavaScript; `static/admin-live.js` refreshes the queue and renews a claim while its page
//! is open.

mod fields;

use super::AgentOption;
use crate::routes::admin::session::Chrome;
use std::collections::BTreeMap;

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::error::{encode_component, list_link};
use super::render::{Flash, pretty_json};
use super::session::{AdminError, Console, render, see_other};
use super::threads::transcript::{Body, ItemView, item_view};
use super::threads::{iso, readable};
use crate::chatkit::states::{InteractionKind, InteractionStatus};
use crate::routes::AppState;
use crate::service::console::forms::{AnswerError, FormDetail};
use crate::service::console::transcript::Entry;
use crate::service::human::{HumanAnswer, HumanError, OperatorInput};
use crate::store::{QueueEntry, QueueFilter};
use fields::{FieldView, field_views, payload};

/// Items of the thread shown beside a question: the ones just before it.
const CONTEXT_ITEMS: usize = 6;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/forms", web::get().to(queue_page))
        .route("/forms/{id}", web::get().to(form_page))
        .route("/forms/{id}", web::post().to(answer))
        .route("/forms/{id}/claim", web::post().to(claim))
        .route("/forms/{id}/release", web::post().to(release));
}

#[derive(Debug, Default, Deserialize)]
struct QueueQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    agent: String,
    /// The id just answered, for the confirmation.
    #[serde(default)]
    answered: String,
}

/// One queue row.
struct RowView {
    id: String,
    kind: &'static str,
    title: String,
    agent: String,
    user: String,
    thread_title: Option<String>,
    asked_iso: String,
    asked_text: String,
    expires_text: String,
    overdue: bool,
    claimed_by: Option<String>,
    mine: bool,
}

#[derive(Template)]
#[template(path = "admin/forms.html")]
struct QueuePage<'a> {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    query: &'a QueueQuery,
    agents: Vec<AgentOption>,
    rows: Vec<RowView>,
    filtered: bool,
}

/// `GET /admin/forms`.
async fn queue_page(
    state: web::Data<AppState>,
    console: Console,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let kind = match query.kind.trim() {
        "" => None,
        other => match other.parse::<InteractionKind>() {
            Ok(kind) => Some(kind),
            Err(_) => {
                problems.push(format!(
                    "Kind: '{other}' is not form, approval or elicitation; ignored."
                ));
                None
            }
        },
    };
    let filter = QueueFilter {
        kind,
        agent_id: Some(query.agent.trim().to_owned()).filter(|a| !a.is_empty()),
    };
    let queue = state.forms.list(&filter).await?;
    let flash = if !problems.is_empty() {
        Some(Flash::error(problems.join(" ")))
    } else if !query.answered.is_empty() {
        Some(Flash::ok(
            "Answered. The run goes on in the background; the user sees it in the chat.",
        ))
    } else {
        None
    };
    let page = QueuePage {
        chrome: console.chrome("forms").await,
        flash,
        agents: queue.agents.iter().map(AgentOption::from).collect(),
        rows: queue
            .entries
            .iter()
            .map(|e| row(e, &console.operator.id))
            .collect(),
        filtered: filter != QueueFilter::default(),
        query: &query,
    };
    render(&page)
}

fn kind_label(kind: InteractionKind) -> &'static str {
    match kind {
        InteractionKind::Form => "form",
        InteractionKind::Approval => "approval",
        InteractionKind::Elicitation => "MCP question",
    }
}

fn title_of(entry: &QueueEntry) -> String {
    serde_json::from_str::<Value>(&entry.row.schema)
        .ok()
        .and_then(|s| s["title"].as_str().map(str::to_owned))
        .unwrap_or_else(|| entry.row.tool_name.clone())
}

fn row(entry: &QueueEntry, me: &str) -> RowView {
    let expires = entry.row.expires_at.and_utc();
    RowView {
        id: entry.row.id.clone(),
        kind: kind_label(entry.row.kind),
        title: title_of(entry),
        agent: entry.agent_name.clone(),
        user: entry.user_id.clone(),
        thread_title: entry.thread_title.clone(),
        asked_iso: iso(entry.row.created_at.and_utc()),
        asked_text: readable(entry.row.created_at.and_utc()),
        expires_text: readable(expires),
        overdue: expires <= chrono::Utc::now(),
        claimed_by: entry.claim.as_ref().map(|c| c.email.clone()),
        mine: entry.claim.as_ref().is_some_and(|c| c.operator_id == me),
    }
}

/// An approval's call, as the page shows it.
struct CallView {
    tool: String,
    server: Option<String>,
    arguments_html: String,
    /// The arguments as the edit box holds them.
    arguments_text: String,
}

#[derive(Template)]
#[template(path = "admin/form.html")]
struct FormPage {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    id: String,
    kind: &'static str,
    title: String,
    description: Option<String>,
    agent: String,
    user: String,
    thread_title: Option<String>,
    thread_link: String,
    asked_iso: String,
    asked_text: String,
    expires_text: String,
    pending: bool,
    /// How it ended, for an answered entry.
    status: String,
    answered_by: Option<String>,
    claimed_by: Option<String>,
    claimed_until: Option<String>,
    mine: bool,
    context: Vec<ItemView>,
    fields: Vec<FieldView>,
    call: Option<CallView>,
    note: String,
    arguments_error: Option<String>,
    best_judgement: bool,
    decline: bool,
}

/// What a redrawn page keeps of a refused answer.
#[derive(Default)]
struct Typed {
    values: Value,
    errors: BTreeMap<String, String>,
    note: String,
    arguments: Option<String>,
}

async fn form_view(
    state: &AppState,
    console: &Console,
    id: &str,
    flash: Option<Flash>,
    typed: Typed,
) -> Result<String, AdminError> {
    let FormDetail {
        entry,
        spec,
        transcript,
    } = state.forms.detail(&console.actor(), id).await?;
    let row = &entry.row;
    let items: Vec<_> = transcript
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Item(item) => Some(item.as_ref()),
            Entry::Run(_) => None,
        })
        .collect();
    let end = items
        .iter()
        .position(|i| i.id == row.item_id)
        .unwrap_or(items.len());
    let context = items[end.saturating_sub(CONTEXT_ITEMS)..end]
        .iter()
        .map(|i| item_view(i))
        .collect();
    let call = (row.kind == InteractionKind::Approval).then(|| {
        let arguments: Value = serde_json::from_str(&row.arguments).unwrap_or_default();
        let (server, tool) = match row.tool_name.split_once("__") {
            Some((server, tool)) if !server.is_empty() && !tool.is_empty() => {
                (Some(server.to_owned()), tool.to_owned())
            }
            _ => (None, row.tool_name.clone()),
        };
        CallView {
            tool,
            server,
            arguments_html: pretty_json(&arguments),
            arguments_text: typed
                .arguments
                .clone()
                .unwrap_or_else(|| serde_json::to_string_pretty(&arguments).unwrap_or_default()),
        }
    });
    let expires = row.expires_at.and_utc();
    let me = &console.operator.id;
    let page = FormPage {
        chrome: console.chrome("forms").await,
        flash,
        id: row.id.clone(),
        kind: kind_label(row.kind),
        title: spec.title.clone(),
        description: spec.description.clone().filter(|_| call.is_none()),
        agent: entry.agent_name.clone(),
        user: entry.user_id.clone(),
        thread_title: entry.thread_title.clone(),
        thread_link: format!(
            "/admin/threads/{}#item-{}",
            encode_component(&row.thread_id),
            encode_component(&row.item_id)
        ),
        asked_iso: iso(row.created_at.and_utc()),
        asked_text: readable(row.created_at.and_utc()),
        expires_text: readable(expires),
        pending: row.status == InteractionStatus::Pending,
        status: row.status.as_str().replace('_', " "),
        answered_by: row.answered_by.map(|b| b.as_str().to_owned()),
        claimed_by: entry.claim.as_ref().map(|c| c.email.clone()),
        claimed_until: entry
            .claim
            .as_ref()
            .map(|c| c.until.format("%H:%M UTC").to_string()),
        mine: entry.claim.as_ref().is_some_and(|c| &c.operator_id == me),
        context,
        fields: field_views(&spec, &typed.values, &typed.errors),
        arguments_error: typed.errors.get("arguments").cloned(),
        call,
        note: typed.note,
        best_judgement: row.kind == InteractionKind::Form,
        decline: row.kind == InteractionKind::Elicitation,
    };
    Ok(page.render()?)
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// `GET /admin/forms/{id}`.
async fn form_page(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let body = form_view(&state, &console, &id, None, Typed::default()).await?;
    Ok(html(StatusCode::OK, body))
}

/// `POST /admin/forms/{id}`: `action` is the answer (`submit`, `best_judgement`, `cancel`,
/// `approve`, `deny`, `decline`), with `.next` to go on to the next entry afterwards.
async fn answer(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AdminError> {
    let posted = form.into_inner();
    let get = |name: &str| {
        posted
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    console.check_csrf(get("csrf_token").unwrap_or(""))?;
    let id = id.into_inner();
    let action = get("action").unwrap_or("");
    let (action, next) = match action.split_once('.') {
        Some((action, "next")) => (action, true),
        _ => (action, false),
    };
    let (entry, spec) = state.forms.question(&id).await?;
    let values = payload(&spec, &posted);
    let note = get("note").map(str::trim).unwrap_or("").to_owned();
    let mut typed = Typed {
        values: values.clone(),
        note: note.clone(),
        arguments: get("arguments").map(str::to_owned),
        ..Typed::default()
    };
    let answer = match action {
        "submit" => HumanAnswer::Submit(values),
        "best_judgement" => HumanAnswer::BestJudgement,
        "cancel" => HumanAnswer::Cancel,
        "approve" => HumanAnswer::Approve,
        "deny" => HumanAnswer::Deny,
        "decline" => HumanAnswer::Decline,
        other => {
            return Err(AdminError::InvalidInput(
                "action",
                format!("'{other}' is not an answer"),
            ));
        }
    };
    let mut extra = OperatorInput {
        note: Some(note).filter(|n| !n.is_empty()),
        arguments: None,
    };
    if answer == HumanAnswer::Approve
        && let Some(text) = get("arguments")
    {
        let original: Value = serde_json::from_str(&entry.row.arguments).unwrap_or_default();
        match serde_json::from_str::<Value>(text) {
            Ok(edited) if edited == original => {}
            Ok(edited) if edited.is_object() => extra.arguments = Some(edited),
            _ => {
                typed
                    .errors
                    .insert("arguments".into(), "Enter a JSON object.".into());
                let flash = Flash::error("The arguments are not a JSON object; nothing ran.");
                let body = form_view(&state, &console, &id, Some(flash), typed).await?;
                return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, body));
            }
        }
    }
    let refused = match state
        .forms
        .answer(&console.actor(), &id, answer, extra)
        .await
    {
        Ok(()) => None,
        Err(AnswerError::Human(HumanError::Invalid(errors))) => {
            typed.errors = errors;
            Some((
                StatusCode::UNPROCESSABLE_ENTITY,
                "Some answers need fixing; nothing was sent.".to_owned(),
            ))
        }
        Err(AnswerError::Human(e @ (HumanError::AlreadyAnswered | HumanError::Expired))) => Some((
            StatusCode::CONFLICT,
            format!("{e} Your answer was not used; nothing ran twice."),
        )),
        Err(e @ AnswerError::ClaimedByOther(_)) => Some((StatusCode::CONFLICT, e.to_string())),
        Err(AnswerError::Human(
            e @ (HumanError::WrongAnswer(_) | HumanError::Busy | HumanError::NotFound),
        )) => Some((StatusCode::CONFLICT, e.to_string())),
        Err(AnswerError::Human(e)) => return Err(AdminError::Internal(e.to_string())),
        Err(AnswerError::Console(e)) => return Err(e.into()),
    };
    if let Some((status, message)) = refused {
        let body = form_view(&state, &console, &id, Some(Flash::error(message)), typed).await?;
        return Ok(html(status, body));
    }
    if next && let Some(next) = state.forms.next_for(&console.actor()).await? {
        return Ok(see_other(&format!(
            "/admin/forms/{}",
            encode_component(&next)
        )));
    }
    Ok(see_other(&list_link(
        "/admin/forms",
        &[("answered", id.as_str())],
    )))
}

#[derive(Deserialize)]
struct ClaimForm {
    #[serde(default)]
    csrf_token: String,
    /// Set by the page's script when it renews the lease: answer `204`, audit nothing.
    #[serde(default)]
    renew: String,
}

/// `POST /admin/forms/{id}/claim`.
async fn claim(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<ClaimForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    let renew = !form.renew.is_empty();
    match state.forms.claim(&console.actor(), &id, renew).await {
        Ok(()) if renew => Ok(HttpResponse::NoContent().finish()),
        Ok(()) => Ok(see_other(&format!(
            "/admin/forms/{}",
            encode_component(&id)
        ))),
        Err(crate::service::console::ConsoleError::Conflict(why)) if !renew => {
            let body = form_view(
                &state,
                &console,
                &id,
                Some(Flash::error(why)),
                Typed::default(),
            )
            .await?;
            Ok(html(StatusCode::CONFLICT, body))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/forms/{id}/release`.
async fn release(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<ClaimForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    state.forms.release(&console.actor(), &id).await?;
    Ok(see_other("/admin/forms"))
}
