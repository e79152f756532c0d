//! Conversations made through the real ChatKit endpoint for tests that need threads to look
//! at (the console's pages): a message, a whole turn with the fake model, a rating.

use serde_json::{Value, json};

use super::app::TestApp;
use super::fake_llm::{FakeLlm, Reply};
use super::fixtures::user_input;

/// One message from `user` to `agent` (the default agent when `None`), in a new thread unless
/// `thread` is given; the thread and the events of the stream.
pub async fn say(
    app: &TestApp,
    agent: Option<&str>,
    user: &str,
    thread: Option<&str>,
    input: Value,
) -> (String, Vec<Value>) {
    let (kind, params) = match thread {
        Some(thread) => (
            "threads.add_user_message",
            json!({"thread_id": thread, "input": input}),
        ),
        None => ("threads.create", json!({"input": input})),
    };
    let answered = app.send_to(agent, user, kind, params).await;
    assert_eq!(answered.status, 200, "{answered:?}");
    let events = answered.events();
    let thread = events
        .iter()
        .find_map(|e| e["thread"]["id"].as_str())
        .map(str::to_owned)
        .or_else(|| thread.map(str::to_owned))
        .expect("the stream names its thread");
    (thread, events)
}

/// One turn: `text` from `user`, answered by the fake model with `answer`. Returns the thread
/// and the assistant message's id.
pub async fn turn(
    app: &TestApp,
    llm: &FakeLlm,
    agent: Option<&str>,
    user: &str,
    thread: Option<&str>,
    text: &str,
    answer: &str,
) -> (String, String) {
    llm.push(Reply::Text(vec![answer.to_owned()]));
    let (thread, events) = say(app, agent, user, thread, user_input(text)).await;
    let item = events
        .iter()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .unwrap_or_else(|| panic!("an answer: {events:#?}"));
    let id = item["item"]["id"].as_str().expect("an item id");
    (thread, id.to_owned())
}

/// `items.feedback` of `kind` on `items`, as `user`.
pub async fn rate(
    app: &TestApp,
    agent: Option<&str>,
    user: &str,
    thread: &str,
    items: &[&str],
    kind: &str,
) {
    let params = json!({"thread_id": thread, "item_ids": items, "kind": kind});
    let answer = app.send_to(agent, user, "items.feedback", params).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}
