//! What happens while an action is handled (the loading behaviours, a failing host) and the
//! actions that are no button press: a select's change, Enter in a form without a card; and a
//! collapsed card.

use serde_json::json;

use super::{actions, gallery, render};
use crate::support::app::{Db, spawn_app};
use crate::support::browser::{Browser, Viewport};
use crate::support::macros::db_case;

db_case!(loading_behaviour_while_an_action_is_pending);
async fn loading_behaviour_while_an_action_is_pending(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let Some(browser) =
        Browser::start(&format!("widget_loading-{}", db.name()), Viewport::Desktop).await
    else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    let g = gallery();
    render(&browser, &[g[0].clone(), g[2].clone(), g[3].clone()]).await;
    browser.execute("window.__hold = true;", vec![]).await;
    let state = "const b = document.querySelector(arguments[0]); const root = b.closest('.ckw');
                 return [b.disabled ?? null, b.classList.contains('ckw-loading'),
                         b.getAttribute('aria-busy'), root.inert, root.classList.contains('ckw-busy')];";

    // A button's "auto" is "self": a spinner on the button, which cannot be pressed again.
    let check_in = "#w0 .ckw-row button:nth-of-type(1)";
    browser.click(check_in).await;
    assert_eq!(
        browser.execute(state, vec![json!(check_in)]).await,
        json!([true, true, "true", false, false])
    );
    browser
        .execute(
            "document.querySelector(arguments[0]).click();",
            vec![json!(check_in)],
        )
        .await;
    assert_eq!(
        actions(&browser).await.len(),
        1,
        "no second action while pending"
    );
    browser.execute("window.__release();", vec![]).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        browser.execute(state, vec![json!(check_in)]).await,
        json!([false, false, null, false, false])
    );

    // "container": the whole widget fades and ignores input.
    let cancel = "#w0 button[data-color=danger]";
    browser.click(cancel).await;
    assert_eq!(
        browser.execute(state, vec![json!(cancel)]).await,
        json!([false, false, null, true, true])
    );
    browser.execute("window.__release();", vec![]).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        browser.execute(state, vec![json!(cancel)]).await,
        json!([false, false, null, false, false])
    );

    // A card's confirm is "container" too.
    browser
        .fill("#w1 input[data-ckw-field=email]", "a@b.co")
        .await;
    browser.click("#w1 button[type=submit]").await;
    let save = "#w1 button[type=submit]";
    assert_eq!(
        browser.execute(state, vec![json!(save)]).await,
        json!([false, false, null, true, true])
    );
    browser.screenshot("pending").await;
    browser.execute("window.__release();", vec![]).await;

    // A list item: "self", and a host that fails leaves the widget usable.
    browser
        .execute("window.__hold = false; window.__fail = true;", vec![])
        .await;
    let item = "#w2 .ckw-lvi[role=button]";
    browser.click(item).await;
    let recorded = actions(&browser).await;
    assert_eq!(recorded.last().unwrap()["payload"], json!({"id": 1}));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let usable = browser
        .execute(
            "const item = document.querySelector(arguments[0]);
             return [item.getAttribute('aria-disabled'), item.classList.contains('ckw-loading')];",
            vec![json!(item)],
        )
        .await;
    assert_eq!(usable, json!([null, false]));

    // A card that is no form: its confirm is "container" as well, its cancel "self".
    let confirm = json!({"type": "Card", "children": [{"type": "Text", "value": "Sure?"}],
        "confirm": {"label": "Yes", "action": {"type": "ok"}},
        "cancel": {"label": "No", "action": {"type": "no", "payload": {"why": "later"}}}});
    render(&browser, &[confirm]).await;
    browser
        .execute("window.__hold = true; window.__fail = false;", vec![])
        .await;
    let yes = "#w0 .ckw-card-footer button:last-child";
    let no = "#w0 .ckw-card-footer button:first-child";
    browser.click(yes).await;
    assert_eq!(
        browser.execute(state, vec![json!(yes)]).await,
        json!([false, false, null, true, true])
    );
    browser.execute("window.__release();", vec![]).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    browser.click(no).await;
    assert_eq!(
        browser.execute(state, vec![json!(no)]).await,
        json!([true, true, "true", false, false])
    );
    let recorded = actions(&browser).await;
    assert_eq!(
        recorded
            .iter()
            .map(|a| a["payload"].clone())
            .collect::<Vec<_>>(),
        [json!(null), json!({"why": "later"})],
        "outside a form a payload is sent as it is"
    );
    browser.close().await;
}

db_case!(change_actions_search_forms_and_collapsed_cards);
async fn change_actions_search_forms_and_collapsed_cards(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let label = format!("widget_change-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Phone).await else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    let g = gallery();
    render(&browser, &[g[5].clone(), g[1].clone()]).await;
    browser.execute("window.__hold = true;", vec![]).await;

    // A select outside a form sends its own value with its change action, and by default
    // ("none") nothing is disabled meanwhile.
    browser
        .click("#w0 select[data-ckw-field=sort] option[value=old]")
        .await;
    let recorded = actions(&browser).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["action"]["type"], "inbox.sort");
    assert_eq!(
        recorded[0]["payload"],
        json!({"view": "all", "sort": "old"})
    );
    let busy = browser
        .execute(
            "const s = document.querySelector('#w0 select'); return [s.disabled, s.closest('.ckw').inert];",
            vec![],
        )
        .await;
    assert_eq!(busy, json!([false, false]));
    browser.execute("window.__release();", vec![]).await;

    // A form without a card: Enter in its field submits it with the field's value.
    let search = browser.find("#w0 input[data-ckw-field=q]").await;
    search.send_keys("flights\u{E007}").await.expect("typed");
    let recorded = actions(&browser).await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(
        json!([recorded[1]["action"]["type"], recorded[1]["payload"]]),
        json!(["search.run", {"q": "flights"}])
    );
    browser.execute("window.__release();", vec![]).await;

    // A collapsed card keeps its body behind a disclosure.
    let hidden = "return document.querySelector('#w1 .ckw-text').checkVisibility();";
    assert_eq!(browser.execute(hidden, vec![]).await, json!(false));
    browser.click("#w1 summary").await;
    assert_eq!(browser.execute(hidden, vec![]).await, json!(true));
    assert_eq!(
        browser.text("#w1 .ckw-status").await,
        "Booking confirmed",
        "the status line stays above"
    );
    browser.close().await;
}
