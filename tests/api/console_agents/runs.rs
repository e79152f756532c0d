//! An agent made in the console answers at `/chatkit?agent=<slug>` with its own model endpoint
//! (a second fake model: model, temperature, instructions, key) and calls its own MCP server
//! (which receives the header secret); the models a client may pick are the agent's; edits
//! apply to the next run without a restart; a disabled agent answers a clear error.

use serde_json::{Value, json};

use super::{API_KEY, MCP_TOKEN, VARS, add_server, admin, agent_form, create_agent};
use crate::support::app::TestApp;
use crate::support::console::get;
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::user_input;
use crate::support::macros::llm_test;
use crate::support::mcp_server::TestMcpServer;

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

async fn start(app: &TestApp, input: Value) -> Vec<Value> {
    let answer = app
        .send_to(
            Some("support"),
            "ann",
            "threads.create",
            json!({"input": input}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.events()
}

llm_test!(
    an_agent_from_the_console_uses_its_own_model_and_mcp_server,
    vars = VARS
);
async fn an_agent_from_the_console_uses_its_own_model_and_mcp_server(
    app: TestApp,
    server_llm: FakeLlm,
) {
    let own = FakeLlm::start().await;
    let mcp = TestMcpServer::start().await;
    let session = admin(&app).await;
    let own_url = own.base_url();
    let id = create_agent(&session, &agent_form("support", &own_url)).await;
    add_server(&app, &session, &id, &mcp.url).await;

    own.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("echo".into(), json!({"text": "from the agent"}))],
    });
    own.push(Reply::Text(vec!["Echoed.".into()]));
    let events = start(&app, user_input("Please echo")).await;
    let shown = serde_json::to_string(&events).unwrap();
    assert!(shown.contains("Echoed."), "{shown}");
    assert!(!types(&events).contains(&"error"), "{shown}");

    let sent = own.requests();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sent[0]["model"], "own-model");
    assert_eq!(sent[0]["temperature"], 0.3);
    assert_eq!(sent[0]["messages"][0]["role"], "system");
    let system = sent[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.starts_with("You are the support desk."), "{system}");
    let tools: Vec<&str> = sent[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(tools.contains(&"echo"), "{tools:?}");
    assert!(
        !tools.contains(&"request_human_input"),
        "human input is off for this agent: {tools:?}"
    );
    let tool_result = sent[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the tool's result went back to the model");
    assert!(
        tool_result["content"]
            .as_str()
            .unwrap()
            .contains("from the agent"),
        "{tool_result}"
    );
    let headers = &own.request_headers()[0];
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == &format!("Bearer {API_KEY}")),
        "the agent's own key is sent: {headers:?}"
    );
    assert!(
        mcp.header_values("authorization")
            .iter()
            .any(|v| v == MCP_TOKEN),
        "the MCP server got the header secret: {:?}",
        mcp.header_values("authorization")
    );
    assert!(
        server_llm.requests().is_empty(),
        "the server's model is not used"
    );

    // The agent's list of models replaces the server's.
    let mut input = user_input("With another model");
    input["inference_options"] = json!({"model": "alt-model"});
    let events = start(&app, input).await;
    let error = events
        .iter()
        .find(|e| e["type"] == "error")
        .expect("refused");
    assert!(error.to_string().contains("alt-model"), "{error}");
    own.push(Reply::Text(vec!["Alt.".into()]));
    let mut input = user_input("With the agent's other model");
    input["inference_options"] = json!({"model": "own-alt"});
    start(&app, input).await;
    assert_eq!(own.requests().last().unwrap()["model"], "own-alt");
    // The agent's chat page offers the same models, the agent's own first.
    let chat = get(&app, "/agents/support/chat").await.body;
    assert!(
        chat.contains(r#"data-models="own-model,own-alt,own-other""#),
        "{chat}"
    );

    // An edit applies to the next run, without a restart.
    let mut form = agent_form("support", &own_url);
    form.retain(|(name, _)| !matches!(*name, "model" | "temperature" | "llm_api_key"));
    form.push(("model", "own-model-2"));
    let page = session.act(&format!("/admin/agents/{id}"), &form).await;
    assert_eq!(page.status, 303, "{}", page.body);
    own.push(Reply::Text(vec!["Edited.".into()]));
    start(&app, user_input("Again")).await;
    let last = own.requests().last().unwrap().clone();
    assert_eq!(last["model"], "own-model-2");
    assert!(last.get("temperature").is_none(), "{last}");
    let headers = own.request_headers().last().unwrap().clone();
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == &format!("Bearer {API_KEY}")),
        "a blank key field keeps the stored key: {headers:?}"
    );

    // Disabled: the API and the chat page say so.
    let page = session
        .act(&format!("/admin/agents/{id}/disable"), &[])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let answer = app
        .send_to(Some("support"), "ann", "threads.list", json!({}))
        .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    let body = answer.json();
    assert_eq!(body["error"]["code"], "agent_disabled", "{body}");
    assert!(body.to_string().contains("disabled"), "{body}");
    let chat = reqwest::get(format!("{}/agents/support/chat", app.address))
        .await
        .unwrap();
    assert_eq!(chat.status().as_u16(), 403);
    assert!(chat.text().await.unwrap().contains("disabled"));
    let page = session
        .act(&format!("/admin/agents/{id}/enable"), &[])
        .await;
    assert_eq!(page.status, 303);
    let answer = app
        .send_to(Some("support"), "ann", "threads.list", json!({}))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

llm_test!(
    an_agents_tools_and_form_timeout_replace_the_servers,
    vars = VARS
);
async fn an_agents_tools_and_form_timeout_replace_the_servers(app: TestApp, _server: FakeLlm) {
    let own = FakeLlm::start().await;
    let mcp = TestMcpServer::start().await;
    let session = admin(&app).await;
    let own_url = own.base_url();
    let mut form = agent_form("support", &own_url);
    form.retain(|(name, _)| *name != "llm_api_key");
    let tools = r#"[{"name": "pick_color", "description": "Asks the page for a color."}]"#;
    form.push(("client_tools", tools));
    form.push(("approval_tools", "echo"));
    let id = create_agent(&session, &form).await;
    add_server(&app, &session, &id, &mcp.url).await;

    own.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("echo".into(), json!({"text": "needs a yes"}))],
    });
    let events = start(&app, user_input("Echo, with approval")).await;
    let (_, interaction) = crate::support::fixtures::approval_of(&events);
    let row = app.store.load_interaction(&interaction).await.unwrap();
    assert_eq!(row.tool_name, "echo");
    assert_eq!(
        (row.expires_at - row.created_at).num_seconds(),
        600,
        "the agent's form timeout"
    );
    let offered: Vec<String> = own.requests()[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect();
    assert!(offered.contains(&"pick_color".to_owned()), "{offered:?}");
    assert!(
        !offered.contains(&"get_selection".to_owned()),
        "the server's client tools are replaced: {offered:?}"
    );
    let headers = &own.request_headers()[0];
    assert!(
        !headers.iter().any(|(k, _)| k == "authorization"),
        "an agent's own endpoint without its own key never gets the server's: {headers:?}"
    );
}
