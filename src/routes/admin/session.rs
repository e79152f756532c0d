//! What every console page builds on:
//!
//! - [`Console`], an extractor: the signed-in operator, the session's CSRF token and the
//!   caller's address. Without a valid session it answers for the handler: a page load is
//!   sent to the sign-in page (`303`), anything else gets `401`. A handler that takes a
//!   `Console` therefore never runs for a stranger.
//! - [`Console::require_admin`] for admin-only handlers and [`Console::check_csrf`] for every
//!   state-changing request, both `403` pages on refusal.
//! - [`Console::audit`] records an action with the operator and address.
//! - [`AdminError`], [`render`] and [`see_other`] to answer.
//!
//! ```ignore
//! async fn delete_thread(console: Console, form: web::Form<DeleteForm>, ...)
//!     -> Result<HttpResponse, AdminError> {
//!     console.check_csrf(&form.csrf_token)?;
//!     console.require_admin()?;
//!     // ... call one service ...
//!     console.audit("thread.delete", "thread", &id, json!({})).await?;
//!     Ok(see_other("/admin/threads"))
//! }
//! ```

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

pub use super::error::{AdminError, Viewer};
use crate::auth::operators::tokens_match;
use crate::routes::AppState;
use crate::service::console::{Actor, ConsoleError, OperatorInfo};

/// The session cookie: HttpOnly, SameSite=Strict, Path=/admin, Secure over https.
pub const SESSION_COOKIE: &str = "chatkit_admin";

/// The signed-in operator of a console request.
pub struct Console {
    pub operator: OperatorInfo,
    /// The session's CSRF token: put it in every form as `csrf_token`.
    pub csrf_token: String,
    /// The caller's address, as the connection shows it.
    pub ip: Option<String>,
    session_id: String,
    state: web::Data<AppState>,
}

impl FromRequest for Console {
    type Error = AdminError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| AdminError::Internal("application state missing".into()))?;
            let signed_out = || {
                if matches!(*req.method(), Method::GET | Method::HEAD) {
                    let next = req.uri().path_and_query().map_or("", |p| p.as_str());
                    AdminError::LoginRequired {
                        next: next.to_owned(),
                    }
                } else {
                    AdminError::Unauthenticated
                }
            };
            let Some(token) = req.cookie(SESSION_COOKIE) else {
                return Err(signed_out());
            };
            let session = match state.operators.session(token.value()).await {
                Ok(session) => session,
                Err(ConsoleError::Unauthenticated) => return Err(signed_out()),
                Err(e) => return Err(e.into()),
            };
            req.extensions_mut().insert(Viewer {
                email: session.operator.email.clone(),
                csrf_token: session.csrf_token.clone(),
                is_admin: session.operator.is_admin(),
            });
            Ok(Console {
                operator: session.operator,
                csrf_token: session.csrf_token,
                ip: client_ip(&req),
                session_id: session.session_id,
                state,
            })
        })
    }
}

impl Console {
    /// `403` for reviewers. Call it first in every admin-only handler.
    pub fn require_admin(&self) -> Result<(), AdminError> {
        if self.operator.is_admin() {
            Ok(())
        } else {
            Err(AdminError::Forbidden(
                "Only admins can do this. Ask an admin if you need it done.".to_owned(),
            ))
        }
    }

    /// `403` unless `submitted` is this session's CSRF token (compared in constant time).
    /// Call it before anything else in every state-changing handler.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), AdminError> {
        if !submitted.is_empty() && tokens_match(submitted, &self.csrf_token) {
            Ok(())
        } else {
            Err(AdminError::Csrf)
        }
    }

    pub fn is_admin(&self) -> bool {
        self.operator.is_admin()
    }

    /// The operator and address, for service calls that check permissions or audit.
    pub fn actor(&self) -> Actor {
        Actor::operator(self.operator.clone(), self.ip.clone())
    }

    /// The session's id (the audit log names sessions by it).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Records `action` on an object by this operator from this address. `detail` is a JSON
    /// object (for changes: `{"before": …, "after": …}`), never a secret.
    pub async fn audit(
        &self,
        action: &str,
        object_type: &str,
        object_id: &str,
        detail: Value,
    ) -> Result<(), AdminError> {
        self.state
            .audit
            .record(
                &self.actor(),
                action,
                Some(object_type),
                Some(object_id),
                detail,
            )
            .await?;
        Ok(())
    }

    /// The layout's frame for a page of section `nav`.
    pub async fn chrome(&self, nav: &'static str) -> Chrome {
        Chrome {
            nav,
            operator_email: self.operator.email.clone(),
            csrf_token: self.csrf_token.clone(),
            pending_forms: self.pending_forms().await,
            is_admin: self.is_admin(),
        }
    }

    /// Human-input forms waiting for an answer, for the layout's badge (0 when the count
    /// cannot be read: a badge is not worth failing a page for).
    pub async fn pending_forms(&self) -> i64 {
        match self.state.store.count_pending_interactions().await {
            Ok(count) => count,
            Err(e) => {
                log::warn!("cannot count pending forms: {e}");
                0
            }
        }
    }
}

/// What the layout draws around every console page (`templates/admin/_layout.html`): the
/// current section, who is signed in, the CSRF token of the logout form, the pending-forms
/// badge, and whether the admin-only links show.
pub struct Chrome {
    pub nav: &'static str,
    pub operator_email: String,
    pub csrf_token: String,
    pub pending_forms: i64,
    pub is_admin: bool,
}

/// The caller's address from the connection itself; forwarded headers are not trusted.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|addr| addr.ip().to_string())
}

/// A `200` HTML page from an askama template.
pub fn render<T: Template>(page: &T) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// `303 See Other` to `location`: the answer to a successful form post.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}
