//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};

use super::AppState;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The process can serve: the database answers and would take a write (a server on a
/// read-only database answers reads but fails every turn, so it is not ready).
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.check_writable().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Err(e) => {
            log::warn!("readiness check failed: {e}");
            let reason = e
                .fault()
                .map_or("the database check failed", |fault| fault.describe());
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "unavailable", "reason": reason}))
        }
    }
}
