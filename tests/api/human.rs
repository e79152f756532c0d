//! Human-in-the-loop forms through the real server and the fake model: the model calls
//! `request_human_input`, the form is streamed and the turn ends; answers from the chat
//! (submit, invalid submit, best judgement, cancel) or an operator resume the run; a new
//! message meanwhile gets a notice; first answer wins; a restart in the middle and expiry.
//! Tool approvals and MCP elicitation, which answer through the same forms, are in
//! `approvals` and `elicitation`; clarifying questions (`ask_user_questions`) in `questions`;
//! required fields left empty in `required`.

use chatkit_server::service::human::{HumanAnswer, HumanError};
use serde_json::{Value, json};

use crate::support::answer::event_types;
use crate::support::app::{Db, TestApp, TestDb, eventually, llm_vars, serve, spawn_app_with};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{
    action, ask, form_of, put_item, user_input, valid_values, widget_item,
};
use crate::support::macros::db_case;

mod approvals;
mod elicitation;
mod questions;
mod required;

/// A server on `db` with the fake model, no titles, and `extra` variables.
async fn spawn(db: Db, extra: &[(&str, &str)]) -> Option<(TestApp, FakeLlm)> {
    let llm = FakeLlm::start().await;
    let vars = vars(&llm, extra);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(db, &vars).await?;
    Some((app, llm))
}

/// The variables of such a server, for tests that start it themselves.
fn vars(llm: &FakeLlm, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut vars = llm_vars(&llm.base_url());
    vars.push(("CHATKIT_AUTO_TITLES", "false".into()));
    for (k, v) in extra {
        let k: &'static str = Box::leak(k.to_string().into_boxed_str());
        vars.push((k, v.to_string()));
    }
    vars
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

/// The stored state of interaction `id` and who answered it.
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
    assert_eq!(event_types(&events), ["thread.item.replaced"]);
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
    assert_eq!(event_types(&events), ["error"]);
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
    put_item(&app, "ann", &thread, widget_item(&thread, "wdg_other")).await;
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
    assert_eq!(event_types(&events), ["error"]);
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
