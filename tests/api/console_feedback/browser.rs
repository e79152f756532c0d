//! Both review pages in headless Chromium: sign in, open the attachments browser and the
//! feedback review, filter each through its form, and see the empty states; screenshots at
//! desktop and phone widths in `target/screenshots`; nothing wider than the viewport and no
//! Content Security Policy violation anywhere.

use chatkit_server::store::Role;

use super::VARS;
use crate::support::app::{Db, TestApp, spawn_llm_app_with};
use crate::support::browser::{Browser, Viewport};
use crate::support::console::{add_operator, sign_in_browser};
use crate::support::fixtures::{PNG, multipart};
use crate::support::macros::db_case;
use crate::support::turns::{rate, turn};

const ADMIN: &str = "admin@example.com";
const LONG_USER: &str = "customer-7f3a9c2e-0b41-4d8e-9a77-with-a-long-identifier@example.com";
const LONG_NAME: &str =
    "quarterly-financial-report-final-version-2-reviewed-by-legal-and-approved-for-release.pdf";

async fn upload(app: &TestApp, user: &str, name: &str, mime: &str, bytes: &[u8]) {
    let (content_type, body) = multipart("file", Some(name), Some(mime), bytes);
    let answer = app.upload_direct_raw(user, "", &content_type, body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// Enough rows to fill a screen: images, long names, long user ids, several types.
async fn seed(app: &TestApp, llm: &crate::support::fake_llm::FakeLlm) {
    for n in 0..8 {
        upload(app, "ana", &format!("photo-{n}.png"), "image/png", PNG).await;
        upload(
            app,
            LONG_USER,
            LONG_NAME,
            "application/pdf",
            b"%PDF-1.4\n%%EOF\n",
        )
        .await;
        upload(
            app,
            "ben",
            &format!("notes {n}.txt"),
            "text/plain",
            &vec![b'x'; 1500 * n],
        )
        .await;
    }
    upload(
        app,
        "ben",
        "<img src=x onerror=alert(1)>.html",
        "text/html",
        b"<p>hi</p>",
    )
    .await;

    let long_answer = format!(
        "Here is what I found:\n\n1. **First**, the report says the totals differ.\n2. Then \
         `cargo test` fails.\n\n{}\n\n| a | b |\n|---|---|\n| 1 | 2 |",
        "The reasoning goes on for a while. ".repeat(60)
    );
    let (thread, answer) = turn(
        app,
        llm,
        None,
        LONG_USER,
        None,
        "Why do the totals differ?",
        &long_answer,
    )
    .await;
    rate(app, None, LONG_USER, &thread, &[&answer], "negative").await;
    let (thread, answer) = turn(
        app,
        llm,
        None,
        "ana",
        None,
        "Hi <b>there</b>",
        "Hello! How can I help?",
    )
    .await;
    rate(app, None, "ana", &thread, &[&answer], "positive").await;
    let (_, answer) = turn(
        app,
        llm,
        None,
        "ana",
        Some(&thread),
        "Thanks",
        "You're welcome.",
    )
    .await;
    rate(app, None, "ana", &thread, &[&answer], "negative").await;
}

/// Both widths, with a check that nothing scrolls sideways.
async fn screenshots(browser: &Browser, name: &str) {
    browser.resize(Viewport::Desktop).await;
    browser.assert_fits(1280.0).await;
    browser.screenshot(&format!("{name}-desktop")).await;
    browser.resize(Viewport::Phone).await;
    browser.assert_fits(390.0).await;
    browser.screenshot(&format!("{name}-phone")).await;
    browser.resize(Viewport::Desktop).await;
}

db_case!(the_review_pages_in_a_browser);
async fn the_review_pages_in_a_browser(db: Db) {
    let Some((app, llm)) = spawn_llm_app_with(db, VARS).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    let label = format!("console_review-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };
    // The empty states first.
    browser
        .goto(&format!("{}/admin/attachments", app.address))
        .await;
    sign_in_browser(&browser, ADMIN).await;
    browser
        .wait_for_text(".empty-title", "No attachments")
        .await;
    screenshots(&browser, "attachments-empty").await;
    browser
        .goto(&format!("{}/admin/feedback", app.address))
        .await;
    browser.wait_for_text(".empty-title", "No feedback").await;
    screenshots(&browser, "feedback-empty").await;

    seed(&app, &llm).await;

    // Attachments: many rows, then filtered through the form.
    browser
        .goto(&format!("{}/admin/attachments", app.address))
        .await;
    browser.wait_for("table.attachments").await;
    assert_eq!(browser.text("[data-total-count]").await, "25");
    // Every image thumbnail loads (they load lazily: each is brought into view first).
    let mut loaded = serde_json::Value::Null;
    for _ in 0..100 {
        loaded = browser
            .execute(
                "const images = [...document.querySelectorAll('img.att-thumb')];
                 images.forEach(img => img.scrollIntoView());
                 return images.filter(img => img.complete && img.naturalWidth > 0).length;",
                vec![],
            )
            .await;
        if loaded == serde_json::json!(8) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(loaded, serde_json::json!(8), "every image thumbnail loaded");
    browser.execute("window.scrollTo(0, 0);", vec![]).await;
    screenshots(&browser, "attachments").await;
    browser.fill("input[name=type]", "image/").await;
    browser.click(".filters button[type=submit]").await;
    browser.wait_for_text("[data-total-count]", "8").await;
    assert!(browser.current_url().await.contains("type=image%2F"));
    screenshots(&browser, "attachments-images").await;
    browser.fill("input[name=type]", "").await;
    browser.fill("input[name=user]", "nobody").await;
    browser.click(".filters button[type=submit]").await;
    browser
        .wait_for_text(".empty p", "Nothing matches these filters.")
        .await;

    // The delete confirmation of a long name.
    browser
        .goto(&format!(
            "{}/admin/attachments?user={}",
            app.address, LONG_USER
        ))
        .await;
    browser.wait_for("table.attachments").await;
    browser
        .click("table.attachments tbody tr:first-child a[href$='/delete']")
        .await;
    browser.wait_for_text("h1", "Delete this attachment?").await;
    screenshots(&browser, "attachment-delete").await;

    // Feedback: the list, then filtered to thumbs-up through the menu.
    browser
        .goto(&format!("{}/admin/feedback", app.address))
        .await;
    browser.wait_for(".feedback-list").await;
    let kinds = browser
        .execute(
            "return [...document.querySelectorAll('.feedback-entry')]
                 .map(li => li.classList.contains('feedback-entry-negative'));",
            vec![],
        )
        .await;
    assert_eq!(kinds, serde_json::json!([true, true, false]));
    screenshots(&browser, "feedback").await;
    browser
        .execute(
            "const kind = document.querySelector('select[name=kind]');
             kind.value = 'positive';
             kind.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![],
        )
        .await;
    browser
        .wait_for_text(".feedback-entry", "Hello! How can I help?")
        .await;
    assert!(browser.current_url().await.contains("kind=positive"));
    let shown = browser
        .execute(
            "return document.querySelectorAll('.feedback-entry').length;",
            vec![],
        )
        .await;
    assert_eq!(shown, serde_json::json!(1));
    screenshots(&browser, "feedback-positive").await;

    browser.assert_no_csp_violations().await;
    browser.close().await;
}
