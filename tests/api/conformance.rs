//! Conformance with the official types: drives every request type, records every JSON answer
//! and SSE event, and has `tests/conformance/validate_wire.py` check each record against the
//! pydantic types of `openai-chatkit` 1.6.5 (strict, and re-serialised as the SDK would).

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::app::{
    Db, TestApp, llm_vars, spawn_app, spawn_app_with, spawn_llm_app, spawn_mcp_app,
};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{
    PNG, action, approval_of, ask, call_time, form_of, put_item, user_input, valid_values,
    widget_item,
};
use crate::support::mcp_server::TestMcpServer;
use crate::support::skip;

/// Wire records, each with the SDK type it must validate as.
#[derive(Default)]
struct Recorder {
    lines: Vec<String>,
}

impl Recorder {
    fn record(&mut self, kind: &str, value: &Value, context: &str) {
        self.lines
            .push(json!({"kind": kind, "json": value, "context": context}).to_string());
    }

    async fn json(&mut self, app: &TestApp, kind: &str, request: &str, params: Value) -> Value {
        let body = app.ok("ann", request, params).await;
        self.record(kind, &body, request);
        body
    }

    async fn stream(&mut self, app: &TestApp, request: &str, params: Value) -> Vec<Value> {
        let events = app.stream("ann", request, params).await;
        for event in &events {
            self.record("stream_event", event, request);
        }
        events
    }
}

/// The Python that has `chatkit` installed: `CHATKIT_TEST_PYTHON`, or `python3`.
fn python() -> String {
    std::env::var("CHATKIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_validates_against_the_official_types() {
    let app = spawn_app(Db::Sqlite).await.expect("app");
    let mut rec = Recorder::default();

    let tagged = json!({
        "content": [{"type": "input_text", "text": "Hello "},
                    {"type": "input_tag", "id": "ent_1", "text": "Ada", "data": {"role": "engineer"}}],
        "attachments": [], "quoted_text": "quoted", "inference_options": {"model": "m", "tool_choice": {"id": "t"}}
    });
    let created = rec
        .stream(&app, "threads.create", json!({"input": tagged}))
        .await;
    let id = created[0]["thread"]["id"].as_str().unwrap().to_owned();
    let message_id = created[1]["item"]["id"].as_str().unwrap().to_owned();
    rec.stream(
        &app,
        "threads.add_user_message",
        json!({"thread_id": id, "input": user_input("more")}),
    )
    .await;

    put_item(&app, "ann", &id, widget_item(&id, "wdg_conf")).await;
    put_item(&app, "ann", &id, json!({"id": "tc_conf", "thread_id": id, "created_at": "2030-01-01T00:00:01.000000Z",
        "type": "client_tool_call", "status": "pending", "call_id": "c1", "name": "where", "arguments": {}})).await;
    rec.stream(
        &app,
        "threads.add_client_tool_output",
        json!({"thread_id": id, "result": {"ok": true}}),
    )
    .await;
    put_item(&app, "ann", &id, json!({"id": "msg_si", "thread_id": id, "created_at": "2030-01-01T00:00:02.000000Z",
        "type": "structured_input", "status": "pending",
        "inputs": [{"id": "q", "question": "Which?", "type": "multiple_choice", "options": [{"value": "A"}]},
                   {"id": "n", "question": "Notes?", "type": "freeform", "description": "Optional"}]})).await;
    rec.stream(&app, "threads.add_structured_input",
        json!({"thread_id": id, "item_id": "msg_si", "input": {"answers": {"q": {"values": ["A"]}}}})).await;
    rec.stream(
        &app,
        "threads.custom_action",
        json!({"thread_id": id, "item_id": "wdg_conf", "action": {"type": "demo.click"}}),
    )
    .await;
    rec.stream(
        &app,
        "threads.custom_action",
        json!({"thread_id": id, "item_id": message_id, "action": {"type": "demo.click"}}),
    )
    .await;

    rec.json(
        &app,
        "thread",
        "threads.get_by_id",
        json!({"thread_id": id}),
    )
    .await;
    rec.json(&app, "thread_page", "threads.list", json!({"limit": 1}))
        .await;
    rec.json(
        &app,
        "item_page",
        "items.list",
        json!({"thread_id": id, "limit": 2}),
    )
    .await;
    rec.json(
        &app,
        "item_page",
        "items.list",
        json!({"thread_id": id, "order": "asc"}),
    )
    .await;
    rec.json(
        &app,
        "thread",
        "threads.update",
        json!({"thread_id": id, "title": "Conformance"}),
    )
    .await;
    rec.json(
        &app,
        "empty",
        "items.feedback",
        json!({"thread_id": id, "item_ids": [message_id], "kind": "positive"}),
    )
    .await;
    rec.stream(
        &app,
        "threads.retry_after_item",
        json!({"thread_id": id, "item_id": message_id}),
    )
    .await;
    rec.json(&app, "empty", "threads.delete", json!({"thread_id": id}))
        .await;

    assert!(rec.lines.len() >= 24, "the scenario records every answer");
    rec.validate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_validate_against_the_official_types() {
    let app = spawn_app(Db::Sqlite).await.expect("app");
    let mut rec = Recorder::default();

    // Two-phase: as created (with upload_descriptor, and preview_url for the image), then as
    // the upload answers it.
    let file = rec
        .json(
            &app,
            "attachment",
            "attachments.create",
            json!({"name": "notes.txt", "size": 5, "mime_type": "text/plain"}),
        )
        .await;
    let image = rec
        .json(
            &app,
            "attachment",
            "attachments.create",
            json!({"name": "cat.png", "size": PNG.len(), "mime_type": "image/png"}),
        )
        .await;
    for (created, bytes) in [(&file, b"hello".as_slice()), (&image, PNG)] {
        let url = created["upload_descriptor"]["url"].as_str().unwrap();
        let uploaded = app.upload_to(url, bytes).await;
        assert_eq!(uploaded.status, 200, "{uploaded:?}");
        rec.record("attachment", &uploaded.json(), "two-phase upload");
    }
    // Direct.
    for (name, mime, bytes) in [
        ("d.png", "image/png", PNG),
        ("d.json", "application/json", b"{}".as_slice()),
    ] {
        let direct = app.upload_direct("ann", name, Some(mime), bytes).await;
        assert_eq!(direct.status, 200, "{direct:?}");
        rec.record("attachment", &direct.json(), "direct upload");
    }

    // Messages carrying them: the stream, the thread, the item pages.
    let ids = [&file, &image].map(|a| a["id"].as_str().unwrap().to_owned());
    let input = json!({"content": [{"type": "input_text", "text": "Look"}], "attachments": ids,
                       "inference_options": {}});
    let events = rec
        .stream(&app, "threads.create", json!({"input": input}))
        .await;
    assert_eq!(
        events[1]["item"]["attachments"].as_array().unwrap().len(),
        2
    );
    let id = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    rec.json(
        &app,
        "thread",
        "threads.get_by_id",
        json!({"thread_id": id}),
    )
    .await;
    rec.json(&app, "item_page", "items.list", json!({"thread_id": id}))
        .await;
    rec.json(
        &app,
        "empty",
        "attachments.delete",
        json!({"attachment_id": ids[0]}),
    )
    .await;
    rec.validate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_turns_validate_against_the_official_types() {
    let (app, llm) = spawn_llm_app(Db::Sqlite).await.expect("app");
    let mut rec = Recorder::default();

    llm.push(Reply::ToolCalls {
        text: vec!["Checking. ".into()],
        calls: vec![("get_current_time".into(), json!({}))],
    });
    llm.push(Reply::Text(vec!["It is ".into(), "noon.".into()]));
    llm.push(Reply::Completion("Time check".into()));
    let events = rec
        .stream(
            &app,
            "threads.create",
            json!({"input": user_input("What time is it?")}),
        )
        .await;
    let id = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    for kind in [
        "progress_update",
        "thread.item.added",
        "thread.item.updated",
        "thread.updated",
    ] {
        assert!(
            events.iter().any(|e| e["type"] == kind),
            "the scenario covers {kind}"
        );
    }

    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("get_selection".into(), json!({"what": "all"}))],
    });
    let events = rec
        .stream(
            &app,
            "threads.add_user_message",
            json!({"thread_id": id, "input": user_input("Read it")}),
        )
        .await;
    assert_eq!(events.last().unwrap()["item"]["type"], "client_tool_call");
    llm.push(Reply::Text(vec!["Read.".into()]));
    rec.stream(
        &app,
        "threads.add_client_tool_output",
        json!({"thread_id": id, "result": {"text": "x"}}),
    )
    .await;

    llm.push(Reply::Error {
        status: 401,
        message: "bad key".into(),
    });
    rec.stream(
        &app,
        "threads.add_user_message",
        json!({"thread_id": id, "input": user_input("Again")}),
    )
    .await;
    llm.push(Reply::BreakAfter(vec!["half".into()]));
    rec.stream(
        &app,
        "threads.add_user_message",
        json!({"thread_id": id, "input": user_input("Again")}),
    )
    .await;

    rec.json(
        &app,
        "thread",
        "threads.get_by_id",
        json!({"thread_id": id}),
    )
    .await;
    rec.json(
        &app,
        "item_page",
        "items.list",
        json!({"thread_id": id, "order": "asc", "limit": 50}),
    )
    .await;
    rec.validate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_items_validate_against_the_official_types() {
    let mcp = TestMcpServer::start().await;
    let servers = json!([{"name": "weather", "url": mcp.url}]);
    let (app, llm) = spawn_mcp_app(Db::Sqlite, servers).await.expect("app");
    let mut rec = Recorder::default();
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("weather".into(), json!({"city": "Oslo"}))],
    });
    llm.push(Reply::Text(vec!["Here.".into()]));
    let events = rec
        .stream(
            &app,
            "threads.create",
            json!({"input": user_input("Weather?")}),
        )
        .await;
    let id = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    let widget = events
        .iter()
        .find(|e| e["item"]["type"] == "widget")
        .unwrap()["item"]
        .clone();
    let action = widget["widget"]["children"][1]["onClickAction"].clone();
    let params = json!({"thread_id": id, "item_id": widget["id"], "action": action});
    let events = rec
        .stream(&app, "threads.custom_action", params.clone())
        .await;
    assert_eq!(events[1]["type"], "thread.item.replaced");
    rec.json(
        &app,
        "sync_custom_action",
        "threads.sync_custom_action",
        params,
    )
    .await;
    rec.json(&app, "item_page", "items.list", json!({"thread_id": id}))
        .await;
    rec.validate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_forms_validate_against_the_official_types() {
    let (app, llm) = spawn_llm_app(Db::Sqlite).await.expect("app");
    let mut rec = Recorder::default();
    ask(&llm);
    let events = rec
        .stream(&app, "threads.create", json!({"input": user_input("Book")}))
        .await;
    let id = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    let (item, interaction) = form_of(&events);
    let events = rec
        .stream(
            &app,
            "threads.add_user_message",
            json!({"thread_id": id, "input": user_input("hello?")}),
        )
        .await;
    assert_eq!(events[0]["type"], "notice");
    let invalid = json!({"__interaction": interaction, "nights": "x", "from": "soon"});
    let events = rec
        .stream(
            &app,
            "threads.custom_action",
            action(&id, &item, "human.form_submit", invalid),
        )
        .await;
    assert_eq!(events[0]["type"], "thread.item.replaced");
    llm.push(Reply::Text(vec!["Booked.".into()]));
    llm.push(Reply::Completion("Booking".into()));
    let events = rec
        .stream(
            &app,
            "threads.custom_action",
            action(&id, &item, "human.form_submit", valid_values(&interaction)),
        )
        .await;
    assert_eq!(events[1]["type"], "thread.item.replaced");
    rec.json(&app, "item_page", "items.list", json!({"thread_id": id}))
        .await;
    rec.validate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_validate_against_the_official_types() {
    let llm = FakeLlm::start().await;
    let mut vars = llm_vars(&llm.base_url());
    vars.push(("CHATKIT_APPROVAL_TOOLS", "get_current_time".into()));
    vars.push(("CHATKIT_AUTO_TITLES", "false".into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(Db::Sqlite, &vars).await.expect("app");
    let mut rec = Recorder::default();
    call_time(&llm);
    let events = rec
        .stream(
            &app,
            "threads.create",
            json!({"input": user_input("Time?")}),
        )
        .await;
    let id = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    let (item, interaction) = approval_of(&events);
    llm.push(Reply::Text(vec!["Noon.".into()]));
    rec.stream(
        &app,
        "threads.custom_action",
        action(
            &id,
            &item,
            "human.approve",
            json!({"__interaction": interaction}),
        ),
    )
    .await;
    rec.json(&app, "item_page", "items.list", json!({"thread_id": id}))
        .await;
    rec.validate();
}

impl Recorder {
    /// Writes the records and has the official types check them.
    fn validate(&self) {
        let dir = tempfile::tempdir().unwrap();
        let records = dir.path().join("records.jsonl");
        let mut file = std::fs::File::create(&records).unwrap();
        for line in &self.lines {
            writeln!(file, "{line}").unwrap();
        }
        validate(&records);
    }
}

/// Runs the validator; exit 3 means the official package is not installed here.
fn validate(records: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/validate_wire.py");
    let output = match Command::new(python()).arg(&script).arg(records).output() {
        Ok(output) => output,
        Err(e) => return skip(&format!("conformance test: cannot run {} ({e})", python())),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => println!("{stdout}"),
        Some(3) => skip(&format!(
            "conformance test: {} (install openai-chatkit==1.6.5 and set CHATKIT_TEST_PYTHON)",
            stderr.trim()
        )),
        _ => {
            panic!("our wire output does not conform to openai-chatkit 1.6.5:\n{stdout}\n{stderr}")
        }
    }
}

#[test]
fn validator_catches_broken_records() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/validate_wire.py");
    match Command::new(python())
        .arg(&script)
        .arg("--self-test")
        .output()
    {
        Ok(output) if output.status.code() == Some(3) => {
            skip("validator self-test: openai-chatkit is not installed")
        }
        Ok(output) => assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        ),
        Err(e) => skip(&format!(
            "validator self-test: cannot run {} ({e})",
            python()
        )),
    }
}
