//! Data and builders that several feature files use: a PNG, multipart bodies and the two
//! uploads, message inputs, items stored straight into a thread, and the human-input form and
//! tool approval as the fake model asks for them.

use chatkit_server::chatkit::types::ThreadItem;
use serde_json::{Value, json};

use super::answer::Answer;
use super::app::TestApp;
use super::fake_llm::{FakeLlm, Reply};

/// A 1x1 PNG.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

/// A `multipart/form-data` body with one field; returns the content type and the body.
pub fn multipart(
    field: &str,
    filename: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "----chatkit-test-boundary-7d3f";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(b"Content-Disposition: form-data; name=\"");
    body.extend_from_slice(field.as_bytes());
    body.push(b'"');
    if let Some(filename) = filename {
        body.extend_from_slice(b"; filename=\"");
        body.extend_from_slice(filename.as_bytes());
        body.push(b'"');
    }
    body.extend_from_slice(b"\r\n");
    if let Some(content_type) = content_type {
        body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl TestApp {
    /// Uploads `bytes` to a two-phase upload URL as multipart field `file`.
    pub async fn upload_to(&self, url: &str, bytes: &[u8]) -> Answer {
        let (content_type, body) = multipart("file", Some("ignored.bin"), None, bytes);
        let response = self
            .client
            .post(url)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload sent");
        Answer::read(response).await.0
    }

    /// `POST /chatkit/upload` of a multipart body as `user`.
    pub async fn upload_direct_raw(
        &self,
        user: &str,
        query: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let response = self
            .client
            .post(format!("{}/chatkit/upload{query}", self.address))
            .header("X-ChatKit-User", user)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload sent");
        Answer::read(response).await.0
    }

    /// The direct upload of one file as `user`.
    pub async fn upload_direct(
        &self,
        user: &str,
        name: &str,
        mime: Option<&str>,
        bytes: &[u8],
    ) -> Answer {
        let (content_type, body) = multipart("file", Some(name), mime, bytes);
        self.upload_direct_raw(user, "", &content_type, body).await
    }
}

/// A `UserMessageInput` with one text part.
pub fn user_input(text: &str) -> Value {
    json!({"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}})
}

/// Stores an item straight into a thread (items the agent would make in later turns).
pub async fn put_item(app: &TestApp, user: &str, thread_id: &str, item: Value) -> ThreadItem {
    let item: ThreadItem = serde_json::from_value(item).expect("item JSON");
    let scope = app.scope(user).await;
    app.store
        .save_item(&scope, &item)
        .await
        .expect("item saved");
    assert_eq!(item.thread_id, thread_id);
    item
}

/// A small widget item in `thread_id`.
pub fn widget_item(thread_id: &str, id: &str) -> Value {
    json!({
        "id": id, "thread_id": thread_id, "created_at": "2030-01-01T00:00:00.000000Z", "type": "widget",
        "widget": {"type": "Card", "children": [{"type": "Button", "label": "Go",
            "onClickAction": {"type": "demo.click", "payload": {"n": 1}}}]},
        "copy_text": "A card"
    })
}

fn form_args() -> Value {
    json!({"title": "Booking details", "description": "I need a few details.", "fields": [
        {"name": "city", "label": "City", "type": "string", "required": true},
        {"name": "notes", "type": "long_text", "description": "Anything else?"},
        {"name": "nights", "type": "number", "required": true},
        {"name": "pets", "type": "boolean"},
        {"name": "room", "type": "select", "options": ["single", "double"]},
        {"name": "extras", "type": "multi_select", "options": ["breakfast", "parking"]},
        {"name": "from", "type": "date"}
    ]})
}

/// Queues a model step that says something and asks with the form.
pub fn ask(llm: &FakeLlm) {
    llm.push(Reply::ToolCalls {
        text: vec!["Let me ask. ".into()],
        calls: vec![("request_human_input".into(), form_args())],
    });
}

/// The form item of a stream: its item id and interaction id.
pub fn form_of(events: &[Value]) -> (String, String) {
    let item = &events
        .iter()
        .rev()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "widget")
        .expect("a form item")["item"];
    let form = &item["widget"]["children"][0];
    assert_eq!(form["type"], "Form");
    assert_eq!(form["onSubmitAction"]["type"], "human.form_submit");
    let id = form["onSubmitAction"]["payload"]["__interaction"]
        .as_str()
        .unwrap()
        .to_owned();
    (item["id"].as_str().unwrap().to_owned(), id)
}

/// The params of `threads.custom_action`: action `kind` with `payload` on `item`.
pub fn action(thread: &str, item: &str, kind: &str, payload: Value) -> Value {
    json!({"thread_id": thread, "item_id": item, "action": {"type": kind, "payload": payload}})
}

/// A valid answer to the form of [`ask`], for interaction `id`.
pub fn valid_values(id: &str) -> Value {
    json!({"__interaction": id, "city": "Oslo", "nights": "3", "pets": "true", "room": "double",
           "extras": {"o0": true, "o1": false}, "from": "2026-12-01", "notes": ""})
}

/// The approval form of a stream: its item id and interaction id.
pub fn approval_of(events: &[Value]) -> (String, String) {
    let item = &events
        .iter()
        .rev()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "widget")
        .expect("an approval item")["item"];
    let form = &item["widget"]["children"][0];
    assert_eq!(form["onSubmitAction"]["type"], "human.approve");
    let id = form["onSubmitAction"]["payload"]["__interaction"]
        .as_str()
        .unwrap()
        .to_owned();
    (item["id"].as_str().unwrap().to_owned(), id)
}

/// Queues a model step that calls the tool that needs approval.
pub fn call_time(llm: &FakeLlm) {
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("get_current_time".into(), json!({"zone": "UTC"}))],
    });
}
