//! The JSON requests of the protocol: answers on the wire and rows in the database.

use serde_json::json;

use crate::support::app::TestApp;
use crate::support::fixtures::{put_item, user_input, widget_item};
use crate::support::macros::db_test;

db_test!(get_by_id_returns_thread_and_items_oldest_first);
async fn get_by_id_returns_thread_and_items_oldest_first(app: TestApp) {
    let (id, _) = app.create_thread("ann", "first").await;
    app.stream(
        "ann",
        "threads.add_user_message",
        json!({"thread_id": id, "input": user_input("second")}),
    )
    .await;

    let thread = app
        .ok("ann", "threads.get_by_id", json!({"thread_id": id}))
        .await;
    assert_eq!(thread["id"], id);
    assert_eq!(thread["status"], json!({"type": "active"}));
    assert_eq!(thread["metadata"], json!({}));
    assert!(
        thread.get("title").is_none(),
        "untitled threads omit the title: {thread}"
    );
    let texts: Vec<&str> = thread["items"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["content"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first", "second"]);
    assert_eq!(thread["items"]["has_more"], false);
    let first = &thread["items"]["data"][0];
    assert_eq!(first["type"], "user_message");
    assert_eq!(first["attachments"], json!([]));
    assert_eq!(first["inference_options"], json!({}));
}

db_test!(update_sets_title_and_persists);
async fn update_sets_title_and_persists(app: TestApp) {
    let (id, _) = app.create_thread("ann", "hello").await;
    let updated = app
        .ok(
            "ann",
            "threads.update",
            json!({"thread_id": id, "title": "Trip plans"}),
        )
        .await;
    assert_eq!(updated["title"], "Trip plans");
    assert_eq!(updated["items"], json!({"data": [], "has_more": false}));

    let scope = app.scope("ann").await;
    assert_eq!(
        app.store
            .load_thread(&scope, &id)
            .await
            .unwrap()
            .title
            .as_deref(),
        Some("Trip plans")
    );
    let listed = app.ok("ann", "threads.list", json!({})).await;
    assert_eq!(listed["data"][0]["title"], "Trip plans");
}

db_test!(delete_removes_thread_and_items);
async fn delete_removes_thread_and_items(app: TestApp) {
    let (id, _) = app.create_thread("ann", "hello").await;
    assert_eq!(
        app.ok("ann", "threads.delete", json!({"thread_id": id}))
            .await,
        json!({})
    );

    assert_eq!(
        app.send("ann", "threads.get_by_id", json!({"thread_id": id}))
            .await
            .status,
        404
    );
    let scope = app.scope("ann").await;
    assert!(app.store.load_history(&scope, &id).await.is_err());
    assert_eq!(app.store.count_items(&id).await.unwrap(), 0);
    let again = app
        .send("ann", "threads.delete", json!({"thread_id": id}))
        .await;
    assert_eq!(
        (again.status, again.error_code().as_str()),
        (404, "not_found")
    );
}

db_test!(feedback_is_recorded_per_item_and_user);
async fn feedback_is_recorded_per_item_and_user(app: TestApp) {
    let (id, events) = app.create_thread("ann", "hello").await;
    let item_id = events[1]["item"]["id"].as_str().unwrap().to_owned();

    let answer = app
        .ok(
            "ann",
            "items.feedback",
            json!({"thread_id": id, "item_ids": [item_id], "kind": "positive"}),
        )
        .await;
    assert_eq!(answer, json!({}));
    app.ok(
        "ann",
        "items.feedback",
        json!({"thread_id": id, "item_ids": [item_id], "kind": "negative"}),
    )
    .await;

    let rows = app.store.load_feedback(&id).await.unwrap();
    assert_eq!(
        rows,
        vec![(item_id.clone(), "ann".to_owned(), "negative".to_owned())]
    );

    let unknown = app
        .send(
            "ann",
            "items.feedback",
            json!({"thread_id": id, "item_ids": ["msg_nope"], "kind": "positive"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let bad_kind = app
        .send(
            "ann",
            "items.feedback",
            json!({"thread_id": id, "item_ids": [item_id], "kind": "meh"}),
        )
        .await;
    assert_eq!(bad_kind.status, 422);
}

db_test!(unsupported_capabilities_answer_400);
async fn unsupported_capabilities_answer_400(app: TestApp) {
    // No transcription model: a clear refusal, not a server error.
    let transcribe = app
        .send(
            "ann",
            "input.transcribe",
            json!({"audio_base64": "AAAA", "mime_type": "audio/ogg"}),
        )
        .await;
    assert_eq!(transcribe.status, 400);
    assert_eq!(transcribe.json()["error"]["code"], "unsupported");
    assert!(
        transcribe.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("speech-to-text (dictation) is not configured")
    );
}

db_test!(sync_custom_action_checks_the_sender);
async fn sync_custom_action_checks_the_sender(app: TestApp) {
    let (id, events) = app.create_thread("ann", "hello").await;
    let message_id = events[1]["item"]["id"].as_str().unwrap();
    let action = json!({"type": "demo.click", "payload": {"n": 1}});

    let from_message = app
        .send(
            "ann",
            "threads.sync_custom_action",
            json!({"thread_id": id, "item_id": message_id, "action": action}),
        )
        .await;
    assert_eq!(from_message.status, 400);

    put_item(&app, "ann", &id, widget_item(&id, "wdg_sync")).await;
    let from_widget = app
        .send(
            "ann",
            "threads.sync_custom_action",
            json!({"thread_id": id, "item_id": "wdg_sync", "action": action}),
        )
        .await;
    assert_eq!(
        (from_widget.status, from_widget.json()),
        (200, json!({})),
        "recorded for the model"
    );
    let scope = app.scope("ann").await;
    let history = serde_json::to_value(app.store.load_history(&scope, &id).await.unwrap()).unwrap();
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["type"] == "hidden_context_item")
    );
    let human = json!({"type": "human.approve", "payload": {}});
    let from_human = app
        .send(
            "ann",
            "threads.sync_custom_action",
            json!({"thread_id": id, "item_id": "wdg_sync", "action": human}),
        )
        .await;
    assert_eq!(from_human.status, 400);
    assert_eq!(from_human.json()["error"]["code"], "unsupported");
    let unknown = app
        .send(
            "ann",
            "threads.sync_custom_action",
            json!({"thread_id": id, "item_id": "wdg_nope", "action": action}),
        )
        .await;
    assert_eq!(unknown.status, 404);
}
