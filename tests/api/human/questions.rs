//! `ask_user_questions`: the model's call shows a pending `structured_input` item and ends the
//! turn; `threads.add_structured_input` answers or skips it and resumes the run with the
//! answers as the call's result; invalid arguments go back to the model as a tool error.

use serde_json::{Value, json};

use super::{spawn, status, tool_result};
use crate::support::answer::event_types;
use crate::support::app::{Db, TestApp};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::user_input;
use crate::support::macros::db_case;

/// Queues a model step that asks two questions, a choice and a free one.
fn ask_questions(llm: &FakeLlm) {
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![(
            "ask_user_questions".into(),
            json!({"questions": [
                {"id": "size", "question": "Which size?", "options": ["S", "M", "L"]},
                {"question": "Anything else?"}
            ]}),
        )],
    });
}

/// Starts a thread whose turn ends on the questions; the thread and the pending item.
async fn asked(app: &TestApp, llm: &FakeLlm) -> (String, Value) {
    ask_questions(llm);
    let (thread, events) = app.create_thread("ann", "Order a shirt").await;
    let item = events.last().unwrap()["item"].clone();
    (thread, item)
}

/// The interaction that waits on `item`.
async fn interaction_of(app: &TestApp, thread: &str, item: &Value) -> String {
    let row = app
        .store
        .pending_interaction(thread)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.item_id, item["id"].as_str().unwrap());
    row.id
}

async fn submit(app: &TestApp, thread: &str, item: &Value, input: Value) -> Vec<Value> {
    app.stream(
        "ann",
        "threads.add_structured_input",
        json!({"thread_id": thread, "item_id": item["id"], "input": input}),
    )
    .await
}

db_case!(questions_are_asked_answered_and_the_run_resumes);
async fn questions_are_asked_answered_and_the_run_resumes(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    let (thread, item) = asked(&app, &llm).await;
    assert_eq!(item["type"], "structured_input");
    assert_eq!(item["status"], "pending");
    assert_eq!(
        item["inputs"],
        json!([
            {"id": "size", "question": "Which size?", "type": "multiple_choice",
             "options": [{"value": "S"}, {"value": "M"}, {"value": "L"}], "multiple": false},
            {"id": "q2", "question": "Anything else?", "type": "freeform"}
        ])
    );
    let id = interaction_of(&app, &thread, &item).await;
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input("hello?")}),
        )
        .await;
    assert_eq!(
        event_types(&events),
        ["notice"],
        "a message waits for the answer"
    );

    llm.push(Reply::Text(vec!["A medium shirt it is.".into()]));
    let answers = json!({"status": "answered", "answers": {
        "size": {"values": ["M"]}, "q2": {"values": ["Blue, please"]}}});
    let events = submit(&app, &thread, &item, answers).await;
    assert_eq!(events[1]["type"], "thread.item.replaced");
    assert_eq!(events[1]["item"]["status"], "answered");
    assert_eq!(
        events[1]["item"]["inputs"][0]["answer"]["values"],
        json!(["M"])
    );
    assert!(events.iter().any(|e| e["type"] == "thread.item.done"
        && e["item"]["content"][0]["text"] == "A medium shirt it is."));
    assert_eq!(
        status(&app, &id).await,
        ("answered".into(), Some("user".into()))
    );

    let requests = llm.wait_for_requests(2).await;
    let result = tool_result(&requests, 1);
    let answer: Value = serde_json::from_str(result["content"].as_str().unwrap()).unwrap();
    assert_eq!(answer, json!({"size": "M", "q2": "Blue, please"}));
    let messages = requests[1]["messages"].as_array().unwrap();
    let call = messages
        .iter()
        .find(|m| m["tool_calls"].is_array())
        .unwrap();
    assert_eq!(
        call["tool_calls"][0]["function"]["name"],
        "ask_user_questions"
    );
    assert_eq!(call["tool_calls"][0]["id"], result["tool_call_id"]);
    assert!(
        !requests[1].to_string().contains("Answers to the questions"),
        "the answers come once, as the call's result"
    );

    // Answered once only.
    let again = app
        .send(
            "ann",
            "threads.add_structured_input",
            json!({"thread_id": thread, "item_id": item["id"], "input": {"status": "skipped"}}),
        )
        .await;
    assert_eq!(again.status, 400, "{again:?}");
}

db_case!(skipped_questions_tell_the_model);
async fn skipped_questions_tell_the_model(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    let (thread, item) = asked(&app, &llm).await;
    let id = interaction_of(&app, &thread, &item).await;
    llm.push(Reply::Text(vec!["Then medium.".into()]));
    let events = submit(
        &app,
        &thread,
        &item,
        json!({"status": "skipped", "answers": {}}),
    )
    .await;
    assert_eq!(events[1]["item"]["status"], "skipped");
    assert_eq!(events[1]["item"]["inputs"][0]["answer"]["skipped"], true);
    let requests = llm.wait_for_requests(2).await;
    assert_eq!(
        tool_result(&requests, 1)["content"],
        "The user skipped the questions."
    );
    assert_eq!(status(&app, &id).await.0, "cancelled");
}

db_case!(invalid_questions_go_back_to_the_model);
async fn invalid_questions_go_back_to_the_model(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![(
            "ask_user_questions".into(),
            json!({"questions": [{"question": "Size?", "multiple": true}]}),
        )],
    });
    llm.push(Reply::Text(vec!["Let me just pick one.".into()]));
    let (thread, events) = app.create_thread("ann", "Order a shirt").await;
    assert!(
        !events
            .iter()
            .any(|e| e["item"]["type"] == "structured_input")
    );
    assert!(
        events
            .iter()
            .any(|e| e["item"]["content"][0]["text"] == "Let me just pick one.")
    );
    let requests = llm.wait_for_requests(2).await;
    let error = tool_result(&requests, 1)["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("'multiple' but has no options"), "{error}");
    assert!(
        app.store
            .pending_interaction(&thread)
            .await
            .unwrap()
            .is_none()
    );
}
