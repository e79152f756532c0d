//! What a first run showed: one access log line per request (never the query's token or a
//! body), and auto-titles that name the topic without a speaker label.

use serde_json::json;

use crate::support::app::TestApp;
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::logs;
use crate::support::macros::{db_test, llm_test};

db_test!(every_request_has_an_access_log_line);
async fn every_request_has_an_access_log_line(app: TestApp) {
    logs::capture();
    let response = app
        .client
        .get(format!(
            "{}/chatkit/attachments/atc_missing/content?token=secret-token-123",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "a token that is not valid");
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let lines = logs::lines("access", &id);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("GET /chatkit/attachments/atc_missing/content 403 "),
        "{lines:?}"
    );
    assert!(lines[0].contains("ms request_id="), "{lines:?}");
    assert!(!lines[0].contains("secret-token-123"), "no query string");

    // A proxy's plain id is kept; anything else is replaced.
    let body = json!({"type": "threads.list", "params": {}}).to_string();
    let plain = format!("proxy-{}", uuid::Uuid::new_v4().simple());
    for (given, kept) in [(plain.as_str(), true), ("bad id\nGET / 200", false)] {
        let response = app
            .client
            .post(format!("{}/chatkit", app.address))
            .header("X-ChatKit-User", "ann")
            .header("X-Request-Id", given.replace('\n', " "))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id == given, kept, "{given} -> {id}");
        let lines = logs::lines("access", &format!("request_id={id}"));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("POST /chatkit 200 "), "{lines:?}");
        assert!(!lines[0].contains("threads.list"), "no body");
    }
}

llm_test!(titles_name_the_topic_without_a_speaker_label);
async fn titles_name_the_topic_without_a_speaker_label(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::Text(vec!["Oslo is lovely in May.".into()]));
    llm.push(Reply::Completion("User: Trip to Oslo.".into()));
    let (_, events) = app.create_thread("ann", "Plan a trip to Oslo").await;
    let titled = events
        .iter()
        .find(|e| e["type"] == "thread.updated")
        .unwrap();
    assert_eq!(titled["thread"]["title"], "Trip to Oslo");
    let requests = llm.requests();
    let asked = requests[1]["messages"][0]["content"].as_str().unwrap();
    assert!(
        asked.contains("topic") && asked.contains("Never start with a speaker label"),
        "{asked}"
    );
    let given = requests[1]["messages"][1]["content"].as_str().unwrap();
    assert!(
        given.starts_with("<conversation>\nUser: Plan a trip to Oslo"),
        "{given}"
    );
}
