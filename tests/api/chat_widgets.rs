//! The chat client's widget renderer (`static/chat/widgets.js`) and Markdown
//! (`static/chat/markdown.js`) in headless Chromium, served by the real server: every
//! component of a gallery renders (screenshots at desktop and phone sizes), form values reach
//! the action payload, required fields block a submit, loading behaviours apply while an
//! action is pending, a list view's limit, and Markdown stays inert. `server_form` renders a
//! form the server made and sends what it submits back through the real endpoint.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::app::{Db, spawn_app};
use crate::support::browser::{Browser, Viewport};
use crate::support::macros::db_case;

mod markdown;
mod server_form;

/// The gallery: one widget of each kind, every component type among them.
fn gallery() -> Vec<Value> {
    let text = include_str!("chat_widgets/gallery.json");
    serde_json::from_str(text).expect("gallery.json is JSON")
}

/// Loads the widget module and its stylesheet into the open page, replaces the page's body
/// with `widgets` rendered one after another (`#w0`, `#w1`, ...), and records every action in
/// `window.__actions`. While `window.__hold` is true an action stays pending until
/// `window.__release()`; while `window.__fail` is true the host rejects it.
const RENDER: &str = r#"
const [widgets] = arguments;
return (async () => {
  if (!window.__widgets) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = "/static/chat/widgets.css";
    const loaded = new Promise((ok, fail) => { link.onload = ok; link.onerror = fail; });
    document.head.append(link);
    await loaded;
    window.__widgets = await import("/static/chat/widgets.js");
    window.__markdown = await import("/static/chat/markdown.js");
  }
  window.__actions = [];
  window.__pending = [];
  window.__release = () => { for (const done of window.__pending.splice(0)) done(); };
  const box = document.createElement("div");
  box.id = "gallery";
  for (const [k, v] of [["padding", "24px"], ["columns", "380px"], ["column-gap", "24px"]]) {
    box.style.setProperty(k, v);
  }
  document.body.replaceChildren(box);
  widgets.forEach((widget, i) => {
    const host = {
      itemId: `item_${i}`,
      onAction(action, payload) {
        window.__actions.push({ item: `item_${i}`, action, payload });
        if (window.__fail) return Promise.reject(new Error("the host failed"));
        return window.__hold ? new Promise((done) => window.__pending.push(done)) : Promise.resolve();
      },
    };
    const el = window.__widgets.renderWidget(widget, host);
    el.id = `w${i}`;
    el.style.setProperty("break-inside", "avoid");
    el.style.setProperty("margin-bottom", "24px");
    box.append(el);
  });
  return box.querySelectorAll(":scope > .ckw").length;
})();
"#;

/// Renders `widgets` into the page (see [`RENDER`]).
pub(crate) async fn render(browser: &Browser, widgets: &[Value]) {
    let shown = browser.execute(RENDER, vec![json!(widgets)]).await;
    assert_eq!(shown, json!(widgets.len()), "every widget rendered");
}

/// The actions recorded so far: `{item, action, payload}` each.
pub(crate) async fn actions(browser: &Browser) -> Vec<Value> {
    let recorded = browser.execute("return window.__actions;", vec![]).await;
    recorded.as_array().cloned().unwrap_or_default()
}

/// Sets a control's value as a user would (an `input` then a `change` event), for date
/// inputs, whose typing depends on the browser's locale.
pub(crate) async fn set_value(browser: &Browser, css: &str, value: &str) {
    browser
        .execute(
            "const el = document.querySelector(arguments[0]);
             el.value = arguments[1];
             el.dispatchEvent(new Event('input', {bubbles: true}));
             el.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![json!(css), json!(value)],
        )
        .await;
}

/// Saves a screenshot of the element `css` under `target/screenshots/{name}.png`.
pub(crate) async fn element_shot(browser: &Browser, css: &str, name: &str) -> PathBuf {
    let png = browser
        .find(css)
        .await
        .screenshot()
        .await
        .expect("element screenshot");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("screenshot saved");
    path
}

/// The element each component type becomes, as a selector inside the gallery.
const RENDERED: &[(&str, &str)] = &[
    ("Card", ".ckw-card"),
    ("Card status", ".ckw-status"),
    (
        "Card confirm/cancel",
        "form.ckw-card .ckw-card-footer button[type=submit]",
    ),
    ("ListView", "ul.ckw-listview"),
    ("ListViewItem", ".ckw-lvi[role=button]"),
    ("Basic", "#w5[data-theme=dark] > .ckw-root"),
    ("Box", ".ckw-box"),
    ("Row", ".ckw-row"),
    ("Col", ".ckw-col"),
    ("Form", "form.ckw-formlike.ckw-row"),
    ("Transition", ".ckw-transition > .ckw-caption"),
    ("Text", "p.ckw-text"),
    (
        "Text editable",
        "input.ckw-editable[data-ckw-field='todo.title']",
    ),
    ("Title", "h3.ckw-title"),
    ("Caption", "p.ckw-caption"),
    ("Markdown", ".ckw-markdown strong"),
    ("Label", "label.ckw-label[for]"),
    ("Badge", ".ckw-badge[data-color=success]"),
    ("Icon", "svg.ckw-icon[data-icon=suitcase]"),
    ("Image", "img.ckw-image[alt=Logo]"),
    ("Divider", "hr.ckw-divider"),
    ("Spacer", ".ckw-spacer"),
    ("Chart bars", ".ckw-chart rect.ckw-chart-bar"),
    ("Chart line", ".ckw-chart path.ckw-chart-line"),
    ("Chart area", ".ckw-chart path.ckw-chart-area"),
    ("Chart legend", ".ckw-chart-legend"),
    ("Button", "button.ckw-button[type=button]"),
    ("Input", "input.ckw-input[type=email][required]"),
    ("Textarea", "textarea.ckw-textarea"),
    ("Select", "select.ckw-select"),
    ("DatePicker", "input.ckw-date[type=date]"),
    ("Checkbox", ".ckw-check input[type=checkbox]"),
    ("RadioGroup", "[role=radiogroup] input[type=radio]"),
    ("Table", "table.ckw-table thead th"),
    ("Table.Cell", "table.ckw-table tbody td .ckw-badge"),
    (
        "Card collapsed",
        "#w1 details.ckw-collapse:not([open]) .ckw-text",
    ),
];

db_case!(every_component_renders);
async fn every_component_renders(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let label = format!("widgets-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };
    // The console's strict policy (no inline script or style): the widgets need nothing it forbids.
    browser.goto(&format!("{}/admin/login", app.address)).await;
    render(&browser, &gallery()).await;
    browser.assert_no_csp_violations().await;

    browser.goto(&format!("{}/", app.address)).await;
    render(&browser, &gallery()).await;
    let missing = browser
        .execute(
            "return arguments[0].filter(([, css]) => !document.querySelector(css)).map(([t]) => t);",
            vec![json!(RENDERED)],
        )
        .await;
    assert_eq!(missing, json!([]), "components not rendered");
    let facts = browser
        .execute(
            "const q = (css) => document.querySelector(css);
             const email = q('input[data-ckw-field=email]');
             return {
               emailLabel: document.querySelector(`label[for='${email.id}']`)?.textContent,
               radiosLabelled: !!q('[role=radiogroup][aria-labelledby]'),
               date: q('input.ckw-date').value,
               select: q('select.ckw-select').value,
               unknownChild: [...document.querySelectorAll('.ckw-caption')].some(c => c.textContent === 'Child of an unknown component'),
               errors: window.__errors ?? 0,
               bars: document.querySelectorAll('#w4 rect.ckw-chart-bar').length,
               yLabels: document.querySelectorAll('#w4 .ckw-chart-svg')[0].querySelectorAll('text').length,
               hiddenItems: document.querySelectorAll('.ckw-lvi-wrap[hidden]').length,
             };",
            vec![],
        )
        .await;
    assert_eq!(facts["emailLabel"], "Email");
    assert_eq!(facts["radiosLabelled"], true);
    assert_eq!(
        facts["date"], "2026-12-24",
        "a timestamp default shows its day"
    );
    assert_eq!(facts["select"], "", "no default: the placeholder");
    assert_eq!(facts["unknownChild"], true);
    assert_eq!(facts["bars"], 10, "two stacked series over five days");
    assert!(facts["yLabels"].as_u64().unwrap() > 5, "{facts}");
    assert_eq!(facts["hiddenItems"], 2);
    let severe: Vec<_> = browser
        .console_log()
        .await
        .into_iter()
        .filter(|e| e.level == "SEVERE" && e.message.contains("/static/"))
        .collect();
    assert!(severe.is_empty(), "errors from our files: {severe:?}");

    browser.screenshot("desktop").await;
    for i in 0..6 {
        element_shot(
            &browser,
            &format!("#w{i}"),
            &format!("{label}-desktop-w{i}"),
        )
        .await;
    }
    browser.resize(Viewport::Phone).await;
    browser.assert_fits(390.0).await;
    for i in 0..6 {
        browser
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
                vec![json!(format!("#w{i}"))],
            )
            .await;
        browser.screenshot(&format!("phone-w{i}")).await;
    }
    browser.close().await;
}

db_case!(form_values_reach_the_payload);
async fn form_values_reach_the_payload(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let Some(browser) =
        Browser::start(&format!("widget_form-{}", db.name()), Viewport::Desktop).await
    else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    render(&browser, &gallery()[2..3]).await;

    // The email is required: Save does nothing and the browser points at the field.
    browser.click("#w0 button[type=submit]").await;
    assert_eq!(actions(&browser).await, Vec::<Value>::new());
    let focused = browser
        .execute("return document.activeElement.dataset.ckwField;", vec![])
        .await;
    assert_eq!(focused, "email");
    browser
        .fill("#w0 input[data-ckw-field=email]", "not an email")
        .await;
    browser.click("#w0 button[type=submit]").await;
    assert_eq!(
        actions(&browser).await.len(),
        0,
        "an invalid email blocks too"
    );

    browser
        .fill("#w0 input[data-ckw-field=email]", "ann@example.com")
        .await;
    browser
        .fill("#w0 input[data-ckw-field='todo.title']", "Buy oat milk")
        .await;
    browser.fill("#w0 textarea", "Two cartons").await;
    browser.fill("#w0 input[data-ckw-field=count]", "5").await;
    browser.click("#w0 select option[value=high]").await;
    set_value(&browser, "#w0 input[type=date]", "2026-12-31").await;
    browser
        .click("#w0 [role=radiogroup] label:nth-child(2)")
        .await;
    browser
        .click("#w0 .ckw-check:has(input[data-ckw-field='todo.done'])")
        .await;
    browser.click("#w0 button[type=submit]").await;
    let recorded = actions(&browser).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(
        recorded[0]["action"],
        json!({"type": "todo.save", "payload": {"list": "home", "todo": {"id": 7}},
               "handler": "server", "loadingBehavior": "auto", "streaming": true})
    );
    assert_eq!(
        recorded[0]["payload"],
        json!({"list": "home",
               "todo": {"id": 7, "title": "Buy oat milk", "notes": "Two cartons", "done": true},
               "email": "ann@example.com", "count": 5, "priority": "high",
               "due": "2026-12-31", "where": "office"}),
        "dotted names nest; the payload's own `list` wins over the checkbox named `list`"
    );

    // Enter in a field submits the form, as in any web form; Cancel sends its own action.
    browser
        .find("#w0 input[data-ckw-field=email]")
        .await
        .send_keys("\u{E007}")
        .await
        .expect("Enter typed");
    assert_eq!(actions(&browser).await.len(), 2);
    browser
        .click("#w0 .ckw-card-footer button[type=button]")
        .await;
    let recorded = actions(&browser).await;
    assert_eq!(recorded[2]["action"]["type"], "todo.discard");
    assert_eq!(recorded[2]["payload"]["todo"]["title"], "Buy oat milk");
    browser.close().await;
}

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
    browser.close().await;
}

db_case!(list_view_limit_and_keyboard);
async fn list_view_limit_and_keyboard(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let Some(browser) =
        Browser::start(&format!("widget_list-{}", db.name()), Viewport::Phone).await
    else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    render(&browser, &gallery()[3..4]).await;
    let visible = "return [...document.querySelectorAll('.ckw-lvi-wrap')].filter(li => li.offsetParent !== null).length;";
    assert_eq!(browser.execute(visible, vec![]).await, json!(3));
    let more = browser.find(".ckw-show-more").await;
    assert_eq!(more.text().await.unwrap(), "Show 2 more");
    more.click().await.unwrap();
    assert_eq!(browser.execute(visible, vec![]).await, json!(5));
    assert_eq!(
        browser
            .execute(
                "return document.querySelectorAll('.ckw-show-more').length;",
                vec![]
            )
            .await,
        json!(0)
    );

    // Clickable items are buttons for the keyboard: Tab reaches them, Enter and Space fire.
    let items = browser
        .execute(
            "return document.querySelectorAll('.ckw-lvi[role=button][tabindex=\"0\"]').length;",
            vec![],
        )
        .await;
    assert_eq!(
        items,
        json!(2),
        "the two items with an action, and only those"
    );
    let second = browser.find(".ckw-lvi-wrap:nth-child(2) .ckw-lvi").await;
    second.send_keys("\u{E007}").await.expect("Enter typed");
    second.send_keys(" ").await.expect("Space typed");
    browser.click(".ckw-lvi-wrap:nth-child(1) .ckw-lvi").await;
    let payloads: Vec<Value> = actions(&browser)
        .await
        .into_iter()
        .map(|a| json!([a["action"]["type"], a["payload"]]))
        .collect();
    assert_eq!(
        payloads,
        [
            json!(["mail.open", {"id": 2}]),
            json!(["mail.open", {"id": 2}]),
            json!(["mail.open", {"id": 1}])
        ]
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
