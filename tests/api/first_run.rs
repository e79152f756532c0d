//! A first run through the real server: without a configured model it uses a model server
//! that answers on a loopback port, else the built-in demo model (labelled, streaming, showing
//! a widget, a form, questions and a tool call), and never either when a model is configured.
//! The start-up line, the access log and auto-titles are in `logs_and_titles`.

use serde_json::{Value, json};

use crate::support::app::{Db, TestApp, spawn_app_with};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{action, form_of, user_input};
use crate::support::logs;
use crate::support::macros::db_case;

mod logs_and_titles;

/// The line every answer of the demo model starts with.
const DEMO_LABEL: &str =
    "*Demo model: set OPENAI_API_KEY or OPENAI_BASE_URL for a real assistant.*";

/// A loopback port nothing listens on: bound, then let go.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The port of the fake model's base URL.
fn port_of(llm: &FakeLlm) -> u16 {
    let url = llm.base_url();
    let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
    rest.split('/').next().unwrap().parse().unwrap()
}

/// The text of the last finished assistant message of a stream.
fn answer(events: &[Value]) -> String {
    events
        .iter()
        .rev()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .map(|e| e["item"]["content"][0]["text"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no answer in {events:?}"))
}

/// A message in `thread`; the stream's events.
async fn say(app: &TestApp, thread: &str, text: &str) -> Vec<Value> {
    app.stream(
        "ann",
        "threads.add_user_message",
        json!({"thread_id": thread, "input": user_input(text)}),
    )
    .await
}

db_case!(the_demo_model_answers_when_nothing_is_found);
async fn the_demo_model_answers_when_nothing_is_found(db: Db) {
    logs::capture();
    let closed = closed_port().to_string();
    let vars = [
        ("CHATKIT_PROBE_PORTS", closed.as_str()),
        ("CHATKIT_DEMO_MODEL", "true"),
    ];
    let mark = logs::mark();
    let Some(app) = spawn_app_with(db, &vars).await else {
        return;
    };
    let started = logs::lines_after(
        mark,
        "chatkit_server::startup",
        &format!("chat: {}/", app.address),
    );
    assert_eq!(started.len(), 1, "{started:?}");
    assert!(started[0].contains("built-in demo model"), "{started:?}");
    assert!(started[0].contains(&format!("admin: {}/admin", app.address)));

    // It streams a labelled introduction, and names the thread.
    let (thread, events) = app.create_thread("ann", "Hello there!").await;
    let deltas = events
        .iter()
        .filter(|e| e["update"]["type"] == "assistant_message.content_part.text_delta")
        .count();
    assert!(deltas > 10, "streamed in pieces: {deltas}");
    let intro = answer(&events);
    assert!(intro.starts_with(DEMO_LABEL), "{intro}");
    assert!(
        intro.contains("widget") && intro.contains("form"),
        "{intro}"
    );
    let titled = events
        .iter()
        .find(|e| e["type"] == "thread.updated")
        .unwrap();
    assert_eq!(titled["thread"]["title"], "Hello there");
    let runs = app.store.load_runs(&thread).await.unwrap();
    assert_eq!(runs[0].model.as_deref(), Some("demo"));

    // A widget from a tool; its button replaces it in place.
    let events = say(&app, &thread, "Show me a widget").await;
    let widget = events
        .iter()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "widget")
        .unwrap()["item"]
        .clone();
    assert!(answer(&events).starts_with(DEMO_LABEL));
    let button = widget["widget"]["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Button")
        .unwrap()
        .clone();
    let press =
        json!({"thread_id": thread, "item_id": widget["id"], "action": button["onClickAction"]});
    let events = app.stream("ann", "threads.custom_action", press).await;
    let replaced = events
        .iter()
        .find(|e| e["type"] == "thread.item.replaced")
        .unwrap();
    assert_eq!(replaced["item"]["id"], widget["id"]);
    assert!(
        replaced["item"]["widget"]
            .to_string()
            .contains("pressed once")
    );

    // A form with required fields: left empty it is refused; filled, the run goes on.
    let events = say(&app, &thread, "Ask me with a form").await;
    let (item, id) = form_of(&events);
    let empty = json!({"__interaction": id, "destination": " "});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", empty),
        )
        .await;
    let shown = events[0]["item"]["widget"].to_string();
    assert!(shown.contains("This field is required."), "{shown}");
    assert!(shown.contains("Tick this box to go on."), "{shown}");
    let filled = json!({"__interaction": id, "destination": "Oslo", "agree": "true"});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", filled),
        )
        .await;
    let said = answer(&events);
    assert!(
        said.contains("The form came back with") && said.contains("Oslo"),
        "{said}"
    );

    // Clarifying questions, answered.
    let events = say(&app, &thread, "Any questions?").await;
    let asked = &events.last().unwrap()["item"];
    assert_eq!(
        (asked["type"].as_str(), asked["status"].as_str()),
        (Some("structured_input"), Some("pending"))
    );
    let answers = json!({"status": "answered", "answers": {"colour": {"values": ["Blue"]}, "why": {"values": ["calm"]}}});
    let events = app
        .stream(
            "ann",
            "threads.add_structured_input",
            json!({"thread_id": thread, "item_id": asked["id"], "input": answers}),
        )
        .await;
    let said = answer(&events);
    assert!(said.contains("Blue") && said.contains("calm"), "{said}");

    // A tool call, with its progress line.
    let events = say(&app, &thread, "What time is it?").await;
    assert!(events.iter().any(|e| e["type"] == "progress_update"));
    assert!(answer(&events).contains("get_current_time"));
}

db_case!(a_model_server_on_loopback_is_used);
async fn a_model_server_on_loopback_is_used(db: Db) {
    let llm = FakeLlm::start().await;
    llm.push(Reply::Text(vec![
        "Hi from ".into(),
        "the local model".into(),
    ]));
    let ports = format!("{},{}", closed_port(), port_of(&llm));
    let vars = [
        ("CHATKIT_PROBE_PORTS", ports.as_str()),
        ("CHATKIT_DEMO_MODEL", "true"),
        ("CHATKIT_AUTO_TITLES", "false"),
    ];
    let Some(app) = spawn_app_with(db, &vars).await else {
        return;
    };
    let (thread, events) = app.create_thread("ann", "Hello").await;
    assert_eq!(answer(&events), "Hi from the local model");
    let requests = llm.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["model"], "fake-model", "the model it lists");
    let runs = app.store.load_runs(&thread).await.unwrap();
    assert_eq!(runs[0].model.as_deref(), Some("fake-model"));
}

db_case!(a_configured_model_is_never_replaced);
async fn a_configured_model_is_never_replaced(db: Db) {
    let llm = FakeLlm::start().await;
    let configured = format!("http://127.0.0.1:{}/v1", closed_port());
    let port = port_of(&llm).to_string();
    let vars = [
        ("OPENAI_BASE_URL", configured.as_str()),
        ("CHATKIT_LLM_MAX_RETRIES", "0"),
        ("CHATKIT_PROBE_PORTS", port.as_str()),
        ("CHATKIT_DEMO_MODEL", "true"),
    ];
    let Some(app) = spawn_app_with(db, &vars).await else {
        return;
    };
    let (_, events) = app.create_thread("ann", "Hello").await;
    assert_eq!(events.last().unwrap()["type"], "error", "{events:?}");
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message"),
        "neither the demo model nor the loopback one answered: {events:?}"
    );
    assert!(llm.requests().is_empty());
}
