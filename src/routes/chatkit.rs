//! `POST /chatkit`: the ChatKit protocol endpoint.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use super::error::AppError;
use super::{AppState, credentials, sse};
use crate::service::chatkit::Processed;

#[derive(serde::Deserialize)]
pub struct AgentQuery {
    agent: Option<String>,
}

pub async fn post_chatkit(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<AgentQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let body = read_body(payload, state.settings.http.max_request_bytes).await?;
    let credentials = credentials(&state.auth, &request, query.into_inner().agent);
    Ok(match state.chatkit.process(&credentials, &body).await? {
        Processed::Json(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Processed::Stream(stream) => sse::response(stream, state.settings.http.sse_keep_alive),
    })
}

/// Reads the whole body, refusing it as soon as it passes `limit` bytes.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, AppError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::Payload(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
