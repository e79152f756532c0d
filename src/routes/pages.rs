//! Server-rendered pages: the chat page for an agent, running our own web client
//! (`<chatkit-chat>`, the default) or OpenAI's ChatKit JS (`CHATKIT_CLIENT=chatkit-js`).

use actix_web::{HttpResponse, web};
use askama::Template;

use super::AppState;
use super::error::AppError;
use crate::config::ChatClient;

/// The page of our own client: everything it loads comes from this server.
#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage<'a> {
    agent_name: &'a str,
    api_url: String,
    /// The composer refuses larger files before uploading them.
    upload_max_bytes: u64,
    /// The models the composer's picker offers, the agent's own first, comma-separated;
    /// empty (no picker) when the server allows no other.
    models: String,
    /// The sites that may frame the page and hand it a token (`CHATKIT_ALLOWED_ORIGINS`),
    /// comma-separated.
    host_origins: String,
    /// The largest recording the server transcribes; 0 when dictation is off (no microphone).
    dictation_max_bytes: usize,
}

/// The page of OpenAI's ChatKit web component, loaded from `script_url`.
#[derive(Template)]
#[template(path = "chat_chatkit_js.html")]
struct ChatKitJsPage<'a> {
    agent_name: &'a str,
    api_url: String,
    script_url: &'a str,
    domain_key: &'a str,
    upload_max_bytes: u64,
    dictation_max_bytes: usize,
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
    let settings = &state.settings;
    let page = state.chatkit.chat_page(slug, settings.llm.as_ref()).await?;
    let api_url = format!("/chatkit?agent={}", page.agent.slug);
    let upload_max_bytes = settings.attachments.max_bytes;
    let dictation_max_bytes = page.dictation_max_bytes.unwrap_or(0);
    let (body, policy) = match settings.pages.client {
        ChatClient::Builtin => {
            let html = ChatPage {
                agent_name: &page.agent.name,
                api_url,
                upload_max_bytes,
                models: page.models.join(","),
                host_origins: settings.http.allowed_origins.join(","),
                dictation_max_bytes,
            };
            (html.render()?, BUILTIN_POLICY)
        }
        ChatClient::ChatKitJs => {
            let html = ChatKitJsPage {
                agent_name: &page.agent.name,
                api_url,
                script_url: &settings.pages.script_url,
                domain_key: &settings.pages.domain_key,
                upload_max_bytes,
                dictation_max_bytes,
            };
            (html.render()?, CHATKIT_JS_POLICY)
        }
    };
    let mut response = HttpResponse::Ok();
    response.content_type("text/html; charset=utf-8");
    response.insert_header(("content-security-policy", policy));
    for header in PAGE_HEADERS {
        response.insert_header(header);
    }
    Ok(response.body(body))
}

/// Our client loads only this server's scripts and styles, shows images and audio from it
/// (plus `blob:` previews of files not yet sent, `data:` images in Markdown) and talks only
/// to it: nothing inline, nothing from elsewhere.
const BUILTIN_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'";

/// The ChatKit web component comes from another origin (`CHATKIT_SCRIPT_URL`) and loads
/// what it needs from there, so this policy forbids only what the page never uses (plugins,
/// `<base>`, forms posting elsewhere).
const CHATKIT_JS_POLICY: &str = "object-src 'none'; base-uri 'none'; form-action 'self'";

/// The other security headers of the chat pages; a host site may frame them, so no
/// frame-ancestors, and the referrer is kept to the origin.
const PAGE_HEADERS: [(&str, &str); 2] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
];
