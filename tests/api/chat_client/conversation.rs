//! A conversation: the answer grows on screen while the model writes it, Stop keeps the
//! partial answer (also after a reload), the thread reopens after a reload (also one made
//! mid-answer), a model's markup never runs, the auto-title shows, and the model picker's
//! choice reaches the model.

use serde_json::json;

use super::{
    VARS, open_chat, page_user, remembered_thread, send, transcript, wait_idle, wait_until,
};
use crate::support::app::{Db, eventually};
use crate::support::browser::Viewport;
use crate::support::fake_llm::Reply;
use crate::support::macros::db_case;

fn slow(pieces: &[&str], delay_ms: u64) -> Reply {
    Reply::SlowText {
        pieces: pieces.iter().map(|p| p.to_string()).collect(),
        delay_ms,
    }
}

db_case!(the_answer_streams_and_the_thread_reopens);
async fn the_answer_streams_and_the_thread_reopens(db: Db) {
    let Some((app, llm, browser)) = open_chat(db, "stream", VARS).await else {
        return;
    };
    browser.screenshot("start").await;
    llm.push(slow(
        &["Alpha ", "bravo ", "charlie ", "delta ", "echo."],
        250,
    ));
    send(&browser, "Spell the alphabet").await;
    browser
        .wait_for_text(".ck-user-message", "Spell the alphabet")
        .await;
    // The Stop button replaces Send while the answer streams.
    browser.wait_for(".ck-stop:not([hidden])").await;
    let stop = browser.text(".ck-stop").await;
    assert_eq!(stop, "Stop");
    // Seen growing: a part of the answer before the whole of it.
    let mut seen = Vec::new();
    loop {
        let text = browser
            .execute(
                "const m = document.querySelector('.ck-assistant-message .ck-content');
                 return m ? m.innerText.trim() : '';",
                vec![],
            )
            .await;
        let text = text.as_str().unwrap_or_default().to_owned();
        if seen.last() != Some(&text) {
            seen.push(text.clone());
        }
        if text.ends_with("echo.") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    let partial: Vec<&String> = seen
        .iter()
        .filter(|t| !t.is_empty() && !t.ends_with("echo."))
        .collect();
    assert!(partial.len() >= 2, "the text grew in steps: {seen:?}");
    wait_idle(&browser).await;
    browser.screenshot("answered").await;
    let thread = remembered_thread(&browser).await;
    assert!(
        thread.as_str().unwrap_or_default().starts_with("thr_"),
        "{thread}"
    );
    // The sidebar lists the new thread and marks it current.
    browser.wait_for(".ck-thread-entry.ck-selected").await;

    // A reload reopens the same thread with its items.
    browser.goto(&format!("{}/", app.address)).await;
    browser
        .wait_for_text(".ck-assistant-message", "Alpha bravo charlie delta echo.")
        .await;
    assert_eq!(
        transcript(&browser).await,
        vec![
            "user_message: Spell the alphabet".to_owned(),
            "assistant_message: Alpha bravo charlie delta echo.".to_owned()
        ]
    );
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

db_case!(stop_keeps_the_partial_answer);
async fn stop_keeps_the_partial_answer(db: Db) {
    let Some((app, llm, browser)) = open_chat(db, "stop", VARS).await else {
        return;
    };
    let pieces: Vec<String> = (1..=40).map(|n| format!("word{n} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    llm.push(slow(&pieces, 150));
    send(&browser, "Count slowly").await;
    browser
        .wait_for_text(".ck-assistant-message", "word3")
        .await;
    browser.click(".ck-stop").await;
    wait_idle(&browser).await;
    let shown = browser.text(".ck-assistant-message .ck-content").await;
    assert!(
        shown.contains("word3") && !shown.contains("word40"),
        "{shown}"
    );
    // The composer works again.
    assert_eq!(
        browser
            .execute("return document.querySelector('.ck-send').hidden;", vec![])
            .await,
        json!(false)
    );
    browser.screenshot("stopped").await;

    // The server keeps what was shown (once the cancelled run has wound down): a reload
    // shows the partial answer.
    let user = page_user(&browser).await;
    let thread = remembered_thread(&browser).await;
    let thread = thread.as_str().unwrap_or_default().to_owned();
    eventually("the partial answer saved", || async {
        let items = app
            .ok(
                &user,
                "items.list",
                json!({"thread_id": thread, "order": "asc"}),
            )
            .await;
        let saved = items["data"].as_array().cloned().unwrap_or_default();
        saved
            .iter()
            .any(|item| item["type"] == "assistant_message")
            .then_some(())
    })
    .await;
    browser.goto(&format!("{}/", app.address)).await;
    let saved = browser
        .wait_for_text(".ck-assistant-message", "word3")
        .await
        .text()
        .await
        .unwrap();
    assert!(!saved.contains("word40"), "{saved}");
    wait_until(
        &browser,
        "the thread loaded",
        "return document.querySelectorAll('.ck-item').length >= 2;",
    )
    .await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

/// Every way markup could try to run script.
const XSS: &str = "<script>window.__xss=1</script> <img src=x onerror=\"window.__xss=1\"> \
                   [click](javascript:window.__xss=1) <svg onload=\"window.__xss=1\"></svg>";

db_case!(markup_from_the_model_stays_inert);
async fn markup_from_the_model_stays_inert(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "xss", VARS).await else {
        return;
    };
    llm.push(Reply::Text(vec![format!("Here: {XSS} **bold**")]));
    send(&browser, XSS).await;
    browser
        .wait_for_text(".ck-assistant-message", "Here:")
        .await;
    wait_idle(&browser).await;
    let ran = browser.execute("return typeof window.__xss;", vec![]).await;
    assert_eq!(ran, json!("undefined"));
    let links = browser
        .execute(
            "return [...document.querySelectorAll('.ck-item a')].map(a => a.getAttribute('href'));",
            vec![],
        )
        .await;
    assert!(
        !links.to_string().contains("javascript:"),
        "a javascript: link survived: {links}"
    );
    // The user's own text is shown as typed.
    browser.wait_for_text(".ck-user-message", "<script>").await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

/// Titles on: the model names the thread after the first exchange.
const TITLES: &[(&str, &str)] = &[("CHATKIT_AUTO_TITLES", "true")];

db_case!(the_title_and_the_model_picker);
async fn the_title_and_the_model_picker(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "title", TITLES).await else {
        return;
    };
    // The server allows another model: the composer offers both, the default first.
    let offered = browser
        .execute(
            "return [...document.querySelectorAll('.ck-model option')].map(o => o.value);",
            vec![],
        )
        .await;
    assert_eq!(offered, json!(["fake-model", "alt-model"]));
    browser.click(".ck-model option[value='alt-model']").await;
    llm.push(Reply::Text(vec![
        "Three ideas for a week in **Norway**:\n\n".into(),
        "1. Take the *Bergen Line* from Oslo: seven hours over the Hardangervidda plateau.\n".into(),
        "2. Cruise the Nærøyfjord, the narrowest arm of the Sognefjord.\n".into(),
        "3. Hike to Trolltunga in summer (about 10 hours, start early).\n\n".into(),
        "Train times come from the operator's API:\n\n```sh\ncurl https://api.example.com/trips?from=OSL&to=BGO\n```\n".into(),
    ]));
    llm.push(Reply::Completion("Norway trip ideas".into()));
    send(&browser, "Ideas for Norway?").await;
    browser
        .wait_for_text(".ck-title", "Norway trip ideas")
        .await;
    browser
        .wait_for_text(".ck-thread-entry.ck-selected", "Norway trip ideas")
        .await;
    wait_idle(&browser).await;
    let requests = llm.wait_for_requests(1).await;
    assert_eq!(
        requests[0]["model"], "alt-model",
        "the picked model answered"
    );
    browser
        .wait_for_text(".ck-assistant-message", "Trolltunga")
        .await;
    browser.assert_fits(1280.0).await;
    browser.screenshot("titled").await;
    browser.resize(Viewport::Phone).await;
    browser.assert_fits(390.0).await;
    browser.screenshot("titled-phone").await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

db_case!(a_reload_mid_answer_shows_what_was_saved);
async fn a_reload_mid_answer_shows_what_was_saved(db: Db) {
    let Some((app, llm, browser)) = open_chat(db, "reload", VARS).await else {
        return;
    };
    let pieces: Vec<String> = (1..=40).map(|n| format!("step{n} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    llm.push(slow(&pieces, 150));
    send(&browser, "Walk me through it").await;
    browser
        .wait_for_text(".ck-assistant-message", "step3")
        .await;
    // Reloading ends the request mid-answer: the page comes back to the same thread and shows
    // the part of the answer the server kept, without another message from the user.
    browser.goto(&format!("{}/", app.address)).await;
    browser
        .wait_for_text(".ck-user-message", "Walk me through it")
        .await;
    let saved = browser
        .wait_for_text(".ck-assistant-message", "step3")
        .await
        .text()
        .await
        .unwrap();
    assert!(!saved.contains("step40"), "{saved}");
    assert_eq!(llm.requests().len(), 1, "nothing asked the model again");
    browser.assert_no_csp_violations().await;
    browser.close().await;
}
