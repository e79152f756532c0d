//! The thread pages in headless Chromium: markup from a user and from the model stays inert
//! on the list and the transcript (no script runs, no policy is broken); and an operator's
//! walk through them: sign in, filter, search, open a transcript, open an item's raw JSON,
//! export, delete, sign out. Screenshots of the list and the transcript at desktop and phone
//! widths go to `target/screenshots`; nothing may be wider than the viewport.

use chatkit_server::store::Role;
use serde_json::{Value, json};

use super::transcript::{seed, servers};
use super::{VARS, retitle};
use crate::support::app::{Db, spawn_llm_app_with, spawn_mcp_app};
use crate::support::browser::{Browser, Viewport};
use crate::support::console::{add_operator, sign_in_browser};
use crate::support::fake_llm::Reply;
use crate::support::fixtures::user_input;
use crate::support::macros::db_case;
use crate::support::mcp_server::TestMcpServer;
use crate::support::turns::{rate, say, turn};

const ADMIN: &str = "admin@example.com";
/// Every way markup could try to run script.
const XSS: &str = "<script>window.__xss=1</script> <img src=x onerror=\"window.__xss=1\"> \
                   [x](javascript:window.__xss=1)";

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

/// Fails if any script of the page's markup ran.
async fn assert_no_script_ran(browser: &Browser, page: &str) {
    let ran = browser.execute("return typeof window.__xss;", vec![]).await;
    assert_eq!(ran, json!("undefined"), "script ran on {page}");
}

db_case!(markup_stays_inert_in_a_browser);
async fn markup_stays_inert_in_a_browser(db: Db) {
    let Some((app, llm)) = spawn_llm_app_with(db, VARS).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    let (thread, answer) = turn(&app, &llm, None, "ana", None, XSS, XSS).await;
    retitle(&app, None, "ana", &thread, XSS).await;
    rate(&app, None, "ana", &thread, &[&answer], "negative").await;
    let Some(browser) = Browser::start(
        &format!("console_threads_xss-{}", db.name()),
        Viewport::Desktop,
    )
    .await
    else {
        return;
    };
    browser
        .goto(&format!("{}/admin/threads", app.address))
        .await;
    sign_in_browser(&browser, ADMIN).await;
    browser.wait_for("table.threads-table").await;
    assert_eq!(browser.text("td.cell-title a.row-link").await, XSS);
    assert_no_script_ran(&browser, "the list").await;

    browser
        .goto(&format!("{}/admin/threads/{thread}", app.address))
        .await;
    browser.wait_for(".transcript").await;
    // Open every raw JSON too, so what is inside is drawn.
    browser.click("button[data-details=open]").await;
    let open = browser
        .execute(
            "return [...document.querySelectorAll('#transcript details')].every(d => d.open);",
            vec![],
        )
        .await;
    assert_eq!(open, json!(true));
    let bubble = browser.text(".item-user .bubble").await;
    assert!(
        bubble.contains("<script>window.__xss=1</script>"),
        "{bubble}"
    );
    let links = browser
        .execute(
            "return [...document.querySelectorAll('.transcript a')]
                 .map(a => a.getAttribute('href'))
                 .filter(h => h && h.trim().toLowerCase().startsWith('javascript'));",
            vec![],
        )
        .await;
    assert_eq!(links, json!([]), "no javascript: link");
    let images = browser
        .execute(
            "return document.querySelectorAll('.transcript img[onerror]').length;",
            vec![],
        )
        .await;
    assert_eq!(images, json!(0));
    assert_no_script_ran(&browser, "the transcript").await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

db_case!(the_thread_pages_in_a_browser);
async fn the_thread_pages_in_a_browser(db: Db) {
    let (alpha, beta) = (TestMcpServer::start().await, TestMcpServer::start().await);
    let Some((app, llm)) = spawn_mcp_app(db, servers(&alpha, &beta)).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    // A transcript with everything, and a list with a few rows of each kind.
    let everything = seed(&app, &llm).await;
    retitle(
        &app,
        None,
        "ana",
        &everything.thread,
        "Photo, weather and a booking",
    )
    .await;
    for n in 0..4 {
        let user = if n % 2 == 0 {
            "ben"
        } else {
            "customer-7f3a9c2e-0b41-4d8e-9a77-with-a-long-identifier@example.com"
        };
        let (thread, answer) = turn(
            &app,
            &llm,
            None,
            user,
            None,
            &format!("Question {n}"),
            "An answer.",
        )
        .await;
        if n == 1 {
            rate(&app, None, user, &thread, &[&answer], "negative").await;
        }
    }
    llm.push(Reply::BreakAfter(vec!["Half".into()]));
    let (failed, _) = say(&app, None, "ben", None, user_input("This will break")).await;
    retitle(
        &app,
        None,
        "ben",
        &failed,
        "A rather long title about an invoice that never arrived and what to do",
    )
    .await;

    let Some(browser) =
        Browser::start(&format!("console_threads-{}", db.name()), Viewport::Desktop).await
    else {
        return;
    };
    browser
        .goto(&format!("{}/admin/threads", app.address))
        .await;
    sign_in_browser(&browser, ADMIN).await;
    browser.wait_for("table.threads-table").await;
    let count = || async {
        browser
            .execute(
                "return document.querySelectorAll('tr[data-id]').length;",
                vec![],
            )
            .await
    };
    assert_eq!(count().await, json!(6));
    screenshots(&browser, "threads").await;

    // Filter by user, then search within it.
    browser.fill("input[name=user]", "ana").await;
    browser.click(".filters button[type=submit]").await;
    browser.wait_for_url("user=ana").await;
    browser
        .wait_for_text(".pager-info", "1 thread on this page")
        .await;
    browser.fill("input[name=user]", "").await;
    browser.fill("input[name=q]", "invoice").await;
    browser.click(".filters button[type=submit]").await;
    // The page before it also shows one thread: wait for the search's own address first.
    browser.wait_for_url("q=invoice").await;
    browser
        .wait_for_text(".pager-info", "1 thread on this page")
        .await;
    assert!(
        browser
            .text("td.cell-title")
            .await
            .contains("invoice that never arrived")
    );
    browser.fill("input[name=q]", "weather").await;
    browser.click(".filters button[type=submit]").await;
    browser
        .wait_for_text("td.cell-title", "Photo, weather and a booking")
        .await;

    // The transcript.
    browser.click("td.cell-title a.row-link").await;
    browser.wait_for(".transcript").await;
    assert!(
        browser
            .current_url()
            .await
            .ends_with(&format!("/admin/threads/{}", everything.thread))
    );
    screenshots(&browser, "thread").await;
    browser
        .execute("window.scrollTo(0, document.body.scrollHeight);", vec![])
        .await;
    browser.screenshot("thread-end-desktop").await;

    // An item's raw JSON opens on a click.
    let details = format!("#item-{} details.raw-json", everything.answer);
    let is_open = |css: String| {
        let browser = &browser;
        async move {
            browser
                .execute(
                    "return document.querySelector(arguments[0]).open;",
                    vec![Value::String(css)],
                )
                .await
        }
    };
    assert_eq!(is_open(details.clone()).await, json!(false));
    // Into the middle of the view: the sticky top bar would take a click at the edge.
    let summary = format!("{details} > summary");
    browser
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![Value::String(summary.clone())],
        )
        .await;
    browser.click(&summary).await;
    assert_eq!(is_open(details.clone()).await, json!(true));
    assert!(
        browser
            .text(&format!("{details} pre.json"))
            .await
            .contains(&format!("\"id\": \"{}\"", everything.answer))
    );

    // The export links download the files.
    for (name, kind) in [("Export JSON", "json"), ("Export Markdown", "md")] {
        let link = browser
            .find(&format!(".page-actions a[href$='export.{kind}']"))
            .await;
        assert_eq!(link.text().await.unwrap(), name);
        assert_eq!(
            link.attr("href").await.unwrap().as_deref(),
            Some(format!("/admin/threads/{}/export.{kind}", everything.thread).as_str())
        );
        assert!(link.attr("download").await.unwrap().is_some());
        let fetched = browser
            .execute(
                "return fetch(arguments[0]).then(async r =>
                     [r.status, r.headers.get('content-disposition'), (await r.text()).length]);",
                vec![Value::String(format!(
                    "/admin/threads/{}/export.{kind}",
                    everything.thread
                ))],
            )
            .await;
        assert_eq!(fetched[0], json!(200), "{fetched}");
        assert_eq!(
            fetched[1],
            json!(format!(
                "attachment; filename=\"{}.{kind}\"",
                everything.thread
            ))
        );
        assert!(fetched[2].as_u64().unwrap() > 100, "{fetched}");
    }

    // Delete, through the confirmation (the button is at the top of the page).
    browser.execute("window.scrollTo(0, 0);", vec![]).await;
    browser.click(".page-actions a.btn-danger").await;
    browser.wait_for_text("h1", "Delete this thread?").await;
    screenshots(&browser, "thread-delete").await;
    browser.click("form.form-actions button.btn-danger").await;
    browser
        .wait_for_text("[role=status], .flash, main", "deleted.")
        .await;
    assert!(browser.current_url().await.contains("deleted="));
    assert_eq!(count().await, json!(5));
    assert_eq!(app.store.count_items(&everything.thread).await.unwrap(), 0);

    // Log out: the list is behind the sign-in again.
    browser.click("form.logout button[type=submit]").await;
    browser.wait_for("form.login-card").await;
    browser
        .goto(&format!("{}/admin/threads", app.address))
        .await;
    browser.wait_for("form.login-card").await;
    assert!(browser.current_url().await.contains("/admin/login"));

    browser.assert_no_csp_violations().await;
    browser.close().await;
}
