//! The queue in headless Chromium: the page is open and empty when the model asks a form in a
//! chat; the entry and the navigation's count appear without a reload (`/admin/events`). Then
//! the form is answered through its page, and an approval's page is shown. Screenshots at
//! desktop and phone widths in `target/screenshots`; no Content Security Policy violation.
//! Last, an entry answered elsewhere leaves the open queue by itself.

use super::{ADMIN, asked, wait_for_reply};
use crate::support::app::{Db, spawn_llm_app_with};
use crate::support::browser::{Browser, Viewport};
use crate::support::console::{PASSWORD, add_operator};
use crate::support::fake_llm::Reply;
use crate::support::fixtures::{approval_of, call_time};
use crate::support::macros::db_case;
use chatkit_server::service::human::HumanAnswer;
use chatkit_server::store::Role;

const VARS: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_APPROVAL_TOOLS", "get_current_time"),
];

/// Fails if the page scrolls sideways at this width.
async fn assert_fits(browser: &Browser, width: f64, name: &str) {
    let page_width = browser
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!(page_width <= width, "{name} is {page_width}px wide");
}

/// Both widths, with a check that nothing scrolls sideways.
async fn screenshots(browser: &Browser, name: &str) {
    browser.resize(Viewport::Desktop).await;
    assert_fits(browser, 1280.0, name).await;
    browser.screenshot(&format!("{name}-desktop")).await;
    browser.resize(Viewport::Phone).await;
    assert_fits(browser, 390.0, name).await;
    browser.screenshot(&format!("{name}-phone")).await;
    browser.resize(Viewport::Desktop).await;
}

db_case!(the_queue_updates_live_and_forms_are_answered_in_a_browser);
async fn the_queue_updates_live_and_forms_are_answered_in_a_browser(db: Db) {
    let Some((app, llm)) = spawn_llm_app_with(db, VARS).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    let label = format!("console_forms-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };
    browser.goto(&format!("{}/admin/forms", app.address)).await;
    browser.wait_for("form.login-card").await;
    browser.fill("input[name=email]", ADMIN).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("form.login-card button[type=submit]").await;
    browser
        .wait_for_text(".empty-title", "Nothing waiting")
        .await;
    // The live stream is open (its first event arrived).
    browser.wait_for("[data-pending-count][data-live=on]").await;
    screenshots(&browser, "forms-empty").await;

    // A form asked in a chat appears without a reload.
    let (thread, _, id) = asked(&app, &llm, "ann").await;
    browser
        .wait_for_text("[data-forms-queue]", "Booking details")
        .await;
    browser.wait_for_text("[data-pending-count]", "1").await;
    screenshots(&browser, "forms-queue").await;

    // Answered through its page.
    browser.click(&format!("a[href='/admin/forms/{id}']")).await;
    browser.wait_for("input[name=city]").await;
    screenshots(&browser, "form-page").await;
    browser.fill("input[name=city]", "Oslo").await;
    browser.fill("input[name=nights]", "3").await;
    browser
        .execute(
            "document.querySelector('select[name=room]').value = 'double';
             document.querySelector('input[name=from]').value = '2026-12-01';",
            vec![],
        )
        .await;
    llm.push(Reply::Text(vec!["Booked from the console.".into()]));
    browser.click("button[value=submit]").await;
    browser.wait_for_text(".flash", "Answered.").await;
    wait_for_reply(&app, "ann", &thread, "Booked from the console.").await;
    browser
        .wait_for_text(".empty-title", "Nothing waiting")
        .await;
    screenshots(&browser, "forms-answered").await;

    // An approval's page, with its arguments open for editing.
    call_time(&llm);
    let (_, events) = app.create_thread("ben", "What time is it?").await;
    let (_, approval) = approval_of(&events);
    browser
        .wait_for_text("[data-forms-queue]", "Allow get_current_time?")
        .await;
    browser
        .goto(&format!("{}/admin/forms/{approval}", app.address))
        .await;
    browser.wait_for("details.edit-arguments").await;
    browser
        .execute(
            "document.querySelector('details.edit-arguments').open = true;",
            vec![],
        )
        .await;
    browser.fill("textarea[name=note]", "Fine to run.").await;
    screenshots(&browser, "form-approval").await;

    // Answered elsewhere (here: through the service, as the chat would), it leaves the open
    // queue without a reload.
    browser.goto(&format!("{}/admin/forms", app.address)).await;
    browser.wait_for("[data-pending-count][data-live=on]").await;
    browser
        .wait_for_text("[data-forms-queue]", "Allow get_current_time?")
        .await;
    llm.push(Reply::Text(vec!["It is noon.".into()]));
    app.human
        .answer_as_operator(&approval, HumanAnswer::Deny)
        .await
        .unwrap();
    browser
        .wait_for_text(".empty-title", "Nothing waiting")
        .await;

    browser.assert_no_csp_violations().await;
    browser.close().await;
}
