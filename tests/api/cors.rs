//! CORS on the chat and upload routes through the real server: a listed origin's preflight is
//! answered (its origin echoed, `Authorization` and `Content-Type` allowed, no wildcard, no
//! credentials, `Vary: Origin`) and its real requests carry the headers; an unlisted origin,
//! or any origin when none is configured, gets no CORS headers, so a browser refuses it.

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::json;

use crate::support::answer::Answer;
use crate::support::app::TestApp;
use crate::support::macros::db_test;

const HOST_PAGE: &str = "https://shop.example.com";
const VARS: &[(&str, &str)] = &[(
    "CHATKIT_ALLOWED_ORIGINS",
    "https://shop.example.com, http://127.0.0.1:3000",
)];

/// The routes a page on another site calls, with the method it uses.
const ROUTES: &[(&str, &str)] = &[
    ("/chatkit", "POST"),
    ("/chatkit/upload", "POST"),
    ("/chatkit/attachments/atc_x/upload", "PUT"),
];

/// A browser's preflight for `method` on `path` from `origin`.
async fn preflight(app: &TestApp, path: &str, method: &str, origin: &str) -> (u16, HeaderMap) {
    let response = app
        .client
        .request(Method::OPTIONS, format!("{}{path}", app.address))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("preflight sent");
    (response.status().as_u16(), response.headers().clone())
}

/// `threads.list` sent from a page of `origin`.
async fn list_from(app: &TestApp, origin: &str) -> (Answer, HeaderMap) {
    let response = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("Origin", origin)
        .header("X-ChatKit-User", "ann")
        .header("Content-Type", "application/json")
        .body(json!({"type": "threads.list", "params": {}}).to_string())
        .send()
        .await
        .expect("request sent");
    let (answer, headers, _) = Answer::read(response).await;
    (answer, headers)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

fn assert_no_cors(headers: &HeaderMap) {
    let cors: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "CORS headers {cors:?} in {headers:?}");
}

db_test!(a_listed_origin_is_answered, vars = VARS);
async fn a_listed_origin_is_answered(app: TestApp) {
    for (path, method) in ROUTES {
        let (status, headers) = preflight(&app, path, method, HOST_PAGE).await;
        assert_eq!(status, 200, "{path}: {headers:?}");
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            HOST_PAGE,
            "{path}"
        );
        let allowed = header(&headers, "access-control-allow-headers").to_ascii_lowercase();
        assert!(allowed.contains("authorization"), "{path}: {allowed}");
        assert!(allowed.contains("content-type"), "{path}: {allowed}");
        assert!(
            header(&headers, "access-control-allow-methods").contains(method),
            "{path}: {headers:?}"
        );
        assert!(
            headers.get("access-control-allow-credentials").is_none(),
            "{path}"
        );
        assert!(
            header(&headers, "vary")
                .to_ascii_lowercase()
                .contains("origin"),
            "{path}: {headers:?}"
        );
    }

    let (answer, headers) = list_from(&app, "http://127.0.0.1:3000").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        "http://127.0.0.1:3000"
    );
    assert!(
        header(&headers, "vary")
            .to_ascii_lowercase()
            .contains("origin")
    );
    assert!(headers.get("access-control-allow-credentials").is_none());
}

db_test!(an_unlisted_origin_gets_no_cors, vars = VARS);
async fn an_unlisted_origin_gets_no_cors(app: TestApp) {
    for (path, method) in ROUTES {
        let (status, headers) = preflight(&app, path, method, "https://evil.example.net").await;
        assert_ne!(status, 200, "{path}");
        assert_no_cors(&headers);
    }
    // A suffix or another scheme of a listed origin is another origin.
    for origin in [
        "https://shop.example.com.evil.net",
        "http://shop.example.com",
    ] {
        let (_, headers) = preflight(&app, "/chatkit", "POST", origin).await;
        assert_no_cors(&headers);
    }
    // The request itself is served (the same-origin chat page sends `Origin` too); only the
    // browser, seeing no CORS headers, keeps the answer from the other site's page.
    let (answer, headers) = list_from(&app, "https://evil.example.net").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_no_cors(&headers);
}

db_test!(no_origin_is_allowed_by_default);
async fn no_origin_is_allowed_by_default(app: TestApp) {
    let (status, headers) = preflight(&app, "/chatkit", "POST", HOST_PAGE).await;
    assert_ne!(status, 200);
    assert_no_cors(&headers);
    let (answer, headers) = list_from(&app, HOST_PAGE).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_no_cors(&headers);
}
