//! The model service's own word on failures: a 429's `Retry-After` is waited out when short
//! (with a progress line, not a silent stall) and reported when long, and an error object in
//! the middle of its stream reaches both the run row and the user.

use serde_json::Value;

use super::{assistant_texts, text};
use crate::support::app::TestApp;
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::macros::llm_test;

/// The streaming calls the fake received (title calls left out).
fn streamed_calls(llm: &FakeLlm) -> usize {
    llm.requests()
        .iter()
        .filter(|r| r["stream"] == Value::Bool(true))
        .count()
}

llm_test!(a_short_retry_after_is_waited_out_then_the_turn_completes);
async fn a_short_retry_after_is_waited_out_then_the_turn_completes(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::RateLimited {
        retry_after: "1".into(),
    });
    llm.push(text(&["Got through"]));
    let (id, events) = app.create_thread("ann", "Hi").await;
    let progress: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "progress_update")
        .collect();
    assert_eq!(progress.len(), 1, "{events:#?}");
    assert!(
        progress[0]["text"]
            .as_str()
            .unwrap()
            .contains("trying again in 1 s"),
        "{progress:?}"
    );
    assert_eq!(assistant_texts(&app, "ann", &id).await, ["Got through"]);
    assert_eq!(streamed_calls(&llm), 2, "the 429, then the retry");
    let runs = app.store.load_runs(&id).await.unwrap();
    assert_eq!(runs[0].status.as_str(), "completed");
}

llm_test!(a_long_retry_after_ends_the_turn_saying_when_to_retry);
async fn a_long_retry_after_ends_the_turn_saying_when_to_retry(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::RateLimited {
        retry_after: "3600".into(),
    });
    let (id, events) = app.create_thread("ann", "Hi").await;
    let error = events.last().unwrap();
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("custom")),
        "{error}"
    );
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("60 min"), "{message}");
    assert_eq!(
        streamed_calls(&llm),
        1,
        "no retry inside the turn when the wait is long"
    );
    let runs = app.store.load_runs(&id).await.unwrap();
    assert_eq!(runs[0].status.as_str(), "failed");
    assert!(
        runs[0].error.as_deref().unwrap().contains("60 min"),
        "{:?}",
        runs[0].error
    );
}

llm_test!(an_error_object_in_the_stream_is_recorded_on_the_run);
async fn an_error_object_in_the_stream_is_recorded_on_the_run(app: TestApp, llm: FakeLlm) {
    let cause = "The server had an error while processing your request. Sorry about that!";
    llm.push(Reply::ErrorAfter {
        pieces: vec!["partial ".into(), "answer".into()],
        message: cause.into(),
    });
    let (id, events) = app.create_thread("ann", "Hi").await;
    let error = events.last().unwrap();
    assert_eq!(
        (error["code"].as_str(), error["allow_retry"].as_bool()),
        (Some("custom"), Some(true)),
        "{error}"
    );
    assert!(
        error["message"].as_str().unwrap().contains(cause),
        "{error}"
    );
    assert!(assistant_texts(&app, "ann", &id).await.is_empty());
    let runs = app.store.load_runs(&id).await.unwrap();
    assert_eq!(runs[0].status.as_str(), "failed");
    assert_eq!(runs[0].partial_text.as_deref(), Some("partial answer"));
    assert!(
        runs[0].error.as_deref().unwrap().contains(cause),
        "{:?}",
        runs[0].error
    );
}
