//! Proxy mode: the user (and account) come from headers, believed only from a trusted
//! address. The test client is 127.0.0.1, so a server trusting 127.0.0.0/8 sees it as the
//! proxy and one trusting only 10.0.0.0/8 does not.

use serde_json::{Value, json};

use super::{SECRET_KEY, add_account};
use crate::support::answer::Answer;
use crate::support::app::TestApp;
use crate::support::fixtures::user_input;
use crate::support::macros::db_test;

const TRUSTED: &[(&str, &str)] = &[
    ("CHATKIT_AUTH", "proxy"),
    ("CHATKIT_SECRET_KEY", SECRET_KEY),
    ("CHATKIT_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.0/8"),
    ("CHATKIT_PROXY_USER_HEADER", "X-Auth-Request-User"),
    ("CHATKIT_PROXY_ACCOUNT_HEADER", "X-Auth-Request-Org"),
];

const UNTRUSTED: &[(&str, &str)] = &[
    ("CHATKIT_AUTH", "proxy"),
    ("CHATKIT_SECRET_KEY", SECRET_KEY),
    ("CHATKIT_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
];

/// A ChatKit request carrying `headers`.
async fn send(app: &TestApp, headers: &[(&str, &str)], kind: &str, params: Value) -> Answer {
    let mut request = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("Content-Type", "application/json")
        .body(json!({"type": kind, "params": params}).to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Answer::read(request.send().await.unwrap()).await.0
}

db_test!(a_trusted_proxy_names_user_and_account, vars = TRUSTED);
async fn a_trusted_proxy_names_user_and_account(app: TestApp) {
    add_account(&app, "acme", &[]);
    let ann_default = [
        ("X-Auth-Request-User", "ann"),
        ("X-Auth-Request-Org", "default"),
    ];
    let ann_acme = [
        ("X-Auth-Request-User", "ann"),
        ("X-Auth-Request-Org", "acme"),
    ];
    let input = json!({"input": user_input("hello")});
    let answer = send(&app, &ann_default, "threads.create", input.clone()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let thread = answer.events()[0]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        app.store
            .load_thread(&app.scope("ann").await, &thread)
            .await
            .is_ok()
    );

    let listed = send(&app, &ann_default, "threads.list", json!({})).await;
    assert_eq!(listed.json()["data"][0]["id"], thread);
    // The same user name in another account is another person.
    let listed = send(&app, &ann_acme, "threads.list", json!({})).await;
    assert_eq!(listed.json()["data"], json!([]));
    let answer = send(
        &app,
        &ann_acme,
        "threads.get_by_id",
        json!({"thread_id": thread}),
    )
    .await;
    assert_eq!(answer.status, 404, "{answer:?}");
    let bob = [
        ("X-Auth-Request-User", "bob"),
        ("X-Auth-Request-Org", "default"),
    ];
    let listed = send(&app, &bob, "threads.list", json!({})).await;
    assert_eq!(listed.json()["data"], json!([]));

    let refused: [&[(&str, &str)]; 5] = [
        &[],
        &[("X-Auth-Request-User", "ann")],
        &[("X-Auth-Request-Org", "default")],
        &[
            ("X-Auth-Request-User", "ann"),
            ("X-Auth-Request-Org", "nope"),
        ],
        // Dev mode's header and oauth2-proxy's default name mean nothing here.
        &[("X-ChatKit-User", "ann"), ("X-Forwarded-User", "ann")],
    ];
    for headers in refused {
        let answer = send(&app, headers, "threads.list", json!({})).await;
        assert_eq!(answer.status, 401, "{headers:?}: {answer:?}");
        assert_eq!(answer.error_code(), "unauthenticated");
    }
}

db_test!(an_untrusted_address_is_refused, vars = UNTRUSTED);
async fn an_untrusted_address_is_refused(app: TestApp) {
    let ann = [("X-Forwarded-User", "ann")];
    for (kind, params) in [
        ("threads.list", json!({})),
        ("threads.create", json!({"input": user_input("hello")})),
    ] {
        let answer = send(&app, &ann, kind, params).await;
        assert_eq!(answer.status, 401, "{answer:?}");
        assert_eq!(answer.error_code(), "unauthenticated");
    }
    let upload = app
        .client
        .post(format!("{}/chatkit/upload", app.address))
        .header("X-Forwarded-User", "ann")
        .header("Content-Type", "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 401);
    let scope = app.scope("ann").await;
    let threads = app
        .store
        .load_threads(
            &scope,
            10,
            None,
            chatkit_server::chatkit::types::Order::Desc,
        )
        .await
        .unwrap();
    assert!(threads.data.is_empty(), "nothing was stored for ann");
}
