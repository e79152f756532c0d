//! What a user does with an answer: thumbs (a feedback row), retry (the model asked again,
//! the new answer in place of the old), quote in the reply (the model sees the quoted text);
//! an error event with a Retry button; a message the server refuses kept in the composer.

use serde_json::Value;

use super::{VARS, open_chat, remembered_thread, send, wait_idle, wait_until};
use crate::support::app::{Db, eventually};
use crate::support::fake_llm::Reply;
use crate::support::macros::db_case;

/// Everything the model was sent in a request, as one string (to look for a text in it).
fn said(request: &Value) -> String {
    request["messages"].to_string()
}

db_case!(feedback_retry_and_quote);
async fn feedback_retry_and_quote(db: Db) {
    let Some((app, llm, browser)) = open_chat(db, "items", VARS).await else {
        return;
    };
    llm.push(Reply::Text(vec!["The capital is Paris.".into()]));
    send(&browser, "Capital of France?").await;
    browser
        .wait_for_text(".ck-assistant-message", "Paris")
        .await;
    wait_idle(&browser).await;
    let thread = remembered_thread(&browser).await;
    let thread = thread.as_str().unwrap().to_owned();
    let answer_id = browser
        .execute(
            "return document.querySelector('.ck-assistant-message').dataset.itemId;",
            vec![],
        )
        .await;
    let answer_id = answer_id.as_str().unwrap().to_owned();

    // Thumbs down: a feedback row, the button pressed.
    browser
        .click(".ck-assistant-message button[aria-label='Bad response']")
        .await;
    wait_until(&browser, "the thumb pressed", "return document.querySelector(\"button[aria-label='Bad response']\").getAttribute('aria-pressed') === 'true';").await;
    let rows = eventually("the feedback row", || async {
        let rows = app.store.load_feedback(&thread).await.unwrap();
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].2.as_str()),
        (answer_id.as_str(), "negative")
    );

    // Retry: the model is asked again and its new answer replaces the old one.
    llm.push(Reply::Text(vec!["It is Paris, on the Seine.".into()]));
    browser
        .click(".ck-assistant-message button[aria-label='Retry']")
        .await;
    browser
        .wait_for_text(".ck-assistant-message", "on the Seine")
        .await;
    wait_idle(&browser).await;
    let answers = browser
        .execute(
            "return document.querySelectorAll('.ck-assistant-message').length;",
            vec![],
        )
        .await;
    assert_eq!(answers, 1, "the old answer is gone");
    let requests = llm.wait_for_requests(2).await;
    assert!(said(&requests[1]).contains("Capital of France?"));
    assert!(
        !said(&requests[1]).contains("The capital is Paris."),
        "retried from the question"
    );

    // Quote: the composer shows it and the model gets it with the next message.
    browser
        .click(".ck-assistant-message button[aria-label='Quote in reply']")
        .await;
    browser
        .wait_for_text(".ck-quote blockquote", "on the Seine")
        .await;
    llm.push(Reply::Text(vec!["About 150 m wide there.".into()]));
    send(&browser, "How wide is it?").await;
    browser
        .wait_for_text(".ck-assistant-message", "150 m")
        .await;
    wait_idle(&browser).await;
    let requests = llm.wait_for_requests(3).await;
    assert!(
        said(&requests[2]).contains("on the Seine"),
        "{}",
        said(&requests[2])
    );
    browser
        .wait_for_text(".ck-user-message .ck-quoted", "on the Seine")
        .await;
    browser.screenshot("quoted").await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

/// No retries inside the server, so one failed model call is one error in the chat.
const NO_RETRIES: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_LLM_MAX_RETRIES", "0"),
];

db_case!(an_error_offers_retry);
async fn an_error_offers_retry(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "error", NO_RETRIES).await else {
        return;
    };
    llm.push(Reply::Error {
        status: 500,
        message: "upstream down".into(),
    });
    send(&browser, "Hello?").await;
    let banner = browser.wait_for(".ck-banner.ck-danger").await;
    assert!(
        banner
            .text()
            .await
            .unwrap()
            .contains("Something went wrong")
    );
    wait_idle(&browser).await;
    browser.screenshot("error").await;
    // The error allows a retry: the button asks again from the same question.
    llm.push(Reply::Text(vec!["Hello again.".into()]));
    browser.click(".ck-banner.ck-danger .ck-secondary").await;
    browser
        .wait_for_text(".ck-assistant-message", "Hello again.")
        .await;
    wait_idle(&browser).await;
    let requests = llm.wait_for_requests(2).await;
    assert!(said(&requests[1]).contains("Hello?"));
    let banners = browser
        .execute(
            "return document.querySelectorAll('.ck-banner').length;",
            vec![],
        )
        .await;
    assert_eq!(banners, 0, "the error is gone");
    browser.close().await;
}

db_case!(a_refused_message_comes_back_to_the_composer);
async fn a_refused_message_comes_back_to_the_composer(db: Db) {
    let Some((app, llm, browser)) = open_chat(db, "refused", VARS).await else {
        return;
    };
    llm.push(Reply::Text(vec!["First.".into()]));
    send(&browser, "Hello").await;
    browser
        .wait_for_text(".ck-assistant-message", "First.")
        .await;
    wait_idle(&browser).await;
    // The thread goes away behind the page's back (another tab deleted it).
    let user = super::page_user(&browser).await;
    let thread = remembered_thread(&browser).await;
    app.ok(
        &user,
        "threads.delete",
        serde_json::json!({"thread_id": thread}),
    )
    .await;
    send(&browser, "Are you there?").await;
    browser
        .wait_for_text(
            ".ck-banner.ck-danger",
            "This conversation no longer exists.",
        )
        .await;
    wait_idle(&browser).await;
    let kept = browser
        .execute("return document.querySelector('.ck-input').value;", vec![])
        .await;
    assert_eq!(kept, "Are you there?", "the message is not lost");
    assert_eq!(llm.requests().len(), 1);
    browser.screenshot("refused").await;
    // The sidebar forgot it; "New chat" starts afresh and the kept message goes there.
    wait_until(
        &browser,
        "the sidebar reloaded",
        "return document.querySelectorAll('.ck-thread-entry').length === 0;",
    )
    .await;
    browser.click(".ck-banner.ck-danger .ck-secondary").await;
    llm.push(Reply::Text(vec!["Yes.".into()]));
    browser
        .find(".ck-input")
        .await
        .send_keys("\u{E007}")
        .await
        .unwrap();
    browser.wait_for_text(".ck-assistant-message", "Yes.").await;
    wait_idle(&browser).await;
    browser.close().await;
}
