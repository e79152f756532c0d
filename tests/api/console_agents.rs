//! Agents and their MCP servers in the console, through the real server: an agent made with
//! the console's forms answers at its own chat URL with its own model endpoint and MCP server
//! (`runs`); its secrets are sealed in the database and refused without a key (`secrets`);
//! reviewers, missing CSRF tokens, the audit trail and the MCP connection test (`access`);
//! `agents export` / `agents import` (`files`); its own limits (`limits`) and webhook URL
//! (`webhook_url`); the pages in Chromium (`browser`).

mod access;
mod browser;
mod files;
mod limits;
mod runs;
mod secrets;
mod webhook_url;

use chatkit_server::store::Role;

use crate::support::app::TestApp;
use crate::support::console::{ConsoleSession, PASSWORD, add_operator, sign_in};

const ADMIN: &str = "admin@example.com";
const REVIEWER: &str = "reviewer@example.com";
/// `CHATKIT_SECRET_KEY` of the servers that may store secrets.
const SECRET_KEY: &str = "test-secret-key-0123456789abcdef0123456789";
/// The agent's own API key and its MCP server's credential: must never be readable at rest.
const API_KEY: &str = "sk-agent-own-4f1d9c";
const MCP_TOKEN: &str = "Bearer mcp-token-7b2e11";
const VARS: &[(&str, &str)] = &[
    ("CHATKIT_SECRET_KEY", SECRET_KEY),
    ("CHATKIT_AUTO_TITLES", "false"),
];

/// An admin signed in to the console.
async fn admin(app: &TestApp) -> ConsoleSession {
    add_operator(app, ADMIN, Role::Admin).await;
    sign_in(app, ADMIN, PASSWORD).await
}

/// The settings form of an agent `slug` whose model is at `base_url`.
fn agent_form<'a>(slug: &'a str, base_url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("slug", slug),
        ("name", "Support desk"),
        ("model", "own-model"),
        ("models", "own-alt, own-other"),
        ("instructions", "You are the support desk."),
        ("temperature", "0.3"),
        ("llm_base_url", base_url),
        ("llm_api_key", API_KEY),
        ("human_input", "off"),
        ("form_timeout_secs", "600"),
        ("enabled", "on"),
    ]
}

/// Creates an agent through the form; its id.
async fn create_agent(session: &ConsoleSession, fields: &[(&str, &str)]) -> String {
    let page = session.act("/admin/agents", fields).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location();
    let id = location
        .strip_prefix("/admin/agents/")
        .and_then(|rest| rest.strip_suffix("?done=created"))
        .unwrap_or_else(|| panic!("unexpected redirect {location}"));
    id.to_owned()
}

/// Adds an MCP server at `url` (with the credential header) to agent `id`; its id.
async fn add_server(app: &TestApp, session: &ConsoleSession, id: &str, url: &str) -> String {
    let page = session
        .act(
            &format!("/admin/agents/{id}/mcp"),
            &[
                ("name", "tools"),
                ("url", url),
                ("headers", &format!("Authorization: {MCP_TOKEN}")),
                ("timeout_secs", "5"),
                ("protocol", "auto"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let servers = app.store.list_mcp_servers(id).await.unwrap();
    servers.last().expect("the server is stored").id.clone()
}
