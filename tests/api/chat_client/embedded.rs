//! The chat page embedded by a host site under JWT auth: the token the host's backend minted,
//! handed in the URL fragment, leaves the address bar and goes with every request as a bearer
//! token, so the conversation is that user's and no one else's.

use serde_json::json;

use super::{open_chat_at, send, wait_idle};
use crate::auth::{JWT_VARS, call, claims, hs_token};
use crate::support::app::Db;
use crate::support::fake_llm::Reply;
use crate::support::macros::db_case;

db_case!(a_host_hands_the_page_a_token);
async fn a_host_hands_the_page_a_token(db: Db) {
    let mut vars = JWT_VARS.to_vec();
    vars.push(("CHATKIT_AUTO_TITLES", "false"));
    let token = hs_token(&claims("ann", "default"));
    let path = format!("/agents/default/chat#token={token}");
    let Some((app, llm, browser)) = open_chat_at(db, "embedded", &vars, &path).await else {
        return;
    };
    assert!(
        !browser.current_url().await.contains("token="),
        "the token stays out of the address bar"
    );
    llm.push(Reply::Text(vec!["Hello from the host.".into()]));
    send(&browser, "Hi").await;
    browser
        .wait_for_text(".ck-assistant-message", "Hello from the host.")
        .await;
    wait_idle(&browser).await;

    let threads = |token: String| {
        let app = &app;
        async move {
            let (answer, _) = call(app, Some(&token), None, "threads.list", json!({})).await;
            assert_eq!(answer.status, 200, "{answer:?}");
            answer.json()["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(threads(token.clone()).await, 1, "the thread is ann's");
    assert_eq!(threads(hs_token(&claims("bob", "default"))).await, 0);
    browser.close().await;
}
