//! A real form from the server: the fake model calls `request_human_input` through the
//! protocol, the widget is read back with `threads.get_by_id`, rendered and filled in the
//! browser, and what the browser's form submits is sent with `threads.custom_action` through
//! the real endpoint: the server accepts it and the run continues with the answers.

use serde_json::{Value, json};

use super::{actions, element_shot, render, set_value};
use crate::support::app::{Db, spawn_llm_app_with};
use crate::support::browser::{Browser, Viewport};
use crate::support::fake_llm::Reply;
use crate::support::fixtures::ask;
use crate::support::macros::db_case;

/// The tool result the model received last.
fn last_tool_result(requests: &[Value]) -> Value {
    let messages = requests.last().unwrap()["messages"].as_array().unwrap();
    let result = messages.iter().rev().find(|m| m["role"] == "tool").unwrap();
    serde_json::from_str(result["content"].as_str().unwrap()).unwrap()
}

db_case!(a_server_form_answered_in_the_browser);
async fn a_server_form_answered_in_the_browser(db: Db) {
    let vars = [("CHATKIT_AUTO_TITLES", "false")];
    let Some((app, llm)) = spawn_llm_app_with(db, &vars).await else {
        return;
    };
    ask(&llm);
    let (thread, _) = app.create_thread("ann", "Book me a room").await;
    let loaded = app
        .ok("ann", "threads.get_by_id", json!({"thread_id": thread}))
        .await;
    let item = loaded["items"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "widget")
        .cloned()
        .expect("the form item");

    let label = format!("widget_server_form-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    render(&browser, std::slice::from_ref(&item["widget"])).await;
    let labels = browser
        .execute(
            "return [...document.querySelectorAll('label.ckw-label')]
               .map(l => [l.textContent, l.htmlFor ? document.getElementById(l.htmlFor).dataset.ckwField
                                                 : l.parentElement.getAttribute('role')]);",
            vec![],
        )
        .await;
    assert_eq!(
        labels,
        json!([
            ["City *", "city"],
            ["notes", "notes"],
            ["nights *", "nights"],
            ["room", "room"],
            ["extras", "group"],
            ["from", "from"]
        ]),
        "every label names its control (the options of a multi-select as a group)"
    );
    element_shot(&browser, "#w0", &format!("{label}-empty")).await;

    // City and nights are required: Submit is blocked until they are filled.
    browser.click("#w0 button[type=submit]").await;
    assert_eq!(actions(&browser).await, Vec::<Value>::new());
    browser.fill("#w0 [data-ckw-field=city]", "Oslo").await;
    browser.click("#w0 button[type=submit]").await;
    assert_eq!(actions(&browser).await, Vec::<Value>::new());
    browser.fill("#w0 [data-ckw-field=nights]", "3").await;
    browser
        .fill("#w0 [data-ckw-field=notes]", "Late arrival")
        .await;
    browser
        .click("#w0 .ckw-check:has([data-ckw-field=pets])")
        .await;
    browser.click("#w0 select option[value=double]").await;
    browser
        .click("#w0 .ckw-check:has([data-ckw-field='extras.o0'])")
        .await;
    set_value(&browser, "#w0 [data-ckw-field=from]", "2026-12-01").await;
    element_shot(&browser, "#w0", &format!("{label}-filled")).await;
    browser.click("#w0 button[type=submit]").await;
    let recorded = actions(&browser).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let sent = &recorded[0];
    assert_eq!(sent["action"]["type"], "human.form_submit");
    assert_eq!(sent["payload"]["extras"], json!({"o0": true, "o1": false}));
    assert_eq!(sent["payload"]["nights"], 3);

    // What the browser submitted, through the real endpoint: the run continues.
    llm.push(Reply::Text(vec!["Booked Oslo.".into()]));
    let params = json!({"thread_id": thread, "item_id": item["id"],
                        "action": {"type": sent["action"]["type"], "payload": sent["payload"]}});
    let events = app.stream("ann", "threads.custom_action", params).await;
    let replaced = events
        .iter()
        .find(|e| e["type"] == "thread.item.replaced")
        .expect("the form is replaced by its summary");
    assert!(replaced["item"]["widget"].to_string().contains("Oslo"));
    assert!(
        events.iter().any(|e| e["type"] == "thread.item.done"
            && e["item"]["content"][0]["text"] == "Booked Oslo."),
        "the run continued: {events:?}"
    );
    let requests = llm.wait_for_requests(2).await;
    assert_eq!(
        last_tool_result(&requests),
        json!({"city": "Oslo", "nights": 3, "pets": true, "room": "double",
               "extras": ["breakfast"], "from": "2026-12-01", "notes": "Late arrival"})
    );

    // The summary that replaced the form renders too.
    render(&browser, std::slice::from_ref(&replaced["item"]["widget"])).await;
    browser.wait_for_text("#w0 .ckw-text", "Oslo").await;
    element_shot(&browser, "#w0", &format!("{label}-answered")).await;
    browser.close().await;
}
