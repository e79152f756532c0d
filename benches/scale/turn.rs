//! One streamed turn as a client sees it: the request, the SSE stream read to its end, and
//! what it said (the thread, the assistant message stored at its end, a busy or other error).
//! Only the few frames the checks need are parsed; text deltas are counted by a byte mark.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::fake_llm::{FakeLlm, Reply};

/// Words of every reply (the fake streams one piece per word).
pub const REPLY_WORDS: usize = 50;
/// How long one stream may stay open before the turn counts as failed.
const TURN_DEADLINE: Duration = Duration::from_secs(60);
/// What marks a text delta frame.
const DELTA_MARK: &[u8] = b"_part.text_delta\"";
/// What the busy answer says.
const BUSY_TEXT: &str = "already being generated";

/// `n` reply pieces, each one word and its space.
pub fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{i} ")).collect()
}

pub fn user_input(text: &str) -> Value {
    json!({"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}})
}

/// How a turn ended for its client.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The stream ended with the assistant message (its id and text) and every delta.
    Completed {
        id: String,
        text: String,
    },
    /// The busy answer: another turn runs on the thread.
    Busy,
    Failed(String),
}

/// One turn sent, with what its client saw.
#[derive(Debug, Clone)]
pub struct Turn {
    pub user: String,
    /// The thread (from `thread.created` for a new one); `None` when a create failed early.
    pub thread_id: Option<String>,
    /// The user message's text, unique over the run.
    pub text: String,
    pub outcome: Outcome,
    /// From sending to the end of the stream.
    pub took: Duration,
    /// When the answer ended.
    pub ended: Instant,
}

/// Sends `threads.create` (no `thread_id`) or `threads.add_user_message` to `address` and
/// reads the stream to its end. When `reply` is given it is queued at the fake first.
pub async fn send(
    client: &reqwest::Client,
    fake: &FakeLlm,
    address: &str,
    user: &str,
    thread_id: Option<&str>,
    text: String,
    reply: Option<Reply>,
) -> Turn {
    if let Some(reply) = reply {
        fake.push(reply);
    }
    let (kind, params) = match thread_id {
        None => ("threads.create", json!({"input": user_input(&text)})),
        Some(id) => (
            "threads.add_user_message",
            json!({"thread_id": id, "input": user_input(&text)}),
        ),
    };
    let sent = Instant::now();
    let mut turn = Turn {
        user: user.to_owned(),
        thread_id: thread_id.map(str::to_owned),
        text,
        outcome: Outcome::Failed("no answer".into()),
        took: Duration::ZERO,
        ended: sent,
    };
    let response = client
        .post(format!("{address}/chatkit"))
        .header("X-ChatKit-User", user)
        .header("Content-Type", "application/json")
        .body(json!({"type": kind, "params": params}).to_string())
        .send()
        .await;
    turn.outcome = match response {
        Err(e) => Outcome::Failed(format!("request: {e}")),
        Ok(r) if r.status() != 200 => Outcome::Failed(format!("HTTP {}", r.status())),
        Ok(r) => read(r, sent, &mut turn.thread_id).await,
    };
    turn.ended = Instant::now();
    turn.took = turn.ended.duration_since(sent);
    turn
}

/// Reads a turn's stream to its end.
async fn read(response: reqwest::Response, sent: Instant, thread: &mut Option<String>) -> Outcome {
    let deadline = sent + TURN_DEADLINE;
    let mut body = response.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let (mut deltas, mut assistant, mut error) = (0, None, None);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = match tokio::time::timeout(left, body.next()).await {
            Err(_) => return Outcome::Failed(format!("stream open after {TURN_DEADLINE:?}")),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Outcome::Failed(format!("stream read: {e}")),
            Ok(Some(Ok(chunk))) => chunk,
        };
        buf.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = find(&buf[start..], b"\n\n") {
            let frame = &buf[start..start + end];
            start += end + 2;
            if find(frame, DELTA_MARK).is_some() {
                deltas += 1;
                continue;
            }
            let Some(event) = frame
                .strip_prefix(b"data: ")
                .and_then(|data| serde_json::from_slice::<Value>(data).ok())
            else {
                continue;
            };
            match event["type"].as_str() {
                Some("thread.created") => *thread = event["thread"]["id"].as_str().map(Into::into),
                Some("thread.item.done") if event["item"]["type"] == "assistant_message" => {
                    let item = &event["item"];
                    assistant = Some((item["id"].as_str().unwrap_or("").to_owned(), text_of(item)));
                }
                Some("error") => error = Some(event["message"].as_str().unwrap_or("").to_owned()),
                _ => {}
            }
        }
        buf.drain(..start);
    }
    match (error, assistant) {
        (Some(message), _) if message.contains(BUSY_TEXT) => Outcome::Busy,
        (Some(message), _) => Outcome::Failed(message),
        (None, Some((id, text))) if deltas == REPLY_WORDS => Outcome::Completed { id, text },
        (None, _) => Outcome::Failed(format!("stream ended after {deltas} deltas, no reply")),
    }
}

/// The text of a stored message item: its content parts' texts, joined.
pub fn text_of(item: &Value) -> String {
    item["content"]
        .as_array()
        .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect())
        .unwrap_or_default()
}

/// Where `needle` (not empty) first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut at = 0;
    while let Some(offset) = haystack.get(at..)?.iter().position(|&b| b == first) {
        let start = at + offset;
        if haystack.get(start + 1..start + needle.len()) == Some(rest) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}
