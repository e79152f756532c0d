//! MCP tools and widgets, against real MCP servers: an rmcp server in this process and the
//! Python test server (`tests/mcp`, on the official MCP Python SDK), with the fake model driving
//! the tool calls. Each test checks the events on the wire, the stored items, and what the
//! model was sent.

use serde_json::{Value, json};

use crate::support::answer::parse_sse;
use crate::support::app::{Db, TestApp, add_agent, execute_sql, spawn_mcp_app};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::user_input;
use crate::support::macros::db_case;
use crate::support::mcp_server::TestMcpServer;
use crate::support::python::PythonMcp;

fn server(name: &str, url: &str) -> Value {
    json!({"name": name, "url": url, "timeout_ms": 5000})
}

fn calls(calls: &[(&str, Value)]) -> Reply {
    Reply::ToolCalls {
        text: vec![],
        calls: calls
            .iter()
            .map(|(n, a)| (n.to_string(), a.clone()))
            .collect(),
    }
}

fn done_items<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == "thread.item.done" && e["item"]["type"] == kind)
        .map(|e| &e["item"])
        .collect()
}

/// The tool messages of a model request, by tool call id order.
fn tool_outputs(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

db_case!(widget_from_a_tool_and_its_action);
async fn widget_from_a_tool_and_its_action(db: Db) {
    let mcp = TestMcpServer::start().await;
    let Some((app, llm)) = spawn_mcp_app(db, json!([server("weather", &mcp.url)])).await else {
        return;
    };
    llm.push(calls(&[("weather", json!({"city": "Oslo"}))]));
    llm.push(Reply::Text(vec!["Here is the weather.".into()]));
    let (id, events) = app.create_thread("ann", "Weather in Oslo?").await;

    let progress: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "progress_update")
        .collect();
    assert_eq!(progress[0]["text"], "Running weather…");
    let widgets = done_items(&events, "widget");
    assert_eq!(widgets.len(), 1, "{events:?}");
    let widget = widgets[0];
    assert_eq!(widget["copy_text"], "Weather in Oslo: 20°C (refresh 0)");
    assert_eq!(
        widget["widget"]["children"][0]["value"],
        "20°C in Oslo (refresh 0)"
    );
    assert_eq!(done_items(&events, "assistant_message").len(), 1);

    let sent = &llm.requests()[1];
    assert_eq!(
        sent["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["function"]["name"] == "weather")
            .count(),
        1
    );
    let output = &tool_outputs(sent)[0];
    assert!(output.contains("It is 20°C in Oslo."), "{output}");
    assert!(output.contains("[Shown to the user as a widget: Weather in Oslo: 20°C (refresh 0)]"));
    assert!(
        !output.contains("onClickAction"),
        "the model never gets widget JSON: {output}"
    );

    let stored = app
        .ok(
            "ann",
            "items.list",
            json!({"thread_id": id, "order": "asc"}),
        )
        .await;
    let stored_widget = stored["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "widget")
        .unwrap();
    assert_eq!(stored_widget, widget);

    // The button's action names the tool: the widget is replaced in place.
    let widget_id = widget["id"].as_str().unwrap();
    let action = widget["widget"]["children"][1]["onClickAction"].clone();
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            json!({"thread_id": id, "item_id": widget_id, "action": action}),
        )
        .await;
    assert_eq!(events[0]["type"], "stream_options");
    assert_eq!(events[1]["type"], "thread.item.replaced");
    assert_eq!(events[1]["item"]["id"], widget_id);
    assert_eq!(events[1]["item"]["created_at"], widget["created_at"]);
    assert_eq!(
        events[1]["item"]["widget"]["children"][0]["value"],
        "20°C in Oslo (refresh 1)"
    );
    assert_eq!(events.len(), 2);
    let reloaded = app
        .ok("ann", "threads.get_by_id", json!({"thread_id": id}))
        .await;
    let reloaded_widget = reloaded["items"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "widget")
        .unwrap();
    assert_eq!(
        reloaded_widget["copy_text"],
        "Weather in Oslo: 20°C (refresh 1)"
    );
    assert_eq!(llm.requests().len(), 2, "a tool action calls no model");

    // The non-streaming twin answers the updated item, and keeps it.
    let action = events[1]["item"]["widget"]["children"][1]["onClickAction"].clone();
    let answer = app
        .ok(
            "ann",
            "threads.sync_custom_action",
            json!({"thread_id": id, "item_id": widget_id, "action": action}),
        )
        .await;
    assert_eq!(answer["updated_item"]["id"], widget_id);
    assert_eq!(
        answer["updated_item"]["copy_text"],
        "Weather in Oslo: 20°C (refresh 2)"
    );
    let scope = app.scope("ann").await;
    let kept =
        serde_json::to_value(app.store.load_item(&scope, &id, widget_id).await.unwrap()).unwrap();
    assert_eq!(kept["copy_text"], "Weather in Oslo: 20°C (refresh 2)");

    let bad = json!({"type": "x", "payload": {"tool": "no_such_tool"}});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            json!({"thread_id": id, "item_id": widget_id, "action": bad}),
        )
        .await;
    assert_eq!(events[1]["type"], "error");
    assert!(
        events[1]["message"]
            .as_str()
            .unwrap()
            .contains("no tool named 'no_such_tool'")
    );
}

db_case!(tool_errors_and_timeouts_reach_the_model);
async fn tool_errors_and_timeouts_reach_the_model(db: Db) {
    let mcp = TestMcpServer::start().await;
    let mut config = server("slowpoke", &mcp.url);
    config["timeout_ms"] = json!(400);
    let Some((app, llm)) = spawn_mcp_app(db, json!([config])).await else {
        return;
    };
    llm.push(calls(&[("fail", json!({})), ("slow", json!({"ms": 3000}))]));
    llm.push(Reply::Text(vec!["Both failed.".into()]));
    let started = std::time::Instant::now();
    let (id, events) = app.create_thread("ann", "Try things").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the slow call was cut at its timeout"
    );
    assert_eq!(
        done_items(&events, "assistant_message").len(),
        1,
        "the run went on"
    );

    let outputs = tool_outputs(&llm.requests()[1]);
    assert_eq!(outputs[0], "Simulated failure");
    assert!(
        outputs[1].contains("did not answer within 400 ms"),
        "{outputs:?}"
    );
    let scope = app.scope("ann").await;
    let records: Vec<_> = app
        .store
        .load_model_history(&scope, &id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            chatkit_server::chatkit::records::HistoryEntry::ToolCall(r) => Some(r),
            _ => None,
        })
        .collect();
    assert!(records.iter().all(|r| r.is_error), "{records:?}");
    assert_eq!(
        records[0].content.as_ref().unwrap()[0]["text"],
        "Simulated failure",
        "the MCP content is kept"
    );
}

db_case!(progress_notifications_become_progress_updates);
async fn progress_notifications_become_progress_updates(db: Db) {
    let mcp = TestMcpServer::start().await;
    let Some((app, llm)) = spawn_mcp_app(db, json!([server("slow", &mcp.url)])).await else {
        return;
    };
    llm.push(calls(&[("slow", json!({"ms": 300}))]));
    llm.push(Reply::Text(vec!["Done.".into()]));
    let (_, events) = app.create_thread("ann", "Wait a bit").await;
    let texts: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "progress_update")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    // The last note may cross the result on the wire; the earlier ones are always in time.
    assert_eq!(
        texts[..3],
        ["Running slow…", "step 1 of 3", "step 2 of 3"],
        "{texts:?}"
    );
}

db_case!(a_server_that_is_down_costs_only_its_tools);
async fn a_server_that_is_down_costs_only_its_tools(db: Db) {
    let mcp = TestMcpServer::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let servers = json!([
        server("up", &mcp.url),
        server("down", &format!("http://127.0.0.1:{closed}/mcp"))
    ]);
    let Some((app, llm)) = spawn_mcp_app(db, servers).await else {
        return;
    };
    llm.push(calls(&[("echo", json!({"text": "hi"}))]));
    llm.push(Reply::Text(vec!["ok".into()]));
    let (_, events) = app.create_thread("ann", "Echo hi").await;
    assert_eq!(done_items(&events, "assistant_message").len(), 1);
    let first = &llm.requests()[0];
    assert!(
        first["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("'down' service are unavailable")
    );
    assert!(
        first["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["function"]["name"] == "echo")
    );
    assert_eq!(tool_outputs(&llm.requests()[1]), ["echo: hi"]);
}

db_case!(clashing_tool_names_are_made_unique);
async fn clashing_tool_names_are_made_unique(db: Db) {
    let (a, b) = (TestMcpServer::start().await, TestMcpServer::start().await);
    let mut beta = server("beta", &b.url);
    beta["allowed_tools"] = json!(["echo"]);
    let Some((app, llm)) = spawn_mcp_app(db, json!([server("alpha", &a.url), beta])).await else {
        return;
    };
    llm.push(calls(&[("beta__echo", json!({"text": "from beta"}))]));
    llm.push(Reply::Text(vec!["ok".into()]));
    app.create_thread("ann", "Echo").await;
    let names: Vec<String> = llm.requests()[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "alpha__echo",
        "beta__echo",
        "weather",
        "slow",
        "fail",
        "get_current_time",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.contains(&"beta__weather".to_owned()),
        "beta only allows echo"
    );
    assert_eq!(tool_outputs(&llm.requests()[1]), ["echo: from beta"]);
}

/// Every widget form of the Python test server, and every HTML form it has, in one era.
async fn python_widgets(db: Db, protocol: &str) {
    let Some(python) = PythonMcp::start().await else {
        return;
    };
    let mut config = server("py", &python.url);
    config["protocol"] = json!(protocol);
    config["structured_widgets"] = json!(true);
    let Some((app, llm)) = spawn_mcp_app(db, json!([config])).await else {
        return;
    };
    llm.push(calls(&[
        ("show_weather_widget", json!({"city": "Paris"})),
        ("show_weather_widget_blob", json!({"city": "Tokyo"})),
        ("show_widget_link", json!({"city": "Paris"})),
        ("show_bare_widget", json!({"city": "Oslo"})),
        ("show_html_ui", json!({"flavor": "mcp-ui"})),
        ("show_html_ui", json!({"flavor": "mcp-app"})),
        ("show_html_ui", json!({"flavor": "skybridge"})),
        ("show_html_ui", json!({"flavor": "uri-list"})),
        ("fail", json!({})),
        ("get_forecast", json!({"city": "Paris", "days": 2})),
    ]));
    llm.push(Reply::Text(vec!["Shown.".into()]));
    let (id, events) = app.create_thread("ann", "Show me everything").await;

    let widgets = done_items(&events, "widget");
    let copies: Vec<&str> = widgets
        .iter()
        .map(|w| w["copy_text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        widgets.len(),
        8,
        "4 widgets and 4 unrendered views: {copies:?}"
    );
    assert_eq!(copies[0], "Weather in Paris: 18°C, Partly cloudy");
    assert!(copies[1].starts_with("Weather in Tokyo"), "{copies:?}");
    assert!(
        copies[2].starts_with("Weather in Paris"),
        "resource_link read through resources/read: {copies:?}"
    );
    assert_eq!(
        widgets[3]["widget"]["type"], "Card",
        "bare structuredContent widget"
    );
    for html in &widgets[4..] {
        assert_eq!(
            html["widget"]["children"][0]["value"],
            "Interactive view available"
        );
        assert!(
            html["copy_text"]
                .as_str()
                .unwrap()
                .starts_with("Rendered an HTML UI")
        );
        assert!(
            !html.to_string().contains("<button"),
            "HTML is never rendered"
        );
    }

    let outputs = tool_outputs(&llm.requests()[1]);
    assert_eq!(outputs.len(), 10);
    assert!(outputs[0].contains("[Shown to the user as a widget: Weather in Paris"));
    assert!(
        !outputs[3].contains("\"children\""),
        "the bare widget JSON is not given to the model: {}",
        outputs[3]
    );
    assert!(outputs[4].contains("cannot show"));
    assert!(outputs[8].contains("Simulated failure"));
    assert!(
        outputs[9].contains("Paris"),
        "structured content reaches the model: {}",
        outputs[9]
    );
    let stored = app
        .ok("ann", "items.list", json!({"thread_id": id, "limit": 50}))
        .await;
    assert_eq!(
        stored["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["type"] == "widget")
            .count(),
        8
    );
}

db_case!(python_mcp_widgets_modern_era);
async fn python_mcp_widgets_modern_era(db: Db) {
    python_widgets(db, "auto").await;
}

db_case!(python_mcp_widgets_handshake_era);
async fn python_mcp_widgets_handshake_era(db: Db) {
    python_widgets(db, "legacy").await;
}

db_case!(python_mcp_widget_replaced_by_an_action);
async fn python_mcp_widget_replaced_by_an_action(db: Db) {
    let Some(python) = PythonMcp::start().await else {
        return;
    };
    let Some((app, llm)) = spawn_mcp_app(db, json!([server("py", &python.url)])).await else {
        return;
    };
    llm.push(calls(&[("show_weather_widget", json!({"city": "Paris"}))]));
    llm.push(Reply::Text(vec!["Here.".into()]));
    let input = user_input("Weather in Paris?");
    let events = app
        .stream("ann", "threads.create", json!({"input": input}))
        .await;
    let id = events[0]["thread"]["id"].as_str().unwrap();
    let widget = done_items(&events, "widget")[0];
    let action = json!({"type": "weather.show", "payload": {"tool": "show_weather_widget", "arguments": {"city": "Tokyo"}}});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            json!({"thread_id": id, "item_id": widget["id"], "action": action}),
        )
        .await;
    assert_eq!(events[1]["type"], "thread.item.replaced");
    assert_eq!(events[1]["item"]["id"], widget["id"]);
    assert!(
        events[1]["item"]["copy_text"]
            .as_str()
            .unwrap()
            .starts_with("Weather in Tokyo")
    );
}

/// Gives an agent an MCP server of its own, as the console stores it: a row whose `extra`
/// columns (name, SQL literal) are set besides name and url.
fn add_own_server(app: &TestApp, agent_id: &str, name: &str, url: &str, extra: &[(&str, &str)]) {
    let (mut columns, mut values) = (String::new(), String::new());
    for (column, value) in extra {
        columns.push_str(&format!(", {column}"));
        values.push_str(&format!(", {value}"));
    }
    execute_sql(
        &app.db_url,
        &format!(
            "INSERT INTO agent_mcp_servers \
             (id, agent_id, name, url, timeout_ms, created_at, updated_at{columns}) \
             VALUES ('mcp_{name}', '{agent_id}', '{name}', '{url}', 5000, \
             '2026-01-01 00:00:00', '2026-01-01 00:00:00'{values})"
        ),
    );
}

/// A turn of agent `slug` in which the model calls the test server's weather tool; returns
/// the turn's events.
async fn weather_turn(app: &TestApp, llm: &FakeLlm, slug: &str) -> Vec<Value> {
    llm.push(calls(&[("weather", json!({"city": "Oslo"}))]));
    llm.push(Reply::Text(vec!["Here.".into()]));
    let body = json!({"type": "threads.create", "params": {"input": user_input("Weather?")}});
    let response = app
        .client
        .post(format!("{}/chatkit?agent={slug}", app.address))
        .header("X-ChatKit-User", "ann")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    parse_sse(&response.text().await.unwrap())
}

db_case!(an_agent_has_its_own_mcp_servers);
async fn an_agent_has_its_own_mcp_servers(db: Db) {
    let mcp = TestMcpServer::start().await;
    let Some((app, llm)) = spawn_mcp_app(db, json!([])).await else {
        return;
    };
    let agent = add_agent(&app, "weatherbot").await;
    add_own_server(&app, &agent, "weather", &mcp.url, &[]);
    let events = weather_turn(&app, &llm, "weatherbot").await;
    assert_eq!(done_items(&events, "widget").len(), 1, "{events:?}");

    llm.push(Reply::Text(vec!["Hi.".into()]));
    app.create_thread("ann", "Hi").await;
    let default_tools = llm.requests()[2]["tools"].to_string();
    assert!(
        !default_tools.contains("\"weather\""),
        "the default agent has no weather tool: {default_tools}"
    );
}

db_case!(an_unusable_own_server_costs_only_its_own_tools);
async fn an_unusable_own_server_costs_only_its_own_tools(db: Db) {
    let mcp = TestMcpServer::start().await;
    let Some((app, llm)) = spawn_mcp_app(db, json!([])).await else {
        return;
    };
    let agent = add_agent(&app, "weatherbot").await;
    add_own_server(&app, &agent, "broken", "not a url", &[]);
    add_own_server(&app, &agent, "era", &mcp.url, &[("protocol", "'2031'")]);
    add_own_server(&app, &agent, "headers", &mcp.url, &[("headers", "'{oops'")]);
    add_own_server(
        &app,
        &agent,
        "weather",
        &mcp.url,
        &[("headers", "'{\"X-Test\": \"1\"}'")],
    );
    let events = weather_turn(&app, &llm, "weatherbot").await;
    assert_eq!(done_items(&events, "widget").len(), 1, "{events:?}");
    let tools = llm.requests()[0]["tools"].to_string();
    assert_eq!(
        tools.matches("Shows the weather").count(),
        1,
        "only the usable server's tools are offered: {tools}"
    );
}
