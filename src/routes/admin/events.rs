//! `GET /admin/events`: a small Server-Sent Events stream that tells a console page when the
//! human-input queue changed (a form asked, answered, claimed or released, here or in any
//! other server process). Each frame is `event: forms` with `{"pending": <count>}`; pages
//! refetch what they show (`static/admin-live.js`).
//!
//! The queue lives in the database, which every server process shares, so the stream reads
//! the queue's fingerprint when any process signals a change (a form asked or answered), and
//! every [`POLL`] besides (claims, missed signals), and speaks only when it moved. It ends after
//! [`LIFETIME`]; the browser reconnects by itself, and the reconnection is signed in again,
//! so a session that ended stops getting events.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use futures_util::stream;
use serde_json::json;
use tokio::time::Instant;

use super::session::{AdminError, Console};
use crate::routes::AppState;
use crate::service::console::{FormQueue, QueueChanges};

/// How often the queue is looked at.
const POLL: Duration = Duration::from_secs(2);
/// How long one stream lasts before the browser reconnects.
const LIFETIME: Duration = Duration::from_secs(300);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(events));
}

struct Watch {
    forms: FormQueue,
    changes: QueueChanges,
    last: Option<String>,
    started: Instant,
    first: bool,
}

/// `GET /admin/events`.
async fn events(state: web::Data<AppState>, _console: Console) -> Result<HttpResponse, AdminError> {
    let watch = Watch {
        forms: state.forms.clone(),
        changes: state.forms.changes(),
        last: None,
        started: Instant::now(),
        first: true,
    };
    let frames = stream::unfold(watch, |mut watch| async move {
        if watch.started.elapsed() >= LIFETIME {
            return None;
        }
        if watch.first {
            watch.first = false;
            // Reconnect after a dropped stream a little later than the default 3 s would.
            return Some((Ok(Bytes::from_static(b"retry: 2000\n\n")), watch));
        }
        let frame = match watch.forms.fingerprint().await {
            Ok((pending, print)) if watch.last.as_ref() != Some(&print) => {
                watch.last = Some(print);
                format!("event: forms\ndata: {}\n\n", json!({"pending": pending}))
            }
            Ok(_) => {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = watch.changes.next() => {}
                }
                ": quiet\n\n".to_owned()
            }
            Err(e) => {
                log::warn!("cannot read the form queue for live updates: {e}");
                tokio::time::sleep(POLL).await;
                ": unavailable\n\n".to_owned()
            }
        };
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(frame)), watch))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache, no-transform"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(frames))
}
