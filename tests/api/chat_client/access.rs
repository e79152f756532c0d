//! Keyboard-only use (Tab to the composer, Shift+Enter for a new line, Enter to send, Tab to
//! an answer's actions, Escape to stop an answer) and an automated accessibility check
//! (axe-core, vendored for the tests only) of the chat's states, with no serious or critical
//! violation.

use serde_json::{Value, json};

use super::{VARS, open_chat, send, wait_idle};
use crate::support::app::Db;
use crate::support::browser::Browser;
use crate::support::fake_llm::Reply;
use crate::support::macros::db_case;

const TAB: &str = "\u{E004}";
const SHIFT_TAB: &str = "\u{E008}\u{E004}\u{E000}";
const ENTER: &str = "\u{E007}";
const SHIFT_ENTER: &str = "\u{E008}\u{E007}\u{E000}";
const ESCAPE: &str = "\u{E00C}";

/// What has the focus, as `tag.class[aria-label]`.
async fn focused(browser: &Browser) -> String {
    let shown = browser
        .execute(
            "const e = document.activeElement;
             return e.tagName.toLowerCase() + '.' + e.className + '[' + (e.getAttribute('aria-label') || '') + ']';",
            vec![],
        )
        .await;
    shown.as_str().unwrap_or_default().to_owned()
}

/// Presses `key` until the focus is on something whose description contains `target`.
async fn press_until(browser: &Browser, key: &str, target: &str) {
    let mut path = Vec::new();
    for _ in 0..20 {
        let now = focused(browser).await;
        if now.contains(target) {
            return;
        }
        path.push(now);
        browser.keys(key).await;
    }
    panic!("the keyboard never reached {target}: {path:?}");
}

db_case!(the_composer_by_keyboard_alone);
async fn the_composer_by_keyboard_alone(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "keyboard", VARS).await else {
        return;
    };
    browser
        .execute("document.activeElement.blur();", vec![])
        .await;
    press_until(&browser, TAB, "ck-input").await;
    llm.push(Reply::Text(vec!["Two lines received.".into()]));
    browser.keys("Line one").await;
    browser.keys(SHIFT_ENTER).await;
    browser.keys("line two").await;
    let typed = browser
        .execute("return document.querySelector('.ck-input').value;", vec![])
        .await;
    assert_eq!(typed, "Line one\nline two", "Shift+Enter starts a new line");
    browser.keys(ENTER).await;
    browser
        .wait_for_text(".ck-assistant-message", "Two lines received.")
        .await;
    wait_idle(&browser).await;
    let requests = llm.wait_for_requests(1).await;
    assert!(
        requests[0]["messages"]
            .to_string()
            .contains("Line one\\nline two")
    );
    // The focus stayed in the composer, cleared for the next message.
    assert!(focused(&browser).await.contains("ck-input"));

    // Back to the answer's actions, and one of them used with Enter.
    press_until(&browser, SHIFT_TAB, "[Good response]").await;
    let ring = browser
        .execute(
            "return getComputedStyle(document.activeElement).boxShadow;",
            vec![],
        )
        .await;
    assert_ne!(ring, "none", "the focus is visible");
    browser.keys(ENTER).await;
    super::wait_until(
        &browser,
        "the thumb pressed",
        "return document.activeElement.getAttribute('aria-pressed') === 'true';",
    )
    .await;
    browser.screenshot("focus").await;

    // Escape in the composer stops an answer that streams.
    press_until(&browser, TAB, "ck-input").await;
    let pieces: Vec<String> = (1..=40).map(|n| format!("slow{n} ")).collect();
    llm.push(Reply::SlowText {
        pieces,
        delay_ms: 150,
    });
    browser.keys("Go slowly").await;
    browser.keys(ENTER).await;
    browser
        .wait_for_text(".ck-assistant-message", "slow2")
        .await;
    browser.keys(ESCAPE).await;
    wait_idle(&browser).await;
    let shown = browser
        .execute(
            "return [...document.querySelectorAll('.ck-assistant-message')].pop().innerText;",
            vec![],
        )
        .await;
    assert!(!shown.as_str().unwrap().contains("slow40"), "{shown}");
    browser.close().await;
}

/// axe-core's serious and critical violations on the page as it is now.
async fn axe_violations(browser: &Browser) -> Vec<Value> {
    let loaded = browser
        .execute(
            &format!(
                "{}\nreturn typeof window.axe;",
                include_str!("../support/vendor/axe-core/axe.min.js")
            ),
            vec![],
        )
        .await;
    assert_eq!(loaded, "object", "axe-core loaded");
    let result = browser
        .execute(
            "return window.axe.run(document.querySelector('chatkit-chat'), {resultTypes: ['violations']})
               .then(r => r.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))})));",
            vec![],
        )
        .await;
    result.as_array().cloned().unwrap_or_default()
}

db_case!(the_chat_passes_an_accessibility_check);
async fn the_chat_passes_an_accessibility_check(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "axe", VARS).await else {
        return;
    };
    assert_eq!(
        axe_violations(&browser).await,
        Vec::<Value>::new(),
        "start screen"
    );
    llm.push(Reply::Text(vec![
        "An answer with **bold**, `code` and a [link](https://example.com).".into(),
    ]));
    send(&browser, "Hello").await;
    browser
        .wait_for_text(".ck-assistant-message", "An answer")
        .await;
    wait_idle(&browser).await;
    assert_eq!(
        axe_violations(&browser).await,
        Vec::<Value>::new(),
        "an answer"
    );
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![(
            "ask_user_questions".into(),
            json!({"questions": [
                {"question": "Which size?", "options": ["S", "M", "L"], "multiple": true},
                {"question": "Notes?"}
            ]}),
        )],
    });
    send(&browser, "Order a shirt").await;
    browser.wait_for(".ck-questions").await;
    wait_idle(&browser).await;
    assert_eq!(
        axe_violations(&browser).await,
        Vec::<Value>::new(),
        "questions"
    );
    // Dark theme too: contrast is checked again with the other colours.
    browser
        .execute(
            "document.querySelector('chatkit-chat').dataset.theme = 'dark';",
            vec![],
        )
        .await;
    assert_eq!(
        axe_violations(&browser).await,
        Vec::<Value>::new(),
        "dark theme"
    );
    browser.screenshot("dark").await;
    browser.close().await;
}
