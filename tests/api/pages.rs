//! The chat page (with its security headers) in both of its clients, its static files, and
//! the health probes.

use crate::support::app::TestApp;
use crate::support::macros::db_test;

async fn get(app: &TestApp, path: &str) -> (u16, String, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    if response.status() == 200 && (path == "/" || path.ends_with("/chat")) {
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap());
        assert_eq!(header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(
            header("referrer-policy"),
            Some("strict-origin-when-cross-origin"),
            "{path}"
        );
        let csp = header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("object-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("base-uri 'none'"), "{path}: {csp}");
    }
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

db_test!(the_chat_page_runs_our_client);
async fn the_chat_page_runs_our_client(app: TestApp) {
    let (status, content_type, html) = get(&app, "/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert!(
        html.contains(r#"<chatkit-chat id="chat" data-api-url="/chatkit?agent=default""#),
        "{html}"
    );
    assert!(html.contains(r#"<script type="module" src="/static/chat-page.js"></script>"#));
    assert!(!html.contains("chatkit.js"), "nothing from OpenAI's CDN");
    assert!(html.contains(r#"data-upload-max-bytes="26214400""#));

    let (status, _, html) = get(&app, "/agents/default/chat").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Assistant</h1>"));
    let (status, content_type, _) = get(&app, "/agents/ghost/chat").await;
    assert_eq!((status, content_type.as_str()), (404, "application/json"));

    let (status, content_type, js) = get(&app, "/static/chat-page.js").await;
    assert_eq!(status, 200);
    assert!(content_type.contains("javascript"), "{content_type}");
    assert!(js.contains("X-ChatKit-User"));
    assert!(js.contains("two_phase"), "attachments are on");
    for module in [
        "chatkit-chat.js",
        "api.js",
        "composer.js",
        "thread-view.js",
        "sidebar.js",
        "attachments.js",
        "chat.css",
    ] {
        let (status, _, _) = get(&app, &format!("/static/chat/{module}")).await;
        assert_eq!(status, 200, "{module}");
    }
}

// Our client needs nothing from elsewhere, so its page forbids everything else.
db_test!(the_chat_page_policy_is_strict);
async fn the_chat_page_policy_is_strict(app: TestApp) {
    let response = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        csp,
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
         object-src 'none'; base-uri 'none'; form-action 'self'"
    );
    assert!(!csp.contains("unsafe"));
}

const CHATKIT_JS: &[(&str, &str)] = &[
    ("CHATKIT_CLIENT", "chatkit-js"),
    ("CHATKIT_SCRIPT_URL", "https://cdn.example.com/chatkit.js"),
    ("CHATKIT_DOMAIN_KEY", "domain_pk_1"),
];

db_test!(chatkit_js_is_one_setting_away, vars = CHATKIT_JS);
async fn chatkit_js_is_one_setting_away(app: TestApp) {
    let (status, _, html) = get(&app, "/").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<openai-chatkit id="chat" data-api-url="/chatkit?agent=default""#),
        "{html}"
    );
    assert!(html.contains(r#"data-domain-key="domain_pk_1""#));
    assert!(html.contains(r#"data-script-url="https://cdn.example.com/chatkit.js""#));
    assert!(html.contains(r#"src="/static/chatkit-js-page.js""#));
    assert!(!html.contains("chatkit-chat"));
    let (status, _, js) = get(&app, "/static/chatkit-js-page.js").await;
    assert_eq!(status, 200);
    assert!(js.contains("X-ChatKit-User"));
    assert!(js.contains("could not be loaded"), "says so when blocked");
}

db_test!(health_probes_answer);
async fn health_probes_answer(app: TestApp) {
    assert_eq!(get(&app, "/healthz").await.0, 200);
    let (status, _, body) = get(&app, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ready"}"#));
    let (status, _, body) = get(&app, "/nowhere").await;
    assert_eq!(status, 404);
    assert!(body.contains("not_found"));
}
