//! The demo page (with its security headers), its static files, and the health probes.

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

db_test!(demo_page_embeds_the_widget);
async fn demo_page_embeds_the_widget(app: TestApp) {
    let (status, content_type, html) = get(&app, "/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert!(
        html.contains(r#"<openai-chatkit id="chat" data-api-url="/chatkit?agent=default""#),
        "{html}"
    );
    assert!(html.contains(r#"src="/static/chat.js""#));
    assert!(
        html.contains("chatkit.js"),
        "loads the ChatKit web component"
    );

    let (status, _, html) = get(&app, "/agents/default/chat").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Assistant</h1>"));
    let (status, content_type, _) = get(&app, "/agents/ghost/chat").await;
    assert_eq!((status, content_type.as_str()), (404, "application/json"));

    let (status, content_type, js) = get(&app, "/static/chat.js").await;
    assert_eq!(status, 200);
    assert!(content_type.contains("javascript"), "{content_type}");
    assert!(js.contains("X-ChatKit-User"));
    assert!(js.contains("two_phase"), "attachments are on");
    assert!(html.contains(r#"data-upload-max-bytes="26214400""#));
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
