//! The agents pages in headless Chromium, as an admin uses them: the list, a new agent's
//! form, the agent's page with its chat URL and embed snippet, and an MCP server's test
//! result. Screenshots at desktop and phone widths in `target/screenshots`; nothing scrolls
//! sideways; no Content Security Policy violation.

use super::{ADMIN, SECRET_KEY};
use crate::support::app::{Db, spawn_app_with};
use crate::support::browser::{Browser, Viewport};
use crate::support::console::{add_operator, sign_in_browser};
use crate::support::macros::db_case;
use crate::support::mcp_server::TestMcpServer;
use chatkit_server::store::Role;

/// Both widths, each checked for sideways scrolling, with `focus` (a CSS selector) in view.
async fn screenshots(browser: &Browser, name: &str, focus: Option<&str>) {
    let show = || async {
        if let Some(css) = focus {
            browser
                .execute(
                    "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
                    vec![css.into()],
                )
                .await;
        }
    };
    browser.resize(Viewport::Desktop).await;
    browser.assert_fits(1280.0).await;
    show().await;
    browser.screenshot(&format!("{name}-desktop")).await;
    browser.resize(Viewport::Phone).await;
    browser.assert_fits(390.0).await;
    show().await;
    browser.screenshot(&format!("{name}-phone")).await;
    browser.resize(Viewport::Desktop).await;
}

db_case!(agents_pages_in_a_browser);
async fn agents_pages_in_a_browser(db: Db) {
    let vars = [("CHATKIT_SECRET_KEY", SECRET_KEY)];
    let Some(app) = spawn_app_with(db, &vars).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    let mcp = TestMcpServer::start().await;
    let label = format!("console_agents-{}", db.name());
    let Some(browser) = Browser::start(&label, Viewport::Desktop).await else {
        return;
    };
    browser.goto(&format!("{}/admin/agents", app.address)).await;
    sign_in_browser(&browser, ADMIN).await;
    browser.wait_for_text("h1", "Agents").await;

    browser.click("a[href='/admin/agents/new']").await;
    browser.wait_for_text("h1", "New agent").await;
    screenshots(&browser, "agent-new", None).await;
    browser.fill("input[name=name]", "Support desk").await;
    browser.fill("input[name=slug]", "support").await;
    browser.fill("input[name=model]", "gpt-4.1-mini").await;
    browser.fill("input[name=temperature]", "5").await;
    browser
        .fill("input[name=llm_api_key]", "sk-browser-secret")
        .await;
    browser.click("form.agent-form button[type=submit]").await;
    // Refused: the form comes back as typed (the secret is not echoed).
    browser.wait_for(".field-error").await;
    assert_eq!(
        browser
            .find("input[name=name]")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("Support desk")
    );
    assert!(!browser.source().await.contains("sk-browser-secret"));
    screenshots(&browser, "agent-refused", Some(".field-error")).await;
    browser.fill("input[name=temperature]", "0.4").await;
    browser
        .fill("input[name=llm_api_key]", "sk-browser-secret")
        .await;
    browser.click("form.agent-form button[type=submit]").await;
    browser.wait_for_text(".flash-ok", "Agent created.").await;

    browser
        .fill("form[action$='/mcp#add-server'] input[name=name]", "tools")
        .await;
    browser
        .fill("form[action$='/mcp#add-server'] input[name=url]", &mcp.url)
        .await;
    browser
        .fill(
            "form[action$='/mcp#add-server'] textarea[name=headers]",
            "Authorization: Bearer t",
        )
        .await;
    browser
        .click("form[action$='/mcp#add-server'] button[type=submit]")
        .await;
    browser
        .wait_for_text(".flash-ok", "MCP server added.")
        .await;
    browser
        .click("form[action*='/test#'] button[type=submit]")
        .await;
    browser.wait_for_text(".mcp-test", "found 4 tools").await;
    screenshots(&browser, "agent-page-mcp-test", Some(".mcp-test")).await;
    let overview = app.store.agents_overview().await.unwrap();
    let id = &overview
        .iter()
        .find(|a| a.agent.slug == "support")
        .unwrap()
        .agent
        .id;
    browser
        .goto(&format!("{}/admin/agents/{id}", app.address))
        .await;
    browser.wait_for_text("h1", "Support desk").await;
    screenshots(&browser, "agent-page", None).await;

    browser.goto(&format!("{}/admin/agents", app.address)).await;
    browser.wait_for_text("table", "Support desk").await;
    screenshots(&browser, "agents-list", None).await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}
