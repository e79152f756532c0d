//! The operator console: server-rendered pages for support leads and admins (threads and
//! transcripts, the human-input queue and its webhooks, attachments, feedback, audit,
//! operators, agents, usage), behind operator login, CSRF tokens and a strict
//! Content-Security-Policy.
//!
//! Everything is registered under one `/admin` scope by [`configure`]; each area has a file
//! with its own `configure`. The scope's middleware puts the security headers on every answer
//! (pages, redirects and errors alike) and draws error pages inside the layout for signed-in
//! operators. Pages use the interface of [`session`].

mod agents;
mod attachments;
mod audit;
mod error;
mod events;
mod feedback;
mod forms;
mod login;
mod operators;
pub mod render;
pub mod session;
mod threads;
mod usage;
mod webhooks;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpResponse, web};

use session::{AdminError, Console, Viewer};

/// No inline script or style, no plugins, no framing, forms only to ourselves.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: https:; \
     style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Headers on every console answer. A handler may set its own value of one (a stricter CSP
/// for a download, say); otherwise these apply.
const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
];

/// Registers the console under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap_fn(|req, srv| {
                // Handler and extractor failures arrive here as responses (with their error
                // attached), so they get the headers too.
                let call = srv.call(req);
                async move { Ok(secure(in_layout(call.await?))) }
            })
            .configure(login::configure)
            .configure(operators::configure)
            .configure(audit::configure)
            .configure(attachments::configure)
            .configure(feedback::configure)
            .configure(forms::configure)
            .configure(agents::configure)
            .configure(events::configure)
            .configure(threads::configure)
            .configure(usage::configure)
            .configure(webhooks::configure)
            .default_service(web::to(not_found)),
    );
}

/// Unknown console paths: sign-in first, then a 404 page, so strangers learn nothing.
async fn not_found(_console: Console) -> Result<HttpResponse, AdminError> {
    Err(AdminError::NotFound("page"))
}

/// Redraws an error page inside the layout when the request had a signed-in operator.
fn in_layout(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let Some(viewer) = response.request().extensions().get::<Viewer>().cloned() else {
        return response;
    };
    let page = response
        .response()
        .error()
        .and_then(|e| e.as_error::<AdminError>())
        .map(|e| e.page(Some(&viewer)));
    match page {
        Some(page) => response.into_response(page),
        None => response,
    }
}

fn secure(mut response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    // Pages vary by session cookie; no shared cache may keep one for another operator.
    if !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
    }
    response
}

/// One agent in a list page's filter menu.
struct AgentOption {
    id: String,
    label: String,
}

impl From<&crate::store::AgentRow> for AgentOption {
    fn from(agent: &crate::store::AgentRow) -> Self {
        AgentOption {
            id: agent.id.clone(),
            label: format!("{} ({})", agent.name, agent.slug),
        }
    }
}
