//! The history sidebar: a second conversation appears beside the first, each opens with its
//! own messages, one is renamed (the server keeps the title) and one deleted; "Show more"
//! pages through many threads; a long thread loads its older messages on scroll.

use serde_json::json;

use super::{VARS, open_chat, page_user, send, transcript, wait_idle, wait_until};
use crate::support::app::Db;
use crate::support::fake_llm::Reply;
use crate::support::fixtures::user_input;
use crate::support::macros::db_case;

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

db_case!(threads_in_the_sidebar);
async fn threads_in_the_sidebar(db: Db) {
    let Some((app, llm, browser)) = open_chat(db, "threads", VARS).await else {
        return;
    };
    llm.push(Reply::Text(vec!["First answer.".into()]));
    send(&browser, "First question").await;
    browser
        .wait_for_text(".ck-assistant-message", "First answer.")
        .await;
    wait_idle(&browser).await;

    // A second thread: New chat empties the conversation, the sidebar then lists two.
    browser.click(".ck-new").await;
    wait_until(&browser, "an empty chat", "return document.querySelectorAll('.ck-item').length === 0 && !document.querySelector('.ck-start').hidden;").await;
    llm.push(Reply::Text(vec!["Second answer.".into()]));
    send(&browser, "Second question").await;
    browser
        .wait_for_text(".ck-assistant-message", "Second answer.")
        .await;
    wait_idle(&browser).await;
    wait_until(
        &browser,
        "two threads listed",
        "return document.querySelectorAll('.ck-thread-entry').length === 2;",
    )
    .await;
    let user = page_user(&browser).await;
    let listed = app.ok(&user, "threads.list", json!({})).await;
    let ids: Vec<String> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    let shown = browser
        .execute("return [...document.querySelectorAll('.ck-thread-entry')].map(e => e.dataset.threadId);", vec![])
        .await;
    assert_eq!(shown, json!(ids), "newest first, as the server lists them");

    // The older thread opens with its own messages.
    browser
        .click(&format!(
            ".ck-thread-entry[data-thread-id='{}'] .ck-thread-open",
            ids[1]
        ))
        .await;
    browser
        .wait_for_text(".ck-assistant-message", "First answer.")
        .await;
    assert_eq!(
        transcript(&browser).await,
        vec![
            "user_message: First question",
            "assistant_message: First answer."
        ]
    );

    // Rename it: the pencil, a new title, Enter.
    browser
        .click(&format!(
            ".ck-thread-entry[data-thread-id='{}'] .ck-thread-actions button:first-child",
            ids[1]
        ))
        .await;
    let field = browser.wait_for(".ck-rename").await;
    field.clear().await.unwrap();
    field.send_keys("Trip planning").await.unwrap();
    field.send_keys(ENTER).await.unwrap();
    browser
        .wait_for_text(".ck-thread-entry .ck-thread-open", "Trip planning")
        .await;
    browser.wait_for_text(".ck-title", "Trip planning").await;
    let thread = app
        .ok(&user, "threads.get_by_id", json!({"thread_id": ids[1]}))
        .await;
    assert_eq!(thread["title"], "Trip planning");
    browser.screenshot("renamed").await;

    // Delete the other one, confirming; it leaves the list and the server.
    browser
        .click(&format!(
            ".ck-thread-entry[data-thread-id='{}'] .ck-thread-actions button:last-child",
            ids[0]
        ))
        .await;
    browser.wait_for_text(".ck-confirm-text", "Delete").await;
    browser.click(".ck-confirm .ck-danger").await;
    wait_until(
        &browser,
        "one thread left",
        "return document.querySelectorAll('.ck-thread-entry').length === 1;",
    )
    .await;
    let answer = app
        .send(&user, "threads.get_by_id", json!({"thread_id": ids[0]}))
        .await;
    assert_eq!(answer.status, 404);
    // The open thread was not the deleted one: it stays.
    browser
        .wait_for_text(".ck-assistant-message", "First answer.")
        .await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

db_case!(older_messages_load_on_scroll);
async fn older_messages_load_on_scroll(db: Db) {
    let Some((app, llm, browser)) = open_chat(db, "older", VARS).await else {
        return;
    };
    // A long thread of this page's user: 15 turns, 30 items.
    let user = page_user(&browser).await;
    llm.push(Reply::Text(vec!["answer 1".into()]));
    let (thread, _) = app.create_thread(&user, "question 1").await;
    for n in 2..=15 {
        llm.push(Reply::Text(vec![format!("answer {n}")]));
        app.stream(
            &user,
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input(&format!("question {n}"))}),
        )
        .await;
    }
    browser
        .execute(
            "localStorage.setItem('chatkit-chat:thread:/chatkit?agent=default', arguments[0]);",
            vec![json!(thread)],
        )
        .await;
    browser.goto(&format!("{}/", app.address)).await;
    // The newest page first, scrolled to the end.
    browser
        .wait_for_text(".ck-assistant-message", "answer 15")
        .await;
    let count = "return document.querySelectorAll('.ck-item').length;";
    assert_eq!(browser.execute(count, vec![]).await, 20);
    let shown = transcript(&browser).await;
    assert_eq!(shown[0], "user_message: question 6");
    // Scrolling to the top loads the older ones above, in order.
    browser
        .execute(
            "document.querySelector('.ck-thread').scrollTop = 0;",
            vec![],
        )
        .await;
    wait_until(
        &browser,
        "the older items",
        "return document.querySelectorAll('.ck-item').length === 30;",
    )
    .await;
    let shown = transcript(&browser).await;
    assert_eq!(shown[0], "user_message: question 1");
    assert_eq!(shown[1], "assistant_message: answer 1");
    assert_eq!(shown[29], "assistant_message: answer 15");
    browser.close().await;
}

db_case!(the_sidebar_pages_through_many_threads);
async fn the_sidebar_pages_through_many_threads(db: Db) {
    let Some((app, llm, browser)) = open_chat(db, "many_threads", VARS).await else {
        return;
    };
    let user = page_user(&browser).await;
    for n in 1..=23 {
        llm.push(Reply::Text(vec![format!("answer {n}")]));
        app.create_thread(&user, &format!("thread {n}")).await;
    }
    browser.goto(&format!("{}/", app.address)).await;
    let count = "return document.querySelectorAll('.ck-thread-entry').length;";
    wait_until(
        &browser,
        "the first page",
        "return document.querySelectorAll('.ck-thread-entry').length === 20;",
    )
    .await;
    browser.click(".ck-more").await;
    wait_until(
        &browser,
        "the second page",
        "return document.querySelectorAll('.ck-thread-entry').length === 23;",
    )
    .await;
    assert_eq!(browser.execute(count, vec![]).await, 23);
    let hidden = browser
        .execute("return document.querySelector('.ck-more').hidden;", vec![])
        .await;
    assert_eq!(hidden, true, "nothing more to show");
    browser.close().await;
}
