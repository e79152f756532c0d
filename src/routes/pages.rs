//! Server-rendered pages: the demo page that embeds the ChatKit widget for an agent.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::AppState;
use super::error::AppError;

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage<'a> {
    agent_name: &'a str,
    api_url: String,
    script_url: &'a str,
    domain_key: &'a str,
    /// The composer refuses larger files before uploading them.
    upload_max_bytes: u64,
}

/// `GET /`: the default agent's chat.
pub async fn chat_page(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    render_chat(&state, None).await
}

/// `GET /agents/{slug}/chat`.
pub async fn agent_chat_page(
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    render_chat(&state, Some(&slug)).await
}

async fn render_chat(state: &AppState, slug: Option<&str>) -> Result<HttpResponse, AppError> {
    let agent = state
        .auth
        .agent(slug)
        .await
        .map_err(crate::service::error::ChatKitError::from)?;
    let page = ChatPage {
        agent_name: &agent.name,
        api_url: format!("/chatkit?agent={}", agent.slug),
        script_url: &state.settings.pages.script_url,
        domain_key: &state.settings.pages.domain_key,
        upload_max_bytes: state.settings.attachments.max_bytes,
    };
    let mut response = HttpResponse::Ok();
    response.content_type("text/html; charset=utf-8");
    for header in PAGE_HEADERS {
        response.insert_header(header);
    }
    Ok(response.body(page.render()?))
}

/// Security headers of the chat pages. Looser than the console's: the ChatKit web component
/// comes from another origin (`CHATKIT_SCRIPT_URL`) and loads what it needs from there, and a
/// host site may frame the page, so the policy forbids only what the page never uses (plugins,
/// `<base>`, forms posting elsewhere) and keeps the referrer to the origin.
const PAGE_HEADERS: [(&str, &str); 3] = [
    (
        "content-security-policy",
        "object-src 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
];
