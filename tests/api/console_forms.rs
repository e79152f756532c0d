//! The console's human-input queue through the real server: forms raised by the fake model
//! are listed at `/admin/forms`, answered there through real HTML forms (refused answers shown
//! again as typed), and the resumed run's reply reaches the thread; the chat and the console
//! answering at once run once; claims; CSRF and sign-in. Approvals and MCP questions are in
//! `approvals`, the live queue in a browser in `browser`.

mod approvals;
mod browser;

use chatkit_server::store::Role;
use serde_json::{Value, json};

use crate::support::app::{TestApp, eventually};
use crate::support::console::{ConsoleSession, PASSWORD, add_operator, client, sign_in};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{action, ask, form_of, valid_values};
use crate::support::macros::llm_test;

const REVIEWER: &str = "reviewer@example.com";
const ADMIN: &str = "admin@example.com";
/// The fake model's answers need no title request in between.
const VARS: &[(&str, &str)] = &[("CHATKIT_AUTO_TITLES", "false")];

/// A thread of `user` whose model asked the fixtures' booking form: (thread, item, interaction).
async fn asked(app: &TestApp, llm: &FakeLlm, user: &str) -> (String, String, String) {
    ask(llm);
    let (thread, events) = app.create_thread(user, "Book me a room").await;
    let (item, id) = form_of(&events);
    (thread, item, id)
}

/// The thread as the chat loads it.
async fn thread_json(app: &TestApp, user: &str, thread: &str) -> String {
    app.ok(user, "threads.get_by_id", json!({"thread_id": thread}))
        .await
        .to_string()
}

/// Waits until the thread `user` loads shows `text`.
async fn wait_for_reply(app: &TestApp, user: &str, thread: &str, text: &str) -> String {
    eventually(text, || async {
        let shown = thread_json(app, user, thread).await;
        shown.contains(text).then_some(shown)
    })
    .await
}

/// The last tool message the model received in `request`.
fn tool_result(request: &Value) -> Value {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .cloned()
        .expect("a tool result")
}

/// A valid answer to the booking form, as the console's form posts it.
const VALID: &[(&str, &str)] = &[
    ("city", "Oslo"),
    ("nights", "3"),
    ("pets", "true"),
    ("room", "double"),
    ("extras", "breakfast"),
    ("extras", "parking"),
    ("from", "2026-12-01"),
    ("notes", ""),
    ("action", "submit"),
];

llm_test!(
    a_form_raised_by_the_model_is_answered_from_the_console,
    vars = VARS
);
async fn a_form_raised_by_the_model_is_answered_from_the_console(app: TestApp, llm: FakeLlm) {
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let console = sign_in(&app, REVIEWER, PASSWORD).await;
    let (thread, _, id) = asked(&app, &llm, "ann").await;

    let queue = console.get("/admin/forms").await;
    assert_eq!(queue.status, 200);
    queue.assert_secure();
    assert!(queue.body.contains(&format!("href=\"/admin/forms/{id}\"")));
    assert!(queue.body.contains("Booking details"), "{}", queue.body);
    assert!(queue.body.contains("data-pending-count>1<"));
    assert!(
        queue
            .body
            .contains(r#"href="/admin/forms" title="Forms, approvals and questions waiting for an answer" aria-current="page""#)
    );
    // Filters: kind and agent.
    let approvals = console.get("/admin/forms?kind=approval").await;
    assert!(!approvals.body.contains(&id) && approvals.body.contains("Nothing matches"));
    let bad = console.get("/admin/forms?kind=poll").await;
    assert!(bad.body.contains("is not form, approval or elicitation"));
    assert!(bad.body.contains(&id));

    let page = console.get(&format!("/admin/forms/{id}")).await;
    assert_eq!(page.status, 200);
    let html = &page.body;
    for control in [
        r#"<input type="text" name="city" value="" required>"#,
        r#"<textarea name="notes" rows="4">"#,
        r#"<input type="number" step="any" name="nights" value="" required>"#,
        r#"<input type="checkbox" name="pets" value="true">"#,
        r#"<select name="room">"#,
        r#"<option value="double">double</option>"#,
        r#"<input type="checkbox" name="extras" value="parking">"#,
        r#"<input type="date" name="from" value="">"#,
        r#"value="best_judgement" formnovalidate>Use your best judgement"#,
        r#"value="cancel" formnovalidate>Cancel"#,
    ] {
        assert!(html.contains(control), "{control} in {html}");
    }
    assert_eq!(
        html.matches(r#"class="required""#).count(),
        2,
        "two required marks"
    );
    // The thread's last turns, drawn as in the transcript.
    assert!(html.contains("Book me a room") && html.contains("item item-user"));

    // Refused: values kept, errors by field, nothing recorded.
    let refused = console
        .act(
            &format!("/admin/forms/{id}"),
            &[
                ("nights", "many"),
                ("extras", "parking"),
                ("action", "submit"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("This field is required."));
    assert!(refused.body.contains("Enter a number."));
    assert!(refused.body.contains(r#"name="nights" value="many""#));
    assert!(
        refused
            .body
            .contains(r#"name="extras" value="parking" checked"#)
    );
    let stored = app.store.load_interaction(&id).await.unwrap();
    assert_eq!(stored.status.as_str(), "pending");

    // Answered: the run resumes in the background with the values.
    llm.push(Reply::Text(vec!["Booked Oslo for 3 nights.".into()]));
    let done = console.act(&format!("/admin/forms/{id}"), VALID).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), format!("/admin/forms?answered={id}"));
    let shown = wait_for_reply(&app, "ann", &thread, "Booked Oslo for 3 nights.").await;
    assert!(shown.contains("Answered by an operator."), "{shown}");
    let requests = llm.wait_for_requests(2).await;
    let result = tool_result(&requests[1]);
    let values: Value = serde_json::from_str(result["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        values,
        json!({"city": "Oslo", "nights": 3, "pets": true, "room": "double",
               "extras": ["breakfast", "parking"], "from": "2026-12-01"})
    );
    let stored = app.store.load_interaction(&id).await.unwrap();
    assert_eq!(
        (
            stored.status.as_str(),
            stored.answered_by.map(|b| b.as_str())
        ),
        ("answered", Some("operator"))
    );

    // The queue is empty, the answer audited, and a second answer is told it lost.
    let after = console.get(&format!("/admin/forms?answered={id}")).await;
    assert!(after.body.contains("Answered. The run goes on"));
    assert!(after.body.contains("Nothing waiting"));
    assert!(after.body.contains("data-pending-count hidden>0<"));
    let again = console.act(&format!("/admin/forms/{id}"), VALID).await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains(
        "This request was already answered. Your answer was not used; nothing ran twice."
    ));
    let audit = console.get("/admin/audit").await;
    assert!(audit.body.contains("form.answer"), "{}", audit.body);
}

llm_test!(
    the_chat_and_the_console_answering_at_once_run_once,
    vars = VARS
);
async fn the_chat_and_the_console_answering_at_once_run_once(app: TestApp, llm: FakeLlm) {
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let console = sign_in(&app, REVIEWER, PASSWORD).await;
    let (thread, item, id) = asked(&app, &llm, "ann").await;
    llm.push(Reply::Text(vec!["Done once.".into()]));
    let path = format!("/admin/forms/{id}");
    let chat = app.stream(
        "ann",
        "threads.custom_action",
        action(&thread, &item, "human.form_submit", valid_values(&id)),
    );
    let (chat, operator) = tokio::join!(chat, console.act(&path, VALID));
    let chat_lost = chat.iter().any(|e| {
        e["type"] == "error" && e.to_string().contains("This request was already answered.")
    });
    let console_lost =
        operator.status == 409 && operator.body.contains("This request was already answered.");
    assert!(
        chat_lost ^ console_lost,
        "exactly one loses: chat {chat:?}, console {} {}",
        operator.status,
        operator.body
    );
    let shown = wait_for_reply(&app, "ann", &thread, "Done once.").await;
    assert_eq!(shown.matches("Done once.").count(), 1, "{shown}");
    let by = app.store.load_interaction(&id).await.unwrap().answered_by;
    let expected = if chat_lost { "operator" } else { "user" };
    assert_eq!(by.map(|b| b.as_str()), Some(expected));
    // The model was asked once for the form and once after the one answer.
    assert_eq!(llm.requests().len(), 2);
}

llm_test!(
    claims_hold_off_other_operators_but_never_the_user,
    vars = VARS
);
async fn claims_hold_off_other_operators_but_never_the_user(app: TestApp, llm: FakeLlm) {
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    add_operator(&app, ADMIN, Role::Admin).await;
    let reviewer = sign_in(&app, REVIEWER, PASSWORD).await;
    let admin = sign_in(&app, ADMIN, PASSWORD).await;
    let (_, _, first) = asked(&app, &llm, "ann").await;
    let (thread, _, second) = asked(&app, &llm, "ben").await;
    // Oldest first.
    let queue = reviewer.get("/admin/forms").await.body;
    let at = |id: &str| queue.find(&format!("/admin/forms/{id}")).unwrap();
    assert!(at(&first) < at(&second), "{queue}");

    let claimed = reviewer
        .act(&format!("/admin/forms/{first}/claim"), &[])
        .await;
    assert_eq!(claimed.status, 303);
    let mine = reviewer.get(&format!("/admin/forms/{first}")).await;
    assert!(mine.body.contains("Claimed by you"));
    assert!(
        mine.body
            .contains(&format!("data-claim-renew=\"/admin/forms/{first}/claim\""))
    );
    let renewed = reviewer
        .act(&format!("/admin/forms/{first}/claim"), &[("renew", "1")])
        .await;
    assert_eq!(renewed.status, 204);
    // Others see who holds it, and can neither take it nor answer it.
    let theirs = admin.get(&format!("/admin/forms/{first}")).await;
    assert!(theirs.body.contains(&format!("Claimed by {REVIEWER}")));
    let queue = admin.get("/admin/forms").await;
    assert!(queue.body.contains(&format!("claimed by {REVIEWER}")));
    let taken = admin.act(&format!("/admin/forms/{first}/claim"), &[]).await;
    assert_eq!(taken.status, 409);
    assert!(
        taken
            .body
            .contains(&format!("{REVIEWER} has claimed this."))
    );
    let answered = admin.act(&format!("/admin/forms/{first}"), VALID).await;
    assert_eq!(answered.status, 409);
    assert!(
        answered
            .body
            .contains(&format!("{REVIEWER} is answering this"))
    );
    // "Answer and next" skips the entry someone else holds.
    let mut next = VALID.to_vec();
    next.retain(|(k, _)| *k != "action");
    next.push(("action", "submit.next"));
    let (_, _, third) = asked(&app, &llm, "cy").await;
    llm.push(Reply::Text(vec!["Thanks, Ben.".into()]));
    let moved = admin.act(&format!("/admin/forms/{second}"), &next).await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert_eq!(moved.location(), format!("/admin/forms/{third}"));
    wait_for_reply(&app, "ben", &thread, "Thanks, Ben.").await;
    // The user answers whatever the claim says.
    let (thread, item, fourth) = asked(&app, &llm, "dee").await;
    let held = admin
        .act(&format!("/admin/forms/{fourth}/claim"), &[])
        .await;
    assert_eq!(held.status, 303);
    llm.push(Reply::Text(vec!["Thanks, Dee.".into()]));
    let events = app
        .stream(
            "dee",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", valid_values(&fourth)),
        )
        .await;
    assert!(
        events
            .iter()
            .any(|e| e.to_string().contains("Thanks, Dee."))
    );
    // Released, the entry is free again.
    let released = reviewer
        .act(&format!("/admin/forms/{first}/release"), &[])
        .await;
    assert_eq!(released.status, 303);
    assert!(!admin.get("/admin/forms").await.body.contains("claimed by"));
}

llm_test!(the_queue_needs_a_session_and_csrf_tokens, vars = VARS);
async fn the_queue_needs_a_session_and_csrf_tokens(app: TestApp, llm: FakeLlm) {
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let console = sign_in(&app, REVIEWER, PASSWORD).await;
    let (_, _, id) = asked(&app, &llm, "ann").await;
    for path in [
        "/admin/forms".to_owned(),
        format!("/admin/forms/{id}"),
        "/admin/events".to_owned(),
    ] {
        let stranger = client()
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(stranger.status(), 303, "{path}");
    }
    let stranger = client()
        .post(format!("{}/admin/forms/{id}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=cancel")
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);
    let forged = console
        .post(
            &format!("/admin/forms/{id}"),
            &[("action", "cancel"), ("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let forged = console
        .post(&format!("/admin/forms/{id}/claim"), &[("csrf_token", "")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        app.store
            .load_interaction(&id)
            .await
            .unwrap()
            .status
            .as_str(),
        "pending"
    );
    // The event stream says how many wait, at once.
    let events = events_start(&app, &console).await;
    assert!(events.contains("retry: 2000"), "{events}");
    assert!(
        events.contains("event: forms\ndata: {\"pending\":1}"),
        "{events}"
    );
}

/// The first frames of `/admin/events` (up to the first `forms` event).
async fn events_start(app: &TestApp, console: &ConsoleSession) -> String {
    let mut response = client()
        .get(format!("{}/admin/events", app.address))
        .header("cookie", format!("chatkit_admin={}", console.token))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut text = String::new();
    while !text.contains("event: forms\n") {
        let chunk = response.chunk().await.unwrap().expect("more frames");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}
