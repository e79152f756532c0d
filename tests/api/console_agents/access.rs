//! Who may change agents and what is kept of it: reviewers get 403 on every agents page and
//! change nothing (and see no link); a post without the CSRF token is refused; every change
//! leaves an audit row with before and after, secrets masked; and the MCP "Test" button
//! reports the tools of a server that is up and a clear error for one that is down.

use super::{API_KEY, MCP_TOKEN, REVIEWER, VARS, add_server, admin, agent_form, create_agent};
use crate::support::app::TestApp;
use crate::support::console::{PASSWORD, add_operator, audit_rows, sign_in};
use crate::support::macros::db_test;
use crate::support::mcp_server::TestMcpServer;
use chatkit_server::store::Role;

db_test!(reviewers_and_forged_posts_change_nothing, vars = VARS);
async fn reviewers_and_forged_posts_change_nothing(app: TestApp) {
    let session = admin(&app).await;
    let id = create_agent(&session, &agent_form("support", "http://127.0.0.1:9/v1")).await;
    let server = add_server(&app, &session, &id, "http://127.0.0.1:9/mcp").await;
    let before = app.store.agent_by_id(&id).await.unwrap();

    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let reviewer = sign_in(&app, REVIEWER, PASSWORD).await;
    for path in [
        "/admin/agents",
        "/admin/agents/new",
        &format!("/admin/agents/{id}"),
    ] {
        let page = reviewer.get(path).await;
        assert_eq!(page.status, 403, "GET {path}: {}", page.body);
    }
    let threads = reviewer.get("/admin/threads").await;
    assert!(
        !threads.body.contains("href=\"/admin/agents\""),
        "no link for reviewers"
    );
    assert!(
        session
            .get("/admin/threads")
            .await
            .body
            .contains("href=\"/admin/agents\"")
    );
    let posts = [
        format!("/admin/agents/{id}"),
        format!("/admin/agents/{id}/disable"),
        format!("/admin/agents/{id}/mcp"),
        format!("/admin/agents/{id}/mcp/{server}/delete"),
        format!("/admin/agents/{id}/mcp/{server}/test"),
        "/admin/agents".to_owned(),
    ];
    let mut form = agent_form("support", "http://127.0.0.1:9/v1");
    form.retain(|(name, _)| *name != "name");
    form.push(("name", "Renamed"));
    form.push(("url", "http://127.0.0.1:9/other"));
    for path in &posts {
        let page = reviewer.act(path, &form).await;
        assert_eq!(page.status, 403, "reviewer POST {path}: {}", page.body);
        let page = session.post(path, &form).await;
        assert_eq!(
            page.status, 403,
            "POST {path} without a CSRF token: {}",
            page.body
        );
    }
    let after = app.store.agent_by_id(&id).await.unwrap();
    assert_eq!(
        (after.name, after.enabled, after.updated_at),
        (before.name, before.enabled, before.updated_at)
    );
    assert_eq!(app.store.list_mcp_servers(&id).await.unwrap().len(), 1);
    assert_eq!(app.store.agents_overview().await.unwrap().len(), 2);
}

db_test!(changes_are_audited_with_secrets_masked, vars = VARS);
async fn changes_are_audited_with_secrets_masked(app: TestApp) {
    let session = admin(&app).await;
    let id = create_agent(&session, &agent_form("support", "http://127.0.0.1:9/v1")).await;
    let server = add_server(&app, &session, &id, "http://127.0.0.1:9/mcp").await;
    let mut form = agent_form("support", "http://127.0.0.1:9/v1");
    form.retain(|(name, _)| *name != "name");
    form.push(("name", "Support team"));
    assert_eq!(
        session
            .act(&format!("/admin/agents/{id}"), &form)
            .await
            .status,
        303
    );
    let page = session
        .act(&format!("/admin/agents/{id}/mcp/{server}/disable"), &[])
        .await;
    assert_eq!(page.status, 303);

    let created = audit_rows(&app, "agent.create").await;
    assert_eq!(created.len(), 1);
    let detail = &created[0].detail;
    assert_eq!(detail["after"]["llm_api_key"], "***");
    assert_eq!(detail["after"]["temperature"], 0.3);
    assert_eq!(detail["secrets_replaced"][0], "llm_api_key");
    let updated = audit_rows(&app, "agent.update").await;
    assert_eq!(updated[0].detail["before"]["name"], "Support desk");
    assert_eq!(updated[0].detail["after"]["name"], "Support team");
    assert_eq!(updated[0].object_id.as_deref(), Some(id.as_str()));
    let server_rows = audit_rows(&app, "mcp_server.create").await;
    assert_eq!(
        server_rows[0].detail["after"]["headers"]["Authorization"],
        "***"
    );
    let disabled = audit_rows(&app, "mcp_server.disable").await;
    assert_eq!(disabled[0].detail["before"]["enabled"], true);
    assert_eq!(disabled[0].detail["after"]["enabled"], false);
    for action in [
        "agent.create",
        "agent.update",
        "mcp_server.create",
        "mcp_server.disable",
    ] {
        for row in audit_rows(&app, action).await {
            let text = row.detail.to_string();
            assert!(
                !text.contains(API_KEY) && !text.contains(MCP_TOKEN),
                "{text}"
            );
            assert_eq!(row.operator_email.as_deref(), Some(super::ADMIN));
        }
    }
}

db_test!(the_mcp_test_reports_tools_or_the_error, vars = VARS);
async fn the_mcp_test_reports_tools_or_the_error(app: TestApp) {
    let session = admin(&app).await;
    let mcp = TestMcpServer::start().await;
    let id = create_agent(&session, &agent_form("support", "http://127.0.0.1:9/v1")).await;
    let up = add_server(&app, &session, &id, &mcp.url).await;
    let page = session
        .act(&format!("/admin/agents/{id}/mcp/{up}/test"), &[])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("found 4 tools: echo, weather, slow, fail — protocol 20"),
        "{}",
        page.body
    );
    assert!(
        mcp.header_values("authorization")
            .iter()
            .any(|v| v == MCP_TOKEN)
    );

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let page = session
        .act(
            &format!("/admin/agents/{id}/mcp"),
            &[
                ("name", "down"),
                ("url", &format!("http://127.0.0.1:{port}/mcp")),
                ("timeout_secs", "3"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let down = app.store.list_mcp_servers(&id).await.unwrap()[1].id.clone();
    // A refused server form keeps what was typed, but never a header value.
    let page = session
        .act(
            &format!("/admin/agents/{id}/mcp"),
            &[
                ("name", "down"),
                ("url", "http://127.0.0.1:9/mcp"),
                ("headers", "X-Key: typed-secret-91"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(
        page.status, 400,
        "a second server named 'down': {}",
        page.body
    );
    assert!(page.body.contains("already exists"), "{}", page.body);
    assert!(!page.body.contains("typed-secret-91"), "{}", page.body);
    let page = session
        .act(&format!("/admin/agents/{id}/mcp/{down}/test"), &[])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let start = page.body.find("mcp-test").expect("a test report");
    let report = &page.body[start..start + 600.min(page.body.len() - start)];
    assert!(report.contains("Failed:"), "{report}");
    assert!(
        report.contains("cannot connect to MCP server &#39;down&#39;: error sending request")
            && report.contains("Connection refused"),
        "{report}"
    );
    assert!(!report.contains("WorkerTransport"), "{report}");

    // A server that wants other credentials.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let locked = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
    });
    let page = session
        .act(
            &format!("/admin/agents/{id}/mcp"),
            &[("name", "locked"), ("url", &locked), ("enabled", "on")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let locked_id = app.store.list_mcp_servers(&id).await.unwrap()[2].id.clone();
    let page = session
        .act(&format!("/admin/agents/{id}/mcp/{locked_id}/test"), &[])
        .await;
    assert!(
        page.body
            .contains("cannot connect to MCP server &#39;locked&#39;: HTTP 401 Unauthorized"),
        "{}",
        page.body
    );
}
