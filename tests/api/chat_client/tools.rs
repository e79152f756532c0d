//! The page answering for the model: a client tool run by the host page's handler (its
//! result goes back and the run continues), and clarifying questions that take the
//! composer's place until they are answered or skipped.

use serde_json::{Value, json};

use super::{VARS, open_chat, send, transcript, wait_idle, wait_until};
use crate::support::app::Db;
use crate::support::fake_llm::Reply;
use crate::support::macros::db_case;

fn said(request: &Value) -> String {
    request["messages"].to_string()
}

db_case!(a_client_tool_is_answered_by_the_page);
async fn a_client_tool_is_answered_by_the_page(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "client_tool", VARS).await else {
        return;
    };
    // The host page's handler, as an embedding site would register it.
    browser
        .execute(
            "document.getElementById('chat').options.onClientTool = async (call) => {
               window.__toolCall = call;
               return {selection: 'the blue whale'};
             };",
            vec![],
        )
        .await;
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("get_selection".into(), json!({"what": "word"}))],
    });
    llm.push(Reply::Text(vec!["You selected the blue whale.".into()]));
    send(&browser, "What did I select?").await;
    browser
        .wait_for_text(".ck-assistant-message", "You selected the blue whale.")
        .await;
    wait_idle(&browser).await;
    let call = browser.execute("return window.__toolCall;", vec![]).await;
    assert_eq!(
        call,
        json!({"name": "get_selection", "params": {"what": "word"}})
    );
    let requests = llm.wait_for_requests(2).await;
    assert!(
        said(&requests[1]).contains("the blue whale"),
        "{}",
        said(&requests[1])
    );
    browser
        .wait_for_text(".ck-client-tool-call", "Ran get_selection")
        .await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}

db_case!(clarifying_questions_replace_the_composer);
async fn clarifying_questions_replace_the_composer(db: Db) {
    let Some((app, llm, browser)) = open_chat(db, "questions", VARS).await else {
        return;
    };
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![(
            "ask_user_questions".into(),
            json!({"questions": [
                {"id": "color", "question": "Which colour?", "options": ["Red", "Blue"]},
                {"id": "notes", "question": "Anything else?"}
            ]}),
        )],
    });
    send(&browser, "Paint my room").await;
    browser
        .wait_for_text(".ck-questions legend", "Which colour?")
        .await;
    wait_idle(&browser).await;
    let composer_hidden = browser
        .execute(
            "return document.querySelector('.ck-composer').hidden;",
            vec![],
        )
        .await;
    assert_eq!(
        composer_hidden,
        json!(true),
        "the questions replace the composer"
    );
    browser.screenshot("asked").await;

    browser
        .wait_for_text(".ck-choice", "Blue")
        .await
        .click()
        .await
        .unwrap();
    browser.fill(".ck-freeform", "Matte finish").await;
    llm.push(Reply::Text(vec!["Blue, matte. Done.".into()]));
    browser.click(".ck-questions .ck-primary").await;
    browser
        .wait_for_text(".ck-assistant-message", "Blue, matte. Done.")
        .await;
    wait_idle(&browser).await;
    let requests = llm.wait_for_requests(2).await;
    let second = said(&requests[1]);
    assert!(
        second.contains("Blue") && second.contains("Matte finish"),
        "{second}"
    );
    // The answers stay in the conversation; the composer is back.
    browser.wait_for_text(".ck-answers", "Matte finish").await;
    wait_until(&browser, "the composer back", "return !document.querySelector('.ck-composer').hidden && !document.querySelector('.ck-questions');").await;
    browser.screenshot("answered").await;

    // Asked again, skipped this time.
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![(
            "ask_user_questions".into(),
            json!({"questions": [{"question": "Which room?", "options": ["Kitchen", "Hall"]}]}),
        )],
    });
    send(&browser, "And another room").await;
    browser
        .wait_for_text(".ck-questions legend", "Which room?")
        .await;
    wait_idle(&browser).await;
    llm.push(Reply::Text(vec!["Skipped, fine.".into()]));
    browser.click(".ck-questions .ck-secondary").await;
    browser
        .wait_for_text(".ck-assistant-message", "Skipped, fine.")
        .await;
    wait_idle(&browser).await;
    let shown = transcript(&browser).await;
    assert!(
        shown.iter().any(|line| line.contains("Skipped")),
        "{shown:?}"
    );
    let _ = app;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}
