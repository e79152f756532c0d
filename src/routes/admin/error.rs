//! [`AdminError`]: the console's one mapping from failures to HTTP statuses and HTML error
//! pages. A page shown to someone signed in is drawn inside the layout (the `/admin` scope's
//! middleware redraws it with [`AdminError::page`] once it knows who is looking); anyone else
//! gets the bare page, which says nothing about the console's data.

use crate::routes::admin::session::Chrome;
use std::time::Duration;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::service::console::ConsoleError;
use crate::store::{BlobError, DbFault};

/// Who is looking at a console page, known once the session is loaded; kept in the request's
/// extensions so error pages can show the layout.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub email: String,
    pub csrf_token: String,
    pub is_admin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No valid session on a page load: `303 See Other` to the sign-in page, back to `next`
    /// afterwards.
    #[error("sign-in required")]
    LoginRequired { next: String },
    /// No valid session on anything but a page load.
    #[error("not signed in")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    /// A state-changing request without the session's CSRF token.
    #[error("the form's security token is missing or wrong")]
    Csrf,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{1}")]
    InvalidInput(&'static str, String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts")]
    RateLimited { retry_after: Duration },
    /// A fault of ours; the operator sees an opaque message, the log the detail.
    #[error("{0}")]
    Internal(String),
    /// The database cannot serve (unreachable, read-only, full): the operator is told which,
    /// the log gets the detail.
    #[error("{1}")]
    Database(DbFault, String),
    /// The attachment storage (an S3-compatible service) did not answer; the log gets the
    /// detail, which may name the endpoint.
    #[error("attachment storage unavailable: {0}")]
    StorageUnavailable(String),
}

impl From<ConsoleError> for AdminError {
    fn from(error: ConsoleError) -> Self {
        match error {
            ConsoleError::NotFound(what) => AdminError::NotFound(what),
            ConsoleError::Forbidden(why) => AdminError::Forbidden(why),
            ConsoleError::InvalidInput(field, message) => AdminError::InvalidInput(field, message),
            ConsoleError::Conflict(why) => AdminError::Conflict(why),
            ConsoleError::RateLimited { retry_after } => AdminError::RateLimited { retry_after },
            ConsoleError::Unauthenticated => AdminError::Unauthenticated,
            ConsoleError::Store(e) => match e.fault() {
                Some(fault) => AdminError::Database(fault, e.to_string()),
                None => AdminError::Internal(e.to_string()),
            },
            ConsoleError::Storage(BlobError::Unavailable(detail)) => {
                AdminError::StorageUnavailable(detail)
            }
            e @ (ConsoleError::Credentials(_) | ConsoleError::Storage(_)) => {
                AdminError::Internal(e.to_string())
            }
        }
    }
}

impl From<askama::Error> for AdminError {
    fn from(error: askama::Error) -> Self {
        AdminError::Internal(format!("page rendering failed: {error}"))
    }
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage<'a> {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    heading: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "admin/error_bare.html")]
struct BareErrorPage<'a> {
    heading: &'a str,
    message: &'a str,
}

/// Seconds for a `Retry-After` header: whole seconds, rounded up, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl AdminError {
    fn heading(&self) -> &'static str {
        match self {
            AdminError::LoginRequired { .. } | AdminError::Unauthenticated => "Signed out",
            AdminError::Forbidden(_) | AdminError::Csrf => "Not allowed",
            AdminError::NotFound(_) => "Not found",
            AdminError::InvalidInput(..) => "Cannot do that",
            AdminError::Conflict(_) => "Cannot do that",
            AdminError::RateLimited { .. } => "Too many attempts",
            AdminError::Internal(_) => "Something went wrong",
            AdminError::Database(DbFault::Unavailable, _) => "Database unavailable",
            AdminError::Database(DbFault::ReadOnly, _) => "Database is read-only",
            AdminError::Database(DbFault::Full, _) => "Database disk full",
            AdminError::Database(DbFault::Io, _) => "Database storage failed",
            AdminError::StorageUnavailable(_) => "Attachment storage unavailable",
        }
    }

    /// What the page says: never internal detail.
    fn message(&self) -> String {
        match self {
            AdminError::LoginRequired { .. } | AdminError::Unauthenticated => {
                "Your session has ended. Sign in again to continue.".to_owned()
            }
            AdminError::Csrf => "This form has expired or did not come from the console. \
                                 Go back, reload the page and try again."
                .to_owned(),
            AdminError::NotFound(what) => format!("No such {what}."),
            AdminError::RateLimited { retry_after } => format!(
                "Too many attempts. Try again in {} seconds.",
                retry_after_secs(*retry_after)
            ),
            AdminError::Internal(_) => {
                "The server could not finish this request. It has been logged.".to_owned()
            }
            AdminError::Database(fault, _) => {
                let mut text = fault.describe().to_owned();
                text[..1].make_ascii_uppercase();
                format!("{text}. The detail is in the server's log.")
            }
            AdminError::StorageUnavailable(_) => "The attachment storage did not answer. Try \
                                                  again in a moment; the detail is in the \
                                                  server's log."
                .to_owned(),
            AdminError::Forbidden(why) | AdminError::Conflict(why) => why.clone(),
            AdminError::InvalidInput(_, why) => why.clone(),
        }
    }

    /// The answer, drawn in the layout when `viewer` is known.
    pub fn page(&self, viewer: Option<&Viewer>) -> HttpResponse {
        let status = self.status_code();
        if let AdminError::LoginRequired { next } = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, login_location(next)))
                .finish();
        }
        if status.is_server_error() {
            log::error!("console request failed: {self}");
        }
        let (heading, message) = (self.heading(), self.message());
        let body = match viewer {
            Some(viewer) => ErrorPage {
                // No section is current, and no count is read for an error page.
                chrome: Chrome {
                    nav: "",
                    operator_email: viewer.email.clone(),
                    csrf_token: viewer.csrf_token.clone(),
                    pending_forms: 0,
                    is_admin: viewer.is_admin,
                },
                heading,
                message: &message,
            }
            .render(),
            None => BareErrorPage {
                heading,
                message: &message,
            }
            .render(),
        }
        // Both templates are static apart from escaped text; should one still fail, the
        // status alone must do.
        .unwrap_or_else(|_| heading.to_owned());
        let mut response = HttpResponse::build(status);
        response.content_type("text/html; charset=utf-8");
        if let AdminError::RateLimited { retry_after } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs(*retry_after)));
        }
        if matches!(self, AdminError::Unauthenticated) {
            response.cookie(expired_session_cookie());
        }
        response.body(body)
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AdminError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AdminError::Forbidden(_) | AdminError::Csrf => StatusCode::FORBIDDEN,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::InvalidInput(..) => StatusCode::BAD_REQUEST,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AdminError::Database(DbFault::Full, _) => StatusCode::INSUFFICIENT_STORAGE,
            AdminError::Database(..) | AdminError::StorageUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.page(None)
    }
}

/// `/admin/login?next=<path>`, or plain `/admin/login` when `next` is not a console path.
pub fn login_location(next: &str) -> String {
    if safe_next(next).is_some() && next != "/admin" {
        format!("/admin/login?next={}", encode_component(next))
    } else {
        "/admin/login".to_owned()
    }
}

/// `next` if it is a path inside the console, so a sign-in link cannot send anyone elsewhere.
pub fn safe_next(next: &str) -> Option<&str> {
    let inside = next == "/admin" || next.starts_with("/admin/") || next.starts_with("/admin?");
    let plain = !next.contains(['\\', '\r', '\n']) && !next.contains("/../");
    (inside && plain).then_some(next)
}

/// `path` with the non-blank `pairs` as its query string: a list page's link that keeps its
/// filters (and, for a later page, `after`).
pub(super) fn list_link(path: &str, pairs: &[(&str, &str)]) -> String {
    let params: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode_component(v.trim())))
        .collect();
    if params.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", params.join("&"))
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub(super) fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Tells the browser to drop a session cookie that no longer names a session.
pub fn expired_session_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(super::session::SESSION_COOKIE, "")
        .path("/admin")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .finish();
    cookie.make_removal();
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_redirects_stay_inside_the_console() {
        assert_eq!(
            login_location("/admin/threads?q=a b&x=1"),
            "/admin/login?next=/admin/threads%3Fq%3Da%20b%26x%3D1"
        );
        assert_eq!(login_location("/admin"), "/admin/login");
        for outside in [
            "https://evil.example",
            "//evil.example",
            "/adminx",
            "/chatkit",
        ] {
            assert_eq!(safe_next(outside), None, "{outside}");
            assert_eq!(login_location(outside), "/admin/login");
        }
        assert_eq!(safe_next("/admin/../chatkit"), None);
        assert_eq!(safe_next("/admin/threads"), Some("/admin/threads"));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(60)), 60);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn server_faults_show_no_detail() {
        let error = AdminError::Internal("database password wrong at 10.0.0.5".into());
        assert_eq!(error.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.message().contains("10.0.0.5"));
    }
}
