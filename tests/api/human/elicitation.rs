//! MCP elicitation against the Python MCP test server: in the 2026-07-28 era a tool returns
//! `input_required` and is called again with the answer; in the handshake era the server asks
//! with a live `elicitation/create` while the call stays open, which has a deadline and does not
//! survive a restart.

use serde_json::{Value, json};

use super::{status, tool_result, vars};
use crate::support::app::{Db, TestApp, TestDb, serve, spawn_mcp_app};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{action, form_of, user_input, valid_values};
use crate::support::macros::db_case;
use crate::support::python::PythonMcp;

// The Python MCP test server in the 2026-07-28 era: `ask_human` returns `input_required`; the form is
// shown, and the answer goes back as `inputResponses` with the echoed `requestState`.
db_case!(mcp_elicitation_ask_human_modern_era);
async fn mcp_elicitation_ask_human_modern_era(db: Db) {
    let Some(python) = PythonMcp::start().await else {
        return;
    };
    let servers = json!([{"name": "py", "url": python.url}]);
    let Some((app, llm)) = spawn_mcp_app(db, servers).await else {
        return;
    };
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("ask_human".into(), json!({"question": "Deploy to prod?"}))],
    });
    let (thread, events) = app.create_thread("ann", "Deploy it").await;
    let (item, id) = form_of(&events);
    let shown = events.last().unwrap()["item"]["widget"].to_string();
    assert!(
        shown.contains("Deploy to prod?") && shown.contains("human.decline"),
        "{shown}"
    );
    let row = app.store.load_interaction(&id).await.unwrap();
    assert_eq!(row.kind.as_str(), "elicitation");
    let details: Value = serde_json::from_str(row.details.as_deref().unwrap()).unwrap();
    assert!(details["request_state"].is_string(), "{details}");

    llm.push(Reply::Text(vec!["Deployed.".into()]));
    let answer = json!({"__interaction": id, "approved": "true", "comment": "go"});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", answer),
        )
        .await;
    assert_eq!(events[1]["type"], "thread.item.replaced", "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| e["item"]["content"][0]["text"] == "Deployed."),
        "{events:?}"
    );
    let requests = llm.wait_for_requests(2).await;
    let result: Value =
        serde_json::from_str(tool_result(&requests, 1)["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["action"], "accept", "{result}");
    assert_eq!(result["answer"]["approved"], true);
    assert_eq!(result["answer"]["comment"], "go");
    assert_eq!(result["protocol_version"], "2026-07-28");
    assert_eq!(status(&app, &id).await.0, "answered");
}

db_case!(mcp_elicitation_confirm_action_modern_era);
async fn mcp_elicitation_confirm_action_modern_era(db: Db) {
    let Some(python) = PythonMcp::start().await else {
        return;
    };
    let servers = json!([{"name": "py", "url": python.url}]);
    let Some((app, llm)) = spawn_mcp_app(db, servers).await else {
        return;
    };
    let confirm = || Reply::ToolCalls {
        text: vec![],
        calls: vec![(
            "confirm_action".into(),
            json!({"action": "delete the logs"}),
        )],
    };
    llm.push(confirm());
    let (thread, events) = app.create_thread("ann", "Clean up").await;
    let (item, id) = form_of(&events);
    llm.push(Reply::Text(vec!["Not deleting.".into()]));
    app.stream(
        "ann",
        "threads.custom_action",
        action(
            &thread,
            &item,
            "human.decline",
            json!({"__interaction": id}),
        ),
    )
    .await;
    assert_eq!(status(&app, &id).await.0, "denied");
    let requests = llm.wait_for_requests(2).await;
    let result = tool_result(&requests, 1)["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(result.starts_with("declined\n"), "{result}");

    llm.push(confirm());
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input("Do it")}),
        )
        .await;
    let (item, id) = form_of(&events);
    llm.push(Reply::Text(vec!["Deleted.".into()]));
    let answer = json!({"__interaction": id, "ok": "true"});
    app.stream(
        "ann",
        "threads.custom_action",
        action(&thread, &item, "human.form_submit", answer),
    )
    .await;
    let requests = llm.wait_for_requests(4).await;
    let result = tool_result(&requests, 3)["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        result.starts_with("confirmed: delete the logs\n"),
        "{result}"
    );
}

/// A server on `db` talking to the Python MCP test server in the handshake era, with `extra` settings
/// for it.
async fn legacy_python_mcp(db: Db, extra: Value) -> Option<(PythonMcp, TestApp, FakeLlm)> {
    let python = PythonMcp::start().await?;
    let mut server = json!({"name": "py", "url": python.url, "protocol": "legacy"});
    for (k, v) in extra.as_object().unwrap() {
        server[k] = v.clone();
    }
    let (app, llm) = spawn_mcp_app(db, json!([server])).await?;
    Some((python, app, llm))
}

fn call(llm: &FakeLlm, tool: &str, arguments: Value) {
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![(tool.into(), arguments)],
    });
}

// The handshake era: `ask_human` sends a live `elicitation/create` while its call is open; the
// call is parked, the form shown, and the answer completes the same call.
db_case!(mcp_elicitation_ask_human_handshake_era);
async fn mcp_elicitation_ask_human_handshake_era(db: Db) {
    let Some((_python, app, llm)) = legacy_python_mcp(db, json!({})).await else {
        return;
    };
    call(
        &llm,
        "ask_human",
        json!({"question": "Restart the cluster?"}),
    );
    let (thread, events) = app.create_thread("ann", "Restart it").await;
    let (item, id) = form_of(&events);
    let shown = events.last().unwrap()["item"]["widget"].to_string();
    assert!(shown.contains("Restart the cluster?"), "{shown}");
    let row = app.store.load_interaction(&id).await.unwrap();
    let details: Value = serde_json::from_str(row.details.as_deref().unwrap()).unwrap();
    assert!(details["live"].is_string(), "{details}");
    assert!(row.expires_at - row.created_at <= chrono::Duration::minutes(15));

    llm.push(Reply::Text(vec!["Restarted.".into()]));
    let answer = json!({"__interaction": id, "approved": "on", "comment": "now"});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", answer),
        )
        .await;
    assert!(
        events
            .iter()
            .any(|e| e["item"]["content"][0]["text"] == "Restarted."),
        "{events:?}"
    );
    let requests = llm.wait_for_requests(2).await;
    let result: Value =
        serde_json::from_str(tool_result(&requests, 1)["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["action"], "accept", "{result}");
    assert_eq!(
        result["answer"],
        json!({"approved": true, "comment": "now"})
    );
    assert_ne!(result["protocol_version"], "2026-07-28");

    call(&llm, "confirm_action", json!({"action": "wipe the disk"}));
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input("Also wipe")}),
        )
        .await;
    let (item, id) = form_of(&events);
    llm.push(Reply::Text(vec!["Not wiping.".into()]));
    app.stream(
        "ann",
        "threads.custom_action",
        action(&thread, &item, "human.cancel", json!({"__interaction": id})),
    )
    .await;
    let requests = llm.wait_for_requests(4).await;
    let result = tool_result(&requests, 3)["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(result.starts_with("cancelled"), "{result}");
}

// A live question past its deadline is answered `cancel` to the server; the late answer tells
// the model there was no answer in time.
db_case!(mcp_live_elicitation_has_a_deadline);
async fn mcp_live_elicitation_has_a_deadline(db: Db) {
    let Some((_python, app, llm)) =
        legacy_python_mcp(db, json!({"elicitation_timeout_ms": 300})).await
    else {
        return;
    };
    call(&llm, "ask_human", json!({"question": "Still there?"}));
    let (thread, events) = app.create_thread("ann", "Ask me").await;
    let (item, id) = form_of(&events);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    llm.push(Reply::Text(vec!["No answer, moving on.".into()]));
    app.stream(
        "ann",
        "threads.custom_action",
        action(&thread, &item, "human.form_submit", valid_values(&id)),
    )
    .await;
    assert_eq!(status(&app, &id).await.0, "expired");
    let requests = llm.wait_for_requests(2).await;
    assert_eq!(
        tool_result(&requests, 1)["content"],
        "The user did not answer in time."
    );
}

// A live question lives in the process that holds the call: after a restart the answer is
// kept, and the model is told the question is gone.
db_case!(mcp_live_elicitation_is_lost_on_restart);
async fn mcp_live_elicitation_is_lost_on_restart(db: Db) {
    let Some(python) = PythonMcp::start().await else {
        return;
    };
    let Some((test_db, url)) = TestDb::create(db) else {
        return;
    };
    let llm = FakeLlm::start().await;
    let servers = json!([{"name": "py", "url": python.url, "protocol": "legacy"}]).to_string();
    let v = vars(&llm, &[("CHATKIT_MCP_SERVERS", servers.as_str())]);
    let v: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = serve(&url, &v, None).await;
    call(&llm, "ask_human", json!({"question": "Go?"}));
    let (thread, events) = first.create_thread("ann", "Ask").await;
    let (item, id) = form_of(&events);
    first.stop.stop(true).await;
    drop(first);

    let second = serve(&url, &v, Some(test_db)).await;
    llm.push(Reply::Text(vec!["The question was lost.".into()]));
    second
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", valid_values(&id)),
        )
        .await;
    let requests = llm.wait_for_requests(2).await;
    let result = tool_result(&requests, 1)["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(result.contains("no longer open"), "{result}");
}
