//! HTTP: thin actix handlers and the complete route table.

mod chatkit;
pub mod error;
mod health;
mod sse;

use actix_web::{HttpResponse, web};

use crate::chatkit::server::ChatKitServer;
use crate::config::Settings;
use crate::store::Store;

/// What every handler can reach; registered once as `web::Data`.
pub struct AppState {
    pub settings: Settings,
    pub store: Store,
    pub chatkit: ChatKitServer,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/chatkit", web::post().to(chatkit::post_chatkit))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({"error": {"code": "not_found", "message": "no such route"}}))
}
