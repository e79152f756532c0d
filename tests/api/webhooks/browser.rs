//! `/admin/webhooks` in headless Chromium, with one delivery of each kind: delivered (a
//! receiver that answers), failed (an agent whose receiver is down) and pending (a receiver
//! that keeps failing, with retries hours apart). An admin retries the failed one from the
//! page. Screenshots at desktop and phone widths in `target/screenshots`; nothing scrolls
//! sideways; no Content Security Policy violation.

use super::receiver::{Receiver, nobody_listens};
use super::{ADMIN, asked_on, delivery, spawn, within};
use crate::support::app::{Db, add_agent, execute_sql};
use crate::support::browser::{Browser, Viewport};
use crate::support::console::{add_operator, sign_in_browser};
use crate::support::macros::db_case;
use chatkit_server::chatkit::states::DeliveryStatus;
use chatkit_server::store::Role;

db_case!(the_deliveries_page_in_a_browser);
async fn the_deliveries_page_in_a_browser(db: Db) {
    let receiver = Receiver::start().await;
    let url = format!("{}/hook", receiver.base);
    let vars = [
        ("CHATKIT_HUMAN_WEBHOOK_URL", url.as_str()),
        ("CHATKIT_WEBHOOK_MAX_ATTEMPTS", "2"),
        ("CHATKIT_WEBHOOK_RETRY_BASE_MS", "3000"),
    ];
    let Some((app, llm)) = spawn(db, &vars).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    let ops = add_agent(&app, "ops").await;
    let (down, _) = nobody_listens();
    app.store
        .set_agent_webhook_url(&ops, Some(&down))
        .await
        .unwrap();

    let (_, _, delivered) = asked_on(&app, &llm, None, "ann").await;
    receiver.wait_for_event("form.waiting", &delivered).await;
    let (_, _, failed) = asked_on(&app, &llm, Some("ops"), "ben").await;
    within(20, "a failed delivery", || async {
        delivery(&app, "form.waiting", &failed)
            .await
            .filter(|d| d.status == DeliveryStatus::Failed)
    })
    .await;
    // The receiver now fails: the next delivery waits for its retry, which is pushed an hour
    // out (as with the default delays) so the page shows it pending.
    receiver.answer_with(&[503; 5]);
    let (_, _, pending) = asked_on(&app, &llm, None, "cy").await;
    let waiting = within(20, "a pending delivery with an error", || async {
        delivery(&app, "form.waiting", &pending)
            .await
            .filter(|d| d.last_status == Some(503))
    })
    .await;
    execute_sql(
        &app.db_url,
        &format!(
            "UPDATE webhook_deliveries SET next_attempt_at = '{}' WHERE id = '{}'",
            (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S"),
            waiting.id
        ),
    );

    let label = format!("webhooks-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };
    browser
        .goto(&format!("{}/admin/webhooks", app.address))
        .await;
    sign_in_browser(&browser, ADMIN).await;
    browser.wait_for("table.webhooks-table").await;
    let text = browser.text("table.webhooks-table").await;
    for shown in [
        "delivered",
        "failed",
        "pending",
        "HTTP 503",
        "cannot connect: Connection refused",
        "Booking details",
    ] {
        assert!(text.contains(shown), "{shown} in {text}");
    }
    browser.assert_fits(1280.0).await;
    browser.screenshot("desktop").await;
    browser.resize(Viewport::Phone).await;
    browser.assert_fits(390.0).await;
    browser.screenshot("phone").await;
    browser.resize(Viewport::Desktop).await;

    // Retry now, from the page.
    let row = delivery(&app, "form.waiting", &failed).await.unwrap();
    browser
        .click(&format!(
            "form[action='/admin/webhooks/{}/retry'] button",
            row.id
        ))
        .await;
    browser
        .wait_for_text(".flash", "Queued to be sent again now.")
        .await;
    within(20, "a third attempt", || async {
        app.store
            .load_delivery(&row.id)
            .await
            .ok()
            .filter(|d| d.attempts == 3)
    })
    .await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
    receiver.stop().await;
}
