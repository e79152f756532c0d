//! Long threads against a tiny context budget: the model gets its instructions, the latest
//! message and only the newest whole turns that fit, with a note that earlier ones are left
//! out; the attachments of left-out turns are not read; the run records how many items went,
//! and the console's transcript shows it.

use chatkit_server::store::{BlobStore, Role};
use serde_json::{Value, json};

use crate::support::app::{TestApp, add_agent, execute_sql};
use crate::support::console::{PASSWORD, add_operator, sign_in};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::PNG;
use crate::support::logs;
use crate::support::macros::llm_test;
use crate::support::turns::{say, turn};

/// 300 estimated tokens: the instructions, the latest message and two of the filler turns
/// below (about 100 tokens each) fit; a third does not.
const VARS: &[(&str, &str)] = &[
    ("CHATKIT_CONTEXT_TOKENS", "300"),
    ("CHATKIT_AUTO_TITLES", "false"),
];

/// A text of about 200 bytes (50 estimated tokens) that starts with `tag`.
fn filler(tag: &str) -> String {
    format!("{tag} {}", "x".repeat(200 - tag.len() - 1))
}

/// The messages of the model's request, as one text to search.
fn messages(request: &Value) -> String {
    request["messages"].to_string()
}

llm_test!(
    long_threads_send_only_the_newest_turns_that_fit,
    vars = VARS
);
async fn long_threads_send_only_the_newest_turns_that_fit(app: TestApp, llm: FakeLlm) {
    // Turn 1: an image (1,000 estimated tokens by itself), so it never fits again.
    let upload = app
        .upload_direct("ann", "old.png", Some("image/png"), PNG)
        .await;
    assert_eq!(upload.status, 200, "{upload:?}");
    let image = upload.json()["id"].as_str().unwrap().to_owned();
    llm.push(Reply::Text(vec!["A dot.".into()]));
    let input = json!({"content": [{"type": "input_text", "text": "turn-one"}],
                       "attachments": [image], "inference_options": {}});
    let (thread, _) = say(&app, None, "ann", None, input).await;
    assert!(
        messages(&llm.requests()[0]).contains("data:image/png;base64,"),
        "the image is sent while it fits"
    );
    let t = Some(thread.as_str());
    // Turn 2: filler that is the first to go once the thread grows.
    turn(
        &app,
        &llm,
        None,
        "ann",
        t,
        &filler("turn-two"),
        &filler("answer-two"),
    )
    .await;
    // Turn 3: a tool call and its result.
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("get_current_time".into(), json!({}))],
    });
    turn(&app, &llm, None, "ann", t, "turn-three", "It is noon.").await;
    // Turns 4 and 5: filler that still fits.
    turn(
        &app,
        &llm,
        None,
        "ann",
        t,
        &filler("turn-four"),
        &filler("answer-four"),
    )
    .await;
    turn(
        &app,
        &llm,
        None,
        "ann",
        t,
        &filler("turn-five"),
        &filler("answer-five"),
    )
    .await;

    // The image's file is gone: reading it would be logged (and the turn go on without it).
    let file = app.storage_dir.join(BlobStore::key_for(&image));
    std::fs::remove_file(&file).expect("the image's file");
    logs::capture();
    let before = llm.requests().len();
    turn(&app, &llm, None, "ann", t, "turn-latest", "Fine.").await;

    let requests = llm.requests();
    assert_eq!(requests.len(), before + 1);
    let sent = messages(&requests[before]);
    assert!(
        sent.contains("You are a test assistant."),
        "instructions: {sent}"
    );
    for kept in [
        "turn-latest",
        "turn-five",
        "answer-five",
        "turn-four",
        "answer-four",
    ] {
        assert!(sent.contains(kept), "{kept} is sent: {sent}");
    }
    for dropped in ["turn-one", "turn-two", "answer-two", "data:image"] {
        assert!(!sent.contains(dropped), "{dropped} is left out: {sent}");
    }
    assert!(
        sent.contains("4 earlier items of this conversation are not shown"),
        "the model is told: {sent}"
    );
    // The tool turn fits, and goes whole: the call, its result, and the question before them.
    assert!(
        sent.contains("turn-three") && sent.contains("It is noon."),
        "{sent}"
    );
    let roles: Vec<&str> = requests[before]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles.iter().filter(|r| **r == "tool").count(), 1, "{sent}");
    assert!(sent.contains("get_current_time"), "{sent}");
    assert!(
        logs::all_lines(&image).is_empty(),
        "the left-out image is not read: {:?}",
        logs::all_lines(&image)
    );

    let runs = app.store.load_runs(&thread).await.unwrap();
    let dropped: Vec<Option<i64>> = runs.iter().map(|r| r.context_dropped).collect();
    // From turn two on, turn one's image never fits; turn two goes at the last turn.
    assert_eq!(
        dropped,
        [None, Some(2), Some(2), Some(2), Some(2), Some(4)],
        "{runs:?}"
    );
    assert!(
        runs.iter().all(|r| r.status.as_str() == "completed"),
        "{runs:?}"
    );
    // The console's transcript says so on the run's line.
    add_operator(&app, "ops@example.com", Role::Admin).await;
    let console = sign_in(&app, "ops@example.com", PASSWORD).await;
    let page = console.get(&format!("/admin/threads/{thread}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("2 oldest items left out").count(), 4);
    assert!(
        page.body.contains("4 oldest items left out"),
        "{}",
        page.body
    );
}

/// Four turns of about 100 estimated tokens each with `agent`: the thread and what the model
/// was sent last.
async fn four_turns(app: &TestApp, llm: &FakeLlm, agent: Option<&str>) -> (String, String) {
    let (thread, _) = turn(
        app,
        llm,
        agent,
        "ann",
        None,
        &filler("turn-one"),
        &filler("a"),
    )
    .await;
    for tag in ["turn-two", "turn-three", "turn-four"] {
        turn(
            app,
            llm,
            agent,
            "ann",
            Some(&thread),
            &filler(tag),
            &filler("a"),
        )
        .await;
    }
    (thread, messages(llm.requests().last().unwrap()))
}

llm_test!(an_agent_may_set_its_own_budget, vars = VARS);
async fn an_agent_may_set_its_own_budget(app: TestApp, llm: FakeLlm) {
    // The server's 300 tokens leave turn one out; this agent's own budget keeps it.
    let (_, sent) = four_turns(&app, &llm, None).await;
    assert!(
        !sent.contains("turn-one") && sent.contains("turn-two"),
        "{sent}"
    );
    let id = add_agent(&app, "roomy").await;
    execute_sql(
        &app.db_url,
        &format!(r#"UPDATE agents SET limits = '{{"context_tokens": 100000}}' WHERE id = '{id}'"#),
    );
    let (thread, sent) = four_turns(&app, &llm, Some("roomy")).await;
    assert!(
        sent.contains("turn-one") && sent.contains("turn-four"),
        "{sent}"
    );
    assert!(!sent.contains("not shown"), "{sent}");
    let runs = app.store.load_runs(&thread).await.unwrap();
    assert!(runs.iter().all(|r| r.context_dropped.is_none()), "{runs:?}");
}

/// Stores `turns` turns of filler (about 100 estimated tokens each) in `thread` after its
/// items, a second apart, straight into the store: a long thread without hundreds of turns.
async fn store_turns(app: &TestApp, thread: &str, turns: usize) {
    use chatkit_server::chatkit::ids::{IdKind, new_id};
    use chatkit_server::chatkit::types::{ItemBody, ThreadItem};
    let scope = app.scope("ann").await;
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    for i in 0..turns {
        for (j, (kind, body)) in [
            (
                IdKind::Message,
                json!({"type": "user_message", "content": [{"type": "input_text", "text": filler(&format!("stored-{i}"))}],
                       "attachments": [], "inference_options": {}}),
            ),
            (
                IdKind::Message,
                json!({"type": "assistant_message", "content": [{"type": "output_text", "text": filler("a"), "annotations": []}]}),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let body: ItemBody = serde_json::from_value(body).unwrap();
            let at = start + chrono::Duration::seconds(i64::try_from(i * 2 + j).unwrap());
            let item = ThreadItem {
                id: new_id(kind),
                thread_id: thread.to_owned(),
                created_at: at,
                body,
            };
            app.store.save_item(&scope, &item).await.unwrap();
        }
    }
}

llm_test!(turns_of_long_threads_are_cut_across_pages, vars = VARS);
async fn turns_of_long_threads_are_cut_across_pages(app: TestApp, llm: FakeLlm) {
    // 150 stored turns (300 items, more than a few pages of history) before one real turn.
    let (thread, _) = turn(&app, &llm, None, "ann", None, "turn-one", "ok").await;
    execute_sql(
        &app.db_url,
        &format!(
            "UPDATE items SET created_at = '2000-01-01 00:00:00' WHERE thread_id = '{thread}'"
        ),
    );
    store_turns(&app, &thread, 150).await;
    turn(
        &app,
        &llm,
        None,
        "ann",
        Some(&thread),
        "turn-latest",
        "Fine.",
    )
    .await;

    // The latest message and the two newest stored turns fit; the 300 items before them go.
    let sent = messages(llm.requests().last().unwrap());
    for kept in ["turn-latest", "stored-149", "stored-148"] {
        assert!(sent.contains(kept), "{kept} is sent: {sent}");
    }
    for dropped in ["stored-147", "stored-0 ", "turn-one"] {
        assert!(!sent.contains(dropped), "{dropped} is left out: {sent}");
    }
    assert!(
        sent.contains("298 earlier items of this conversation are not shown"),
        "{sent}"
    );
    let runs = app.store.load_runs(&thread).await.unwrap();
    let dropped: Vec<Option<i64>> = runs.iter().map(|r| r.context_dropped).collect();
    assert_eq!(dropped, [None, Some(298)], "{runs:?}");

    // With room for all of it, the whole thread goes, oldest first, nothing counted as left out.
    execute_sql(
        &app.db_url,
        r#"UPDATE agents SET limits = '{"context_tokens": 100000}'"#,
    );
    turn(
        &app,
        &llm,
        None,
        "ann",
        Some(&thread),
        "turn-roomy",
        "Fine.",
    )
    .await;
    let sent = messages(llm.requests().last().unwrap());
    assert!(!sent.contains("not shown"), "{sent}");
    let order: Vec<usize> = [
        "turn-one",
        "stored-0 ",
        "stored-1 ",
        "stored-149",
        "turn-latest",
        "turn-roomy",
    ]
    .iter()
    .map(|tag| {
        sent.find(tag)
            .unwrap_or_else(|| panic!("{tag} is sent: {sent}"))
    })
    .collect();
    assert!(order.is_sorted(), "in order: {order:?}");
    let runs = app.store.load_runs(&thread).await.unwrap();
    assert_eq!(runs.last().unwrap().context_dropped, None, "{runs:?}");
}
