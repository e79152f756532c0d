//! What operators do with a thread besides reading it: export it as JSON (the ChatKit items,
//! as the protocol lists them) or Markdown, as a download, audited; delete it (admins only,
//! through the confirmation page, with the form's token), which takes its items, runs,
//! feedback, forms and attachments' files along, audited; and the view audit, one row per
//! operator and thread per 15 minutes.

use chatkit_server::store::{AuditFilter, BlobStore, Role};
use serde_json::{Value, json};

use super::{REVIEWER, VARS, operator, retitle};
use crate::recovery::{Sse, long_answer};
use crate::support::app::{TestApp, eventually, execute_sql};
use crate::support::console::audit_rows;
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{PNG, ask, form_of, user_input};
use crate::support::macros::llm_test;
use crate::support::turns::{rate, say, turn};

const ADMIN: &str = "admin@example.com";

/// A thread of ana's: a tool call (model-only), a rated answer, a title.
async fn exported_thread(app: &TestApp, llm: &FakeLlm) -> String {
    llm.push(Reply::ToolCalls {
        text: vec!["Let me check. ".into()],
        calls: vec![("get_current_time".into(), json!({}))],
    });
    let (thread, answer) = turn(app, llm, None, "ana", None, "What time is it?", "Late.").await;
    rate(app, None, "ana", &thread, &[&answer], "negative").await;
    turn(
        app,
        llm,
        None,
        "ana",
        Some(&thread),
        "Thanks *a lot*",
        "**Welcome**",
    )
    .await;
    retitle(app, None, "ana", &thread, "Time question").await;
    thread
}

llm_test!(exports_are_downloads_of_the_items_and_audited, vars = VARS);
async fn exports_are_downloads_of_the_items_and_audited(app: TestApp, llm: FakeLlm) {
    let thread = exported_thread(&app, &llm).await;
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;

    let file = reviewer
        .get(&format!("/admin/threads/{thread}/export.json"))
        .await;
    assert_eq!(file.status, 200, "{file:?}");
    file.assert_secure();
    assert_eq!(file.header("content-type"), Some("application/json"));
    assert_eq!(
        file.header("content-disposition"),
        Some(format!("attachment; filename=\"{thread}.json\"").as_str())
    );
    let document: Value = serde_json::from_str(&file.body).expect("the export is JSON");
    assert_eq!(document["thread"]["id"], thread.as_str());
    assert_eq!(document["thread"]["title"], "Time question");
    assert_eq!(document["user_id"], "ana");
    assert_eq!(document["agent"]["slug"], "default");
    // The items are ChatKit's, exactly as the protocol lists them to their owner.
    let listed = app
        .ok(
            "ana",
            "items.list",
            json!({"thread_id": thread, "order": "asc", "limit": 100}),
        )
        .await;
    assert!(listed["data"].as_array().unwrap().len() >= 4, "{listed}");
    assert_eq!(document["thread"]["items"]["data"], listed["data"]);
    assert_eq!(document["thread"]["items"]["has_more"], false);
    let tool_calls = document["tool_calls"].as_array().unwrap();
    assert_eq!(tool_calls.len(), 1, "{tool_calls:?}");
    assert_eq!(tool_calls[0]["name"], "get_current_time");
    assert_eq!(document["feedback"][0]["kind"], "negative");
    assert_eq!(document["feedback"][0]["user_id"], "ana");
    let runs = app.store.load_runs(&thread).await.unwrap();
    assert_eq!(document["runs"].as_array().unwrap().len(), runs.len());
    assert!(
        document["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "completed" && r["model"] == "fake-model")
    );

    let file = reviewer
        .get(&format!("/admin/threads/{thread}/export.md"))
        .await;
    assert_eq!(file.status, 200, "{file:?}");
    assert_eq!(
        file.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    assert_eq!(
        file.header("content-disposition"),
        Some(format!("attachment; filename=\"{thread}.md\"").as_str())
    );
    for part in [
        "# Time question\n",
        &format!("- Thread: `{thread}`"),
        "- User: `ana`",
        "What time is it?",
        "Let me check.",
        "get_current_time",
        "Late.",
        "**Welcome**",
    ] {
        assert!(file.body.contains(part), "{part} in {}", file.body);
    }

    // Both are audited, every time, with the operator; viewing is a different action.
    let rows = audit_rows(&app, "thread.export").await;
    let formats: Vec<&Value> = rows.iter().map(|r| &r.detail["format"]).collect();
    assert_eq!(formats, [&json!("json"), &json!("markdown")]);
    assert!(
        rows.iter()
            .all(|r| r.operator_email.as_deref() == Some(REVIEWER)
                && r.object_id.as_deref() == Some(thread.as_str()))
    );
    assert!(audit_rows(&app, "thread.view").await.is_empty());
    reviewer
        .get(&format!("/admin/threads/{thread}/export.json"))
        .await;
    assert_eq!(audit_rows(&app, "thread.export").await.len(), 3);

    // An unknown thread has nothing to export, and nothing is recorded.
    let missing = reviewer.get("/admin/threads/thr_missing/export.json").await;
    assert_eq!(missing.status, 404, "{missing:?}");
    assert!(missing.header("content-disposition").is_none());
    assert_eq!(audit_rows(&app, "thread.export").await.len(), 3);
}

llm_test!(a_view_is_audited_once_per_operator_and_window, vars = VARS);
async fn a_view_is_audited_once_per_operator_and_window(app: TestApp, llm: FakeLlm) {
    let (first, _) = turn(&app, &llm, None, "ana", None, "One", "1").await;
    let (second, _) = turn(&app, &llm, None, "ben", None, "Two", "2").await;
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;
    let admin = operator(&app, ADMIN, Role::Admin).await;
    let view = |thread: &str| format!("/admin/threads/{thread}");
    let views = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            let filter = AuditFilter {
                action: Some("thread.view".to_owned()),
                ..Default::default()
            };
            let mut rows = store.audit_page(&filter, 200, None).await.unwrap().data;
            rows.reverse();
            rows.into_iter()
                .map(|r| (r.operator_email.unwrap(), r.object_id.unwrap()))
                .collect::<Vec<_>>()
        }
    };

    assert_eq!(reviewer.get(&view(&first)).await.status, 200);
    assert_eq!(reviewer.get(&view(&first)).await.status, 200);
    assert_eq!(
        views(&app).await,
        [(REVIEWER.to_owned(), first.clone())],
        "opened twice, recorded once"
    );
    admin.get(&view(&first)).await;
    reviewer.get(&view(&second)).await;
    reviewer.get(&view(&first)).await;
    assert_eq!(
        views(&app).await,
        [
            (REVIEWER.to_owned(), first.clone()),
            (ADMIN.to_owned(), first.clone()),
            (REVIEWER.to_owned(), second.clone()),
        ]
    );
    // The list and a missing thread are not views.
    reviewer.get("/admin/threads").await;
    assert_eq!(reviewer.get(&view("thr_missing")).await.status, 404);
    assert_eq!(views(&app).await.len(), 3);

    // Once the window has passed, the next view is recorded again.
    execute_sql(
        &app.db_url,
        &format!(
            "UPDATE audit_log SET at = '2026-01-01 00:00:00' \
             WHERE action = 'thread.view' AND operator_email = '{REVIEWER}' \
             AND object_id = '{first}'"
        ),
    );
    reviewer.get(&view(&first)).await;
    reviewer.get(&view(&first)).await;
    let rows = views(&app).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[3], (REVIEWER.to_owned(), first.clone()));
}

llm_test!(only_admins_delete_through_the_confirmation, vars = VARS);
async fn only_admins_delete_through_the_confirmation(app: TestApp, llm: FakeLlm) {
    // A thread with an image, a rated answer, a form, and a thread beside it that stays.
    let upload = app
        .upload_direct("ana", "holiday.png", Some("image/png"), PNG)
        .await;
    assert_eq!(upload.status, 200, "{upload:?}");
    let attachment = upload.json()["id"].as_str().unwrap().to_owned();
    let input = json!({"content": [{"type": "input_text", "text": "See this"}],
                       "attachments": [attachment], "inference_options": {}});
    llm.push(Reply::Text(vec!["Nice photo.".into()]));
    let (thread, events) = say(&app, None, "ana", None, input).await;
    let answer = events
        .iter()
        .rev()
        .find(|e| e["item"]["type"] == "assistant_message")
        .unwrap()["item"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    rate(&app, None, "ana", &thread, &[&answer], "negative").await;
    ask(&llm);
    let (_, events) = say(&app, None, "ana", Some(&thread), user_input("Book")).await;
    let (_, interaction) = form_of(&events);
    let (other, _) = turn(&app, &llm, None, "ana", None, "Keep me", "Kept.").await;
    let file = app.storage_dir.join(BlobStore::key_for(&attachment));
    assert!(file.exists());
    let items = app.store.count_items(&thread).await.unwrap();
    let intact = || async {
        assert_eq!(app.store.count_items(&thread).await.unwrap(), items);
        assert!(app.store.load_attachment_by_id(&attachment).await.is_ok());
        assert!(file.exists(), "the file is still there");
        assert!(audit_rows(&app, "thread.delete").await.is_empty());
    };
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;
    let admin = operator(&app, ADMIN, Role::Admin).await;
    let path = format!("/admin/threads/{thread}/delete");

    // Reviewers get neither the page nor the deletion.
    assert_eq!(reviewer.get(&path).await.status, 403);
    assert_eq!(reviewer.act(&path, &[]).await.status, 403);
    intact().await;
    // Without the form's token (or with another) nothing happens.
    assert_eq!(admin.post(&path, &[]).await.status, 403);
    assert_eq!(
        admin.post(&path, &[("csrf_token", "forged")]).await.status,
        403
    );
    assert_eq!(
        admin
            .post(&path, &[("csrf_token", reviewer.csrf_token.as_str())])
            .await
            .status,
        403
    );
    intact().await;

    let feedback = admin.get("/admin/feedback").await;
    assert!(feedback.body.contains(&answer), "its feedback is listed");

    // The confirmation says what goes, and carries the token.
    let confirm = admin.get(&path).await;
    assert_eq!(confirm.status, 200, "{confirm:?}");
    confirm.assert_secure();
    for part in [
        "<h1>Delete this thread?</h1>",
        &format!("<strong>{items}</strong> items"),
        "<strong>1</strong> feedback mark and <strong>1</strong> form",
        "<strong>1</strong> attachment with its file:",
        "<li>holiday.png <span class=\"subtle\">image/png · ",
        &format!("<form method=\"post\" action=\"/admin/threads/{thread}/delete\""),
    ] {
        assert!(confirm.body.contains(part), "{part} in {}", confirm.body);
    }
    assert_eq!(
        confirm.input_value("csrf_token").as_deref(),
        Some(admin.csrf_token.as_str())
    );
    intact().await;

    let done = admin.act(&path, &[]).await;
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(done.location(), format!("/admin/threads?deleted={thread}"));
    let list = admin.get(done.location()).await;
    assert!(list.body.contains(&format!("Thread {thread} deleted.")));
    assert_eq!(super::rows(&list.body), vec![other.clone()]);

    // Gone: the thread, its items, runs, feedback, form, the attachment and its file.
    assert_eq!(
        admin.get(&format!("/admin/threads/{thread}")).await.status,
        404
    );
    assert_eq!(app.store.count_items(&thread).await.unwrap(), 0);
    assert!(app.store.load_runs(&thread).await.unwrap().is_empty());
    assert!(app.store.load_interaction(&interaction).await.is_err());
    assert!(app.store.load_attachment_by_id(&attachment).await.is_err());
    assert!(!file.exists(), "the file is removed");
    let feedback = admin.get("/admin/feedback").await;
    assert!(!feedback.body.contains(&answer), "its feedback is gone");
    let listed = app
        .send("ana", "threads.get_by_id", json!({"thread_id": thread}))
        .await;
    assert_eq!(listed.status, 404, "the user no longer sees it: {listed:?}");
    assert!(
        app.store.count_items(&other).await.unwrap() > 0,
        "the other stays"
    );

    let rows = audit_rows(&app, "thread.delete").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].operator_email.as_deref(), Some(ADMIN));
    assert_eq!(rows[0].object_id.as_deref(), Some(thread.as_str()));
    assert_eq!(rows[0].detail["user_id"], "ana");
    assert_eq!(rows[0].detail["items"], items);
    assert_eq!(rows[0].detail["attachments"], 1);

    // Twice is not found, and not recorded again.
    assert_eq!(admin.act(&path, &[]).await.status, 404);
    assert_eq!(audit_rows(&app, "thread.delete").await.len(), 1);
}

llm_test!(deleting_a_thread_in_the_console_stops_its_run, vars = VARS);
/// An admin deletes a thread while its run streams: the run stops at once, as a delete from
/// the chat stops it, and the chat's stream ends without offering a retry.
async fn deleting_a_thread_in_the_console_stops_its_run(app: TestApp, llm: FakeLlm) {
    llm.push(long_answer());
    let started = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("X-ChatKit-User", "ana")
        .body(
            json!({"type": "threads.create", "params": {"input": user_input("Go on")}}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let mut stream = Sse::new(started);
    stream.until_words(3).await;
    let thread = stream.thread_id();
    let admin = operator(&app, ADMIN, Role::Admin).await;
    let done = admin
        .act(&format!("/admin/threads/{thread}/delete"), &[])
        .await;
    assert_eq!(done.status, 303, "{done:?}");
    stream.ends_stopped_without_retry().await;
    eventually("the model's stream to be dropped", || async {
        (llm.abandoned() == 1).then_some(())
    })
    .await;
}
