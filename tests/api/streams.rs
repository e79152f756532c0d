//! The streaming requests: exact event prefixes, what is persisted, and the no-model state.

use serde_json::{Value, json};

use crate::support::answer::event_types;
use crate::support::app::TestApp;
use crate::support::fixtures::{put_item, user_input, widget_item};
use crate::support::macros::db_test;

/// A server without a model ends each turn with this event.
fn assert_no_model_error(event: &Value) {
    assert_eq!(event["type"], "error");
    assert_eq!(event["code"], "custom");
    assert_eq!(event["allow_retry"], false);
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .contains("No language model is configured"),
        "{event}"
    );
}

db_test!(create_streams_prefix_and_persists_message);
async fn create_streams_prefix_and_persists_message(app: TestApp) {
    let input = json!({
        "content": [
            {"type": "input_text", "text": "Hi "},
            {"type": "input_tag", "id": "ent_1", "text": "Harry", "data": {"k": "v"}, "group": "People"}
        ],
        "attachments": [],
        "quoted_text": "earlier words",
        "inference_options": {"model": "gpt-x", "tool_choice": {"id": "search"}}
    });
    let answer = app
        .send("ann", "threads.create", json!({"input": input}))
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer.content_type.starts_with("text/event-stream"));
    assert!(
        answer
            .body
            .starts_with("data: {\"type\":\"thread.created\""),
        "{}",
        answer.body
    );
    let events = answer.events();
    assert_eq!(
        event_types(&events),
        [
            "thread.created",
            "thread.item.done",
            "stream_options",
            "error"
        ]
    );
    assert_eq!(events[2]["stream_options"], json!({"allow_cancel": true}));
    assert_no_model_error(&events[3]);

    let thread_id = events[0]["thread"]["id"].as_str().unwrap();
    assert_eq!(
        events[0]["thread"]["items"],
        json!({"data": [], "has_more": false})
    );
    let message = &events[1]["item"];
    assert_eq!(message["type"], "user_message");
    assert_eq!(message["thread_id"], thread_id);
    assert_eq!(message["quoted_text"], "earlier words");
    assert_eq!(
        message["content"][1]["interactive"], false,
        "defaults are emitted"
    );
    assert_eq!(message["inference_options"]["tool_choice"]["id"], "search");

    let scope = app.scope("ann").await;
    let history = app.store.load_history(&scope, thread_id).await.unwrap();
    assert_eq!(history.len(), 1, "only the user message is stored");
    assert_eq!(serde_json::to_value(&history[0]).unwrap(), *message);
}

db_test!(add_user_message_streams_prefix);
async fn add_user_message_streams_prefix(app: TestApp) {
    let (id, _) = app.create_thread("ann", "one").await;
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": id, "input": user_input("two")}),
        )
        .await;
    assert_eq!(
        event_types(&events),
        ["thread.item.done", "stream_options", "error"]
    );
    assert_no_model_error(&events[2]);
    assert_eq!(app.store.count_items(&id).await.unwrap(), 2);

    let unknown = app
        .send(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": "thr_nope", "input": user_input("x")}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.error_code().as_str()),
        (404, "not_found")
    );
}

db_test!(retry_deletes_what_follows_and_regenerates);
async fn retry_deletes_what_follows_and_regenerates(app: TestApp) {
    let (id, events) = app.create_thread("ann", "question").await;
    let message_id = events[1]["item"]["id"].as_str().unwrap().to_owned();
    let mut answer = widget_item(&id, "wdg_old_answer");
    answer["type"] = json!("assistant_message");
    answer["content"] = json!([{"type": "output_text", "text": "old", "annotations": []}]);
    answer
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !["widget", "copy_text"].contains(&k.as_str()));
    put_item(&app, "ann", &id, answer).await;
    assert_eq!(app.store.count_items(&id).await.unwrap(), 2);

    let events = app
        .stream(
            "ann",
            "threads.retry_after_item",
            json!({"thread_id": id, "item_id": message_id}),
        )
        .await;
    assert_eq!(event_types(&events), ["stream_options", "error"]);
    assert_eq!(
        app.store.count_items(&id).await.unwrap(),
        1,
        "the old answer is gone, the question stays"
    );

    let unknown = app
        .send(
            "ann",
            "threads.retry_after_item",
            json!({"thread_id": id, "item_id": "msg_nope"}),
        )
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.body, "", "an unknown item gives an empty stream");

    put_item(&app, "ann", &id, widget_item(&id, "wdg_x")).await;
    let not_user = app
        .send(
            "ann",
            "threads.retry_after_item",
            json!({"thread_id": id, "item_id": "wdg_x"}),
        )
        .await;
    assert_eq!(not_user.status, 400);
}

db_test!(custom_action_needs_a_widget_sender);
async fn custom_action_needs_a_widget_sender(app: TestApp) {
    let (id, events) = app.create_thread("ann", "hello").await;
    let message_id = events[1]["item"]["id"].as_str().unwrap();
    let action = json!({"type": "demo.click", "payload": {"n": 1}});

    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            json!({"thread_id": id, "item_id": message_id, "action": action}),
        )
        .await;
    assert_eq!(
        events,
        [json!({"type": "error", "code": "stream.error", "allow_retry": false})]
    );

    put_item(&app, "ann", &id, widget_item(&id, "wdg_1")).await;
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            json!({"thread_id": id, "item_id": "wdg_1", "action": action}),
        )
        .await;
    assert_eq!(
        event_types(&events),
        ["stream_options", "error"],
        "the agent is asked (and has no model here)"
    );
    assert_no_model_error(&events[1]);
    let scope = app.scope("ann").await;
    let history = serde_json::to_value(app.store.load_history(&scope, &id).await.unwrap()).unwrap();
    let context = history
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "hidden_context_item")
        .unwrap();
    assert!(
        context["content"]
            .as_str()
            .unwrap()
            .contains("'demo.click' on widget wdg_1"),
        "{context}"
    );

    let human = json!({"type": "human.approve", "payload": {}});
    let refused = app
        .send(
            "ann",
            "threads.custom_action",
            json!({"thread_id": id, "item_id": "wdg_1", "action": human}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (400, "invalid_request"),
        "only the server's own forms take human.* actions"
    );

    let missing = app
        .send(
            "ann",
            "threads.custom_action",
            json!({"thread_id": id, "item_id": "wdg_nope", "action": action}),
        )
        .await;
    assert_eq!(missing.status, 404);
}

db_test!(client_tool_output_completes_the_pending_call);
async fn client_tool_output_completes_the_pending_call(app: TestApp) {
    let (id, _) = app.create_thread("ann", "where am I?").await;
    let none = app
        .send(
            "ann",
            "threads.add_client_tool_output",
            json!({"thread_id": id, "result": {"x": 1}}),
        )
        .await;
    assert_eq!(none.status, 400, "no pending call yet");

    let call = |item_id: &str, created: &str| {
        json!({
            "id": item_id, "thread_id": id, "created_at": created, "type": "client_tool_call",
            "status": "pending", "call_id": format!("call_{item_id}"), "name": "get_location", "arguments": {"precise": true}
        })
    };
    put_item(
        &app,
        "ann",
        &id,
        call("tc_stale", "2030-01-01T00:00:00.000000Z"),
    )
    .await;
    put_item(
        &app,
        "ann",
        &id,
        call("tc_live", "2030-01-01T00:00:01.000000Z"),
    )
    .await;

    let events = app
        .stream(
            "ann",
            "threads.add_client_tool_output",
            json!({"thread_id": id, "result": {"city": "Oslo"}}),
        )
        .await;
    assert_eq!(event_types(&events), ["stream_options", "error"]);

    let scope = app.scope("ann").await;
    let stored =
        serde_json::to_value(app.store.load_item(&scope, &id, "tc_live").await.unwrap()).unwrap();
    assert_eq!(stored["status"], "completed");
    assert_eq!(stored["output"], json!({"city": "Oslo"}));
    assert!(
        app.store.load_item(&scope, &id, "tc_stale").await.is_err(),
        "stale pending calls are removed"
    );
}

db_test!(structured_input_is_answered_in_place);
async fn structured_input_is_answered_in_place(app: TestApp) {
    let (id, _) = app.create_thread("ann", "plan it").await;
    put_item(&app, "ann", &id, json!({
        "id": "msg_si", "thread_id": id, "created_at": "2030-01-01T00:00:00.000000Z", "type": "structured_input",
        "status": "pending",
        "inputs": [
            {"id": "priority", "question": "Which priority?", "type": "multiple_choice",
             "options": [{"value": "Low"}, {"value": "High"}], "multiple": false},
            {"id": "notes", "question": "Any notes?", "type": "freeform"}
        ]
    })).await;
    let submission = json!({"status": "answered", "answers": {"priority": {"values": ["High", "Low"]}, "ghost": {"values": ["?"]}}});
    let events = app
        .stream(
            "ann",
            "threads.add_structured_input",
            json!({"thread_id": id, "item_id": "msg_si", "input": submission}),
        )
        .await;
    assert_eq!(
        event_types(&events),
        ["stream_options", "thread.item.replaced", "error"]
    );
    let replaced = &events[1]["item"];
    assert_eq!(replaced["status"], "answered");
    assert_eq!(
        replaced["inputs"][0]["answer"],
        json!({"values": ["High"], "skipped": false})
    );
    assert_eq!(
        replaced["inputs"][1]["answer"],
        json!({"values": [], "skipped": true})
    );

    let scope = app.scope("ann").await;
    let stored =
        serde_json::to_value(app.store.load_item(&scope, &id, "msg_si").await.unwrap()).unwrap();
    assert_eq!(stored, *replaced);
    let again = app
        .send(
            "ann",
            "threads.add_structured_input",
            json!({"thread_id": id, "item_id": "msg_si", "input": submission}),
        )
        .await;
    assert_eq!(
        again.status, 400,
        "answered inputs cannot be answered again"
    );
}

db_test!(hidden_items_are_never_sent);
async fn hidden_items_are_never_sent(app: TestApp) {
    let (id, _) = app.create_thread("ann", "hello").await;
    put_item(
        &app,
        "ann",
        &id,
        json!({"id": "hcx_1", "thread_id": id, "created_at": "2030-01-01T00:00:00.000000Z",
        "type": "hidden_context_item", "content": {"clicked": "yes"}}),
    )
    .await;
    put_item(
        &app,
        "ann",
        &id,
        json!({"id": "shcx_1", "thread_id": id, "created_at": "2030-01-01T00:00:01.000000Z",
        "type": "sdk_hidden_context", "content": "secret"}),
    )
    .await;

    let thread = app
        .ok("ann", "threads.get_by_id", json!({"thread_id": id}))
        .await;
    assert_eq!(thread["items"]["data"].as_array().unwrap().len(), 1);
    let items = app.ok("ann", "items.list", json!({"thread_id": id})).await;
    assert_eq!(items["data"].as_array().unwrap().len(), 1);
    assert!(!items.to_string().contains("secret"));
    let scope = app.scope("ann").await;
    assert_eq!(
        app.store.load_history(&scope, &id).await.unwrap().len(),
        3,
        "the model still sees them"
    );
}
