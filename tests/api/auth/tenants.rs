//! Tenants: the account comes from the token and must exist; agents resolve within it. Ann's
//! thread, items and attachments in account A are out of reach of Bob (account A) and of
//! users of account B, including one also called "ann": every request type and the content
//! route answer 404, and nothing changes.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{JWT_VARS, add_account, assert_refused, call, claims, hs_token};
use crate::support::answer::Answer;
use crate::support::app::TestApp;
use crate::support::fixtures::{PNG, multipart, user_input};
use crate::support::macros::db_test;

/// `POST /chatkit/upload` of `bytes` as an image, with `token`.
async fn upload(app: &TestApp, token: Option<&str>, bytes: &[u8]) -> Answer {
    let (content_type, body) = multipart("file", Some("pic.png"), Some("image/png"), bytes);
    let mut request = app
        .client
        .post(format!("{}/chatkit/upload", app.address))
        .header("Content-Type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Answer::read(request.send().await.unwrap()).await.0
}

/// `GET` of `url` (absolute, or a path on the server) with `token`.
async fn get(app: &TestApp, token: Option<&str>, url: &str) -> (Answer, HeaderMap, Vec<u8>) {
    let url = match url.starts_with("http") {
        true => url.to_owned(),
        false => format!("{}{url}", app.address),
    };
    let mut request = app.client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Answer::read(request.send().await.unwrap()).await
}

db_test!(other_users_and_tenants_reach_nothing, vars = JWT_VARS);
async fn other_users_and_tenants_reach_nothing(app: TestApp) {
    add_account(&app, "acme", &[]);
    let ann = hs_token(&claims("ann", "default"));

    let uploaded = upload(&app, Some(&ann), PNG).await;
    assert_eq!(uploaded.status, 200, "{uploaded:?}");
    let attachment = uploaded.json()["id"].as_str().unwrap().to_owned();
    let spare = upload(&app, Some(&ann), PNG).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut input = user_input("private");
    input["attachments"] = json!([attachment]);
    let (created, _) = call(
        &app,
        Some(&ann),
        None,
        "threads.create",
        json!({"input": input}),
    )
    .await;
    assert_eq!(created.status, 200, "{created:?}");
    let events = created.events();
    let thread = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    let item = events[1]["item"]["id"].as_str().unwrap().to_owned();
    let preview = events[1]["item"]["attachments"][0]["preview_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (before, _) = call(
        &app,
        Some(&ann),
        None,
        "items.list",
        json!({"thread_id": thread}),
    )
    .await;
    let content = format!("/chatkit/attachments/{attachment}/content");

    let attackers = [
        ("bob of account A", claims("bob", "default")),
        ("ann of account B", claims("ann", "acme")),
        (
            "carol of account B, by account id",
            claims("carol", "acc_acme"),
        ),
    ];
    for (who, attacker) in attackers {
        let token = hs_token(&attacker);
        let attempts = [
            ("threads.get_by_id", json!({"thread_id": thread})),
            ("items.list", json!({"thread_id": thread})),
            (
                "threads.update",
                json!({"thread_id": thread, "title": "mine now"}),
            ),
            ("threads.delete", json!({"thread_id": thread})),
            (
                "items.feedback",
                json!({"thread_id": thread, "item_ids": [item], "kind": "negative"}),
            ),
            (
                "threads.add_user_message",
                json!({"thread_id": thread, "input": user_input("hi")}),
            ),
            ("attachments.delete", json!({"attachment_id": attachment})),
            ("attachments.delete", json!({"attachment_id": spare})),
        ];
        for (kind, params) in attempts {
            let (answer, _) = call(&app, Some(&token), None, kind, params).await;
            assert_eq!(answer.status, 404, "{who}: {kind}: {answer:?}");
        }
        let (listed, _) = call(&app, Some(&token), None, "threads.list", json!({})).await;
        assert_eq!(listed.json()["data"], json!([]), "{who}");
        let (answer, _, _) = get(&app, Some(&token), &content).await;
        assert_eq!(answer.status, 404, "{who}: content: {answer:?}");
        // A signed URL is not a way to act for someone else either.
        let (answer, _, _) = get(&app, Some(&token), &preview).await;
        assert_eq!(answer.status, 404, "{who}: signed content: {answer:?}");
        // A message in a new thread cannot carry ann's attachment.
        let mut input = user_input("take it");
        input["attachments"] = json!([spare]);
        let (answer, _) = call(
            &app,
            Some(&token),
            None,
            "threads.create",
            json!({"input": input}),
        )
        .await;
        assert_eq!(answer.status, 404, "{who}: {answer:?}");
    }

    // Nothing changed: ann's thread, items, feedback and files are as they were.
    let (thread_now, _) = call(
        &app,
        Some(&ann),
        None,
        "threads.get_by_id",
        json!({"thread_id": thread}),
    )
    .await;
    assert_eq!(thread_now.status, 200, "{thread_now:?}");
    assert_ne!(thread_now.json()["title"], json!("mine now"));
    let (after, _) = call(
        &app,
        Some(&ann),
        None,
        "items.list",
        json!({"thread_id": thread}),
    )
    .await;
    assert_eq!(strip_urls(after.json()), strip_urls(before.json()));
    assert!(app.store.load_feedback(&thread).await.unwrap().is_empty());
    for id in [&attachment, &spare] {
        let (answer, _, bytes) = get(
            &app,
            Some(&ann),
            &format!("/chatkit/attachments/{id}/content"),
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(bytes, PNG);
    }
    let (answer, _, bytes) = get(&app, None, &preview).await;
    assert_eq!(
        (answer.status, bytes.as_slice()),
        (200, PNG),
        "the signed URL still works"
    );
    let (answer, headers, _) = get(&app, None, &content).await;
    assert_refused(&answer, &headers, "missing_token");
    let answer = upload(&app, None, PNG).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (401, "missing_token")
    );
}

/// Signed URLs in items are signed afresh on every read: compare without them.
fn strip_urls(mut items: Value) -> Value {
    for item in items["data"].as_array_mut().unwrap() {
        for attachment in item["attachments"].as_array_mut().into_iter().flatten() {
            attachment["preview_url"] = Value::Null;
        }
    }
    items
}

db_test!(two_phase_uploads_are_the_owners, vars = JWT_VARS);
async fn two_phase_uploads_are_the_owners(app: TestApp) {
    let ann = hs_token(&claims("ann", "default"));
    let bob = hs_token(&claims("bob", "default"));
    let params = json!({"name": "pic.png", "size": PNG.len(), "mime_type": "image/png"});
    let (created, _) = call(&app, Some(&ann), None, "attachments.create", params).await;
    assert_eq!(created.status, 200, "{created:?}");
    let url = created.json()["upload_descriptor"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (content_type, body) = multipart("file", Some("pic.png"), None, PNG);
    let send = |token: &str| {
        app.client
            .post(&url)
            .header("Content-Type", &content_type)
            .bearer_auth(token)
            .body(body.clone())
            .send()
    };
    assert_eq!(
        send(&bob).await.unwrap().status(),
        404,
        "bob cannot fill ann's upload"
    );
    let bad = send("not-a-token").await.unwrap();
    assert_eq!(bad.status(), 401);
    // The signed URL alone is enough, as the ChatKit client sends it.
    let answer = app.upload_to(&url, PNG).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

const AGENT_VARS: &[(&str, &str)] = &[
    ("CHATKIT_AUTH", "jwt"),
    ("CHATKIT_SECRET_KEY", super::SECRET_KEY),
    ("CHATKIT_JWT_SECRET", super::JWT_SECRET),
    ("CHATKIT_JWT_AGENTS_CLAIM", "agents"),
];

db_test!(agents_resolve_within_the_account, vars = AGENT_VARS);
async fn agents_resolve_within_the_account(app: TestApp) {
    add_account(&app, "acme", &["support"]);
    let token = |sub: &str, account: Value, agents: Value| {
        let mut c = claims(sub, "");
        c["account"] = account;
        c["agents"] = agents;
        hs_token(&c)
    };
    let list = |token: String, agent: Option<&'static str>| {
        let app = &app;
        async move {
            call(app, Some(&token), agent, "threads.list", json!({}))
                .await
                .0
        }
    };
    let all = json!(["default", "support"]);
    let in_a = token("ann", json!("default"), all.clone());
    let in_b = token("ann", json!("acme"), all.clone());
    assert_eq!(list(in_a.clone(), None).await.status, 200);
    assert_eq!(list(in_b.clone(), Some("support")).await.status, 200);
    assert_eq!(
        list(in_b.clone(), None).await.status,
        200,
        "acme's default agent"
    );
    // Account A has no agent "support": acme's is not reachable from A.
    let answer = list(in_a, Some("support")).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (404, "unknown_agent")
    );
    // The claim limits the agents, and refuses like an unknown agent.
    let only_support = token("ann", json!("acme"), json!(["support"]));
    assert_eq!(
        list(only_support.clone(), Some("support")).await.status,
        200
    );
    let answer = list(only_support, None).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (404, "unknown_agent")
    );
    let answer = list(token("ann", json!("acme"), Value::Null), Some("support")).await;
    assert_eq!(
        answer.status, 404,
        "a token without the claim may use no agent"
    );
    let answer = list(
        token("ann", json!("acme"), json!("support")),
        Some("support"),
    )
    .await;
    assert_eq!(answer.status, 200, "a space-separated string works too");

    // The account must exist, and must be named unless configured otherwise.
    for account in [json!("nope"), json!(""), Value::Null, json!(["acme"])] {
        let (answer, headers) = call(
            &app,
            Some(&token("ann", account.clone(), all.clone())),
            None,
            "threads.list",
            json!({}),
        )
        .await;
        assert_refused(&answer, &headers, "invalid_token");
    }
}
