//! Attachment routes: the two-phase upload target, the direct upload, and the bytes of an
//! attachment. Handlers turn the request body into a byte stream (a multipart field named
//! `file`, or the raw body) and call the attachment service.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_files::NamedFile;
use actix_multipart::{Field, Multipart};
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::mime;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::stream::LocalBoxStream;
use futures_util::{Stream, StreamExt};

use super::error::AppError;
use super::{AppState, credentials};
use crate::service::attachments::{AttachmentError, AttachmentFile, IncomingFile};
use crate::store::Blob;

/// Bytes of multipart fields other than `file` a request may carry (they are skipped).
const MAX_OTHER_FIELD_BYTES: usize = 64 * 1024;

#[derive(serde::Deserialize)]
pub struct AccessQuery {
    token: Option<String>,
    agent: Option<String>,
}

/// `POST|PUT /chatkit/attachments/{id}/upload?token=…`: the bytes of a created attachment.
pub async fn upload_attachment(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
    query: web::Query<AccessQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let file = incoming_file(&request, payload, true).await?;
    let caller = credentials(&state.auth, &request, None);
    let attachment = state
        .attachments
        .upload(&id, query.token.as_deref(), &caller, file)
        .await?;
    Ok(HttpResponse::Ok().json(attachment))
}

/// `POST /chatkit/upload[?agent=]`: the direct upload strategy (multipart field `file`).
pub async fn upload_direct(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<AccessQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let file = incoming_file(&request, payload, false).await?;
    let caller = credentials(&state.auth, &request, query.into_inner().agent);
    let attachment = state.attachments.upload_direct(&caller, file).await?;
    Ok(HttpResponse::Ok().json(attachment))
}

/// `GET /chatkit/attachments/{id}/content[?token=]`: the bytes, for a signed URL or the owner.
pub async fn attachment_content(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
    query: web::Query<AccessQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let caller = credentials(&state.auth, &request, query.agent);
    let file = state
        .attachments
        .content(&id, query.token.as_deref(), &caller)
        .await?;
    serve(file, &request).await
}

/// The file as a streamed response: its type, a download or inline disposition with its
/// sanitised name, no sniffing, no shared caching, and CORS for signed image URLs.
async fn serve(file: AttachmentFile, request: &HttpRequest) -> Result<HttpResponse, AppError> {
    let mime = file
        .mime_type
        .parse()
        .unwrap_or(actix_web::mime::APPLICATION_OCTET_STREAM);
    let ascii_name: String = file
        .name
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    let disposition = ContentDisposition {
        disposition: if file.inline {
            DispositionType::Inline
        } else {
            DispositionType::Attachment
        },
        parameters: vec![
            DispositionParam::Filename(ascii_name),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: file.name.into_bytes(),
            }),
        ],
    };
    let mut response = blob_response(file.blob, mime, disposition, request)
        .map_err(|e| AttachmentError::Blob(e.into()))?;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private"),
    );
    if file.cross_origin {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::HeaderValue::from_static("*"),
        );
    }
    Ok(response)
}

/// Stored bytes as a response of `content_type` with `disposition`. A local file answers
/// ranges and conditional requests (`ETag`, `Last-Modified`); an object from a bucket is
/// streamed whole with its length (`Accept-Ranges: none`).
pub fn blob_response(
    blob: Blob,
    content_type: mime::Mime,
    disposition: ContentDisposition,
    request: &HttpRequest,
) -> std::io::Result<HttpResponse> {
    Ok(match blob {
        Blob::File { file, path } => NamedFile::from_file(file, path)?
            .set_content_type(content_type)
            .set_content_disposition(disposition)
            .into_response(request),
        Blob::Stream { size, bytes } => HttpResponse::Ok()
            .content_type(content_type)
            .insert_header(disposition)
            .insert_header((header::ACCEPT_RANGES, "none"))
            .no_chunking(size)
            .streaming(bytes),
    })
}

type ByteStream = LocalBoxStream<'static, Result<Bytes, String>>;

/// The uploaded file of a request: the multipart field `file` (other fields are skipped), or,
/// where `raw` allows it, the whole body. Nothing of the file is read yet.
async fn incoming_file(
    request: &HttpRequest,
    payload: web::Payload,
    raw: bool,
) -> Result<IncomingFile<ByteStream>, AppError> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_multipart {
        if !raw {
            return Err(AttachmentError::MissingFile.into());
        }
        return Ok(IncomingFile {
            name: None,
            mime_type: None,
            bytes: payload
                .map(|chunk| chunk.map_err(|e| e.to_string()))
                .boxed_local(),
        });
    }
    let mut multipart = Multipart::new(request.headers(), payload);
    let mut skipped = 0usize;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|e| AttachmentError::Body(e.to_string()))?;
        if field.name() == Some("file") {
            return Ok(IncomingFile {
                name: field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .map(str::to_owned),
                mime_type: field.content_type().map(|m| m.essence_str().to_owned()),
                bytes: FilePart {
                    field,
                    _multipart: multipart,
                }
                .boxed_local(),
            });
        }
        while let Some(chunk) = field.next().await {
            skipped += chunk
                .map_err(|e| AttachmentError::Body(e.to_string()))?
                .len();
            if skipped > MAX_OTHER_FIELD_BYTES {
                return Err(AttachmentError::Body(
                    "the form carries too much besides the file".into(),
                )
                .into());
            }
        }
    }
    Err(AttachmentError::MissingFile.into())
}

/// The `file` field's bytes. Holds the multipart parser too, which feeds the field; the field
/// is declared first so that it is dropped first, as the parser requires.
struct FilePart {
    field: Field,
    _multipart: Multipart,
}

impl Stream for FilePart {
    type Item = Result<Bytes, String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.field)
            .poll_next(cx)
            .map(|chunk| chunk.map(|c| c.map_err(|e| e.to_string())))
    }
}
