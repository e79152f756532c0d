//! Agent runs against the fake OpenAI server: streamed replies, the tool loop, client tools,
//! cancel, retry, titles, the model picker, an agent's own endpoint, and (in `faults`) every
//! upstream fault; (in `context`) long threads against the context budget. Each test checks
//! the events on the wire, the rows in the database, and what the model was sent.

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::answer::{event_types, parse_sse};
use crate::support::app::{TestApp, add_agent, eventually, execute_sql};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::user_input;
use crate::support::macros::llm_test;

mod changed_agent;
mod context;
mod faults;
mod retry_after;

fn text(pieces: &[&str]) -> Reply {
    Reply::Text(pieces.iter().map(|p| p.to_string()).collect())
}

/// The assistant texts of a thread as the client would list them.
async fn assistant_texts(app: &TestApp, user: &str, thread_id: &str) -> Vec<String> {
    let page = app
        .ok(
            user,
            "items.list",
            json!({"thread_id": thread_id, "order": "asc", "limit": 100}),
        )
        .await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "assistant_message")
        .map(|i| i["content"][0]["text"].as_str().unwrap().to_owned())
        .collect()
}

llm_test!(plain_reply_streams_and_persists);
async fn plain_reply_streams_and_persists(app: TestApp, llm: FakeLlm) {
    llm.push(text(&["Hel", "lo ", "there"]));
    llm.push(Reply::Completion("\"Friendly greeting.\"".into()));
    let (id, events) = app.create_thread("ann", "Hi!").await;

    assert_eq!(
        event_types(&events),
        [
            "thread.created",
            "thread.item.done",
            "stream_options",
            "thread.item.added",
            "thread.item.updated",
            "thread.item.updated",
            "thread.item.updated",
            "thread.item.updated",
            "thread.item.updated",
            "thread.item.done",
            "thread.updated",
        ]
    );
    let item_id = events[3]["item"]["id"].as_str().unwrap();
    assert_eq!(events[3]["item"]["content"], json!([]));
    assert_eq!(
        events[4]["update"]["type"],
        "assistant_message.content_part.added"
    );
    let deltas: Vec<&str> = events[5..8]
        .iter()
        .map(|e| e["update"]["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["Hel", "lo ", "there"]);
    assert!(events[4..9].iter().all(|e| e["item_id"] == item_id));
    assert_eq!(events[8]["update"]["content"]["text"], "Hello there");
    assert_eq!(
        events[9]["item"]["content"],
        json!([{"annotations": [], "text": "Hello there", "type": "output_text"}])
    );
    assert_eq!(events[10]["thread"]["title"], "Friendly greeting");

    assert_eq!(assistant_texts(&app, "ann", &id).await, ["Hello there"]);
    let scope = app.scope("ann").await;
    assert_eq!(
        app.store
            .load_thread(&scope, &id)
            .await
            .unwrap()
            .title
            .as_deref(),
        Some("Friendly greeting")
    );
    let runs = app.store.load_runs(&id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].status.as_str(), runs[0].model.as_deref()),
        ("completed", Some("fake-model"))
    );
    assert_eq!(runs[0].completion_tokens, 3);
    assert!(runs[0].prompt_tokens > 0 && runs[0].finished_at.is_some());

    let requests = llm.requests();
    assert_eq!(requests.len(), 2, "one streamed answer and one title");
    let sent = &requests[0];
    assert_eq!(sent["model"], "fake-model");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "You are a test assistant."})
    );
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "Hi!"})
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "get_current_time");
    assert!(
        requests[1].get("stream").is_none_or(|s| s == false),
        "titles are not streamed"
    );
    let headers = llm.request_headers();
    assert!(
        headers[0]
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer sk-test")
    );
}

llm_test!(tool_loop_runs_until_an_answer);
async fn tool_loop_runs_until_an_answer(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::ToolCalls {
        text: vec!["Let me check. ".into()],
        calls: vec![("get_current_time".into(), json!({}))],
    });
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("get_current_time".into(), json!({}))],
    });
    llm.push(text(&["It is late."]));
    let (id, events) = app.create_thread("ann", "What time is it?").await;

    let progress: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "progress_update")
        .collect();
    assert_eq!(progress.len(), 2);
    assert_eq!(progress[0]["icon"], "clock");
    assert_eq!(progress[0]["text"], "Checking the time…");
    assert_eq!(
        assistant_texts(&app, "ann", &id).await,
        ["Let me check. ", "It is late."]
    );

    let scope = app.scope("ann").await;
    let history = app.store.load_model_history(&scope, &id).await.unwrap();
    let calls: Vec<_> = history
        .iter()
        .filter_map(|e| match e {
            chatkit_server::chatkit::records::HistoryEntry::ToolCall(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls.len(),
        2,
        "tool calls are stored as model-only records"
    );
    assert!(
        calls
            .iter()
            .all(|c| c.name == "get_current_time" && !c.is_error && c.output.ends_with('Z'))
    );
    let listed = app.ok("ann", "items.list", json!({"thread_id": id})).await;
    assert!(
        !listed.to_string().contains("get_current_time"),
        "clients never see tool records"
    );

    let requests = llm.wait_for_requests(4).await;
    let second = requests[1]["messages"].as_array().unwrap();
    let call_message = &second[second.len() - 2];
    assert_eq!(call_message["role"], "assistant");
    assert_eq!(call_message["content"], "Let me check. ");
    assert_eq!(
        call_message["tool_calls"][0]["function"]["name"],
        "get_current_time"
    );
    let result = &second[second.len() - 1];
    assert_eq!(result["role"], "tool");
    assert_eq!(result["tool_call_id"], call_message["tool_calls"][0]["id"]);
    let third = requests[2]["messages"].as_array().unwrap();
    assert_eq!(
        third.len(),
        second.len() + 2,
        "each step adds its call and its result"
    );
    assert_eq!(
        third[third.len() - 2]["tool_calls"][0]["function"]["name"],
        "get_current_time"
    );
}

llm_test!(parallel_calls_all_get_results);
async fn parallel_calls_all_get_results(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![
            ("get_current_time".into(), json!({})),
            ("no_such_tool".into(), json!({"q": 1})),
        ],
    });
    llm.push(text(&["Done."]));
    let (id, _) = app.create_thread("ann", "Do two things").await;

    let requests = llm.wait_for_requests(2).await;
    let messages = requests[1]["messages"].as_array().unwrap();
    let n = messages.len();
    assert_eq!(
        messages[n - 3]["tool_calls"].as_array().unwrap().len(),
        2,
        "one assistant message, two calls"
    );
    assert_eq!(messages[n - 2]["role"], "tool");
    assert_eq!(
        messages[n - 1]["content"],
        "There is no tool named 'no_such_tool'."
    );
    assert_eq!(assistant_texts(&app, "ann", &id).await, ["Done."]);
}

llm_test!(client_tool_round_trip);
async fn client_tool_round_trip(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("get_selection".into(), json!({"what": "text"}))],
    });
    let (id, events) = app.create_thread("ann", "Explain my selection").await;
    let last = events.last().unwrap();
    assert_eq!(last["type"], "thread.item.done");
    assert_eq!(last["item"]["type"], "client_tool_call");
    assert_eq!(last["item"]["status"], "pending");
    assert_eq!(last["item"]["name"], "get_selection");
    assert_eq!(last["item"]["arguments"], json!({"what": "text"}));
    let call_id = last["item"]["call_id"].as_str().unwrap().to_owned();

    llm.push(text(&["That is a haiku."]));
    let events = app
        .stream(
            "ann",
            "threads.add_client_tool_output",
            json!({"thread_id": id, "result": {"text": "old pond"}}),
        )
        .await;
    assert_eq!(events[0]["type"], "stream_options");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
    );

    let items = app
        .ok(
            "ann",
            "items.list",
            json!({"thread_id": id, "order": "asc"}),
        )
        .await;
    let call = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "client_tool_call")
        .unwrap();
    assert_eq!(call["status"], "completed");
    assert_eq!(call["output"], json!({"text": "old pond"}));
    assert_eq!(
        assistant_texts(&app, "ann", &id).await,
        ["That is a haiku."]
    );

    let requests = llm.wait_for_requests(3).await;
    let streamed: Vec<&Value> = requests.iter().filter(|r| r["stream"] == true).collect();
    let messages = streamed.last().unwrap()["messages"].as_array().unwrap();
    let n = messages.len();
    assert_eq!(
        messages[n - 2]["tool_calls"][0]["id"],
        call_id,
        "{messages:?}"
    );
    assert_eq!(
        messages[n - 1],
        json!({"role": "tool", "tool_call_id": call_id, "content": "{\"text\":\"old pond\"}"})
    );
}

llm_test!(disconnect_cancels_and_keeps_the_partial_answer);
async fn disconnect_cancels_and_keeps_the_partial_answer(app: TestApp, llm: FakeLlm) {
    let pieces: Vec<String> = (0..200).map(|n| format!("w{n} ")).collect();
    llm.push(Reply::SlowText {
        pieces,
        delay_ms: 30,
    });
    let body =
        json!({"type": "threads.create", "params": {"input": user_input("Tell me a long story")}});
    let response = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("X-ChatKit-User", "ann")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches("text_delta").count() < 3 {
        seen.push_str(&String::from_utf8_lossy(
            &stream.next().await.unwrap().unwrap(),
        ));
    }
    drop(stream);
    let id = parse_sse(
        seen.split("\n\n")
            .next()
            .map(|f| format!("{f}\n\n"))
            .as_deref()
            .unwrap(),
    )[0]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let scope = app.scope("ann").await;
    let history = eventually("the cancelled turn to be saved", || async {
        let history = app.store.load_history(&scope, &id).await.unwrap();
        (history.len() == 3).then_some(history)
    })
    .await;
    let saved = serde_json::to_value(&history[1]).unwrap();
    assert_eq!(saved["type"], "assistant_message");
    assert!(
        saved["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("w0 w1 w2 ")
    );
    let marker = serde_json::to_value(&history[2]).unwrap();
    assert_eq!(marker["type"], "sdk_hidden_context");
    assert_eq!(
        marker["content"],
        "The user cancelled the stream. Stop responding to the prior request."
    );
    let runs = eventually("the run record", || async {
        let runs = app.store.load_runs(&id).await.unwrap();
        (runs.first().is_some_and(|r| r.finished_at.is_some())).then_some(runs)
    })
    .await;
    assert_eq!(runs[0].status.as_str(), "cancelled");

    llm.push(text(&["Sorry, here is a short one."]));
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": id, "input": user_input("Shorter please")}),
        )
        .await;
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
    );
    let sent = llm.requests().last().unwrap().clone();
    assert!(
        sent.to_string().contains("The user cancelled the stream"),
        "the model is told: {sent}"
    );
    assert_eq!(assistant_texts(&app, "ann", &id).await.len(), 2);
}

llm_test!(busy_thread_refuses_a_second_turn);
async fn busy_thread_refuses_a_second_turn(app: TestApp, llm: FakeLlm) {
    llm.push(text(&["first"]));
    let (id, _) = app.create_thread("ann", "one").await;
    llm.push(Reply::SlowText {
        pieces: vec!["slow ".into(); 10],
        delay_ms: 200,
    });
    let first = {
        let app_client = app.client.clone();
        let url = format!("{}/chatkit", app.address);
        let body = json!({"type": "threads.add_user_message", "params": {"thread_id": id, "input": user_input("two")}});
        tokio::spawn(async move {
            app_client
                .post(url)
                .header("X-ChatKit-User", "ann")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    llm.wait_for_requests(3).await;
    let second = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": id, "input": user_input("three")}),
        )
        .await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["type"], "error");
    assert!(
        second[0]["message"]
            .as_str()
            .unwrap()
            .contains("already being generated")
    );
    let first = parse_sse(&first.await.unwrap());
    assert_eq!(first.last().unwrap()["type"], "thread.item.done");
    let scope = app.scope("ann").await;
    let texts: Vec<Value> = app
        .store
        .load_history(&scope, &id)
        .await
        .unwrap()
        .iter()
        .map(|i| serde_json::to_value(i).unwrap())
        .collect();
    assert!(
        !texts.iter().any(|i| i.to_string().contains("three")),
        "the refused message is not stored"
    );
}

llm_test!(keep_alive_comments_while_the_model_is_quiet);
async fn keep_alive_comments_while_the_model_is_quiet(app: TestApp, llm: FakeLlm) {
    llm.push(Reply::SlowText {
        pieces: vec!["a".into(), "b".into()],
        delay_ms: 1300,
    });
    let answer = app
        .send(
            "ann",
            "threads.create",
            json!({"input": user_input("wait")}),
        )
        .await;
    assert!(
        answer.body.contains("\n\n: keep-alive\n\n"),
        "{}",
        answer.body
    );
    assert_eq!(answer.events().last().unwrap()["type"], "thread.updated");
}

llm_test!(retry_regenerates_the_answer);
async fn retry_regenerates_the_answer(app: TestApp, llm: FakeLlm) {
    llm.push(text(&["First answer"]));
    let (id, events) = app.create_thread("ann", "Question").await;
    let message_id = events[1]["item"]["id"].as_str().unwrap();

    llm.push(text(&["Second answer"]));
    let events = app
        .stream(
            "ann",
            "threads.retry_after_item",
            json!({"thread_id": id, "item_id": message_id}),
        )
        .await;
    assert_eq!(event_types(&events)[0], "stream_options");
    assert!(
        !event_types(&events).contains(&"thread.updated"),
        "the title is kept"
    );
    assert_eq!(assistant_texts(&app, "ann", &id).await, ["Second answer"]);
    let sent = llm.requests().last().unwrap().clone();
    assert!(
        !sent.to_string().contains("First answer"),
        "the old answer is gone from the model's view"
    );
}

llm_test!(user_titles_are_never_overwritten);
async fn user_titles_are_never_overwritten(app: TestApp, llm: FakeLlm) {
    llm.push(text(&["Hi"]));
    llm.push(Reply::Completion("Auto title".into()));
    let (id, _) = app.create_thread("ann", "Hello").await;
    app.ok(
        "ann",
        "threads.update",
        json!({"thread_id": id, "title": "My own"}),
    )
    .await;
    llm.push(text(&["Again"]));
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": id, "input": user_input("More")}),
        )
        .await;
    assert!(!event_types(&events).contains(&"thread.updated"));
    assert_eq!(llm.requests().len(), 3, "no second title call");
    let thread = app
        .ok("ann", "threads.get_by_id", json!({"thread_id": id}))
        .await;
    assert_eq!(thread["title"], "My own");
}

llm_test!(model_picker_only_allows_configured_models);
async fn model_picker_only_allows_configured_models(app: TestApp, llm: FakeLlm) {
    let mut input = user_input("Use the other model");
    input["inference_options"] =
        json!({"model": "alt-model", "tool_choice": {"id": "get_current_time"}});
    llm.push(text(&["ok"]));
    app.stream("ann", "threads.create", json!({"input": input}))
        .await;
    let sent = &llm.requests()[0];
    assert_eq!(sent["model"], "alt-model");
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "function", "function": {"name": "get_current_time"}})
    );

    let before = llm.requests().len();
    input["inference_options"] = json!({"model": "gpt-secret"});
    let events = app
        .stream("ann", "threads.create", json!({"input": input}))
        .await;
    let error = events.last().unwrap();
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("custom"))
    );
    assert!(error["message"].as_str().unwrap().contains("gpt-secret"));
    assert_eq!(
        llm.requests().len(),
        before,
        "nothing is sent for a refused model"
    );
}

llm_test!(an_agent_can_use_its_own_endpoint);
async fn an_agent_can_use_its_own_endpoint(app: TestApp, llm: FakeLlm) {
    let own = FakeLlm::start().await;
    add_agent(&app, "support").await;
    execute_sql(
        &app.db_url,
        &format!(
            "UPDATE agents SET llm_base_url = '{}', llm_api_key = 'sk-support', model = 'support-model', \
             instructions = 'You help with support.' WHERE slug = 'support'",
            own.base_url()
        ),
    );
    own.push(text(&["From support"]));
    own.push(Reply::Completion("Support".into()));
    let body = json!({"type": "threads.create", "params": {"input": user_input("Help")}});
    let response = app
        .client
        .post(format!("{}/chatkit?agent=support", app.address))
        .header("X-ChatKit-User", "ann")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let events = parse_sse(&response.text().await.unwrap());
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
    );

    let sent = &own.requests()[0];
    assert_eq!(sent["model"], "support-model");
    assert_eq!(sent["messages"][0]["content"], "You help with support.");
    assert!(
        own.request_headers()[0]
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer sk-support")
    );
    assert!(
        llm.requests().is_empty(),
        "the server's endpoint is not used"
    );

    // The default agent keeps the server's endpoint.
    llm.push(text(&["From default"]));
    app.create_thread("ann", "Hi").await;
    assert_eq!(llm.requests()[0]["model"], "fake-model");
}
