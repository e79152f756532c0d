//! An agent's own webhook for human input, set in its form: checked as the webhook worker
//! needs it (the form comes back as typed when it is not), kept and shown to admins, audited
//! by its host only (a receiver's path often holds its token), and refused without a secret
//! key to sign the deliveries with.

use super::{VARS, admin, agent_form, create_agent};
use crate::support::app::TestApp;
use crate::support::console::audit_rows;
use crate::support::macros::db_test;

const URL: &str = "https://hooks.example.com/t/secret-token-5e1";

db_test!(an_agents_webhook_url_is_set_in_its_form, vars = VARS);
async fn an_agents_webhook_url_is_set_in_its_form(app: TestApp) {
    let session = admin(&app).await;
    let mut fields = agent_form("sales", "http://127.0.0.1:9/v1");
    fields.push(("human_webhook_url", "ftp://hooks.example.com/x"));
    let page = session.act("/admin/agents", &fields).await;
    assert!((400..500).contains(&page.status), "{}", page.status);
    assert!(
        page.body
            .contains("the webhook URL must start with https://")
    );
    assert!(
        page.body.contains("ftp://hooks.example.com/x"),
        "kept as typed"
    );

    fields.pop();
    fields.push(("human_webhook_url", URL));
    let id = create_agent(&session, &fields).await;
    let stored = app.store.agent_by_id(&id).await.unwrap();
    assert_eq!(stored.human_webhook_url.as_deref(), Some(URL));
    assert!(
        session
            .get(&format!("/admin/agents/{id}"))
            .await
            .body
            .contains(URL)
    );
    let detail = audit_rows(&app, "agent.create")
        .await
        .last()
        .unwrap()
        .detail
        .to_string();
    assert!(
        detail.contains("hooks.example.com") && !detail.contains("secret-token"),
        "{detail}"
    );
}

db_test!(an_agents_webhook_url_needs_a_secret_key);
async fn an_agents_webhook_url_needs_a_secret_key(app: TestApp) {
    let session = admin(&app).await;
    let mut fields: Vec<_> = agent_form("sales", "http://127.0.0.1:9/v1")
        .into_iter()
        .filter(|(name, _)| *name != "llm_api_key")
        .collect();
    fields.push(("human_webhook_url", URL));
    let page = session.act("/admin/agents", &fields).await;
    assert!((400..500).contains(&page.status), "{}", page.status);
    assert!(
        page.body.contains("set CHATKIT_SECRET_KEY first"),
        "{}",
        page.body
    );
    assert!(
        app.store
            .agents_overview()
            .await
            .unwrap()
            .iter()
            .all(|a| a.agent.slug != "sales")
    );
}
