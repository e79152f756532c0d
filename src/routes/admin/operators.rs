//! `/admin/operators` (admins only): the list, adding an operator with a role and an initial
//! password, changing a role, disabling and enabling, and setting a new password. Every change
//! is a POST with the session's CSRF token, audited by the service with before and after.

use crate::routes::admin::session::Chrome;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::render::Flash;
use super::session::{AdminError, Console, render, see_other};
use crate::routes::AppState;
use crate::service::console::{MIN_PASSWORD_CHARS, Role};
use crate::store::Operator;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/operators", web::get().to(list))
        .route("/operators", web::post().to(create))
        .route("/operators/{id}/role", web::post().to(change_role))
        .route("/operators/{id}/disable", web::post().to(disable))
        .route("/operators/{id}/enable", web::post().to(enable))
        .route("/operators/{id}/password", web::post().to(reset_password));
}

/// One operator as the page shows it.
struct OperatorView {
    id: String,
    email: String,
    role: &'static str,
    disabled: bool,
    created_at: When,
    last_login_at: Option<When>,
    is_me: bool,
}

/// An instant for `<time>`: machine-readable UTC, and text that reads without the script.
struct When {
    iso: String,
    text: String,
}

#[derive(Template)]
#[template(path = "admin/operators.html")]
struct OperatorsPage<'a> {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    flash: Option<Flash>,
    operators: Vec<OperatorView>,
    roles: [&'static str; 2],
    min_password: usize,
    /// The add form's values after a refused attempt.
    new_email: &'a str,
    new_role: &'a str,
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// The notice after a successful change; a fixed text per outcome, so a link cannot make the
/// page say anything else.
fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "created" => "Operator added.",
        "role" => "Role changed.",
        "disabled" => "Operator disabled and signed out.",
        "enabled" => "Operator enabled.",
        "password" => "Password set. The operator's sessions have ended.",
        _ => return None,
    })
}

/// `GET /admin/operators`.
async fn list(
    state: web::Data<AppState>,
    console: Console,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AdminError> {
    console.require_admin()?;
    let flash = query.done.as_deref().and_then(done_message).map(Flash::ok);
    page(&state, &console, flash, StatusCode::OK, "", Role::Reviewer).await
}

/// `POST /admin/operators`: adds an operator.
async fn create(
    state: web::Data<AppState>,
    console: Console,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let role = parse_role(&form.role)?;
    match state
        .operators
        .create(&console.actor(), &form.email, role, &form.password)
        .await
    {
        Ok(_) => Ok(see_other("/admin/operators?done=created")),
        Err(e) => refused(&state, &console, e.into(), &form.email, role).await,
    }
}

/// `POST /admin/operators/{id}/role`.
async fn change_role(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let role = parse_role(&form.role)?;
    let outcome = state
        .operators
        .change_role(&console.actor(), &id, role)
        .await;
    finish(&state, &console, outcome.map(|_| "role")).await
}

/// `POST /admin/operators/{id}/disable`.
async fn disable(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let outcome = state
        .operators
        .set_disabled(&console.actor(), &id, true)
        .await;
    finish(&state, &console, outcome.map(|_| "disabled")).await
}

/// `POST /admin/operators/{id}/enable`.
async fn enable(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let outcome = state
        .operators
        .set_disabled(&console.actor(), &id, false)
        .await;
    finish(&state, &console, outcome.map(|_| "enabled")).await
}

/// `POST /admin/operators/{id}/password`.
async fn reset_password(
    state: web::Data<AppState>,
    console: Console,
    id: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    console.require_admin()?;
    let outcome = state
        .operators
        .reset_password(&console.actor(), &id, &form.password)
        .await;
    finish(&state, &console, outcome.map(|_| "password")).await
}

fn parse_role(role: &str) -> Result<Role, AdminError> {
    role.parse()
        .map_err(|_| AdminError::InvalidInput("role", "choose admin or reviewer".to_owned()))
}

/// Back to the list with a notice, or the list again with the reason a change was refused.
async fn finish(
    state: &AppState,
    console: &Console,
    outcome: Result<&'static str, crate::service::console::ConsoleError>,
) -> Result<HttpResponse, AdminError> {
    match outcome {
        Ok(done) => Ok(see_other(&format!("/admin/operators?done={done}"))),
        Err(e) => refused(state, console, e.into(), "", Role::Reviewer).await,
    }
}

/// A refused form shows the page again with the reason (and its status); anything else is an
/// error page.
async fn refused(
    state: &AppState,
    console: &Console,
    error: AdminError,
    email: &str,
    role: Role,
) -> Result<HttpResponse, AdminError> {
    use actix_web::ResponseError;
    match &error {
        AdminError::InvalidInput(_, message) | AdminError::Conflict(message) => {
            let flash = Some(Flash::error(message.clone()));
            page(state, console, flash, error.status_code(), email, role).await
        }
        _ => Err(error),
    }
}

async fn page(
    state: &AppState,
    console: &Console,
    flash: Option<Flash>,
    status: StatusCode,
    new_email: &str,
    new_role: Role,
) -> Result<HttpResponse, AdminError> {
    let operators = state.operators.list(&console.actor()).await?;
    let page = OperatorsPage {
        chrome: console.chrome("operators").await,
        flash,
        operators: operators
            .iter()
            .map(|o| view(o, &console.operator.id))
            .collect(),
        roles: [Role::Admin.as_str(), Role::Reviewer.as_str()],
        min_password: MIN_PASSWORD_CHARS,
        new_email: new_email.trim(),
        new_role: new_role.as_str(),
    };
    let mut response = render(&page)?;
    *response.status_mut() = status;
    Ok(response)
}

fn view(operator: &Operator, me: &str) -> OperatorView {
    OperatorView {
        id: operator.id.clone(),
        email: operator.email.clone(),
        role: operator.role.as_str(),
        disabled: operator.disabled,
        created_at: when(operator.created_at),
        last_login_at: operator.last_login_at.map(when),
        is_me: operator.id == me,
    }
}

/// The console's script turns `<time data-relative>` into "5 min ago" with the full local
/// time on hover.
fn when(at: DateTime<Utc>) -> When {
    When {
        iso: at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        text: at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}
