//! The fake model of the streams bench: an OpenAI-compatible `/chat/completions` that answers
//! every call with `DELTAS` text deltas, the first at once and the rest `interval` apart. It
//! speaks HTTP/1.1 and HTTP/2 cleartext with prior knowledge on the same port, as model servers
//! behind an HTTP/2-capable proxy do, and allows any number of concurrent HTTP/2 streams. It
//! runs in a process of its own, so its sockets and CPU are not the client's.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::time::{Interval, MissedTickBehavior};

/// Text deltas in every answer.
pub const DELTAS: usize = 50;

/// Serves on a free loopback port, printing `port <n>` on stdout once it listens.
pub async fn serve(interval: Duration) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the fake model binds");
    let port = listener.local_addr().expect("an address").port();
    println!("port {port}");
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| answer(request, interval));
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http2().max_concurrent_streams(None);
            let _ = builder
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    interval: Duration,
) -> Result<hyper::Response<Answer>, std::convert::Infallible> {
    // The request is read to its end first, as a model server would.
    let mut body = request.into_body();
    while let Some(Ok(_)) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {}
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Ok(hyper::Response::builder()
        .header("content-type", "text/event-stream")
        .body(Answer { ticks, sent: 0 })
        .expect("a response"))
}

/// One streamed answer: a delta per tick, then the finish, usage and `[DONE]` together.
pub struct Answer {
    ticks: Interval,
    sent: usize,
}

impl Body for Answer {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.sent > DELTAS {
            return Poll::Ready(None);
        }
        if self.sent < DELTAS && self.ticks.poll_tick(cx).is_pending() {
            return Poll::Pending;
        }
        let n = self.sent;
        self.sent += 1;
        let frame = if n < DELTAS {
            format!(
                "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{n} \"}},\
                 \"finish_reason\":null}}]}}\n\n"
            )
        } else {
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
             data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":50}}\n\n\
             data: [DONE]\n\n"
                .to_owned()
        };
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(frame)))))
    }
}
