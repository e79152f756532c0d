//! An image attached in the composer: it uploads with a progress bar, shows a preview, goes
//! with the message (the model receives the image), and the sent message shows it too; files
//! dropped on the chat or pasted into the composer, uploaded by the direct strategy.

use base64::Engine as _;
use serde_json::json;

use super::{VARS, open_chat, send, wait_idle, wait_until};
use crate::support::app::Db;
use crate::support::fake_llm::Reply;
use crate::support::fixtures::PNG;
use crate::support::macros::db_case;

db_case!(an_image_is_attached_and_seen_by_the_model);
async fn an_image_is_attached_and_seen_by_the_model(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "attachment", VARS).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dot.png");
    std::fs::write(&path, PNG).unwrap();
    // Watch for the progress bar: uploads of a few bytes are over quickly.
    browser
        .execute(
            "window.__progress = false;
             new MutationObserver(() => {
               if (document.querySelector('.ck-upload-progress')) window.__progress = true;
             }).observe(document.body, {childList: true, subtree: true});",
            vec![],
        )
        .await;
    let input = browser.find(".ck-composer input[type=file]").await;
    input
        .send_keys(path.to_str().unwrap())
        .await
        .expect("file chosen");
    browser.wait_for(".ck-attachment img.ck-thumb").await;
    wait_until(
        &browser,
        "the upload to finish",
        "return !document.querySelector('.ck-attachment.ck-uploading');",
    )
    .await;
    assert_eq!(
        browser.execute("return window.__progress;", vec![]).await,
        true,
        "a progress bar was shown"
    );
    browser.screenshot("attached").await;

    llm.push(Reply::Text(vec!["A single dot.".into()]));
    send(&browser, "What is in this image?").await;
    browser
        .wait_for_text(".ck-assistant-message", "A single dot.")
        .await;
    wait_idle(&browser).await;
    let requests = llm.wait_for_requests(1).await;
    let sent = requests[0]["messages"].to_string();
    assert!(sent.contains("image_url"), "{sent}");
    assert!(sent.contains("What is in this image?"));
    // The sent message shows the image (the server's preview URL), the composer is empty.
    browser.wait_for(".ck-user-message img.ck-thumb").await;
    let loaded = browser
        .execute("const img = document.querySelector('.ck-user-message img.ck-thumb'); return img.complete && img.naturalWidth > 0;", vec![])
        .await;
    assert_eq!(loaded, true, "the preview loaded");
    assert_eq!(
        browser
            .execute(
                "return document.querySelectorAll('.ck-composer .ck-attachment').length;",
                vec![]
            )
            .await,
        0
    );
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

/// A file made in the page, `name`, as a drop or a paste would carry it.
const MAKE_FILE: &str = "const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
     const file = new File([bytes], arguments[1], {type: 'image/png'});
     const data = new DataTransfer();
     data.items.add(file);";

db_case!(dropped_and_pasted_files_upload_directly);
async fn dropped_and_pasted_files_upload_directly(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "direct_upload", VARS).await else {
        return;
    };
    // The direct strategy: the bytes go to the upload route through the page's fetch.
    browser
        .execute(
            "const el = document.getElementById('chat');
             el.setOptions({...el.options, api: {...el.options.api,
               uploadStrategy: {type: 'direct', uploadUrl: '/chatkit/upload?agent=default'}}});",
            vec![],
        )
        .await;
    browser.wait_for(".ck-input").await;
    let png = base64::engine::general_purpose::STANDARD.encode(PNG);
    browser
        .execute(
            &format!(
                "{MAKE_FILE}
                 document.querySelector('.ck-thread').dispatchEvent(
                   new DragEvent('drop', {{dataTransfer: data, bubbles: true, cancelable: true}}));"
            ),
            vec![json!(png), json!("dropped.png")],
        )
        .await;
    browser
        .execute(
            &format!(
                "{MAKE_FILE}
                 document.querySelector('.ck-input').dispatchEvent(
                   new ClipboardEvent('paste', {{clipboardData: data, bubbles: true, cancelable: true}}));"
            ),
            vec![json!(png), json!("pasted.png")],
        )
        .await;
    wait_until(&browser, "two uploads done", "return document.querySelectorAll('.ck-composer .ck-attachment:not(.ck-uploading)').length === 2;").await;
    let names = browser
        .execute(
            "return [...document.querySelectorAll('.ck-attachment-name')].map(e => e.textContent);",
            vec![],
        )
        .await;
    assert_eq!(names, json!(["dropped.png", "pasted.png"]));
    llm.push(Reply::Text(vec!["Two dots.".into()]));
    send(&browser, "And these?").await;
    browser
        .wait_for_text(".ck-assistant-message", "Two dots.")
        .await;
    wait_idle(&browser).await;
    let sent = llm.wait_for_requests(1).await[0]["messages"].to_string();
    assert_eq!(sent.matches(r#""type":"image_url""#).count(), 2, "{sent}");
    let shown = browser
        .execute(
            "return document.querySelectorAll('.ck-user-message img.ck-thumb').length;",
            vec![],
        )
        .await;
    assert_eq!(shown, 2);
    browser.assert_no_csp_violations().await;
    browser.close().await;
}
