//! One access log line per request at `info`: method, path, status and time to the response's
//! head; and the request id, which the response carries as `X-Request-Id` so a user's report
//! can be matched with the line. The query string is left out (signed upload and preview URLs
//! carry their token there), and so are bodies and headers.
//!
//! The request runs inside its id's context ([`crate::observe::context`]), so every line
//! written for it, by services and by the run it starts, names the id too; and it is counted in
//! the request metrics, by ChatKit request type or route pattern, never by raw path.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::observe;

/// The header that carries the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The log target of the lines, so they can be filtered apart (`RUST_LOG=access=warn`).
pub const TARGET: &str = "access";

/// Logs and counts the request once its response head is ready; a failed handler is logged
/// with the status its error maps to.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id: Arc<str> = Arc::from(request_id(&request));
    let work = async {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.path().to_owned();
        let result = next.call(request).await;
        let elapsed = started.elapsed();
        let status = match &result {
            Ok(response) => response.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        log::info!(
            target: TARGET,
            "{method} {path} {} {:.1}ms",
            status.as_u16(),
            elapsed.as_secs_f64() * 1000.0
        );
        let pattern = result
            .as_ref()
            .ok()
            .and_then(|response| response.request().match_pattern());
        (result, method, status, pattern, elapsed)
    };
    let ((result, method, status, pattern, elapsed), request_type) =
        observe::within_request(id.clone(), work).await;
    let kind = request_type.unwrap_or(pattern.as_deref().unwrap_or("unmatched"));
    observe::metrics::request(method_label(&method), kind, status.as_str(), elapsed);
    let mut response = result?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

/// The method as a label: any other than the standard ones counts as `OTHER`, so a client
/// cannot add series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The caller's `X-Request-Id` when it is a plain token (a proxy's id, kept so both logs
/// agree), else a new one. Anything else could forge or break log lines.
fn request_id(request: &ServiceRequest) -> String {
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(new_request_id)
}

/// A new id: 32 hex digits, a random half drawn once per process and a counter, so that ids
/// are unique across processes and restarts without asking the kernel for randomness per
/// request (which a profile of the reads showed).
fn new_request_id() -> String {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROCESS: LazyLock<u64> = LazyLock::new(|| {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_or_else(
            |_| u64::from(std::process::id()) << 32 | u64::from(std::process::id()),
            |()| u64::from_le_bytes(bytes),
        )
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{n:016x}", *PROCESS)
}
