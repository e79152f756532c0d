//! Tool approvals: a tool named in `CHATKIT_APPROVAL_TOOLS` waits for the user or an
//! operator to approve it; approved it runs, denied the model is told.

use serde_json::json;

use super::{HumanAnswer, HumanError, spawn, status, tool_result};
use crate::support::answer::event_types;
use crate::support::app::{Db, eventually};
use crate::support::fake_llm::Reply;
use crate::support::fixtures::{action, approval_of, call_time, user_input};
use crate::support::macros::db_case;

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
    assert_eq!(event_types(&events), ["error"]);

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
