//! A deadline on every request body, so that a client which trickles a body (or announces one
//! and never sends it) cannot hold a connection and its descriptor for ever. The body must
//! arrive within `CHATKIT_BODY_TIMEOUT_SECS`, a deadline pushed back a second for every
//! [`MIN_BODY_RATE`] bytes received, so a large upload over a slow but working link still
//! completes. A late body is answered with 408 and the connection is closed, whatever route
//! (chat, uploads, console forms) was reading it.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use bytes::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use super::AppState;
use super::error::AppError;

/// Bytes per second of body that push the deadline back by a second (Apache's
/// `mod_reqtimeout` uses 500 the same way).
pub const MIN_BODY_RATE: u64 = 1024;

/// Puts the deadline on the request's body and answers 408 when it passes, whatever the
/// handler made of the failed read.
pub async fn body_deadline(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(timeout) = request
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.http.body_timeout)
    else {
        return Ok(next.call(request).await?.map_into_boxed_body());
    };
    let expired = Rc::new(Cell::new(false));
    let body = Deadline {
        inner: request.take_payload(),
        timeout,
        started: Instant::now(),
        received: 0,
        timer: None,
        expired: expired.clone(),
    };
    let body: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(body);
    request.set_payload(Payload::from(body));
    let result = next.call(request).await;
    if !expired.get() {
        return Ok(result?.map_into_boxed_body());
    }
    let error = AppError::BodyTimeout {
        secs: timeout.as_secs(),
    };
    match result {
        Ok(response) => Ok(response.into_response(error.error_response())),
        Err(_) => Err(error.into()),
    }
}

/// The request's body, failing once its deadline passes.
struct Deadline {
    inner: Payload,
    timeout: Duration,
    started: Instant,
    received: u64,
    /// Set the first time the body is not all there yet: most bodies arrive with their
    /// request's head and never need one.
    timer: Option<Pin<Box<Sleep>>>,
    /// Tells [`body_deadline`] that the failure was the deadline.
    expired: Rc<Cell<bool>>,
}

impl Deadline {
    /// The timeout from the request's start, plus a second per KiB received so far.
    fn deadline(&self) -> Instant {
        let earned = Duration::from_secs_f64(self.received as f64 / MIN_BODY_RATE as f64);
        self.started + self.timeout + earned
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired.get() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received += chunk.len() as u64;
                let deadline = this.deadline();
                if let Some(timer) = &mut this.timer {
                    timer.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => {
                let deadline = this.deadline();
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.expired.set(true);
                        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the request body did not arrive in time",
                        )))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}
