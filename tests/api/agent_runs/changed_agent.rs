//! A run uses the agent as it is when its message is saved: a change made behind the server's
//! back (another process, a SQL tool) to the agent or its MCP servers applies to the next
//! turn, to a new thread or an old one, and turns with no change in between keep using the
//! changed agent. A count that is gone (its row deleted by hand) fails no turn.

use serde_json::{Value, json};

use crate::support::app::{TestApp, add_agent, execute_sql};
use crate::support::fake_llm::FakeLlm;
use crate::support::fixtures::user_input;
use crate::support::macros::llm_test;
use crate::support::mcp_server::TestMcpServer;

/// The instructions of each streamed call the fake received (title calls left out).
fn instructions(llm: &FakeLlm) -> Vec<String> {
    llm.requests()
        .iter()
        .filter(|r| r["stream"] == Value::Bool(true))
        .map(|r| {
            r["messages"][0]["content"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

async fn turn(app: &TestApp, kind: &str, params: Value) -> Vec<Value> {
    let answer = app.send_to(Some("support"), "ann", kind, params).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let events = answer.events();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message"),
        "{events:?}"
    );
    events
}

fn set_instructions(app: &TestApp, instructions: &str) {
    execute_sql(
        &app.db_url,
        &format!("UPDATE agents SET instructions = '{instructions}' WHERE slug = 'support'"),
    );
}

llm_test!(an_agent_changed_elsewhere_applies_to_the_next_turn);
async fn an_agent_changed_elsewhere_applies_to_the_next_turn(app: TestApp, llm: FakeLlm) {
    let agent_id = add_agent(&app, "support").await;
    set_instructions(&app, "First instructions.");

    let events = turn(&app, "threads.create", json!({"input": user_input("One")})).await;
    let thread_id = events
        .iter()
        .find(|e| e["type"] == "thread.created")
        .map(|e| e["thread"]["id"].as_str().unwrap().to_owned())
        .expect("a thread");
    let second = json!({"thread_id": thread_id, "input": user_input("Two")});
    turn(&app, "threads.add_user_message", second).await;

    // Changed on its own connection, as another process or a SQL tool would.
    set_instructions(&app, "Second instructions.");
    let third = json!({"thread_id": thread_id, "input": user_input("Three")});
    turn(&app, "threads.add_user_message", third).await;
    turn(&app, "threads.create", json!({"input": user_input("Four")})).await;

    set_instructions(&app, "Third instructions.");
    turn(&app, "threads.create", json!({"input": user_input("Five")})).await;
    let sixth = json!({"thread_id": thread_id, "input": user_input("Six")});
    turn(&app, "threads.add_user_message", sixth).await;

    // An MCP server added the same way: the next turn offers its tools.
    let mcp = TestMcpServer::start().await;
    execute_sql(
        &app.db_url,
        &format!(
            "INSERT INTO agent_mcp_servers (id, agent_id, name, url, timeout_ms, created_at, \
             updated_at) VALUES ('mcp_tools', '{agent_id}', 'tools', '{}', 5000, \
             '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            mcp.url
        ),
    );
    let seventh = json!({"thread_id": thread_id, "input": user_input("Seven")});
    turn(&app, "threads.add_user_message", seventh).await;
    let tools = |index: usize| {
        let streamed: Vec<Value> = llm
            .requests()
            .into_iter()
            .filter(|r| r["stream"] == Value::Bool(true))
            .collect();
        streamed[index]["tools"].to_string()
    };
    assert!(!tools(5).contains("echo"), "{}", tools(5));
    assert!(tools(6).contains("echo"), "{}", tools(6));

    // With the count's row deleted by hand, turns still run, each with the agent as it is.
    execute_sql(&app.db_url, "DELETE FROM agent_changes");
    set_instructions(&app, "Fourth instructions.");
    let eighth = json!({"thread_id": thread_id, "input": user_input("Eight")});
    turn(&app, "threads.add_user_message", eighth).await;

    assert_eq!(
        instructions(&llm),
        [
            "First instructions.",
            "First instructions.",
            "Second instructions.",
            "Second instructions.",
            "Third instructions.",
            "Third instructions.",
            "Third instructions.",
            "Fourth instructions.",
        ]
    );
}
