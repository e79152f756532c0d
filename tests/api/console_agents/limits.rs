//! An agent's own limits, set in its form: requests to it count in buckets of its own (its
//! users' second request of the minute is refused while the default agent, with the server's
//! limits, still answers them), and limits the server cannot read send the form back.

use serde_json::json;

use super::{VARS, admin, agent_form, create_agent};
use crate::support::app::TestApp;
use crate::support::macros::db_test;

db_test!(an_agents_own_limits_count_apart, vars = VARS);
async fn an_agents_own_limits_count_apart(app: TestApp) {
    let session = admin(&app).await;
    let mut fields = agent_form("tight", "http://127.0.0.1:9/v1");
    fields.push(("limits", r#"{"user_turns_per_minute": 0}"#));
    let page = session.act("/admin/agents", &fields).await;
    assert!((400..500).contains(&page.status), "{}", page.status);
    assert!(
        page.body.contains("a JSON object of limits"),
        "{}",
        page.body
    );

    fields.pop();
    fields.push(("limits", r#"{"user_requests_per_minute": 1}"#));
    let id = create_agent(&session, &fields).await;
    let stored = app.store.agent_by_id(&id).await.unwrap();
    assert_eq!(
        stored.limits.as_deref(),
        Some(r#"{"user_requests_per_minute":1}"#)
    );

    let list = |agent: Option<&'static str>, user: &'static str| {
        let app = &app;
        async move { app.send_to(agent, user, "threads.list", json!({})).await }
    };
    assert_eq!(list(Some("tight"), "ann").await.status, 200);
    let refused = list(Some("tight"), "ann").await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.error_code(), "rate_limited");
    // Another user of that agent has a bucket of their own; the default agent keeps the
    // server's limits (none here).
    assert_eq!(list(Some("tight"), "bob").await.status, 200);
    for _ in 0..3 {
        assert_eq!(list(None, "ann").await.status, 200);
    }
}
