//! CORS for the routes a ChatKit page on another site calls: `/chatkit` and the two upload
//! routes. Only the origins in `CHATKIT_ALLOWED_ORIGINS` are echoed back (never `*`, and no
//! `Access-Control-Allow-Credentials`: callers authenticate with a bearer header, not cookies);
//! any other origin gets no CORS headers, so the browser refuses the answer as it would without
//! this middleware. Same-origin requests (which also carry `Origin` on a POST) pass untouched.

use actix_cors::Cors;
use actix_web::http::{Method, header};

use crate::auth::USER_HEADER;

/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE_SECS: usize = 3600;

/// The middleware for one route, built per worker from the configured origins.
pub fn cors(allowed_origins: &[String]) -> Cors {
    let cors = allowed_origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.allowed_methods([Method::POST, Method::PUT])
        .allowed_headers([
            header::AUTHORIZATION.as_str(),
            header::CONTENT_TYPE.as_str(),
            USER_HEADER,
        ])
        .max_age(PREFLIGHT_MAX_AGE_SECS)
        // An unlisted origin is not an error: the request is served without CORS headers (a
        // same-origin POST sends `Origin` too), and the browser keeps the answer from a page
        // of another site.
        .block_on_origin_mismatch(false)
}
