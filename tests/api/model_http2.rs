//! Streams to a model server that speaks HTTP/2 cleartext (`CHATKIT_LLM_HTTP2_PRIOR_KNOWLEDGE`):
//! the turns share a connection per HTTP worker thread instead of holding one each. The model here speaks only HTTP/2, so
//! a client that fell back to HTTP/1.1 would fail the turns outright.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::support::app::{Db, TestApp, llm_vars, spawn_app_with};

/// A Chat Completions server over HTTP/2 with prior knowledge only, counting its connections.
struct H2Model {
    port: u16,
    connections: Arc<AtomicUsize>,
}

const REPLY: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"over h2\"},\
    \"finish_reason\":null}]}\n\n\
    data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
    data: [DONE]\n\n";

impl H2Model {
    async fn start() -> H2Model {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|_request| async {
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "text/event-stream")
                                .body(Once(Some(Bytes::from_static(REPLY.as_bytes()))))
                                .unwrap(),
                        )
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        H2Model { port, connections }
    }
}

/// A body of one frame.
struct Once(Option<Bytes>);

impl Body for Once {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|bytes| Ok(Frame::data(bytes))))
    }
}

async fn app_on_h2(db: Db, model: &H2Model) -> Option<TestApp> {
    let mut vars = llm_vars(&format!("http://127.0.0.1:{}/v1", model.port));
    vars.push(("CHATKIT_LLM_HTTP2_PRIOR_KNOWLEDGE", "true".to_owned()));
    vars.push(("CHATKIT_AUTO_TITLES", "false".to_owned()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(db, &vars).await
}

/// More turns than the server has worker threads, each answered over HTTP/2, on at most one
/// connection per worker thread (each thread's model client keeps its own).
async fn streams_share_one_h2c_connection(db: Db) {
    let model = H2Model::start().await;
    let Some(app) = app_on_h2(db, &model).await else {
        assert!(matches!(db, Db::Postgres), "only Postgres may be missing");
        return;
    };
    // actix starts one worker per core.
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    for n in 0..workers + 2 {
        let (_, events) = app.create_thread("ann", &format!("hello {n}")).await;
        let deltas: Vec<&str> = events
            .iter()
            .filter(|e| e["update"]["type"] == "assistant_message.content_part.text_delta")
            .filter_map(|e| e["update"]["delta"].as_str())
            .collect();
        assert_eq!(deltas, ["over h2"], "{events:?}");
    }
    let connections = model.connections.load(Ordering::SeqCst);
    assert!(
        (1..=workers).contains(&connections),
        "{connections} connections for {} turns on {workers} workers",
        workers + 2
    );
}

mod streams_share_one_h2c_connection {
    use crate::support::app::Db;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::streams_share_one_h2c_connection(Db::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::streams_share_one_h2c_connection(Db::Postgres).await;
    }
}
