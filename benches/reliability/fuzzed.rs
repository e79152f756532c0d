//! The requests of the fuzz phase: a seeded generator, the valid requests it starts from, and
//! the ways it breaks them (mutated values, bad JSON, wrong envelope types, huge strings, other
//! routes and methods, and raw requests with broken heads and framing).

use serde_json::{Value, json};

/// A small seeded generator (xorshift64*), so every run sends the same requests.
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A valid request of each kind the fuzz starts from.
pub fn templates() -> Vec<Value> {
    let input = json!({"content": [{"type": "input_text", "text": "hi"}], "attachments": [],
                       "inference_options": {}});
    vec![
        json!({"type": "threads.create", "params": {"input": input}}),
        json!({"type": "threads.add_user_message", "params": {"thread_id": "thr_x", "input": input}}),
        json!({"type": "threads.list", "params": {"limit": 5, "order": "desc"}}),
        json!({"type": "threads.get_by_id", "params": {"thread_id": "thr_x"}}),
        json!({"type": "threads.update", "params": {"thread_id": "thr_x", "title": "t"}}),
        json!({"type": "threads.delete", "params": {"thread_id": "thr_x"}}),
        json!({"type": "items.list", "params": {"thread_id": "thr_x", "limit": 20}}),
        json!({"type": "items.feedback", "params": {"thread_id": "thr_x", "item_ids": ["itm_1"], "kind": "positive"}}),
        json!({"type": "threads.custom_action", "params": {"thread_id": "thr_x", "item_id": "itm_1", "action": {"type": "human.form_submit", "payload": {"a": 1}}}}),
        json!({"type": "threads.sync_custom_action", "params": {"thread_id": "thr_x", "item_id": "itm_1", "action": {"type": "x", "payload": {}}}}),
        json!({"type": "threads.add_client_tool_output", "params": {"thread_id": "thr_x", "result": {"ok": true}}}),
        json!({"type": "threads.add_structured_input", "params": {"thread_id": "thr_x", "item_id": "itm_1", "inputs": [], "status": "submitted"}}),
        json!({"type": "threads.retry_after_item", "params": {"thread_id": "thr_x", "item_id": "itm_1"}}),
        json!({"type": "attachments.create", "params": {"name": "a.png", "size": 10, "mime_type": "image/png"}}),
        json!({"type": "attachments.delete", "params": {"attachment_id": "atc_x"}}),
        json!({"type": "input.transcribe", "params": {"audio_base64": "AAAA", "mime_type": "audio/webm"}}),
    ]
}

/// A random JSON value: wrong types, empty and huge strings, deep nesting.
fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 7 } else { 10 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!(-1),
        4 => json!(""),
        5 => json!("x".repeat(rng.below(300_000))),
        6 => json!(*rng.pick(&[
            "thr_x",
            "itm_1",
            "\u{0}",
            "💥",
            "../../etc",
            "<script>",
            "%00"
        ])),
        7 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        8 => {
            let keys = [
                "type",
                "text",
                "thread_id",
                "content",
                "input",
                "limit",
                "id",
                "zz",
            ];
            Value::Object(
                (0..rng.below(4))
                    .map(|_| (rng.pick(&keys).to_string(), random_value(rng, depth + 1)))
                    .collect(),
            )
        }
        _ => (0..rng.below(200)).fold(json!(1), |inner, _| json!([inner])),
    }
}

/// Replaces one value inside `value`, at a random depth.
fn mutate(rng: &mut Rng, value: &mut Value, depth: usize) {
    let children = match value {
        Value::Object(map) if !map.is_empty() => map.len(),
        Value::Array(items) if !items.is_empty() => items.len(),
        _ => 0,
    };
    if children == 0 || rng.below(3) == 0 {
        *value = random_value(rng, depth);
        return;
    }
    let at = rng.below(children);
    match value {
        Value::Object(map) => {
            if let Some(child) = map.values_mut().nth(at) {
                mutate(rng, child, depth + 1);
            }
        }
        Value::Array(items) => mutate(rng, &mut items[at], depth + 1),
        _ => {}
    }
}

/// One fuzzed request: a label for the report and the raw bytes to send.
pub struct Fuzzed {
    pub label: String,
    pub bytes: Vec<u8>,
}

/// A request head and body as bytes.
fn http(method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn chat(label: String, body: Vec<u8>, rng: &mut Rng) -> Fuzzed {
    let user = match rng.below(10) {
        0 => String::new(),
        1 => "u".repeat(500),
        2 => "ü\u{7f}".into(),
        _ => format!("user{}", rng.below(20)),
    };
    let headers = vec![
        ("X-ChatKit-User", user),
        ("Content-Type", "application/json".into()),
    ];
    Fuzzed {
        bytes: http("POST", "/chatkit", &headers, &body),
        label,
    }
}

pub fn fuzzed(rng: &mut Rng, templates: &[Value]) -> Fuzzed {
    match rng.below(100) {
        // Mutated valid requests.
        0..=44 => {
            let mut request = rng.pick(templates).clone();
            let kind = request["type"].as_str().unwrap_or("?").to_owned();
            for _ in 0..=rng.below(3) {
                mutate(rng, &mut request, 0);
            }
            chat(
                format!("mutated {kind}"),
                request.to_string().into_bytes(),
                rng,
            )
        }
        // Bad JSON: a valid request cut short, or with bytes flipped.
        45..=54 => {
            let mut body = rng.pick(templates).to_string().into_bytes();
            if rng.below(2) == 0 {
                body.truncate(rng.below(body.len()));
            } else {
                for _ in 0..3 {
                    let at = rng.below(body.len());
                    body[at] = rng.next() as u8;
                }
            }
            chat("bad JSON".into(), body, rng)
        }
        // Wrong types where the envelope is.
        55..=62 => {
            let body = json!({"type": random_value(rng, 2), "params": random_value(rng, 2)});
            chat("wrong envelope".into(), body.to_string().into_bytes(), rng)
        }
        // Huge strings, over and under the body limit.
        63..=67 => {
            let size = *rng.pick(&[900_000, 1_048_000, 1_100_000, 5_000_000]);
            let body = json!({"type": "threads.create", "params": {"input": {"content": [{"type": "input_text", "text": "x".repeat(size)}], "attachments": [], "inference_options": {}}}});
            chat(
                format!("huge string {size}"),
                body.to_string().into_bytes(),
                rng,
            )
        }
        // Other routes and methods, with and without bodies.
        68..=79 => {
            let paths = [
                "/",
                "/chatkit",
                "/chatkit/upload",
                "/chatkit/attachments/atc_x/upload?token=x",
                "/chatkit/attachments/atc_x/content",
                "/admin",
                "/admin/login",
                "/admin/threads",
                "/admin/forms",
                "/healthz",
                "/readyz",
                "/static/../Cargo.toml",
                "/agents/nope/chat",
                "/%00",
                "/chatkit?agent=%ff",
            ];
            let methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"];
            let path = *rng.pick(&paths);
            let method = *rng.pick(&methods);
            let content_type = *rng.pick(&[
                "multipart/form-data; boundary=b",
                "multipart/form-data",
                "application/x-www-form-urlencoded",
                "application/json",
                "text/plain",
            ]);
            let body = match rng.below(3) {
                0 => b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--b--\r\n".to_vec(),
                1 => random_value(rng, 1).to_string().into_bytes(),
                _ => Vec::new(),
            };
            let headers = vec![
                ("X-ChatKit-User", "user1".to_owned()),
                ("Content-Type", content_type.to_owned()),
            ];
            Fuzzed {
                label: format!("{method} {}", path.split('?').next().unwrap_or(path)),
                bytes: http(method, path, &headers, &body),
            }
        }
        // Broken heads and framing.
        _ => {
            let body = rng.pick(templates).to_string();
            let (label, bytes) = match rng.below(10) {
                0 => (
                    "no header end",
                    b"POST /chatkit HTTP/1.1\r\nHost: b\r\n".to_vec(),
                ),
                1 => (
                    "bad header name",
                    http(
                        "POST",
                        "/chatkit",
                        &[("Bad Name", "x".into())],
                        body.as_bytes(),
                    ),
                ),
                2 => (
                    "huge header",
                    http(
                        "POST",
                        "/chatkit",
                        &[("X-ChatKit-User", "u".repeat(70_000))],
                        body.as_bytes(),
                    ),
                ),
                3 => (
                    "negative length",
                    http(
                        "POST",
                        "/chatkit",
                        &[("Content-Length", "-5".into())],
                        body.as_bytes(),
                    ),
                ),
                4 => (
                    "two lengths",
                    http(
                        "POST",
                        "/chatkit",
                        &[
                            ("Content-Length", "3".into()),
                            ("Content-Length", "4".into()),
                        ],
                        body.as_bytes(),
                    ),
                ),
                5 => (
                    "chunked and length",
                    http(
                        "POST",
                        "/chatkit",
                        &[
                            ("Transfer-Encoding", "chunked".into()),
                            ("Content-Length", "4".into()),
                        ],
                        b"zz\r\nxx",
                    ),
                ),
                6 => (
                    "bad chunk",
                    http(
                        "POST",
                        "/chatkit",
                        &[
                            ("X-ChatKit-User", "user1".into()),
                            ("Transfer-Encoding", "chunked".into()),
                            ("Content-Length", "".into()),
                        ],
                        b"zz\r\nxx\r\n0\r\n\r\n",
                    ),
                ),
                7 => (
                    "not HTTP",
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(),
                ),
                8 => (
                    "bad version",
                    format!(
                        "POST /chatkit HTTP/9.9\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes(),
                ),
                _ => (
                    "short body",
                    http(
                        "POST",
                        "/chatkit",
                        &[
                            ("X-ChatKit-User", "user1".into()),
                            ("Content-Length", (body.len() + 100).to_string()),
                        ],
                        body.as_bytes(),
                    ),
                ),
            };
            Fuzzed {
                label: format!("raw: {label}"),
                bytes,
            }
        }
    }
}
