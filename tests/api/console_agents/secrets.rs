//! Secrets at rest: the API key and MCP header values an admin saves are stored sealed (the
//! columns hold `v1:` values, the SQLite file holds no trace of them); a plain key written
//! before a secret key was configured is sealed when the server starts with one; and without
//! a secret key, saving a secret is refused with the form kept as typed.

use super::{ADMIN, API_KEY, MCP_TOKEN, VARS, add_server, admin, agent_form, create_agent};
use crate::support::app::{Db, TestApp, execute_sql, serve, spawn_app_with};
use crate::support::console::{PASSWORD, add_operator, sign_in};
use crate::support::macros::{db_case, db_test};
use chatkit_server::store::{AgentRow, Role};

/// Every byte of the SQLite database (the main file and its write-ahead log).
fn sqlite_bytes(db_url: &str) -> Vec<u8> {
    let path = chatkit_server::config::database::sqlite_path(db_url);
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(mut more) = std::fs::read(format!("{path}{suffix}")) {
            bytes.append(&mut more);
        }
    }
    assert!(!bytes.is_empty(), "no database file at {path}");
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn agent(app: &TestApp, id: &str) -> AgentRow {
    app.store.agent_by_id(id).await.unwrap()
}

db_test!(saved_secrets_are_not_readable_in_the_database, vars = VARS);
async fn saved_secrets_are_not_readable_in_the_database(app: TestApp) {
    let session = admin(&app).await;
    let id = create_agent(&session, &agent_form("support", "http://127.0.0.1:9/v1")).await;
    add_server(&app, &session, &id, "http://127.0.0.1:9/mcp").await;

    let stored = agent(&app, &id).await.llm_api_key.expect("a key is stored");
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains(API_KEY));
    let servers = app.store.list_mcp_servers(&id).await.unwrap();
    let headers = servers[0].headers.clone().unwrap();
    assert!(headers.contains("\"Authorization\":\"v1:"), "{headers}");
    assert!(!headers.contains("mcp-token"), "{headers}");
    if db_url_is_sqlite(&app.db_url) {
        let bytes = sqlite_bytes(&app.db_url);
        assert!(
            !contains(&bytes, API_KEY),
            "the API key is in the database file"
        );
        assert!(
            !contains(&bytes, "mcp-token-7b2e11"),
            "the MCP token is in the file"
        );
    }
    // The page says "set", never the value.
    let page = session.get(&format!("/admin/agents/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(API_KEY) && !page.body.contains(MCP_TOKEN));
    assert!(page.body.contains(">set<"), "{}", page.body);
}

fn db_url_is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

db_case!(plain_keys_are_sealed_when_a_key_is_configured);
async fn plain_keys_are_sealed_when_a_key_is_configured(db: Db) {
    let Some(app) = spawn_app_with(db, &[]).await else {
        return;
    };
    let (account, _) = app.store.ensure_defaults().await.unwrap();
    execute_sql(
        &app.db_url,
        &format!(
            "INSERT INTO agents (id, account_id, slug, name, enabled, created_at, llm_api_key) \
             VALUES ('agt_plain', '{}', 'plain', 'Plain', TRUE, '2026-01-01 00:00:00', '{API_KEY}')",
            account.id
        ),
    );
    execute_sql(
        &app.db_url,
        &format!(
            "INSERT INTO agent_mcp_servers (id, agent_id, name, url, headers, created_at, updated_at) \
             VALUES ('mcp_plain', 'agt_plain', 'old', 'http://127.0.0.1:9/mcp', \
             '{{\"Authorization\":\"{MCP_TOKEN}\"}}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ),
    );
    // Without a key the value stays as it was (and runs still use it).
    assert_eq!(
        agent(&app, "agt_plain").await.llm_api_key.as_deref(),
        Some(API_KEY)
    );

    let restarted = serve(&app.db_url, VARS, None).await;
    let sealed = agent(&restarted, "agt_plain").await.llm_api_key.unwrap();
    assert!(
        sealed.starts_with("v1:") && !sealed.contains(API_KEY),
        "{sealed}"
    );
    let headers = restarted.store.list_mcp_servers("agt_plain").await.unwrap()[0]
        .headers
        .clone()
        .unwrap();
    assert!(
        !headers.contains("mcp-token") && headers.contains("v1:"),
        "{headers}"
    );
    if db.name() == "sqlite" {
        let bytes = sqlite_bytes(&app.db_url);
        assert!(
            !contains(&bytes, API_KEY),
            "the old key is left in the file"
        );
        assert!(
            !contains(&bytes, "mcp-token-7b2e11"),
            "the old token is left in the file"
        );
    }
    // A second start finds nothing more to seal and keeps the sealed values.
    let again = serve(&app.db_url, VARS, None).await;
    assert_eq!(
        agent(&again, "agt_plain").await.llm_api_key.unwrap(),
        sealed
    );
}

db_case!(a_secret_is_refused_without_a_secret_key);
async fn a_secret_is_refused_without_a_secret_key(db: Db) {
    let Some(app) = spawn_app_with(db, &[]).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    let session = sign_in(&app, ADMIN, PASSWORD).await;
    let page = session
        .act(
            "/admin/agents",
            &agent_form("keyless", "http://127.0.0.1:9/v1"),
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("CHATKIT_SECRET_KEY"), "{}", page.body);
    assert_eq!(
        page.input_value("slug").as_deref(),
        Some("keyless"),
        "values kept"
    );
    assert_eq!(page.input_value("temperature").as_deref(), Some("0.3"));
    assert!(
        !page.body.contains(API_KEY),
        "a secret is never echoed back"
    );
    let overview = app.store.agents_overview().await.unwrap();
    assert!(overview.iter().all(|a| a.agent.slug != "keyless"));

    // Without a key in the form the agent is saved; a header secret is refused the same way.
    let mut form = agent_form("keyless", "http://127.0.0.1:9/v1");
    form.retain(|(name, _)| *name != "llm_api_key");
    let id = super::create_agent(&session, &form).await;
    let page = session
        .act(
            &format!("/admin/agents/{id}/mcp"),
            &[
                ("name", "tools"),
                ("url", "http://127.0.0.1:9/mcp"),
                ("headers", "Authorization: Bearer x"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("CHATKIT_SECRET_KEY"));
    assert!(app.store.list_mcp_servers(&id).await.unwrap().is_empty());
}
