//! Rate limits and quotas through the real server, with tiny limits: each limit is reached
//! (the next request is refused: `429 rate_limited` with `Retry-After` for a JSON request or a
//! direct upload, one readable SSE `error` event and no model call for a turn), other users or
//! accounts are unaffected where the limit is per user, and the limits that can recover here
//! do: a minute's bucket as seconds pass, a stream slot when its stream ends, a daily token
//! quota when the day turns (and not when the day's threads are deleted).

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::answer::Answer;
use crate::support::app::{TestApp, eventually, execute_sql};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::user_input;
use crate::support::macros::llm_test;

/// A JSON request of `user` with its headers.
async fn list(app: &TestApp, user: &str) -> (Answer, HeaderMap) {
    let response = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("X-ChatKit-User", user)
        .body(json!({"type": "threads.list", "params": {}}).to_string())
        .send()
        .await
        .expect("request sent");
    let (answer, headers, _) = Answer::read(response).await;
    (answer, headers)
}

/// Asserts a `429 rate_limited` answer whose `Retry-After` is whole seconds within `max`.
fn assert_limited(answer: &Answer, headers: &HeaderMap, max: u64) {
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(answer.error_code(), "rate_limited");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=max).contains(&retry), "Retry-After {retry}");
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Try again")
    );
}

/// Starts a thread as `user`; the stream's events.
async fn turn(app: &TestApp, user: &str) -> Vec<Value> {
    app.stream(
        user,
        "threads.create",
        json!({"input": user_input("Hello")}),
    )
    .await
}

fn answered(events: &[Value]) -> bool {
    events
        .iter()
        .any(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
}

/// Asserts a turn refused in its stream: one `error` event whose message names `what`.
fn assert_refused(events: &[Value], what: &str) {
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "error");
    let message = events[0]["message"].as_str().unwrap();
    assert!(message.contains("Usage limit reached"), "{message}");
    assert!(message.contains(what), "{message}");
}

fn reply(llm: &FakeLlm) {
    llm.push(Reply::Text(vec!["Hi there".into()]));
}

const REQUESTS: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_LIMIT_USER_REQUESTS_PER_MINUTE", "2"),
    ("CHATKIT_LIMIT_ACCOUNT_REQUESTS_PER_MINUTE", "5"),
];

llm_test!(requests_per_minute, vars = REQUESTS);
async fn requests_per_minute(app: TestApp, llm: FakeLlm) {
    for _ in 0..2 {
        assert_eq!(list(&app, "ann").await.0.status, 200);
    }
    let (answer, headers) = list(&app, "ann").await;
    assert_limited(&answer, &headers, 60);
    // A direct upload is a request too.
    let upload = app
        .upload_direct("ann", "notes.txt", Some("text/plain"), b"hello")
        .await;
    assert_eq!(upload.status, 429, "{upload:?}");
    assert_eq!(upload.error_code(), "rate_limited");
    // A turn over the limit is told in its stream, and the model is not called.
    let events = turn(&app, "ann").await;
    assert_refused(&events, "requests this minute");
    assert!(llm.requests().is_empty());

    // The limit is per user; the account's (5) is shared: bob's two and carol's one fill it.
    for _ in 0..2 {
        assert_eq!(list(&app, "bob").await.0.status, 200);
    }
    assert_eq!(list(&app, "carol").await.0.status, 200);
    let (answer, headers) = list(&app, "dave").await;
    assert_limited(&answer, &headers, 60);
    assert!(answer.body.contains("organisation"), "{answer:?}");
}

/// Sixty a minute is one a second: the bucket holds sixty, and refills one a second.
const REFILL: &[(&str, &str)] = &[("CHATKIT_LIMIT_USER_REQUESTS_PER_MINUTE", "60")];

llm_test!(a_minute_bucket_refills_as_time_passes, vars = REFILL);
async fn a_minute_bucket_refills_as_time_passes(app: TestApp, _llm: FakeLlm) {
    // However slow the machine, a burst passes at least the bucket's sixty before a refusal
    // (more if a second passed meanwhile).
    let mut passed = 0;
    let (refused, headers) = loop {
        let (answer, headers) = list(&app, "ann").await;
        if answer.status != 200 {
            break (answer, headers);
        }
        passed += 1;
        assert!(passed < 600, "never refused");
    };
    assert!(passed >= 60, "only {passed} passed");
    assert_limited(&refused, &headers, 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(list(&app, "ann").await.0.status, 200, "a request came back");
}

/// The same for streamed turns: sixty a minute, one back each second.
const REFILL_TURNS: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_LIMIT_USER_TURNS_PER_MINUTE", "60"),
];

llm_test!(
    a_minute_of_turns_refills_as_time_passes,
    vars = REFILL_TURNS
);
async fn a_minute_of_turns_refills_as_time_passes(app: TestApp, llm: FakeLlm) {
    let mut passed = 0;
    let refused = loop {
        reply(&llm);
        let events = turn(&app, "ann").await;
        if !answered(&events) {
            break events;
        }
        passed += 1;
        assert!(passed < 300, "never refused");
    };
    assert!(passed >= 60, "only {passed} passed");
    assert_refused(&refused, "messages this minute");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(answered(&turn(&app, "ann").await), "a turn came back");
}

const TURNS: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_LIMIT_USER_TURNS_PER_MINUTE", "2"),
    ("CHATKIT_LIMIT_ACCOUNT_TURNS_PER_MINUTE", "3"),
];

llm_test!(turns_per_minute, vars = TURNS);
async fn turns_per_minute(app: TestApp, llm: FakeLlm) {
    for _ in 0..2 {
        reply(&llm);
        assert!(answered(&turn(&app, "ann").await));
    }
    assert_refused(&turn(&app, "ann").await, "messages this minute");
    assert_eq!(
        llm.requests().len(),
        2,
        "no model call for the refused turn"
    );
    // Reading is not a turn.
    assert_eq!(list(&app, "ann").await.0.status, 200);

    // Bob has his own two, but the account's third turn is the last.
    reply(&llm);
    assert!(answered(&turn(&app, "bob").await));
    let events = turn(&app, "bob").await;
    assert_refused(&events, "your organisation has sent 3 messages");
    assert_eq!(llm.requests().len(), 3);
}

const STREAMS: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_LIMIT_USER_CONCURRENT_STREAMS", "1"),
];

llm_test!(concurrent_streams_per_user, vars = STREAMS);
async fn concurrent_streams_per_user(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::SlowText {
        pieces: vec!["slow ".into(); 5],
        delay_ms: 200,
    });
    let first = {
        let client = app.client.clone();
        let url = format!("{}/chatkit", app.address);
        let body = json!({"type": "threads.create", "params": {"input": user_input("one")}});
        tokio::spawn(async move {
            let response = client
                .post(url)
                .header("X-ChatKit-User", "ann")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            Answer::read(response).await.0
        })
    };
    llm.wait_for_requests(1).await;
    assert_refused(&turn(&app, "ann").await, "answers being written");
    assert_eq!(
        llm.requests().len(),
        1,
        "no model call for the refused turn"
    );
    // Another user streams meanwhile.
    reply(&llm);
    assert!(answered(&turn(&app, "bob").await));

    // When the first stream has ended, ann may stream again.
    assert!(answered(&first.await.unwrap().events()));
    reply(&llm);
    let events = eventually("ann's stream slot back", || async {
        let events = turn(&app, "ann").await;
        answered(&events).then_some(events)
    })
    .await;
    assert!(answered(&events));
    assert_eq!(llm.requests().len(), 3);
}

const USER_TOKENS: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_LIMIT_USER_TOKENS_PER_DAY", "1"),
];

/// Makes every recorded run a day older, as if the quota's day had turned.
fn yesterday(app: &TestApp) {
    execute_sql(
        &app.db_url,
        "UPDATE runs SET started_at = '2000-01-01 00:00:00'",
    );
    execute_sql(&app.db_url, "UPDATE usage_days SET day = '2000-01-01'");
}

llm_test!(user_tokens_per_day, vars = USER_TOKENS);
async fn user_tokens_per_day(app: TestApp, llm: FakeLlm) {
    reply(&llm);
    let events = turn(&app, "ann").await;
    assert!(answered(&events));
    assert_refused(&turn(&app, "ann").await, "today's 1 tokens");
    assert_eq!(
        llm.requests().len(),
        1,
        "no model call for the refused turn"
    );
    // Deleting the thread (and its runs) gives no tokens back.
    let thread_id = events
        .iter()
        .find(|e| e["type"] == "thread.created")
        .and_then(|e| e["thread"]["id"].as_str())
        .expect("a thread.created event");
    app.ok("ann", "threads.delete", json!({ "thread_id": thread_id }))
        .await;
    assert_refused(&turn(&app, "ann").await, "today's 1 tokens");
    // The quota is ann's: bob chats, and ann may still read.
    reply(&llm);
    assert!(answered(&turn(&app, "bob").await));
    assert_eq!(list(&app, "ann").await.0.status, 200);

    yesterday(&app);
    reply(&llm);
    assert!(answered(&turn(&app, "ann").await));
    assert_eq!(llm.requests().len(), 3);
}

const ACCOUNT_TOKENS: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_LIMIT_ACCOUNT_TOKENS_PER_DAY", "1"),
];

llm_test!(account_tokens_per_day, vars = ACCOUNT_TOKENS);
async fn account_tokens_per_day(app: TestApp, llm: FakeLlm) {
    reply(&llm);
    assert!(answered(&turn(&app, "ann").await));
    let events = turn(&app, "bob").await;
    assert_refused(&events, "your organisation has used today's 1 tokens");
    assert_eq!(
        llm.requests().len(),
        1,
        "no model call for the refused turn"
    );

    yesterday(&app);
    reply(&llm);
    assert!(answered(&turn(&app, "bob").await));
}
