//! The other widgets the server makes, rendered and used in the browser with what they send
//! going back through the real endpoint: a tool approval (Approve submits its form, the tool
//! runs and the run continues) and the demo model's widget, whose button replaces it.

use serde_json::{Value, json};

use super::{actions, element_shot, render};
use crate::support::app::{Db, TestApp, spawn_app_with, spawn_llm_app_with};
use crate::support::browser::{Browser, Viewport};
use crate::support::fake_llm::Reply;
use crate::support::fixtures::call_time;
use crate::support::macros::db_case;

/// The widget item of `thread`, as `threads.get_by_id` returns it.
async fn widget_item(app: &TestApp, thread: &str) -> Value {
    let loaded = app
        .ok("ann", "threads.get_by_id", json!({"thread_id": thread}))
        .await;
    loaded["items"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|i| i["type"] == "widget")
        .cloned()
        .expect("a widget item")
}

/// Sends the action the browser recorded last for `item` through `threads.custom_action`.
async fn send_last_action(
    app: &TestApp,
    browser: &Browser,
    thread: &str,
    item: &Value,
) -> Vec<Value> {
    let recorded = actions(browser).await;
    let sent = recorded.last().expect("an action");
    let params = json!({"thread_id": thread, "item_id": item["id"],
                        "action": {"type": sent["action"]["type"], "payload": sent["payload"]}});
    app.stream("ann", "threads.custom_action", params).await
}

fn answered(events: &[Value], text: &str) -> bool {
    events.iter().any(|e| {
        e["type"] == "thread.item.done" && e["item"]["content"][0]["text"].as_str() == Some(text)
    })
}

db_case!(an_approval_approved_in_the_browser);
async fn an_approval_approved_in_the_browser(db: Db) {
    let vars = [
        ("CHATKIT_AUTO_TITLES", "false"),
        ("CHATKIT_APPROVAL_TOOLS", "get_current_time"),
    ];
    let Some((app, llm)) = spawn_llm_app_with(db, &vars).await else {
        return;
    };
    call_time(&llm);
    let (thread, _) = app.create_thread("ann", "What time is it?").await;
    let item = widget_item(&app, &thread).await;

    let label = format!("widget_approval-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Phone).await else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    render(&browser, std::slice::from_ref(&item["widget"])).await;
    let arguments = browser.text("#w0 .ckw-markdown pre code").await;
    assert!(arguments.contains("\"zone\": \"UTC\""), "{arguments}");
    element_shot(&browser, "#w0", &format!("{label}-pending")).await;
    browser
        .wait_for_text("#w0 button[type=submit]", "Approve")
        .await
        .click()
        .await
        .unwrap();
    let recorded = actions(&browser).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["action"]["type"], "human.approve");
    assert_eq!(
        recorded[0]["payload"].as_object().unwrap().len(),
        1,
        "{recorded:?}"
    );

    llm.push(Reply::Text(vec!["It is noon.".into()]));
    let events = send_last_action(&app, &browser, &thread, &item).await;
    assert!(
        events.iter().any(|e| e["type"] == "thread.item.replaced"),
        "the approval is replaced: {events:?}"
    );
    assert!(
        events.iter().any(|e| e["type"] == "progress_update"),
        "the tool ran"
    );
    assert!(
        answered(&events, "It is noon."),
        "the run continued: {events:?}"
    );
    browser.close().await;
}

db_case!(the_demo_widget_pressed_in_the_browser);
async fn the_demo_widget_pressed_in_the_browser(db: Db) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let vars = [
        ("CHATKIT_PROBE_PORTS", closed.as_str()),
        ("CHATKIT_DEMO_MODEL", "true"),
        ("CHATKIT_AUTO_TITLES", "false"),
    ];
    let Some(app) = spawn_app_with(db, &vars).await else {
        return;
    };
    let (thread, _) = app.create_thread("ann", "Show me a widget").await;
    let item = widget_item(&app, &thread).await;

    let label = format!("widget_demo-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    render(&browser, std::slice::from_ref(&item["widget"])).await;
    assert_eq!(browser.text("#w0 .ckw-badge").await, "0");
    browser
        .wait_for_text("#w0 button", "Press me")
        .await
        .click()
        .await
        .unwrap();
    let events = send_last_action(&app, &browser, &thread, &item).await;
    let replaced = events
        .iter()
        .find(|e| e["type"] == "thread.item.replaced")
        .expect("the widget is replaced");
    assert_eq!(replaced["item"]["id"], item["id"]);
    render(&browser, std::slice::from_ref(&replaced["item"]["widget"])).await;
    assert_eq!(browser.text("#w0 .ckw-badge").await, "1");
    browser.wait_for_text("#w0 .ckw-text", "pressed once").await;
    element_shot(&browser, "#w0", &format!("{label}-pressed")).await;
    browser.close().await;
}
