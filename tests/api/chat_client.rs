//! Our web client (`<chatkit-chat>`, `static/chat/`) in headless Chromium, against the real
//! server and the fake model, on both databases: what a user does in the chat page and what
//! the server and the model then see. Screenshots go to `target/screenshots`.

mod access;
mod attachments;
mod conversation;
mod dictation;
mod embedded;
mod humans;
mod items;
mod layout;
mod threads;
mod tools;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::app::{Db, TestApp, spawn_llm_app_with};
use crate::support::browser::{Browser, Viewport, WAIT};
use crate::support::fake_llm::FakeLlm;

/// Titles stay off unless a test asks for them, so every scripted reply is the chat's.
const VARS: &[(&str, &str)] = &[("CHATKIT_AUTO_TITLES", "false")];

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

/// A server with the fake model and a browser on its chat page, the composer ready.
async fn open_chat(
    db: Db,
    name: &str,
    vars: &[(&str, &str)],
) -> Option<(TestApp, FakeLlm, Browser)> {
    open_chat_at(db, name, vars, "/").await
}

/// The same on the page at `path`.
async fn open_chat_at(
    db: Db,
    name: &str,
    vars: &[(&str, &str)],
    path: &str,
) -> Option<(TestApp, FakeLlm, Browser)> {
    let (app, llm) = spawn_llm_app_with(db, vars).await?;
    let browser = Browser::start(
        &format!("chat_client_{name}-{}", db.name()),
        Viewport::Desktop,
    )
    .await?;
    browser.goto(&format!("{}{path}", app.address)).await;
    browser.wait_for("chatkit-chat .ck-input").await;
    Some((app, llm, browser))
}

/// Types `text` into the composer and presses Enter.
async fn send(browser: &Browser, text: &str) {
    let input = browser.find("chatkit-chat .ck-input").await;
    input.send_keys(text).await.expect("text typed");
    input.send_keys(ENTER).await.expect("Enter pressed");
}

/// Waits until no response streams any more (the Send button is back).
async fn wait_idle(browser: &Browser) {
    wait_until(browser, "the response to end", "return !!document.querySelector('chatkit-chat .ck-stop[hidden]') && !document.querySelector('chatkit-chat .ck-streaming');").await;
}

/// Waits (at most [`WAIT`]) until `script` returns true.
async fn wait_until(browser: &Browser, what: &str, script: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if browser.execute(script, vec![]).await == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "waited {WAIT:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The texts of the items shown, in order (`type: text`).
async fn transcript(browser: &Browser) -> Vec<String> {
    let shown = browser
        .execute(
            "return [...document.querySelectorAll('chatkit-chat .ck-item:not([hidden])')]
               .map(e => e.dataset.type + ': ' + e.innerText.trim());",
            vec![],
        )
        .await;
    shown
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The thread the page remembers for a reload.
async fn remembered_thread(browser: &Browser) -> Value {
    browser
        .execute(
            "return localStorage.getItem('chatkit-chat:thread:/chatkit?agent=default');",
            vec![],
        )
        .await
}

/// The user id the chat page sends (its dev-mode `X-ChatKit-User`).
async fn page_user(browser: &Browser) -> String {
    let user = browser
        .execute("return localStorage.getItem('chatkit-demo-user');", vec![])
        .await;
    user.as_str().expect("the page has a user id").to_owned()
}
