//! The chat client's widget renderer (`static/chat/widgets.js`) and Markdown
//! (`static/chat/markdown.js`) in headless Chromium, served by the real server: every
//! component of a gallery renders (screenshots at desktop and phone sizes), form values reach
//! the action payload, required fields block a submit, loading behaviours apply while an
//! action is pending (`actions`), a list view's limit, and Markdown stays inert (`markdown`).
//! `server_form` and `server_widgets` render what the server made and send what the browser
//! submits back through the real endpoint.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::app::{Db, spawn_app};
use crate::support::browser::{Browser, Viewport};
use crate::support::macros::db_case;

mod actions;
mod markdown;
mod server_form;
mod server_widgets;

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
    el.style.setProperty("margin-bottom", "20px");
    el.style.setProperty("padding", "4px"); // so that an element screenshot shows the border
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
    ("Icon unknown: a dot", "#w1 svg.ckw-icon[data-icon=dot]"),
    ("Icon lucide:", "#w1 svg.ckw-icon[data-icon=home]"),
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
               badImages: document.querySelectorAll('img[alt^=not]').length,
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
    assert_eq!(
        facts["badImages"], 0,
        "an image source that is no image is dropped"
    );
    let severe: Vec<_> = browser
        .console_log()
        .await
        .into_iter()
        .filter(|e| e.level == "SEVERE" && e.message.contains("/static/"))
        .collect();
    assert!(severe.is_empty(), "errors from our files: {severe:?}");

    browser.screenshot("desktop").await;
    // A dark system theme, as `prefers-color-scheme: dark` gives the page's `light dark`.
    let scheme = "document.documentElement.style.setProperty('color-scheme', arguments[0]);
                  return getComputedStyle(document.querySelector('#w0 .ckw-card')).backgroundColor;";
    let dark = browser.execute(scheme, vec![json!("dark")]).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await; // colour transitions
    browser.screenshot("desktop-dark").await;
    let light = browser.execute(scheme, vec![json!("light")]).await;
    assert_eq!(light, "rgb(255, 255, 255)");
    assert_eq!(dark, "rgb(38, 38, 38)", "cards follow the colour scheme");
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
    browser
        .find("body")
        .await
        .send_keys("\u{E004}")
        .await
        .expect("Tab typed");
    let focused = browser
        .execute(
            "const el = document.activeElement;
             return [el.matches('.ckw-lvi-wrap:nth-child(1) .ckw-lvi'), getComputedStyle(el).outlineStyle];",
            vec![],
        )
        .await;
    assert_eq!(
        focused,
        json!([true, "solid"]),
        "Tab reaches the first item, focus shows"
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
