//! The console in headless Chromium: sign in through the real form, land on the threads list
//! (or the page asked for), sign out; screenshots of the sign-in, operators and audit pages at desktop
//! and phone widths in `target/screenshots`; no Content Security Policy violation anywhere.

use chatkit_server::store::Role;

use super::ADMIN;
use crate::support::app::{Db, spawn_app};
use crate::support::browser::{Browser, Viewport};
use crate::support::console::{add_operator, sign_in_browser};
use crate::support::macros::db_case;

db_case!(signing_in_and_out_in_a_browser);
async fn signing_in_and_out_in_a_browser(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    add_operator(&app, "reviewer@example.com", Role::Reviewer).await;
    let label = format!("console_access-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };

    // Straight to the sign-in page: afterwards, the threads list.
    browser.goto(&format!("{}/admin/login", app.address)).await;
    browser.wait_for_text("form.login-card h1", "Sign in").await;
    browser.screenshot("login-desktop").await;
    browser.fill("input[name=email]", ADMIN).await;
    browser.fill("input[name=password]", "wrong password").await;
    browser.click("form.login-card button[type=submit]").await;
    browser
        .wait_for_text(".flash-error", "The email or password is incorrect.")
        .await;
    browser.screenshot("login-error-desktop").await;
    sign_in_browser(&browser, ADMIN).await;
    browser.wait_for(".whoami-email").await;
    assert_eq!(
        browser.current_url().await,
        format!("{}/admin/threads", app.address)
    );

    // The operators page, at both sizes.
    browser
        .goto(&format!("{}/admin/operators", app.address))
        .await;
    browser.wait_for_text("h1", "Operators").await;
    assert!(
        browser
            .text("table.data")
            .await
            .contains("reviewer@example.com")
    );
    browser.assert_fits(1280.0).await;
    browser.screenshot("operators-desktop").await;
    // The audit log, which the sign-ins above have filled.
    browser.goto(&format!("{}/admin/audit", app.address)).await;
    browser.wait_for_text("h1", "Audit log").await;
    browser.assert_fits(1280.0).await;
    browser.screenshot("audit-desktop").await;
    // Loaded again at phone size, as a phone would load it.
    browser.resize(Viewport::Phone).await;
    browser
        .goto(&format!("{}/admin/operators", app.address))
        .await;
    browser.wait_for_text("h1", "Operators").await;
    browser.screenshot("operators-phone").await;
    browser.assert_fits(390.0).await;
    browser.goto(&format!("{}/admin/audit", app.address)).await;
    browser.wait_for_text("h1", "Audit log").await;
    browser.screenshot("audit-phone").await;
    browser.assert_fits(390.0).await;

    // Signing out ends on the sign-in page; the console is closed again.
    browser.click("form.logout button").await;
    browser.wait_for("form.login-card").await;
    assert_eq!(
        browser.current_url().await,
        format!("{}/admin/login", app.address)
    );
    browser.assert_fits(390.0).await;
    browser.screenshot("login-phone").await;
    browser
        .goto(&format!("{}/admin/operators", app.address))
        .await;
    browser.wait_for("form.login-card").await;
    assert_eq!(
        browser.current_url().await,
        format!("{}/admin/login?next=/admin/operators", app.address)
    );

    // Signing in from there returns to the page asked for.
    sign_in_browser(&browser, ADMIN).await;
    browser.wait_for_text("h1", "Operators").await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}
