//! Approvals and MCP questions answered from the console: an approval whose arguments the
//! operator edits runs the edited call (on the in-process MCP server) and the transcript shows
//! both; a denial carries the operator's note to the model; a question from a real MCP server (the Python MCP test server) is answered by an operator.

use chatkit_server::store::Role;
use serde_json::{Value, json};

use super::{REVIEWER, tool_result, wait_for_reply};
use crate::support::app::{Db, TestApp, llm_vars, spawn_app_with, spawn_mcp_app};
use crate::support::console::{PASSWORD, add_operator, sign_in};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{approval_of, form_of};
use crate::support::macros::db_case;
use crate::support::mcp_server::TestMcpServer;
use crate::support::python::PythonMcp;

/// A server whose model is a fake, with the in-process MCP server's tools and `echo` needing
/// approval.
async fn spawn_with_echo(db: Db, mcp: &TestMcpServer) -> Option<(TestApp, FakeLlm)> {
    let llm = FakeLlm::start().await;
    let mut vars = llm_vars(&llm.base_url());
    vars.push((
        "CHATKIT_MCP_SERVERS",
        json!([{"name": "tools", "url": mcp.url, "timeout_ms": 5000}]).to_string(),
    ));
    vars.push(("CHATKIT_APPROVAL_TOOLS", "echo".into()));
    vars.push(("CHATKIT_AUTO_TITLES", "false".into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Some((spawn_app_with(db, &vars).await?, llm))
}

db_case!(an_approval_with_edited_arguments_runs_the_edited_call);
async fn an_approval_with_edited_arguments_runs_the_edited_call(db: Db) {
    let mcp = TestMcpServer::start().await;
    let Some((app, llm)) = spawn_with_echo(db, &mcp).await else {
        return;
    };
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let console = sign_in(&app, REVIEWER, PASSWORD).await;
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("echo".into(), json!({"text": "as the model wrote it"}))],
    });
    let (thread, events) = app.create_thread("ann", "Say something").await;
    let (_, id) = approval_of(&events);

    let page = console.get(&format!("/admin/forms/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"<dd class="mono">echo</dd>"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("as the model wrote it"));
    assert!(page.body.contains(r#"value="approve">Approve</button>"#));
    assert!(page.body.contains(r#"value="deny">Deny</button>"#));
    assert!(
        page.body
            .contains(r#"<textarea class="mono" name="arguments""#)
    );

    // Not a JSON object: shown again as typed, nothing runs.
    let path = format!("/admin/forms/{id}");
    let refused = console
        .act(&path, &[("action", "approve"), ("arguments", "[1, 2")])
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Enter a JSON object."));
    assert!(refused.body.contains(">[1, 2</textarea>"));
    assert_eq!(llm.requests().len(), 1);

    llm.push(Reply::Text(vec!["The edited call ran.".into()]));
    let edited = r#"{"text": "as the operator fixed it"}"#;
    let done = console
        .act(
            &path,
            &[
                ("action", "approve"),
                ("arguments", edited),
                ("note", "Checked with the customer."),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    wait_for_reply(&app, "ann", &thread, "The edited call ran.").await;
    let requests = llm.wait_for_requests(2).await;
    let result = tool_result(&requests[1]);
    let content = result["content"].as_str().unwrap();
    assert!(
        content.contains("echo: as the operator fixed it"),
        "{content}"
    );
    assert!(content.contains("Checked with the customer."), "{content}");
    let stored = app.store.load_interaction(&id).await.unwrap();
    let answer: Value = serde_json::from_str(stored.answer.as_deref().unwrap()).unwrap();
    assert_eq!(
        answer["arguments"],
        json!({"text": "as the operator fixed it"})
    );

    // The transcript shows the model's call and the one that ran.
    let transcript = console.get(&format!("/admin/threads/{thread}")).await;
    assert!(transcript.body.contains("as the model wrote it"));
    assert!(transcript.body.contains("as the operator fixed it"));
    assert!(
        transcript
            .body
            .contains("Run with arguments edited by the operator")
    );
}

db_case!(a_question_from_a_real_mcp_server_is_answered_by_an_operator);
async fn a_question_from_a_real_mcp_server_is_answered_by_an_operator(db: Db) {
    let Some(python) = PythonMcp::start().await else {
        return;
    };
    let servers = json!([{"name": "py", "url": python.url}]);
    let Some((app, llm)) = spawn_mcp_app(db, servers).await else {
        return;
    };
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let console = sign_in(&app, REVIEWER, PASSWORD).await;
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("ask_human".into(), json!({"question": "Deploy to prod?"}))],
    });
    let (thread, events) = app.create_thread("ann", "Deploy it").await;
    let (_, id) = form_of(&events);

    let queue = console.get("/admin/forms?kind=elicitation").await;
    assert!(queue.body.contains(&id) && queue.body.contains("MCP question"));
    let page = console.get(&format!("/admin/forms/{id}")).await;
    assert!(page.body.contains("Deploy to prod?"), "{}", page.body);
    assert!(
        page.body
            .contains(r#"value="decline" formnovalidate>Decline"#)
    );
    assert!(!page.body.contains("Use your best judgement"));

    llm.push(Reply::Text(vec!["Deployed.".into()]));
    let done = console
        .act(
            &format!("/admin/forms/{id}"),
            &[
                ("approved", "true"),
                ("comment", "go ahead"),
                ("action", "submit"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    wait_for_reply(&app, "ann", &thread, "Deployed.").await;
    let requests = llm.wait_for_requests(2).await;
    let result: Value =
        serde_json::from_str(tool_result(&requests[1])["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["action"], "accept", "{result}");
    assert_eq!(result["answer"]["approved"], true);
    assert_eq!(result["answer"]["comment"], "go ahead");
    let stored = app.store.load_interaction(&id).await.unwrap();
    assert_eq!(stored.answered_by.map(|b| b.as_str()), Some("operator"));
}
