//! `POST /v1/audio/transcriptions` of the fake: reads the multipart form as OpenAI does
//! (`model` and a `file` with a name and a type are required, 400 otherwise), records it, and
//! answers `{"text": ...}`: the next scripted [`Heard`], else a sentence saying what it got.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;

use super::{Shared, error_response, lock};

/// One scripted answer of the transcription endpoint (FIFO, apart from chat completions).
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// `{"text": ...}`.
    Text(String),
    /// OpenAI's error answer with this status.
    Error { status: u16, message: String },
    /// No answer until the client gives up (or a minute passes).
    Hang,
}

/// A transcription request as received.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    /// The `model` field.
    pub model: String,
    /// The `file` field's name, e.g. `audio.webm`.
    pub file_name: String,
    /// The `file` field's content type.
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// The other text fields, e.g. `response_format`.
    pub fields: Vec<(String, String)>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
}

/// Records the form and plays the next scripted answer.
pub(super) async fn transcriptions(
    req: HttpRequest,
    mut form: Multipart,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let mut upload = Upload {
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..Upload::default()
    };
    let mut has_file = false;
    while let Some(field) = form.next().await {
        let Ok(mut field) = field else {
            return error_response(400, "Could not parse multipart form");
        };
        let name = field.name().unwrap_or_default().to_owned();
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            match chunk {
                Ok(chunk) => value.extend_from_slice(&chunk),
                Err(_) => return error_response(400, "Could not parse multipart form"),
            }
        }
        if name == "file" {
            has_file = true;
            upload.file_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .unwrap_or_default()
                .to_owned();
            upload.content_type = field
                .content_type()
                .map(|m| m.to_string())
                .unwrap_or_default();
            upload.bytes = value;
        } else {
            let text = String::from_utf8_lossy(&value).into_owned();
            if name == "model" {
                upload.model = text;
            } else {
                upload.fields.push((name, text));
            }
        }
    }
    let complete = has_file && !upload.model.is_empty() && !upload.file_name.is_empty();
    let summary = format!(
        "transcribed {} bytes of {}",
        upload.bytes.len(),
        upload.content_type
    );
    lock(&shared.uploads).push(upload);
    if !complete {
        return error_response(
            400,
            "you must provide a model parameter and a file with a file name",
        );
    }
    // Taken out first: the lock must not be held while an answer hangs.
    let next = lock(&shared.heard).pop_front();
    match next {
        None => HttpResponse::Ok().json(json!({"text": summary})),
        Some(Heard::Text(text)) => HttpResponse::Ok().json(json!({"text": text})),
        Some(Heard::Error { status, message }) => error_response(status, &message),
        Some(Heard::Hang) => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            HttpResponse::GatewayTimeout().finish()
        }
    }
}
