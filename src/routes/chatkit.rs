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
    let limit = state
        .chatkit
        .body_limit(state.settings.http.max_request_bytes);
    let body = read_body(&request, payload, limit).await?;
    let credentials = credentials(&state.auth, &request, query.into_inner().agent);
    Ok(match state.chatkit.process(&credentials, &body).await? {
        Processed::Json(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Processed::Stream(stream) => sse::response(stream, state.settings.http.sse_keep_alive),
    })
}

/// Reads the whole body, refusing it as soon as it passes `limit` bytes, or at once when its
/// declared length does (nothing of it is read then, however slowly it would arrive).
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, AppError> {
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::PayloadTooLarge { limit });
    }
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
