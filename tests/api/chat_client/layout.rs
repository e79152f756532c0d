//! The element itself: at a 360 px phone width nothing scrolls sideways, the history is a
//! drawer that opens and closes, and the composer stays usable; configured by attributes
//! alone; start-screen prompts and dictation (a fake microphone, `input.transcribe`); its
//! stylesheets loaded once; and the marks the chat-page bench times (first paint, ready).

use super::{VARS, open_chat, send, wait_idle};
use crate::support::app::{Db, eventually};
use crate::support::browser::Viewport;
use crate::support::fake_llm::Reply;
use crate::support::macros::db_case;

db_case!(the_chat_fits_a_small_phone);
async fn the_chat_fits_a_small_phone(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "small_phone", VARS).await else {
        return;
    };
    browser.resize(Viewport::SmallPhone).await;
    browser.assert_fits(360.0).await;
    llm.push(Reply::Text(vec![
        "A long answer with a long word: ".into(),
        "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichenhersteller ".into(),
        "and code:\n\n```\nfn main() { println!(\"a very long line of code that must scroll inside its block\"); }\n```".into(),
    ]));
    send(&browser, "Say something long").await;
    browser.wait_for_text(".ck-assistant-message", "code").await;
    wait_idle(&browser).await;
    browser.assert_fits(360.0).await;
    browser.screenshot("answered").await;

    // The history is a drawer here: hidden, opened by its button, closed by Escape.
    let hidden = browser
        .execute(
            "return getComputedStyle(document.querySelector('.ck-sidebar')).visibility;",
            vec![],
        )
        .await;
    assert_eq!(hidden, "hidden");
    browser.click(".ck-drawer-open").await;
    browser.wait_for(".ck-root.ck-drawer").await;
    browser.wait_for(".ck-thread-entry").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    browser.assert_fits(360.0).await;
    browser.screenshot("drawer").await;
    browser
        .find(".ck-new")
        .await
        .send_keys("\u{E00C}")
        .await
        .expect("Escape pressed");
    super::wait_until(
        &browser,
        "the drawer to close",
        "return !document.querySelector('.ck-root.ck-drawer');",
    )
    .await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

db_case!(attributes_alone_configure_the_element);
async fn attributes_alone_configure_the_element(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "attributes", VARS).await else {
        return;
    };
    // A page that writes only HTML: the element reads its attributes when it is connected.
    browser
        .execute(
            "document.getElementById('chat').remove();
             const el = document.createElement('chatkit-chat');
             el.setAttribute('api-url', '/chatkit?agent=default');
             el.setAttribute('greeting', 'Hello from attributes');
             el.setAttribute('placeholder', 'Type here');
             el.setAttribute('history', 'off');
             document.querySelector('main').append(el);",
            vec![],
        )
        .await;
    browser
        .wait_for_text("chatkit-chat .ck-greeting", "Hello from attributes")
        .await;
    let shown = browser
        .execute(
            "return [document.querySelector('.ck-input').placeholder, !!document.querySelector('.ck-sidebar')];",
            vec![],
        )
        .await;
    assert_eq!(shown, serde_json::json!(["Type here", false]));
    llm.push(Reply::Text(vec!["Configured by attributes.".into()]));
    send(&browser, "Hi").await;
    browser
        .wait_for_text(".ck-assistant-message", "Configured by attributes.")
        .await;
    wait_idle(&browser).await;
    browser.close().await;
}

db_case!(the_page_marks_its_paint_and_readiness);
async fn the_page_marks_its_paint_and_readiness(db: Db) {
    let Some((app, _llm, browser)) = open_chat(db, "paint", VARS).await else {
        return;
    };
    // A second load, as a returning user: the files are in the browser's cache.
    browser.goto(&format!("{}/", app.address)).await;
    browser.wait_for("chatkit-chat .ck-input").await;
    // How fast is measured by `cargo bench --bench chat_page`; here, that both marks the bench
    // reads come. The element may be ready before the browser paints, so the paint is awaited.
    let marks = eventually("the paint and ready marks", || async {
        let marks = browser
            .execute(
                "const paint = performance.getEntriesByName('first-contentful-paint')[0];
                 const ready = performance.getEntriesByName('chatkit-chat:ready')[0];
                 return [paint ? paint.startTime : null, ready ? ready.startTime : null];",
                vec![],
            )
            .await;
        marks[0].as_f64().zip(marks[1].as_f64())
    })
    .await;
    assert!(marks.0 > 0.0 && marks.1 >= 0.0, "{marks:?}");
    browser.close().await;
}

db_case!(prompts_and_dictation);
async fn prompts_and_dictation(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "dictation", VARS).await else {
        return;
    };
    // Start-screen prompts and dictation on; the page's fetch also records what it sends.
    browser
        .execute(
            "const el = document.getElementById('chat');
             const send = el.options.api.fetch;
             window.__sent = [];
             el.setOptions({...el.options,
               api: {...el.options.api, fetch: (input, init) => {
                 window.__sent.push(JSON.parse(init.body));
                 return send(input, init);
               }},
               startScreen: {greeting: 'Plan something', prompts: [
                 {label: 'A weekend away', prompt: 'Plan a weekend away'}]},
               composer: {...el.options.composer, dictation: {enabled: true}}});",
            vec![],
        )
        .await;
    browser
        .wait_for_text(".ck-greeting", "Plan something")
        .await;
    llm.push(Reply::Text(vec!["Go to the coast.".into()]));
    browser
        .wait_for_text(".ck-prompt", "A weekend away")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text(".ck-user-message", "Plan a weekend away")
        .await;
    browser
        .wait_for_text(".ck-assistant-message", "Go to the coast.")
        .await;
    wait_idle(&browser).await;

    // Dictation: record from the (fake) microphone, stop, and the audio goes to
    // input.transcribe; this server has no speech-to-text, which the page says.
    browser.click(".ck-mic").await;
    browser.wait_for(".ck-mic[aria-pressed='true']").await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    browser.click(".ck-mic").await;
    let banner = browser
        .wait_for_text(".ck-banner.ck-danger", "Dictation failed")
        .await;
    assert!(banner.text().await.unwrap().contains("speech-to-text"));
    let sent = browser
        .execute(
            "const t = window.__sent.find(r => r.type === 'input.transcribe');
             return t ? [t.params.mime_type, t.params.audio_base64.length] : null;",
            vec![],
        )
        .await;
    assert!(
        sent[0].as_str().is_some_and(|m| m.starts_with("audio/")),
        "{sent}"
    );
    assert!(
        sent[1].as_u64().is_some_and(|n| n > 100),
        "some audio was sent: {sent}"
    );
    browser.close().await;
}

db_case!(each_stylesheet_loads_once);
async fn each_stylesheet_loads_once(db: Db) {
    let Some((_app, _llm, browser)) = open_chat(db, "stylesheets", VARS).await else {
        return;
    };
    // The page links chat.css itself; the element adds only what is missing (widgets.css).
    let sheets = browser
        .execute(
            "return [...document.querySelectorAll('link[rel=stylesheet]')]
               .map(l => new URL(l.href).pathname);",
            vec![],
        )
        .await;
    assert_eq!(
        sheets,
        serde_json::json!([
            "/static/site.css",
            "/static/chat/chat.css",
            "/static/chat/widgets.css"
        ])
    );
    browser.close().await;
}
