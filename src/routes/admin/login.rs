//! Sign-in and sign-out: `GET|POST /admin/login`, `POST /admin/logout`, and `GET /admin`
//! (to the threads list).
//!
//! The sign-in form is protected before any session exists by a signed double-submit token
//! (see `auth::operators::LoginCsrf`): a nonce in a cookie scoped to `/admin/login` and its
//! HMAC in the form.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::error::{expired_session_cookie, retry_after_secs, safe_next};
use super::session::{AdminError, Console, SESSION_COOKIE, client_ip, see_other};
use crate::routes::AppState;
use crate::service::console::ConsoleError;

/// The sign-in form's CSRF cookie.
pub const LOGIN_COOKIE: &str = "chatkit_admin_login";
/// Where a successful sign-in goes without a `next`.
const LANDING: &str = "/admin/threads";
/// How long a sign-in form stays usable.
const LOGIN_FORM_TTL: actix_web::cookie::time::Duration =
    actix_web::cookie::time::Duration::hours(2);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(home))
        .route("/", web::get().to(home))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout));
}

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage<'a> {
    csrf_token: &'a str,
    email: &'a str,
    error: Option<String>,
    next: &'a str,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Fields default to empty, so a form missing one is refused by the checks below rather than
/// by the extractor with a bare 400.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf_token: String,
}

/// `GET /admin`: the threads list is the console's front page.
async fn home(_console: Console) -> HttpResponse {
    see_other(LANDING)
}

/// `GET /admin/login`; an operator already signed in goes straight on.
async fn login_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AdminError> {
    let next = query.next.as_deref().and_then(safe_next).unwrap_or("");
    if let Some(token) = req.cookie(SESSION_COOKIE)
        && state.operators.session(token.value()).await.is_ok()
    {
        return Ok(see_other(if next.is_empty() { LANDING } else { next }));
    }
    login_form(&state, &req, StatusCode::OK, "", None, next)
}

/// `POST /admin/login`.
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let next = safe_next(&form.next).unwrap_or("");
    let cookie = req.cookie(LOGIN_COOKIE);
    let nonce = cookie.as_ref().map_or("", |c| c.value());
    if !state.login_csrf.verify(nonce, &form.csrf_token) {
        let error = "This sign-in form has expired. Please try again.";
        return login_form(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            &form.email,
            Some(error),
            next,
        );
    }
    let ip = client_ip(&req);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    match state
        .operators
        .login(&form.email, &form.password, ip.as_deref(), user_agent)
        .await
    {
        Ok(login) => {
            let secure = state.settings.console.secure_cookies;
            let session = Cookie::build(SESSION_COOKIE, login.token)
                .path("/admin")
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Strict)
                .finish();
            let mut done = login_cookie(String::new(), secure);
            done.make_removal();
            Ok(HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    if next.is_empty() { LANDING } else { next },
                ))
                .cookie(session)
                .cookie(done)
                .finish())
        }
        Err(ConsoleError::Unauthenticated) => login_form(
            &state,
            &req,
            StatusCode::UNAUTHORIZED,
            &form.email,
            Some("The email or password is incorrect."),
            next,
        ),
        Err(ConsoleError::RateLimited { retry_after }) => {
            let minutes = retry_after_secs(retry_after).div_ceil(60);
            let error = format!(
                "Too many failed sign-ins. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut page = login_form(
                &state,
                &req,
                StatusCode::TOO_MANY_REQUESTS,
                &form.email,
                Some(&error),
                next,
            )?;
            page.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(retry_after_secs(retry_after)),
            );
            Ok(page)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/logout`: ends the session in the database, then drops the cookie.
async fn logout(
    state: web::Data<AppState>,
    console: Console,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AdminError> {
    console.check_csrf(&form.csrf_token)?;
    state
        .operators
        .logout(console.session_id(), &console.actor())
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/login"))
        .cookie(expired_session_cookie())
        .finish())
}

/// The sign-in page with `status`, keeping the browser's CSRF nonce when it has one (so
/// several tabs keep working) and setting a new one otherwise.
fn login_form(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
    next: &str,
) -> Result<HttpResponse, AdminError> {
    let existing = req
        .cookie(LOGIN_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|nonce| nonce.len() == 43);
    let (nonce, fresh) = match existing {
        Some(nonce) => (nonce, false),
        None => (
            state
                .login_csrf
                .issue()
                .map_err(|e| AdminError::Internal(e.to_string()))?
                .0,
            true,
        ),
    };
    let page = LoginPage {
        csrf_token: &state.login_csrf.form_value(&nonce),
        email: email.trim(),
        error: error.map(str::to_owned),
        next,
    };
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8");
    if fresh {
        response.cookie(login_cookie(nonce, state.settings.console.secure_cookies));
    }
    Ok(response.body(page.render()?))
}

fn login_cookie(nonce: String, secure: bool) -> Cookie<'static> {
    Cookie::build(LOGIN_COOKIE, nonce)
        .path("/admin/login")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(LOGIN_FORM_TTL)
        .finish()
}
