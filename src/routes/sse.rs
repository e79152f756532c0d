//! Server-Sent Events framing for ChatKit streams: the frames of a [`EventStream`], with a
//! keep-alive comment whenever the run is quiet, so proxies keep the connection and a vanished
//! client is noticed (actix only sees a dead socket when it writes to it).
//!
//! Frames that arrive together go out together. actix writes to the socket whenever the body
//! has nothing ready, so a run whose model answers faster than one frame per scheduler pass
//! (a fast model, a busy server) would cost one socket write per text delta: on loopback that
//! send is most of a delta's cost. So when frames have just arrived, the body lets the other
//! ready tasks (the model stream, the run) have one pass before it hands them on, and keeps
//! gathering while each pass brings more. A model that streams at reading speed loses one
//! scheduler pass per frame, microseconds.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header;
use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep, sleep_until};

use crate::observe::metrics::{OpenStream, open_stream};
use crate::service::chatkit::EventStream;
use crate::service::limits::StreamPermit;

const KEEP_ALIVE: Bytes = Bytes::from_static(b": keep-alive\n\n");

/// The most scheduler passes frames are held for; bounds the delay a steady burst adds.
const MOST_PASSES: u8 = 8;

/// The most bytes held back before they are handed on (actix's own write buffer is 32 KiB).
const MOST_HELD: usize = 16 * 1024;

struct SseBody {
    leading: std::vec::IntoIter<Bytes>,
    /// The run's frames; `None` once the run has ended.
    run: Option<mpsc::Receiver<Bytes>>,
    /// Frames received and not yet handed on.
    held: VecDeque<Bytes>,
    held_bytes: usize,
    /// Passes spent gathering the frames held now.
    passes: u8,
    /// Handing `held` on: actix takes them one per poll until the body says it has no more.
    releasing: bool,
    /// Fires when a keep-alive may be due: no sooner than `every` after `sent`. Moved only
    /// when it fires, not at every frame (a timer reset per text delta showed in profiles).
    keep_alive: Pin<Box<Sleep>>,
    every: Duration,
    /// When frames were last handed on.
    sent: Instant,
    /// Gives the user's stream slot back when the body is dropped (finished or disconnected).
    _permit: Option<StreamPermit>,
    /// Counts the stream among the open ones while it lives.
    _open: OpenStream,
}

impl SseBody {
    fn new(stream: EventStream, keep_alive: Duration) -> SseBody {
        let now = Instant::now();
        SseBody {
            leading: stream.leading.into_iter(),
            run: stream.run,
            held: VecDeque::new(),
            held_bytes: 0,
            passes: 0,
            releasing: false,
            keep_alive: Box::pin(sleep_until(now + keep_alive)),
            every: keep_alive,
            sent: now,
            _permit: stream.permit,
            _open: open_stream(),
        }
    }

    /// Takes every frame the run has ready; whether any came.
    fn gather(&mut self, cx: &mut Context<'_>) -> bool {
        let mut fresh = false;
        while self.held_bytes < MOST_HELD {
            let Some(run) = self.run.as_mut() else { break };
            match run.poll_recv(cx) {
                Poll::Ready(Some(frame)) => {
                    self.held_bytes += frame.len();
                    self.held.push_back(frame);
                    fresh = true;
                }
                Poll::Ready(None) => self.run = None,
                Poll::Pending => break,
            }
        }
        fresh
    }
}

/// Has the runtime poll this body again after the other ready tasks have run and the I/O
/// driver has been polled: the model's connection task and the run need both to produce more.
fn yield_to_runtime(cx: &mut Context<'_>) {
    let yielding = std::pin::pin!(tokio::task::yield_now());
    // The first poll of `yield_now` hands the waker to the scheduler and is always pending.
    let _ = yielding.poll(cx);
}

impl Stream for SseBody {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(frame) = self.leading.next() {
            return Poll::Ready(Some(Ok(frame)));
        }
        loop {
            if self.releasing {
                if let Some(frame) = self.held.pop_front() {
                    self.held_bytes -= frame.len();
                    return Poll::Ready(Some(Ok(frame)));
                }
                self.releasing = false;
            }
            // Also registers this task with the channel when nothing is ready.
            let fresh = self.gather(cx);
            let more_may_come = self.run.is_some() && self.held_bytes < MOST_HELD;
            if fresh && more_may_come && self.passes < MOST_PASSES {
                self.passes += 1;
                yield_to_runtime(cx);
                return Poll::Pending;
            }
            self.passes = 0;
            if self.held.is_empty() {
                break;
            }
            self.releasing = true;
            self.sent = Instant::now();
        }
        if self.run.is_none() {
            return Poll::Ready(None);
        }
        while self.keep_alive.as_mut().poll(cx).is_ready() {
            let (now, every) = (Instant::now(), self.every);
            let due = self.sent + every;
            if due <= now {
                self.sent = now;
                self.keep_alive.as_mut().reset(now + every);
                return Poll::Ready(Some(Ok(KEEP_ALIVE)));
            }
            // Frames went out since it was set: a full quiet interval from the last of them.
            self.keep_alive.as_mut().reset(due);
        }
        Poll::Pending
    }
}

/// The `200 text/event-stream` response for a ChatKit stream.
pub fn response(stream: EventStream, keep_alive: Duration) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache, no-transform"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(SseBody::new(stream, keep_alive))
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn body(run: mpsc::Receiver<Bytes>) -> SseBody {
        quiet_after(run, Duration::from_secs(60))
    }

    fn quiet_after(run: mpsc::Receiver<Bytes>, keep_alive: Duration) -> SseBody {
        let stream = EventStream {
            leading: vec![Bytes::from_static(b"data: first\n\n")],
            run: Some(run),
            permit: None,
        };
        SseBody::new(stream, keep_alive)
    }

    /// One poll, as actix makes it: what the body hands on now, or `None` for "nothing yet".
    fn poll(body: &mut SseBody) -> Option<Option<Bytes>> {
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(body).poll_next(&mut cx) {
            Poll::Ready(frame) => Some(frame.map(|f| f.unwrap())),
            Poll::Pending => None,
        }
    }

    fn frame(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    #[tokio::test]
    async fn frames_that_arrive_while_the_body_gathers_go_out_together_in_order() {
        let (tx, rx) = mpsc::channel(8);
        let mut body = body(rx);
        assert_eq!(poll(&mut body), Some(Some(frame("data: first\n\n"))));
        assert_eq!(poll(&mut body), None, "nothing from the run yet");
        tx.send(frame("a")).await.unwrap();
        assert_eq!(poll(&mut body), None, "a fresh frame waits one pass");
        tx.send(frame("b")).await.unwrap();
        assert_eq!(
            poll(&mut body),
            None,
            "a pass that brought a frame waits another"
        );
        // A pass that brings nothing hands on everything held, one frame per poll, so actix
        // puts them in one write.
        assert_eq!(poll(&mut body), Some(Some(frame("a"))));
        tx.send(frame("c")).await.unwrap();
        assert_eq!(poll(&mut body), Some(Some(frame("b"))));
        assert_eq!(poll(&mut body), None, "c starts the next gathering");
        drop(tx);
        assert_eq!(poll(&mut body), Some(Some(frame("c"))));
        assert_eq!(
            poll(&mut body),
            Some(None),
            "the run ended and all was handed on"
        );
    }

    #[tokio::test]
    async fn a_steady_burst_is_held_for_a_bounded_number_of_passes() {
        let (tx, rx) = mpsc::channel(64);
        let mut body = body(rx);
        poll(&mut body);
        let mut pending = 0u8;
        loop {
            tx.send(frame("x")).await.unwrap();
            match poll(&mut body) {
                None => pending += 1,
                Some(frame) => {
                    assert_eq!(frame.as_deref(), Some(&b"x"[..]));
                    break;
                }
            }
        }
        assert_eq!(pending, MOST_PASSES);
    }

    /// What the body hands on next, waiting for it.
    async fn next(body: &mut SseBody) -> Option<Bytes> {
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_next(cx))
            .await
            .map(|frame| frame.unwrap())
    }

    #[tokio::test]
    async fn a_keep_alive_comes_a_full_quiet_interval_after_the_last_frame() {
        let every = Duration::from_millis(300);
        let (tx, rx) = mpsc::channel(8);
        let mut body = quiet_after(rx, every);
        assert_eq!(next(&mut body).await.unwrap(), frame("data: first\n\n"));
        // A frame late in the first interval: the keep-alive that was due then moves.
        tokio::time::sleep(every * 2 / 3).await;
        tx.send(frame("a")).await.unwrap();
        assert_eq!(next(&mut body).await.unwrap(), frame("a"));
        let handed_on = Instant::now();
        assert_eq!(next(&mut body).await.unwrap(), KEEP_ALIVE);
        assert!(
            handed_on.elapsed() >= every,
            "a keep-alive {:?} after a frame",
            handed_on.elapsed()
        );
        assert_eq!(
            next(&mut body).await.unwrap(),
            KEEP_ALIVE,
            "and then each interval"
        );
        drop(tx);
        assert!(next(&mut body).await.is_none());
    }
}
