//! Upstream faults: a refused key, overload and its retries, and streams that break, go
//! malformed or hang after some text; each is reported, and the next turn works.

use serde_json::json;

use super::{assistant_texts, text};
use crate::support::answer::event_types;
use crate::support::app::TestApp;
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::user_input;
use crate::support::macros::llm_test;

llm_test!(unauthorized_upstream_tells_the_operator);
async fn unauthorized_upstream_tells_the_operator(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::Error {
        status: 401,
        message: "Incorrect API key provided".into(),
    });
    let (id, events) = app.create_thread("ann", "Hi").await;
    let error = events.last().unwrap();
    assert_eq!(
        (error["code"].as_str(), error["allow_retry"].as_bool()),
        (Some("custom"), Some(false))
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("OPENAI_API_KEY")
    );
    assert_eq!(
        llm.requests().len(),
        1,
        "credentials errors are not retried"
    );
    assert!(assistant_texts(&app, "ann", &id).await.is_empty());
    let runs = app.store.load_runs(&id).await.unwrap();
    assert_eq!(runs[0].status.as_str(), "failed");
    assert_eq!(
        runs[0].model.as_deref(),
        Some("fake-model"),
        "a failed run still names its model"
    );

    llm.push(text(&["Working again"]));
    app.stream(
        "ann",
        "threads.add_user_message",
        json!({"thread_id": id, "input": user_input("again")}),
    )
    .await;
    assert_eq!(assistant_texts(&app, "ann", &id).await, ["Working again"]);
}

llm_test!(overloaded_upstream_is_retried_then_reported);
async fn overloaded_upstream_is_retried_then_reported(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::Error {
        status: 429,
        message: "Rate limit reached".into(),
    });
    llm.push(text(&["Got through"]));
    let (id, _) = app.create_thread("ann", "Hi").await;
    assert_eq!(
        assistant_texts(&app, "ann", &id).await,
        ["Got through"],
        "a 429 before the first token is retried"
    );

    for _ in 0..3 {
        llm.push(Reply::Error {
            status: 503,
            message: "Service unavailable".into(),
        });
    }
    let before = llm.requests().len();
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": id, "input": user_input("again")}),
        )
        .await;
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "error", "code": "stream.error", "allow_retry": true})
    );
    assert_eq!(
        llm.requests().len() - before,
        3,
        "two retries, then the error"
    );
}

/// A turn that fails after some text was streamed: the half-finished item is not persisted, the
/// run keeps the partial text and the cause, and the next message works.
async fn assert_broken_turn(app: &TestApp, llm: &FakeLlm, reply: Reply, cause: &str) {
    llm.push(reply);
    let (id, events) = app.create_thread("ann", "Hi").await;
    assert!(event_types(&events).contains(&"thread.item.added"));
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "error", "code": "stream.error", "allow_retry": true})
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "thread.item.done")
            .count(),
        1,
        "only the user message is done"
    );
    assert!(
        assistant_texts(app, "ann", &id).await.is_empty(),
        "nothing half-written is kept"
    );
    let runs = app.store.load_runs(&id).await.unwrap();
    assert_eq!(runs[0].status.as_str(), "failed");
    assert_eq!(runs[0].partial_text.as_deref(), Some("partial answer"));
    assert!(
        runs[0].error.as_deref().unwrap().contains(cause),
        "{:?}",
        runs[0].error
    );

    llm.push(text(&["Recovered"]));
    app.stream(
        "ann",
        "threads.add_user_message",
        json!({"thread_id": id, "input": user_input("again")}),
    )
    .await;
    assert_eq!(assistant_texts(app, "ann", &id).await, ["Recovered"]);
}

llm_test!(broken_stream_is_reported_and_recoverable);
async fn broken_stream_is_reported_and_recoverable(app: TestApp, llm: FakeLlm) {
    assert_broken_turn(
        &app,
        &llm,
        Reply::BreakAfter(vec!["partial ".into(), "answer".into()]),
        "stream",
    )
    .await;
}

llm_test!(malformed_chunk_is_reported_and_recoverable);
async fn malformed_chunk_is_reported_and_recoverable(app: TestApp, llm: FakeLlm) {
    assert_broken_turn(
        &app,
        &llm,
        Reply::MalformedAfter(vec!["partial ".into(), "answer".into()]),
        "invalid chunk",
    )
    .await;
}

llm_test!(hanging_upstream_times_out);
async fn hanging_upstream_times_out(app: TestApp, llm: FakeLlm) {
    assert_broken_turn(
        &app,
        &llm,
        Reply::HangAfter(vec!["partial ".into(), "answer".into()]),
        "sent nothing",
    )
    .await;
}
