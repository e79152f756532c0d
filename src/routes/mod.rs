//! HTTP: thin actix handlers and the complete route table.

pub mod access_log;
pub mod admin;
mod attachments;
pub mod body_deadline;
mod chatkit;
mod cors;
pub mod error;
mod health;
mod metrics;
mod pages;
mod sse;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::operators::LoginCsrf;
use crate::auth::{Authenticator, Credentials, USER_HEADER};
use crate::config::Settings;
use crate::service::attachments::AttachmentService;
use crate::service::chatkit::ChatKitService;
use crate::service::console::{
    AgentConsole, AttachmentBrowser, AuditService, FeedbackReview, FormQueue, OperatorService,
    ThreadConsoleService, UsageService, WebhookLog,
};
use crate::service::metrics::MetricsService;
use crate::store::Store;

/// What every handler can reach; registered once as `web::Data`.
pub struct AppState {
    pub settings: Settings,
    pub store: Store,
    pub auth: Authenticator,
    pub chatkit: ChatKitService,
    pub attachments: AttachmentService,
    /// Console operators and their sessions.
    pub operators: OperatorService,
    /// The console's audit log.
    pub audit: AuditService,
    /// The console's attachments browser.
    pub attachment_browser: AttachmentBrowser,
    /// The console's feedback review.
    pub feedback: FeedbackReview,
    /// The console's threads: list, transcripts, exports, deletion.
    pub threads: ThreadConsoleService,
    /// The console's human-input queue.
    pub forms: FormQueue,
    /// The console's usage and cost reports and price table.
    pub usage: UsageService,
    /// The console's list of webhook deliveries.
    pub webhooks: WebhookLog,
    /// The console's agents and their MCP servers.
    pub agents: AgentConsole,
    /// CSRF protection of the console's sign-in form.
    pub login_csrf: LoginCsrf,
    /// `GET /metrics`.
    pub metrics: MetricsService,
}

/// The route table. `allowed_origins` are the other sites whose pages may call the chat and
/// upload routes (CORS); the content route needs none (an `<img>` does not ask).
pub fn configure(
    cfg: &mut web::ServiceConfig,
    static_dir: &std::path::Path,
    allowed_origins: &[String],
) {
    cfg.service(
        web::resource("/chatkit")
            .wrap(cors::cors(allowed_origins))
            .route(web::post().to(chatkit::post_chatkit)),
    )
    .service(
        web::resource("/chatkit/upload")
            .wrap(cors::cors(allowed_origins))
            .route(web::post().to(attachments::upload_direct)),
    )
    .service(
        web::resource("/chatkit/attachments/{id}/upload")
            .wrap(cors::cors(allowed_origins))
            .route(
                web::route()
                    .guard(
                        actix_web::guard::Any(actix_web::guard::Post()).or(actix_web::guard::Put()),
                    )
                    .to(attachments::upload_attachment),
            ),
    )
    .route(
        "/chatkit/attachments/{id}/content",
        web::get().to(attachments::attachment_content),
    )
    .route("/", web::get().to(pages::chat_page))
    .route("/agents/{slug}/chat", web::get().to(pages::agent_chat_page))
    .service(actix_files::Files::new("/static", static_dir))
    .configure(admin::configure)
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(metrics::metrics))
    .default_service(web::to(not_found));
}

/// What a request says about its caller: the headers each auth mode reads, the peer address
/// and the `?agent=` slug. The authenticator decides which of them count.
fn credentials(auth: &Authenticator, request: &HttpRequest, agent: Option<String>) -> Credentials {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let (proxy_user, proxy_account) = match auth.proxy_headers() {
        Some((user, account)) => (header(user), account.and_then(header)),
        None => (None, None),
    };
    Credentials {
        user: header(USER_HEADER),
        authorization: header(AUTHORIZATION.as_str()),
        proxy_user,
        proxy_account,
        peer: request.peer_addr().map(|addr| addr.ip()),
        agent,
    }
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({"error": {"code": "not_found", "message": "no such route"}}))
}
