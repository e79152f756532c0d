//! The floor the streams bench compares the server with: a bare actix-web relay (this bench
//! binary started again), which answers every `POST /chatkit` by streaming one
//! chat-completions call to the same fake model, through the same HTTP client library as the
//! server (reqwest, HTTP/2 with prior knowledge when the server is told so), and writes each
//! text delta to the client as an SSE frame of the size the server writes. No database, no
//! agent, no events but the deltas: what any server that relays a model's stream to its
//! clients must at least do, measured under the same burst, client and model.

use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

/// Set in the environment of this binary started again as the bare relay: its listen address.
pub const ROLE: &str = "CHATKIT_BENCH_BARE_ADDRESS";
/// With `ROLE`: the fake model's base URL.
pub const MODEL: &str = "CHATKIT_BENCH_BARE_MODEL";
/// With `ROLE`: "2" when the model is to be spoken to over HTTP/2 cleartext.
pub const HTTP: &str = "CHATKIT_BENCH_BARE_HTTP";

/// The request the relay sends for every stream: one short user message and no tools (the
/// server's request carries its tools' schemas too).
const REQUEST: &str = r#"{"model":"bench","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}"#;

/// Serves until killed; actix-web's defaults (a worker per core), as the server has.
pub fn serve(address: &str, model: String, h2c: bool) {
    let mut client = reqwest::Client::builder();
    if h2c {
        client = client.http2_prior_knowledge();
    }
    let client = client.build().expect("an HTTP client");
    let url = format!("{model}/chat/completions");
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let (client, url) = (client.clone(), url.clone());
            App::new().route(
                "/chatkit",
                web::post().to(move |_request: web::Bytes| relay(client.clone(), url.clone())),
            )
        })
        .backlog(4096)
        .bind(address)
        .expect("bind")
        .run()
        .await
        .expect("serve");
    });
}

/// One stream: the model's call, its deltas as frames; the body ends with the model's stream.
async fn relay(client: reqwest::Client, url: String) -> HttpResponse {
    let answer = match client
        .post(url)
        .header("content-type", "application/json")
        .body(REQUEST)
        .send()
        .await
    {
        Ok(answer) => answer,
        Err(e) => return HttpResponse::BadGateway().body(e.to_string()),
    };
    let mut pending = BytesMut::new();
    let frames = answer.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(actix_web::error::ErrorBadGateway)?;
        pending.extend_from_slice(&chunk);
        let mut out = BytesMut::new();
        // Whole events only: an event split across chunks waits for its end.
        while let Some(end) = memchr::memmem::find(&pending, b"\n\n") {
            let event = pending.split_to(end + 2);
            if let Some(text) = delta_text(&event) {
                out.extend_from_slice(&frame(text));
            }
        }
        Ok::<Bytes, actix_web::Error>(out.freeze())
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(frames)
}

/// The text of a `data:` event's content delta, if it has one.
fn delta_text(event: &[u8]) -> Option<&str> {
    const MARK: &[u8] = b"\"content\":\"";
    let start = memchr::memmem::find(event, MARK)? + MARK.len();
    let len = memchr::memchr(b'"', &event[start..])?;
    std::str::from_utf8(&event[start..start + len]).ok()
}

/// A delta as the server frames it.
fn frame(text: &str) -> Vec<u8> {
    format!(
        "data: {{\"type\":\"thread.item.updated\",\"item_id\":\"msg_019ad5e1c2f0a1b2c3d4e5f6a7b8\",\
         \"update\":{{\"type\":\"assistant_message.content_part.text_delta\",\"content_index\":0,\
         \"delta\":\"{text}\"}}}}\n\n"
    )
    .into_bytes()
}
