//! Server-Sent Events framing for ChatKit streams: the frames of a [`EventStream`], with a
//! keep-alive comment whenever the run is quiet, so proxies keep the connection and a vanished
//! client is noticed (actix only sees a dead socket when it writes to it).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header;
use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior, interval_at};

use crate::observe::metrics::{OpenStream, open_stream};
use crate::service::chatkit::EventStream;
use crate::service::limits::StreamPermit;

const KEEP_ALIVE: Bytes = Bytes::from_static(b": keep-alive\n\n");

struct SseBody {
    leading: std::vec::IntoIter<Bytes>,
    run: Option<mpsc::Receiver<Bytes>>,
    keep_alive: Interval,
    /// Gives the user's stream slot back when the body is dropped (finished or disconnected).
    _permit: Option<StreamPermit>,
    /// Counts the stream among the open ones while it lives.
    _open: OpenStream,
}

impl Stream for SseBody {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(frame) = self.leading.next() {
            return Poll::Ready(Some(Ok(frame)));
        }
        let Some(run) = self.run.as_mut() else {
            return Poll::Ready(None);
        };
        match run.poll_recv(cx) {
            Poll::Ready(Some(frame)) => {
                self.keep_alive.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.keep_alive.poll_tick(cx) {
                Poll::Ready(_) => Poll::Ready(Some(Ok(KEEP_ALIVE))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// The `200 text/event-stream` response for a ChatKit stream.
pub fn response(stream: EventStream, keep_alive: Duration) -> HttpResponse {
    let mut ticks = interval_at(Instant::now() + keep_alive, keep_alive);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache, no-transform"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(SseBody {
            leading: stream.leading.into_iter(),
            run: stream.run,
            keep_alive: ticks,
            _permit: stream.permit,
            _open: open_stream(),
        })
}
