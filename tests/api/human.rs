//! Human-in-the-loop forms through the real server and the fake model: the model calls
//! `request_human_input`, the form is streamed and the turn ends; answers from the chat
//! (submit, invalid submit, best judgement, cancel) or an operator resume the run; a new
//! message meanwhile gets a notice; first answer wins; a restart in the middle and expiry.

use chatkit_server::service::human::{HumanAnswer, HumanError};
use serde_json::{Value, json};

use crate::db_case;
use crate::fake_llm::{FakeLlm, Reply};
use crate::helpers::{
    Db, TestApp, TestDb, eventually, llm_vars, serve, spawn_app_with, user_input,
};

/// A server on `db` with the fake model, no titles, and `extra` variables.
async fn spawn(db: Db, extra: &[(&str, &str)]) -> Option<(TestApp, FakeLlm)> {
    let llm = FakeLlm::start().await;
    let vars = vars(&llm, extra);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(db, &vars).await?;
    Some((app, llm))
}

fn vars(llm: &FakeLlm, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut vars = llm_vars(&llm.base_url());
    vars.push(("CHATKIT_AUTO_TITLES", "false".into()));
    for (k, v) in extra {
        let k: &'static str = Box::leak(k.to_string().into_boxed_str());
        vars.push((k, v.to_string()));
    }
    vars
}

fn form_args() -> Value {
    json!({"title": "Booking details", "description": "I need a few details.", "fields": [
        {"name": "city", "label": "City", "type": "string", "required": true},
        {"name": "notes", "type": "long_text", "description": "Anything else?"},
        {"name": "nights", "type": "number", "required": true},
        {"name": "pets", "type": "boolean"},
        {"name": "room", "type": "select", "options": ["single", "double"]},
        {"name": "extras", "type": "multi_select", "options": ["breakfast", "parking"]},
        {"name": "from", "type": "date"}
    ]})
}

/// Queues a model step that says something and asks with the form.
pub fn ask(llm: &FakeLlm) {
    llm.push(Reply::ToolCalls {
        text: vec!["Let me ask. ".into()],
        calls: vec![("request_human_input".into(), form_args())],
    });
}

/// The form item of a stream: its item id and interaction id.
pub fn form_of(events: &[Value]) -> (String, String) {
    let item = &events
        .iter()
        .rev()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "widget")
        .expect("a form item")["item"];
    let form = &item["widget"]["children"][0];
    assert_eq!(form["type"], "Form");
    assert_eq!(form["onSubmitAction"]["type"], "human.form_submit");
    let id = form["onSubmitAction"]["payload"]["__interaction"]
        .as_str()
        .unwrap()
        .to_owned();
    (item["id"].as_str().unwrap().to_owned(), id)
}

pub fn action(thread: &str, item: &str, kind: &str, payload: Value) -> Value {
    json!({"thread_id": thread, "item_id": item, "action": {"type": kind, "payload": payload}})
}

pub fn valid_values(id: &str) -> Value {
    json!({"__interaction": id, "city": "Oslo", "nights": "3", "pets": "true", "room": "double",
           "extras": {"o0": true, "o1": false}, "from": "2026-12-01", "notes": ""})
}

/// The tool message the model received in request `n`.
fn tool_result(requests: &[Value], n: usize) -> Value {
    requests[n]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .cloned()
        .expect("a tool result")
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn status(app: &TestApp, id: &str) -> (String, Option<String>) {
    let row = app.store.load_interaction(id).await.unwrap();
    (
        row.status.to_string(),
        row.answered_by.map(|by| by.to_string()),
    )
}

db_case!(form_is_shown_answered_and_the_run_resumes);
async fn form_is_shown_answered_and_the_run_resumes(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    ask(&llm);
    let (thread, events) = app.create_thread("ann", "Book me a room").await;
    let last = events.last().unwrap();
    assert_eq!(
        last["type"], "thread.item.done",
        "the stream ends with the form"
    );
    let (item, id) = form_of(&events);
    let form = &last["item"]["widget"]["children"][0];
    let kinds: Vec<&str> = form["children"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["children"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["type"].as_str().map(str::to_owned))
        .map(|t| Box::leak(t.into_boxed_str()) as &str)
        .collect();
    for kind in [
        "Label",
        "Input",
        "Textarea",
        "Checkbox",
        "Select",
        "DatePicker",
        "Button",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(form.to_string().contains("City *"), "required mark");
    assert!(form.to_string().contains("human.best_judgement"));
    assert!(form.to_string().contains("human.cancel"));
    assert!(
        events.iter().any(|e| e["type"] == "thread.item.done"
            && e["item"]["content"][0]["text"] == "Let me ask. ")
    );
    assert_eq!(status(&app, &id).await, ("pending".into(), None));
    let row = app.store.load_interaction(&id).await.unwrap();
    assert_eq!(
        (row.item_id.as_str(), row.kind.as_str()),
        (item.as_str(), "form")
    );
    assert!(row.run_id.is_some() && row.expires_at > row.created_at);
    let scope = app.scope("ann").await;
    let history = app.store.load_model_history(&scope, &thread).await.unwrap();
    assert!(
        !history.iter().any(|e| matches!(
            e,
            chatkit_server::chatkit::records::HistoryEntry::ToolCall(_)
        )),
        "no tool call is recorded before the answer"
    );

    // Invalid: the form comes back with messages and the values kept; nothing is recorded.
    let invalid = json!({"__interaction": id, "city": "", "nights": "many", "room": "suite", "notes": "late arrival"});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", invalid),
        )
        .await;
    assert_eq!(types(&events), ["thread.item.replaced"]);
    let shown = events[0]["item"]["widget"].to_string();
    for text in [
        "This field is required.",
        "Enter a number.",
        "Choose one of the options.",
        "late arrival",
    ] {
        assert!(shown.contains(text), "{text} in {shown}");
    }
    assert_eq!(events[0]["item"]["id"], item);
    assert_eq!(status(&app, &id).await.0, "pending");

    llm.push(Reply::Text(vec!["Booked Oslo.".into()]));
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", valid_values(&id)),
        )
        .await;
    assert_eq!(events[0]["type"], "stream_options");
    assert_eq!(events[1]["type"], "thread.item.replaced");
    assert_eq!(events[1]["item"]["id"], item);
    let summary = events[1]["item"]["widget"].to_string();
    assert!(
        summary.contains("Oslo") && !summary.contains("\"Form\""),
        "{summary}"
    );
    assert!(
        events.iter().any(|e| e["type"] == "thread.item.done"
            && e["item"]["content"][0]["text"] == "Booked Oslo.")
    );
    assert_eq!(
        status(&app, &id).await,
        ("answered".into(), Some("user".into()))
    );

    let requests = llm.wait_for_requests(2).await;
    let result = tool_result(&requests, 1);
    let answer: Value = serde_json::from_str(result["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        answer,
        json!({"city": "Oslo", "nights": 3, "pets": true, "room": "double",
               "extras": ["breakfast"], "from": "2026-12-01"})
    );
    let messages = requests[1]["messages"].as_array().unwrap();
    let call = messages
        .iter()
        .find(|m| m["tool_calls"].is_array())
        .unwrap();
    assert_eq!(
        call["tool_calls"][0]["function"]["name"],
        "request_human_input"
    );
    assert_eq!(call["tool_calls"][0]["id"], result["tool_call_id"]);

    // A second answer loses.
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.cancel", json!({"__interaction": id})),
        )
        .await;
    assert_eq!(types(&events), ["error"]);
    assert!(
        events[0]["message"]
            .as_str()
            .unwrap()
            .contains("already answered")
    );
}

db_case!(best_judgement_and_cancel_tell_the_model);
async fn best_judgement_and_cancel_tell_the_model(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    ask(&llm);
    let (thread, events) = app.create_thread("ann", "Book").await;
    let (item, id) = form_of(&events);
    ask(&llm);
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(
                &thread,
                &item,
                "human.best_judgement",
                json!({"__interaction": id}),
            ),
        )
        .await;
    assert!(
        events[1]["item"]["widget"]
            .to_string()
            .contains("best judgement")
    );
    assert_eq!(status(&app, &id).await.0, "best_judgement");
    let requests = llm.wait_for_requests(2).await;
    assert_eq!(
        tool_result(&requests, 1)["content"],
        "The user asked you to use your best judgement."
    );

    // The resumed run asked again: cancel that one.
    let (item2, id2) = form_of(&events);
    assert_ne!(id, id2);
    llm.push(Reply::Text(vec!["Fine.".into()]));
    app.stream(
        "ann",
        "threads.custom_action",
        action(
            &thread,
            &item2,
            "human.cancel",
            json!({"__interaction": id2}),
        ),
    )
    .await;
    assert_eq!(status(&app, &id2).await.0, "cancelled");
    let requests = llm.wait_for_requests(3).await;
    assert_eq!(
        tool_result(&requests, 2)["content"],
        "The user cancelled the request."
    );
}

db_case!(other_widgets_cannot_answer);
async fn other_widgets_cannot_answer(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    ask(&llm);
    let (thread, events) = app.create_thread("ann", "Book").await;
    let (item, id) = form_of(&events);
    crate::requests::put_item(
        &app,
        "ann",
        &thread,
        crate::requests::widget_item(&thread, "wdg_other"),
    )
    .await;
    for (on, payload) in [
        ("wdg_other", json!({"__interaction": id})),
        (item.as_str(), json!({"__interaction": "hi_unknown"})),
        (item.as_str(), json!({})),
    ] {
        let answer = app
            .send(
                "ann",
                "threads.custom_action",
                action(&thread, on, "human.cancel", payload),
            )
            .await;
        assert_eq!(answer.status, 400, "{answer:?}");
    }
    // Another user cannot reach the thread at all.
    let answer = app
        .send(
            "bob",
            "threads.custom_action",
            action(&thread, &item, "human.cancel", json!({"__interaction": id})),
        )
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(status(&app, &id).await.0, "pending");
}

db_case!(a_message_while_a_form_waits_gets_a_notice);
async fn a_message_while_a_form_waits_gets_a_notice(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    ask(&llm);
    let (thread, _) = app.create_thread("ann", "Book").await;
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input("hello?")}),
        )
        .await;
    assert_eq!(
        events,
        [json!({"type": "notice", "level": "warning",
                "message": "Please submit the form above before sending more messages."})]
    );
    let page = app
        .ok(
            "ann",
            "items.list",
            json!({"thread_id": thread, "limit": 50}),
        )
        .await;
    assert!(
        !page.to_string().contains("hello?"),
        "the message is not kept"
    );
    assert_eq!(llm.requests().len(), 1, "no run started");
}

db_case!(an_operator_answer_resumes_in_the_background);
async fn an_operator_answer_resumes_in_the_background(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    ask(&llm);
    let (thread, events) = app.create_thread("ann", "Book").await;
    let (item, id) = form_of(&events);
    let bad = app
        .human
        .answer_as_operator(&id, HumanAnswer::Submit(json!({"city": "Oslo"})))
        .await;
    assert!(
        matches!(bad, Err(HumanError::Invalid(ref e)) if e.contains_key("nights")),
        "{bad:?}"
    );
    llm.push(Reply::Text(vec!["Done by operator.".into()]));
    app.human
        .answer_as_operator(&id, HumanAnswer::Submit(valid_values(&id)))
        .await
        .unwrap();
    assert_eq!(
        status(&app, &id).await,
        ("answered".into(), Some("operator".into()))
    );
    let page = eventually("the resumed answer", || async {
        let page = app
            .ok(
                "ann",
                "items.list",
                json!({"thread_id": thread, "order": "asc", "limit": 50}),
            )
            .await;
        page.to_string()
            .contains("Done by operator.")
            .then_some(page)
    })
    .await;
    let summary = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == item)
        .unwrap();
    assert!(
        summary["widget"]
            .to_string()
            .contains("Answered by an operator")
    );
    let runs = eventually("the run's record", || async {
        let runs = app.store.load_runs(&thread).await.unwrap();
        (runs.len() == 2 && runs[1].finished_at.is_some()).then_some(runs)
    })
    .await;
    assert_eq!(runs[1].status.as_str(), "completed");
}

db_case!(concurrent_answers_one_wins);
async fn concurrent_answers_one_wins(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    ask(&llm);
    let (thread, events) = app.create_thread("ann", "Book").await;
    let (item, id) = form_of(&events);
    llm.push(Reply::Text(vec!["Once.".into()]));
    llm.push(Reply::Text(vec!["Twice?".into()]));
    let (a, b) = tokio::join!(
        app.human
            .answer_as_operator(&id, HumanAnswer::BestJudgement),
        app.human.answer_as_operator(&id, HumanAnswer::Cancel),
    );
    let results = [a, b];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(HumanError::AlreadyAnswered)))
    );
    assert_eq!(
        HumanError::AlreadyAnswered.to_string(),
        "This request was already answered."
    );
    // The user comes late too.
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.cancel", json!({"__interaction": id})),
        )
        .await;
    assert_eq!(types(&events), ["error"]);
    eventually("one resumed run", || async {
        let runs = app.store.load_runs(&thread).await.unwrap();
        (runs.len() == 2 && runs[1].finished_at.is_some()).then_some(())
    })
    .await;
    assert_eq!(llm.requests().len(), 2, "the run resumed once");
}

db_case!(a_restart_in_the_middle_keeps_the_question);
async fn a_restart_in_the_middle_keeps_the_question(db: Db) {
    let Some((test_db, url)) = TestDb::create(db) else {
        return;
    };
    let llm = FakeLlm::start().await;
    let v = vars(&llm, &[]);
    let v: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = serve(&url, &v, None).await;
    ask(&llm);
    let (thread, events) = first.create_thread("ann", "Book").await;
    let (item, id) = form_of(&events);
    first.stop.stop(true).await;
    drop(first);

    let second = serve(&url, &v, Some(test_db)).await;
    llm.push(Reply::Text(vec!["Booked after a restart.".into()]));
    let events = second
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", valid_values(&id)),
        )
        .await;
    assert_eq!(events[1]["type"], "thread.item.replaced");
    assert!(
        events
            .iter()
            .any(|e| e["item"]["content"][0]["text"] == "Booked after a restart.")
    );
    let requests = llm.wait_for_requests(2).await;
    assert!(
        tool_result(&requests, 1)["content"]
            .as_str()
            .unwrap()
            .contains("Oslo")
    );
}

db_case!(an_unanswered_form_expires);
async fn an_unanswered_form_expires(db: Db) {
    let Some((app, llm)) = spawn(db, &[("CHATKIT_HUMAN_INPUT_TIMEOUT_SECS", "1")]).await else {
        return;
    };
    ask(&llm);
    let (thread, events) = app.create_thread("ann", "Book").await;
    let (item, id) = form_of(&events);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    llm.push(Reply::Text(vec!["You did not answer; never mind.".into()]));
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input("sorry, back")}),
        )
        .await;
    assert_eq!(events[0]["type"], "thread.item.replaced");
    assert_eq!(events[0]["item"]["id"], item);
    assert!(
        events[0]["item"]["widget"]
            .to_string()
            .contains("No answer was given in time.")
    );
    assert!(
        events
            .iter()
            .any(|e| e["item"]["content"][0]["text"] == "You did not answer; never mind.")
    );
    assert_eq!(status(&app, &id).await, ("expired".into(), None));
    let requests = llm.wait_for_requests(2).await;
    assert_eq!(
        tool_result(&requests, 1)["content"],
        "The user did not answer in time."
    );
    let late = app.human.answer_as_operator(&id, HumanAnswer::Cancel).await;
    assert!(matches!(late, Err(HumanError::AlreadyAnswered)), "{late:?}");
}

db_case!(the_tool_can_be_turned_off);
async fn the_tool_can_be_turned_off(db: Db) {
    let Some((app, llm)) = spawn(db, &[("CHATKIT_HUMAN_INPUT", "false")]).await else {
        return;
    };
    llm.push(Reply::Text(vec!["Hi.".into()]));
    app.create_thread("ann", "Hi").await;
    let requests = llm.wait_for_requests(1).await;
    assert!(
        !requests[0]["tools"]
            .to_string()
            .contains("request_human_input")
    );
    let Some((app2, llm2)) = spawn(db, &[]).await else {
        return;
    };
    llm2.push(Reply::Text(vec!["Hi.".into()]));
    app2.create_thread("ann", "Hi").await;
    assert!(
        llm2.wait_for_requests(1).await[0]["tools"]
            .to_string()
            .contains("request_human_input")
    );
}

/// The approval form of a stream: its item id and interaction id.
pub fn approval_of(events: &[Value]) -> (String, String) {
    let item = &events
        .iter()
        .rev()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "widget")
        .expect("an approval item")["item"];
    let form = &item["widget"]["children"][0];
    assert_eq!(form["onSubmitAction"]["type"], "human.approve");
    let id = form["onSubmitAction"]["payload"]["__interaction"]
        .as_str()
        .unwrap()
        .to_owned();
    (item["id"].as_str().unwrap().to_owned(), id)
}

/// Queues a model step that calls the tool that needs approval.
pub fn call_time(llm: &FakeLlm) {
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("get_current_time".into(), json!({"zone": "UTC"}))],
    });
}

db_case!(approvals_run_the_tool_or_tell_the_model_it_was_denied);
async fn approvals_run_the_tool_or_tell_the_model_it_was_denied(db: Db) {
    let Some((app, llm)) = spawn(db, &[("CHATKIT_APPROVAL_TOOLS", "get_current_time")]).await
    else {
        return;
    };
    call_time(&llm);
    let (thread, events) = app.create_thread("ann", "What time is it?").await;
    assert!(
        !events.iter().any(|e| e["type"] == "progress_update"),
        "the tool did not run"
    );
    let (item, id) = approval_of(&events);
    let shown = events.last().unwrap()["item"]["widget"].to_string();
    assert!(
        shown.contains("get_current_time") && shown.contains("UTC") && shown.contains("human.deny")
    );
    let row = app.store.load_interaction(&id).await.unwrap();
    assert_eq!(
        (row.kind.as_str(), row.status.as_str()),
        ("approval", "pending")
    );

    // A form answer does not fit an approval.
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(
                &thread,
                &item,
                "human.best_judgement",
                json!({"__interaction": id}),
            ),
        )
        .await;
    assert_eq!(types(&events), ["error"]);

    llm.push(Reply::Text(vec!["It is noon.".into()]));
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(
                &thread,
                &item,
                "human.approve",
                json!({"__interaction": id}),
            ),
        )
        .await;
    assert_eq!(events[1]["type"], "thread.item.replaced");
    assert!(
        events[1]["item"]["widget"]
            .to_string()
            .contains("Approved.")
    );
    assert_eq!(events[2]["type"], "progress_update", "the tool runs now");
    assert!(
        events
            .iter()
            .any(|e| e["item"]["content"][0]["text"] == "It is noon.")
    );
    assert_eq!(
        status(&app, &id).await,
        ("answered".into(), Some("user".into()))
    );
    let requests = llm.wait_for_requests(2).await;
    let result = tool_result(&requests, 1);
    assert!(
        result["content"].as_str().unwrap().ends_with('Z'),
        "{result}"
    );

    call_time(&llm);
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input("And now?")}),
        )
        .await;
    let (item, id) = approval_of(&events);
    llm.push(Reply::Text(vec!["Understood.".into()]));
    app.stream(
        "ann",
        "threads.custom_action",
        action(&thread, &item, "human.deny", json!({"__interaction": id})),
    )
    .await;
    assert_eq!(status(&app, &id).await.0, "denied");
    let requests = llm.wait_for_requests(4).await;
    assert_eq!(
        tool_result(&requests, 3)["content"],
        "The user denied this tool call."
    );

    // Each call has exactly one result in the model's history.
    let messages = requests[3]["messages"].as_array().unwrap();
    let calls = messages
        .iter()
        .filter(|m| m["tool_calls"].is_array())
        .count();
    let results = messages.iter().filter(|m| m["role"] == "tool").count();
    assert_eq!((calls, results), (2, 2));
}

// The Python anchor in the 2026-07-28 era: `ask_human` returns `input_required`; the form is
// shown, and the answer goes back as `inputResponses` with the echoed `requestState`.
db_case!(mcp_elicitation_ask_human_modern_era);
async fn mcp_elicitation_ask_human_modern_era(db: Db) {
    let Some(anchor) = crate::helpers::PythonMcp::start().await else {
        return;
    };
    let servers = json!([{"name": "py", "url": anchor.url}]);
    let Some((app, llm)) = crate::helpers::spawn_mcp_app(db, servers).await else {
        return;
    };
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("ask_human".into(), json!({"question": "Deploy to prod?"}))],
    });
    let (thread, events) = app.create_thread("ann", "Deploy it").await;
    let (item, id) = form_of(&events);
    let shown = events.last().unwrap()["item"]["widget"].to_string();
    assert!(
        shown.contains("Deploy to prod?") && shown.contains("human.decline"),
        "{shown}"
    );
    let row = app.store.load_interaction(&id).await.unwrap();
    assert_eq!(row.kind.as_str(), "elicitation");
    let details: Value = serde_json::from_str(row.details.as_deref().unwrap()).unwrap();
    assert!(details["request_state"].is_string(), "{details}");

    llm.push(Reply::Text(vec!["Deployed.".into()]));
    let answer = json!({"__interaction": id, "approved": "true", "comment": "go"});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", answer),
        )
        .await;
    assert_eq!(events[1]["type"], "thread.item.replaced", "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| e["item"]["content"][0]["text"] == "Deployed."),
        "{events:?}"
    );
    let requests = llm.wait_for_requests(2).await;
    let result: Value =
        serde_json::from_str(tool_result(&requests, 1)["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["action"], "accept", "{result}");
    assert_eq!(result["answer"]["approved"], true);
    assert_eq!(result["answer"]["comment"], "go");
    assert_eq!(result["protocol_version"], "2026-07-28");
    assert_eq!(status(&app, &id).await.0, "answered");
}

db_case!(mcp_elicitation_confirm_action_modern_era);
async fn mcp_elicitation_confirm_action_modern_era(db: Db) {
    let Some(anchor) = crate::helpers::PythonMcp::start().await else {
        return;
    };
    let servers = json!([{"name": "py", "url": anchor.url}]);
    let Some((app, llm)) = crate::helpers::spawn_mcp_app(db, servers).await else {
        return;
    };
    let confirm = || Reply::ToolCalls {
        text: vec![],
        calls: vec![(
            "confirm_action".into(),
            json!({"action": "delete the logs"}),
        )],
    };
    llm.push(confirm());
    let (thread, events) = app.create_thread("ann", "Clean up").await;
    let (item, id) = form_of(&events);
    llm.push(Reply::Text(vec!["Not deleting.".into()]));
    app.stream(
        "ann",
        "threads.custom_action",
        action(
            &thread,
            &item,
            "human.decline",
            json!({"__interaction": id}),
        ),
    )
    .await;
    assert_eq!(status(&app, &id).await.0, "denied");
    let requests = llm.wait_for_requests(2).await;
    let result = tool_result(&requests, 1)["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(result.starts_with("declined\n"), "{result}");

    llm.push(confirm());
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input("Do it")}),
        )
        .await;
    let (item, id) = form_of(&events);
    llm.push(Reply::Text(vec!["Deleted.".into()]));
    let answer = json!({"__interaction": id, "ok": "true"});
    app.stream(
        "ann",
        "threads.custom_action",
        action(&thread, &item, "human.form_submit", answer),
    )
    .await;
    let requests = llm.wait_for_requests(4).await;
    let result = tool_result(&requests, 3)["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        result.starts_with("confirmed: delete the logs\n"),
        "{result}"
    );
}

db_case!(a_retry_closes_the_form_it_deletes);
async fn a_retry_closes_the_form_it_deletes(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    ask(&llm);
    let (thread, events) = app.create_thread("ann", "Book").await;
    let (_, id) = form_of(&events);
    let message = events[1]["item"]["id"].as_str().unwrap().to_owned();
    llm.push(Reply::Text(vec!["Let me just answer.".into()]));
    app.stream(
        "ann",
        "threads.retry_after_item",
        json!({"thread_id": thread, "item_id": message}),
    )
    .await;
    assert_eq!(status(&app, &id).await.0, "cancelled");
    llm.push(Reply::Text(vec!["Hello again.".into()]));
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input("hi")}),
        )
        .await;
    assert!(
        events.iter().all(|e| e["type"] != "notice"),
        "no form waits any more"
    );
}

db_case!(a_user_and_an_operator_answer_at_once);
async fn a_user_and_an_operator_answer_at_once(db: Db) {
    let Some((app, llm)) = spawn(db, &[]).await else {
        return;
    };
    ask(&llm);
    let (thread, events) = app.create_thread("ann", "Book").await;
    let (item, id) = form_of(&events);
    llm.push(Reply::Text(vec!["Once.".into()]));
    llm.push(Reply::Text(vec!["Twice?".into()]));
    let (user, operator) = tokio::join!(
        app.stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.cancel", json!({"__interaction": id}))
        ),
        app.human
            .answer_as_operator(&id, HumanAnswer::BestJudgement),
    );
    let user_won = user.iter().any(|e| e["type"] == "thread.item.replaced");
    let user_lost = user.len() == 1
        && user[0]["type"] == "error"
        && user[0]["message"]
            .as_str()
            .unwrap()
            .contains("already answered");
    match &operator {
        Ok(()) => assert!(user_lost && !user_won, "{user:?}"),
        Err(HumanError::AlreadyAnswered) => assert!(user_won, "{user:?}"),
        Err(e) => panic!("{e}"),
    }
    let (state, by) = status(&app, &id).await;
    assert_eq!(
        (state.as_str(), by.as_deref()),
        if user_won {
            ("cancelled", Some("user"))
        } else {
            ("best_judgement", Some("operator"))
        }
    );
    eventually("one resumed run", || async {
        let runs = app.store.load_runs(&thread).await.unwrap();
        (runs.len() == 2 && runs[1].finished_at.is_some()).then_some(())
    })
    .await;
    assert_eq!(llm.requests().len(), 2, "the run resumed once");
}

/// A server on `db` talking to the Python anchor in the handshake era, with `extra` settings
/// for it.
async fn legacy_anchor(
    db: Db,
    extra: Value,
) -> Option<(crate::helpers::PythonMcp, TestApp, FakeLlm)> {
    let anchor = crate::helpers::PythonMcp::start().await?;
    let mut server = json!({"name": "py", "url": anchor.url, "protocol": "legacy"});
    for (k, v) in extra.as_object().unwrap() {
        server[k] = v.clone();
    }
    let (app, llm) = crate::helpers::spawn_mcp_app(db, json!([server])).await?;
    Some((anchor, app, llm))
}

fn call(llm: &FakeLlm, tool: &str, arguments: Value) {
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![(tool.into(), arguments)],
    });
}

// The handshake era: `ask_human` sends a live `elicitation/create` while its call is open; the
// call is parked, the form shown, and the answer completes the same call.
db_case!(mcp_elicitation_ask_human_handshake_era);
async fn mcp_elicitation_ask_human_handshake_era(db: Db) {
    let Some((_anchor, app, llm)) = legacy_anchor(db, json!({})).await else {
        return;
    };
    call(
        &llm,
        "ask_human",
        json!({"question": "Restart the cluster?"}),
    );
    let (thread, events) = app.create_thread("ann", "Restart it").await;
    let (item, id) = form_of(&events);
    let shown = events.last().unwrap()["item"]["widget"].to_string();
    assert!(shown.contains("Restart the cluster?"), "{shown}");
    let row = app.store.load_interaction(&id).await.unwrap();
    let details: Value = serde_json::from_str(row.details.as_deref().unwrap()).unwrap();
    assert!(details["live"].is_string(), "{details}");
    assert!(row.expires_at - row.created_at <= chrono::Duration::minutes(15));

    llm.push(Reply::Text(vec!["Restarted.".into()]));
    let answer = json!({"__interaction": id, "approved": "on", "comment": "now"});
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", answer),
        )
        .await;
    assert!(
        events
            .iter()
            .any(|e| e["item"]["content"][0]["text"] == "Restarted."),
        "{events:?}"
    );
    let requests = llm.wait_for_requests(2).await;
    let result: Value =
        serde_json::from_str(tool_result(&requests, 1)["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["action"], "accept", "{result}");
    assert_eq!(
        result["answer"],
        json!({"approved": true, "comment": "now"})
    );
    assert_ne!(result["protocol_version"], "2026-07-28");

    call(&llm, "confirm_action", json!({"action": "wipe the disk"}));
    let events = app
        .stream(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread, "input": user_input("Also wipe")}),
        )
        .await;
    let (item, id) = form_of(&events);
    llm.push(Reply::Text(vec!["Not wiping.".into()]));
    app.stream(
        "ann",
        "threads.custom_action",
        action(&thread, &item, "human.cancel", json!({"__interaction": id})),
    )
    .await;
    let requests = llm.wait_for_requests(4).await;
    let result = tool_result(&requests, 3)["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(result.starts_with("cancelled"), "{result}");
}

// A live question past its deadline is answered `cancel` to the server; the late answer tells
// the model there was no answer in time.
db_case!(mcp_live_elicitation_has_a_deadline);
async fn mcp_live_elicitation_has_a_deadline(db: Db) {
    let Some((_anchor, app, llm)) = legacy_anchor(db, json!({"elicitation_timeout_ms": 300})).await
    else {
        return;
    };
    call(&llm, "ask_human", json!({"question": "Still there?"}));
    let (thread, events) = app.create_thread("ann", "Ask me").await;
    let (item, id) = form_of(&events);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    llm.push(Reply::Text(vec!["No answer, moving on.".into()]));
    app.stream(
        "ann",
        "threads.custom_action",
        action(&thread, &item, "human.form_submit", valid_values(&id)),
    )
    .await;
    assert_eq!(status(&app, &id).await.0, "expired");
    let requests = llm.wait_for_requests(2).await;
    assert_eq!(
        tool_result(&requests, 1)["content"],
        "The user did not answer in time."
    );
}

// A live question lives in the process that holds the call: after a restart the answer is
// kept, and the model is told the question is gone.
db_case!(mcp_live_elicitation_is_lost_on_restart);
async fn mcp_live_elicitation_is_lost_on_restart(db: Db) {
    let Some(anchor) = crate::helpers::PythonMcp::start().await else {
        return;
    };
    let Some((test_db, url)) = TestDb::create(db) else {
        return;
    };
    let llm = FakeLlm::start().await;
    let servers = json!([{"name": "py", "url": anchor.url, "protocol": "legacy"}]).to_string();
    let v = vars(&llm, &[("CHATKIT_MCP_SERVERS", servers.as_str())]);
    let v: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = serve(&url, &v, None).await;
    call(&llm, "ask_human", json!({"question": "Go?"}));
    let (thread, events) = first.create_thread("ann", "Ask").await;
    let (item, id) = form_of(&events);
    first.stop.stop(true).await;
    drop(first);

    let second = serve(&url, &v, Some(test_db)).await;
    llm.push(Reply::Text(vec!["The question was lost.".into()]));
    second
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", valid_values(&id)),
        )
        .await;
    let requests = llm.wait_for_requests(2).await;
    let result = tool_result(&requests, 1)["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(result.contains("no longer open"), "{result}");
}

db_case!(an_operator_can_approve_a_tool_call);
async fn an_operator_can_approve_a_tool_call(db: Db) {
    let Some((app, llm)) = spawn(db, &[("CHATKIT_APPROVAL_TOOLS", "get_current_time")]).await
    else {
        return;
    };
    call_time(&llm);
    let (thread, events) = app.create_thread("ann", "Time?").await;
    let (_, id) = approval_of(&events);
    let wrong = app
        .human
        .answer_as_operator(&id, HumanAnswer::BestJudgement)
        .await;
    assert!(
        matches!(wrong, Err(HumanError::WrongAnswer(_))),
        "{wrong:?}"
    );
    llm.push(Reply::Text(vec!["Approved by the operator.".into()]));
    app.human
        .answer_as_operator(&id, HumanAnswer::Approve)
        .await
        .unwrap();
    eventually("the resumed answer", || async {
        let page = app
            .ok(
                "ann",
                "items.list",
                json!({"thread_id": thread, "limit": 50}),
            )
            .await;
        page.to_string()
            .contains("Approved by the operator.")
            .then_some(())
    })
    .await;
    let requests = llm.wait_for_requests(2).await;
    assert!(
        tool_result(&requests, 1)["content"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(
        status(&app, &id).await,
        ("answered".into(), Some("operator".into()))
    );
}
