//! The human in the loop from the chat: a form from `request_human_input` filled and
//! submitted (the form becomes its summary in place and the run continues with the
//! answers; a message sent meanwhile gets the server's notice and stays in the composer), and
//! a tool call that needs approval approved, with the tool's progress line.

use serde_json::{Value, json};

use super::{VARS, open_chat, send, wait_idle};
use crate::support::app::Db;
use crate::support::fake_llm::Reply;
use crate::support::fixtures::{ask, call_time};
use crate::support::macros::db_case;

/// The tool result the model received last.
fn last_tool_result(requests: &[Value]) -> String {
    let messages = requests.last().unwrap()["messages"].as_array().unwrap();
    let result = messages.iter().rev().find(|m| m["role"] == "tool").unwrap();
    result["content"].as_str().unwrap().to_owned()
}

db_case!(a_form_is_filled_and_the_run_continues);
async fn a_form_is_filled_and_the_run_continues(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "form", VARS).await else {
        return;
    };
    ask(&llm);
    send(&browser, "Book me a room").await;
    let form = ".ck-widget[data-item-id]";
    browser
        .wait_for(&format!("{form} [data-ckw-field=city]"))
        .await;
    wait_idle(&browser).await;
    let item_id = browser
        .execute(
            &format!("return document.querySelector('{form}').dataset.itemId;"),
            vec![],
        )
        .await;
    // A message while the form waits: the server answers with a notice, not the model.
    send(&browser, "Never mind the form").await;
    browser
        .wait_for(".ck-banners > .ck-banner.ck-warning")
        .await;
    wait_idle(&browser).await;
    assert_eq!(llm.requests().len(), 1, "the model was not asked");
    let kept = browser
        .execute("return document.querySelector('.ck-input').value;", vec![])
        .await;
    assert_eq!(kept, "Never mind the form", "the message is not lost");
    browser
        .execute("document.querySelector('.ck-input').value = '';", vec![])
        .await;
    browser.screenshot("form-notice").await;
    browser
        .fill(&format!("{form} [data-ckw-field=city]"), "Oslo")
        .await;
    browser
        .fill(&format!("{form} [data-ckw-field=nights]"), "3")
        .await;
    browser.screenshot("form").await;
    llm.push(Reply::Text(vec!["Booked Oslo for 3 nights.".into()]));
    browser.click(&format!("{form} button[type=submit]")).await;
    browser
        .wait_for_text(".ck-assistant-message", "Booked Oslo for 3 nights.")
        .await;
    wait_idle(&browser).await;
    // Replaced in place: the same item now shows the answers.
    let summary = browser
        .execute(
            &format!(
                "return document.querySelector(\".ck-item[data-item-id='{}']\").innerText;",
                item_id.as_str().unwrap()
            ),
            vec![],
        )
        .await;
    assert!(summary.as_str().unwrap().contains("Oslo"), "{summary}");
    let requests = llm.wait_for_requests(2).await;
    let result = last_tool_result(&requests);
    assert!(result.contains("Oslo") && result.contains('3'), "{result}");
    browser.screenshot("form-answered").await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

const APPROVALS: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_APPROVAL_TOOLS", "get_current_time"),
];

db_case!(an_approval_is_approved);
async fn an_approval_is_approved(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "approval", APPROVALS).await else {
        return;
    };
    call_time(&llm);
    send(&browser, "What time is it?").await;
    let approve = browser.wait_for_text(".ck-widget button", "Approve").await;
    wait_idle(&browser).await;
    browser.screenshot("approval").await;
    // The tool's progress line shows while it runs: watch for it.
    browser
        .execute(
            "window.__progress = [];
             new MutationObserver(() => {
               const p = document.querySelector('.ck-progress');
               if (p && !window.__progress.includes(p.textContent)) window.__progress.push(p.textContent);
             }).observe(document.body, {childList: true, subtree: true, characterData: true});",
            vec![],
        )
        .await;
    llm.push(Reply::Text(vec!["It is noon.".into()]));
    approve.click().await.unwrap();
    browser
        .wait_for_text(".ck-assistant-message", "It is noon.")
        .await;
    wait_idle(&browser).await;
    let requests = llm.wait_for_requests(2).await;
    let messages = requests[1]["messages"].to_string();
    assert!(!messages.contains("denied"), "{messages}");
    assert_eq!(requests.len(), 2);
    let progress = browser.execute("return window.__progress;", vec![]).await;
    assert!(
        progress.as_array().is_some_and(|shown| !shown.is_empty()),
        "a progress line was shown: {progress}"
    );
    assert_eq!(
        browser
            .execute(
                "return document.querySelectorAll('.ck-progress').length;",
                vec![]
            )
            .await,
        json!(0),
        "and cleared when the answer came"
    );
    browser.assert_no_csp_violations().await;
    browser.close().await;
}
