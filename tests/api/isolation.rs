//! A user never reaches another user's threads or items: every attempt reads as "not found".

use serde_json::json;

use crate::support::app::TestApp;
use crate::support::fixtures::user_input;
use crate::support::macros::db_test;

db_test!(other_users_threads_are_invisible);
async fn other_users_threads_are_invisible(app: TestApp) {
    let (id, events) = app.create_thread("ann", "private").await;
    let item_id = events[1]["item"]["id"].as_str().unwrap().to_owned();

    let attempts = [
        ("threads.get_by_id", json!({"thread_id": id})),
        ("items.list", json!({"thread_id": id})),
        (
            "threads.update",
            json!({"thread_id": id, "title": "mine now"}),
        ),
        ("threads.delete", json!({"thread_id": id})),
        (
            "items.feedback",
            json!({"thread_id": id, "item_ids": [item_id], "kind": "negative"}),
        ),
        (
            "threads.add_user_message",
            json!({"thread_id": id, "input": user_input("hi")}),
        ),
        (
            "threads.retry_after_item",
            json!({"thread_id": id, "item_id": item_id}),
        ),
        (
            "threads.custom_action",
            json!({"thread_id": id, "item_id": item_id, "action": {"type": "x"}}),
        ),
        (
            "threads.add_client_tool_output",
            json!({"thread_id": id, "result": {}}),
        ),
    ];
    for (kind, params) in attempts {
        let answer = app.send("bob", kind, params).await;
        assert_eq!(
            answer.status, 404,
            "bob's {kind} must not find ann's thread: {answer:?}"
        );
    }
    assert_eq!(
        app.ok("bob", "threads.list", json!({})).await,
        json!({"data": [], "has_more": false})
    );
    let anonymous = app
        .post_raw(
            "",
            json!({"type": "threads.list", "params": {}}).to_string(),
        )
        .await;
    assert_eq!(anonymous.json()["data"], json!([]));

    // Nothing of ann's changed.
    let thread = app
        .ok("ann", "threads.get_by_id", json!({"thread_id": id}))
        .await;
    assert!(thread.get("title").is_none());
    assert_eq!(thread["items"]["data"].as_array().unwrap().len(), 1);
    assert!(app.store.load_feedback(&id).await.unwrap().is_empty());
}
