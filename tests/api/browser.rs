//! The pages in headless Chromium: what a user sees at desktop and phone sizes, with
//! screenshots in `target/screenshots`, and that the browser reports no Content Security Policy
//! violation (checked first against a page that has one, so the check cannot pass blindly).

use serde_json::json;

use crate::support::app::{Db, spawn_app, spawn_app_with};
use crate::support::browser::{Browser, Viewport};
use crate::support::macros::db_case;

/// Where the chat element sits and how wide the page is, in CSS pixels.
#[derive(Debug)]
struct Layout {
    chat_top: f64,
    chat_bottom: f64,
    viewport_width: f64,
    viewport_height: f64,
    page_width: f64,
}

async fn layout(browser: &Browser) -> Layout {
    let measured = browser
        .execute(
            "const chat = document.getElementById('chat').getBoundingClientRect();
             return [chat.top, chat.bottom, window.innerWidth, window.innerHeight,
                     document.documentElement.scrollWidth];",
            vec![],
        )
        .await;
    let n = |i: usize| measured[i].as_f64().unwrap_or(f64::NAN);
    Layout {
        chat_top: n(0),
        chat_bottom: n(1),
        viewport_width: n(2),
        viewport_height: n(3),
        page_width: n(4),
    }
}

/// The page's stylesheet applied: the header on top, the chat filling the rest of the
/// viewport, nothing wider than the viewport.
fn assert_laid_out(layout: &Layout, width: f64, height: f64) {
    assert_eq!(
        (layout.viewport_width, layout.viewport_height),
        (width, height),
        "{layout:?}"
    );
    assert!(
        layout.chat_top > 0.0 && layout.chat_top < height / 4.0,
        "the header is above the chat: {layout:?}"
    );
    assert!(
        (layout.chat_bottom - height).abs() < 1.0,
        "the chat fills the viewport: {layout:?}"
    );
    assert!(layout.page_width <= width, "no sideways scroll: {layout:?}");
}

db_case!(the_chat_page_in_a_browser);
async fn the_chat_page_in_a_browser(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let label = format!("chat_page-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    assert_eq!(browser.current_url().await, format!("{}/", app.address));
    browser
        .wait_for_text("main.chat-page h1", "Assistant")
        .await;
    assert_eq!(
        browser.text("main.chat-page header code").await,
        "/chatkit?agent=default"
    );
    let chat = browser.find("chatkit-chat#chat").await;
    assert_eq!(
        chat.attr("data-api-url").await.unwrap().as_deref(),
        Some("/chatkit?agent=default")
    );
    // chat-page.js ran: it gave this browser its user id, and the client is up.
    browser.wait_for("chatkit-chat .ck-input").await;
    let user = browser
        .execute("return localStorage.getItem('chatkit-demo-user');", vec![])
        .await;
    let user = user.as_str().unwrap_or_default();
    assert!(
        user.starts_with("demo-") && user.len() > "demo-".len(),
        "{user:?}"
    );
    assert!(browser.source().await.contains("/static/chat-page.js"));

    assert_laid_out(&layout(&browser).await, 1280.0, 900.0);
    browser.screenshot("desktop").await;
    browser.resize(Viewport::Phone).await;
    assert_laid_out(&layout(&browser).await, 390.0, 844.0);
    browser.screenshot("phone").await;

    // The same user id after a reload: the page keeps it.
    browser.goto(&format!("{}/", app.address)).await;
    let again = browser
        .execute("return localStorage.getItem('chatkit-demo-user');", vec![])
        .await;
    assert_eq!(again, json!(user));
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

/// ChatKit JS from an address the browser cannot reach (as offline, or behind a firewall).
const UNREACHABLE_CHATKIT_JS: &[(&str, &str)] = &[
    ("CHATKIT_CLIENT", "chatkit-js"),
    ("CHATKIT_SCRIPT_URL", "https://cdn.invalid/chatkit.js"),
];

db_case!(a_chatkit_js_page_that_cannot_load_says_so);
async fn a_chatkit_js_page_that_cannot_load_says_so(db: Db) {
    let Some(app) = spawn_app_with(db, UNREACHABLE_CHATKIT_JS).await else {
        return;
    };
    let label = format!("chatkit_js_blocked-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    let status = browser
        .wait_for_text("#chat-status", "could not be loaded")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        status.contains("https://cdn.invalid/chatkit.js"),
        "{status}"
    );
    assert!(status.contains("CHATKIT_CLIENT"), "{status}");
    browser.screenshot("blocked").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_support_sees_violations_and_drives_forms() {
    let Some(browser) = Browser::start("browser_support", Viewport::Desktop).await else {
        return;
    };
    browser
        .goto(
            "data:text/html,<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">\
             <p id=\"shown\">Blocked below.</p><script>document.title = 'ran';</script>",
        )
        .await;
    assert_eq!(browser.text("#shown").await, "Blocked below.");
    let title = browser.execute("return document.title;", vec![]).await;
    assert_eq!(title, json!(""), "the script was blocked");
    let violations = browser.csp_violations().await;
    assert_eq!(violations.len(), 1, "{violations:#?}");
    let violation = &violations[0];
    assert!(
        violation.message.contains("script-src 'none'"),
        "{violation:?}"
    );
    assert_eq!(
        (violation.level.as_str(), violation.source.as_str()),
        ("SEVERE", "security")
    );

    // A form: typed into, clicked, and its answer shown a little later.
    browser
        .goto(
            "data:text/html,<input id=\"name\" value=\"old\"><button id=\"go\">Go</button>\
             <script>document.getElementById('go').addEventListener('click', () => \
             setTimeout(() => { const p = document.createElement('p'); p.id = 'out'; \
             p.textContent = 'Hello ' + document.getElementById('name').value; \
             document.body.append(p); }, 300));</script>",
        )
        .await;
    browser.fill("#name", "Ada").await;
    browser.click("#go").await;
    browser.wait_for("#out").await;
    browser.wait_for_text("#out", "Hello Ada").await;
    assert_eq!(browser.csp_violations().await.len(), 1, "nothing new");
    browser.close().await;
}
