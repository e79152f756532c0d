//! An HTTP answer of the server, read whole: its JSON, its error code, or its SSE events.

use reqwest::header::HeaderMap;
use serde_json::Value;

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    /// Reads `response` whole; also gives its headers and its bytes as they came.
    pub async fn read(response: reqwest::Response) -> (Answer, HeaderMap, Vec<u8>) {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.bytes().await.expect("body read").to_vec();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let answer = Answer {
            status,
            content_type,
            body,
        };
        (answer, headers, bytes)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `data:` payloads of an SSE body, in order.
    pub fn events(&self) -> Vec<Value> {
        assert!(
            self.content_type.starts_with("text/event-stream"),
            "not a stream: {self:?}"
        );
        parse_sse(&self.body)
    }

    /// The `error.code` of a JSON error answer.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The `data:` payloads of an SSE body, in order.
pub fn parse_sse(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).expect("event is JSON"))
        .collect()
}

/// The `type` of each event.
pub fn event_types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}
