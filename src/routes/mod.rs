//! HTTP: thin actix handlers and the complete route table.

mod chatkit;
pub mod error;
mod health;
mod pages;
mod sse;

use actix_web::{HttpResponse, web};

use crate::auth::Authenticator;
use crate::chatkit::server::ChatKitServer;
use crate::config::Settings;
use crate::store::Store;

/// What every handler can reach; registered once as `web::Data`.
pub struct AppState {
    pub settings: Settings,
    pub store: Store,
    pub auth: Authenticator,
    pub chatkit: ChatKitServer,
}

pub fn configure(cfg: &mut web::ServiceConfig, static_dir: &std::path::Path) {
    cfg.route("/chatkit", web::post().to(chatkit::post_chatkit))
        .route("/", web::get().to(pages::chat_page))
        .route("/agents/{slug}/chat", web::get().to(pages::agent_chat_page))
        .service(actix_files::Files::new("/static", static_dir))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({"error": {"code": "not_found", "message": "no such route"}}))
}
