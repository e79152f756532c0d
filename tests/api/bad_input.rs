//! Client mistakes get a clear JSON error with a 4xx status, never a 500.

use serde_json::json;

use crate::support::app::TestApp;
use crate::support::macros::db_test;

db_test!(malformed_requests_get_clear_errors);
async fn malformed_requests_get_clear_errors(app: TestApp) {
    let cases: [(&str, u16, &str); 9] = [
        ("{not json", 400, "invalid_json"),
        ("[1, 2]", 400, "invalid_request"),
        (r#"{"params": {}}"#, 400, "invalid_request"),
        (r#"{"type": 7, "params": {}}"#, 400, "invalid_request"),
        (
            r#"{"type": "threads.explode", "params": {}}"#,
            400,
            "unknown_type",
        ),
        (r#"{"type": "threads.list"}"#, 400, "missing_params"),
        (
            r#"{"type": "threads.list", "params": {"limit": "many"}}"#,
            422,
            "invalid_params",
        ),
        (
            r#"{"type": "threads.get_by_id", "params": {}}"#,
            422,
            "invalid_params",
        ),
        (
            r#"{"type": "threads.create", "params": {"input": {"content": []}}}"#,
            422,
            "invalid_params",
        ),
    ];
    for (body, status, code) in cases {
        let answer = app.post_raw("ann", body).await;
        assert_eq!(
            (answer.status, answer.error_code().as_str()),
            (status, code),
            "{body} -> {answer:?}"
        );
        assert!(answer.content_type.starts_with("application/json"));
        assert!(
            !answer.json()["error"]["message"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    let missing_field = app
        .post_raw("ann", r#"{"type": "threads.get_by_id", "params": {}}"#)
        .await;
    assert!(
        missing_field.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("thread_id"),
        "{missing_field:?}"
    );

    let unknown_thread = app
        .send("ann", "threads.get_by_id", json!({"thread_id": "thr_nope"}))
        .await;
    assert_eq!(
        (unknown_thread.status, unknown_thread.error_code().as_str()),
        (404, "not_found")
    );

    let extra_keys = app.post_raw("ann", r#"{"type": "threads.list", "params": {"limit": 1, "future": true}, "metadata": {"a": 1}}"#).await;
    assert_eq!(
        extra_keys.status, 200,
        "unknown keys and metadata are ignored"
    );
}

db_test!(oversized_body_is_refused);
async fn oversized_body_is_refused(app: TestApp) {
    let huge = format!(
        r#"{{"type": "threads.list", "params": {{"pad": "{}"}}}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let answer = app.post_raw("ann", huge).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (413, "payload_too_large")
    );
}

db_test!(a_declared_oversized_body_is_refused_before_it_arrives);
async fn a_declared_oversized_body_is_refused_before_it_arrives(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // 10 GiB announced, 1 KB sent, and the connection held open: the answer must come from
    // the header alone, not after a read that would wait for the rest.
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /chatkit HTTP/1.1\r\nHost: {address}\r\nX-ChatKit-User: ann\r\n\
         Content-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b' '; 1024]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("an answer without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
}

/// A body timeout of a second, for the tests of trickled bodies.
const SHORT_BODY_TIMEOUT: &[(&str, &str)] = &[("CHATKIT_BODY_TIMEOUT_SECS", "1")];

/// Sends `head` (a request head announcing 1000 bytes of body), then 10 bytes of body, then
/// nothing; returns all the server answered until it closed the connection.
async fn trickle(app: &TestApp, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = head.replace("{address}", address);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"--boundary").await.unwrap();
    let mut answer = Vec::new();
    // Far longer than the 1 s timeout; only a server that never answers reaches it.
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers and closes the connection")
    .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

db_test!(
    a_trickled_body_times_out_and_closes_the_connection,
    vars = SHORT_BODY_TIMEOUT
);
async fn a_trickled_body_times_out_and_closes_the_connection(app: TestApp) {
    let heads = [
        "POST /chatkit HTTP/1.1\r\nHost: {address}\r\nX-ChatKit-User: ann\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        "POST /chatkit/upload HTTP/1.1\r\nHost: {address}\r\nX-ChatKit-User: ann\r\n\
         Content-Type: multipart/form-data; boundary=boundary\r\nContent-Length: 1000\r\n\r\n",
        "POST /admin/login HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n",
    ];
    for head in heads {
        let answer = trickle(&app, head).await;
        let route = head.split(' ').nth(1).unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{route}: {answer}");
        assert!(answer.contains("request_timeout"), "{route}: {answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{route}: {answer}"
        );
    }
    // A body that arrives in time is unaffected.
    let answer = app.send("ann", "threads.list", json!({})).await;
    assert_eq!(answer.status, 200);
}

db_test!(unknown_agent_and_bad_user_are_refused);
async fn unknown_agent_and_bad_user_are_refused(app: TestApp) {
    let answer = app
        .client
        .post(format!("{}/chatkit?agent=ghost", app.address))
        .body(json!({"type": "threads.list", "params": {}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_agent");

    let long_user = "u".repeat(300);
    let answer = app.send(&long_user, "threads.list", json!({})).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (401, "unauthenticated")
    );
}
