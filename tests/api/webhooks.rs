//! Human-input webhooks through the real server, with a receiver in the test: a form raised by
//! the fake model is reported as `form.waiting` with a signature recomputed here; answers (chat
//! and console) as `form.answered`; an unanswered form as `form.expired` by the sweep. A
//! failing receiver gets the delivery on a later try; a receiver that is down costs the form
//! and the run nothing, and its failed deliveries are shown at `/admin/webhooks`, where any
//! operator (not without the CSRF token) retries them. An agent's own URL replaces the global
//! one. The worker stops with the server; without a signing key the page says webhooks are
//! off. The page in a browser is in `browser`.

mod browser;
mod receiver;

use std::time::Duration;

use chatkit_server::chatkit::states::DeliveryStatus;
use chatkit_server::startup::Application;
use chatkit_server::store::{Delivery, DeliveryFilter, Role};
use serde_json::json;

use crate::support::app::{Db, TestApp, add_agent, eventually, spawn_llm_app_with, test_settings};
use crate::support::console::{PASSWORD, add_operator, audit_rows, sign_in};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{action, ask, form_of, user_input, valid_values};
use crate::support::macros::db_case;
use crate::support::skip;
use receiver::{Received, Receiver, nobody_listens};

/// The key deliveries are signed with.
const KEY: &str = "webhook-test-key-0123456789-abcdef";
const PUBLIC_URL: &str = "https://chat.example.com";
const ADMIN: &str = "admin@example.com";
const REVIEWER: &str = "reviewer@example.com";

/// A valid answer to the fixtures' booking form, as the console's form posts it.
const VALID: &[(&str, &str)] = &[
    ("city", "Oslo"),
    ("nights", "3"),
    ("room", "double"),
    ("action", "submit"),
];

/// A server with the fake model, webhooks signed with [`KEY`], fast retries, plus `extra`.
async fn spawn(db: Db, extra: &[(&str, &str)]) -> Option<(TestApp, FakeLlm)> {
    let mut vars = vec![
        ("CHATKIT_AUTO_TITLES", "false"),
        ("CHATKIT_SECRET_KEY", KEY),
        ("CHATKIT_PUBLIC_URL", PUBLIC_URL),
        ("CHATKIT_WEBHOOK_RETRY_BASE_MS", "20"),
    ];
    vars.extend_from_slice(extra);
    spawn_llm_app_with(db, &vars).await
}

/// A thread of `user` (on `agent`, or the default one) whose model asked the booking form:
/// (thread, item, interaction).
async fn asked_on(
    app: &TestApp,
    llm: &FakeLlm,
    agent: Option<&str>,
    user: &str,
) -> (String, String, String) {
    ask(llm);
    let answer = app
        .send_to(
            agent,
            user,
            "threads.create",
            json!({"input": user_input("Book me a room")}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let events = answer.events();
    let thread = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    let (item, id) = form_of(&events);
    (thread, item, id)
}

/// Every delivery, newest first.
async fn deliveries(app: &TestApp) -> Vec<Delivery> {
    let filter = DeliveryFilter::default();
    app.store
        .delivery_page(&filter, 200, None)
        .await
        .unwrap()
        .data
}

/// The one delivery of `event` for interaction `id`.
async fn delivery(app: &TestApp, event: &str, id: &str) -> Option<Delivery> {
    deliveries(app)
        .await
        .into_iter()
        .find(|d| d.event.as_str() == event && d.interaction_id == id)
}

/// Polls `check` every 50 ms until it returns `Some`, failing after `secs` (for waits longer
/// than [`eventually`]'s: retries with real delays).
async fn within<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the thread `user` loads shows `text`.
async fn wait_for_reply(app: &TestApp, user: &str, thread: &str, text: &str) {
    eventually(text, || async {
        let shown = app
            .ok(user, "threads.get_by_id", json!({"thread_id": thread}))
            .await
            .to_string();
        shown.contains(text).then_some(())
    })
    .await;
}

/// Runs the README's Python `verify` on `received` with `key`: its verdict, or `None` (after
/// saying why) without python3.
fn readme_check(received: &Received, key: &str) -> Option<bool> {
    let readme = include_str!("../../README.md");
    let def = readme.find("def verify(").expect("the README's verify()");
    let start = readme[..def].rfind("```python").expect("its code block") + "```python".len();
    let end = def + readme[def..].find("```").expect("the block's end");
    let script = format!(
        "{}\nimport json, sys\nprint(verify(sys.argv[2], json.loads(sys.argv[1]), \
         sys.stdin.buffer.read()))\n",
        &readme[start..end]
    );
    let headers = json!({
        "X-ChatKit-Timestamp": received.header("x-chatkit-timestamp"),
        "X-ChatKit-Signature": received.header("x-chatkit-signature"),
    });
    let child = std::process::Command::new("python3")
        .args(["-c", &script, &headers.to_string(), key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        skip("the README's signature check: python3 is not installed");
        return None;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(received.body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "True" => Some(true),
        "False" => Some(false),
        other => panic!("verify() printed {other}"),
    }
}

db_case!(a_form_is_reported_signed_when_it_waits_and_when_the_user_answers);
async fn a_form_is_reported_signed_when_it_waits_and_when_the_user_answers(db: Db) {
    let receiver = Receiver::start().await;
    let url = format!("{}/hooks/forms?team=7", receiver.base);
    let Some((app, llm)) = spawn(db, &[("CHATKIT_HUMAN_WEBHOOK_URL", &url)]).await else {
        return;
    };
    let (thread, item, id) = asked_on(&app, &llm, None, "ann").await;

    let waiting = receiver.wait_for_event("form.waiting", &id).await;
    waiting.assert_signed_with(KEY);
    assert_eq!(waiting.path, "/hooks/forms");
    let body = waiting.json();
    let delivery_id = body["id"].as_str().unwrap();
    assert!(delivery_id.starts_with("whd_"), "{body}");
    assert_eq!(waiting.header("x-chatkit-delivery"), Some(delivery_id));
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["console_url", "created_at", "event", "form", "id"],
        "{body}"
    );
    let (_, agent) = app.store.ensure_defaults().await.unwrap();
    assert_eq!(
        body["form"],
        json!({"id": id, "kind": "form", "title": "Booking details", "status": "pending",
               "agent": {"slug": "default", "name": agent.name}, "thread_id": thread})
    );
    assert_eq!(
        body["console_url"],
        format!("{PUBLIC_URL}/admin/forms/{id}")
    );
    let created = chrono::DateTime::parse_from_rfc3339(body["created_at"].as_str().unwrap());
    assert!(created.is_ok(), "{body}");
    // A changed body, another key or another timestamp does not verify.
    let mut forged = waiting.clone();
    forged.body = forged.body.replace("pending", "answered");
    assert!(!forged.signed_with(KEY));
    assert!(!waiting.signed_with("another-key-0123456789-0123456789"));
    let mut replayed = waiting.clone();
    for (name, value) in &mut replayed.headers {
        if name == "x-chatkit-timestamp" {
            *value = (value.parse::<i64>().unwrap() + 300).to_string();
        }
    }
    assert!(!replayed.signed_with(KEY));
    // The README's Python check agrees.
    if let Some(verdict) = readme_check(&waiting, KEY) {
        assert!(verdict, "the README's check refuses a real delivery");
        assert_eq!(readme_check(&forged, KEY), Some(false));
    }

    // Answered in the chat: the run goes on, and the answer is reported without its values.
    llm.push(Reply::Text(vec!["Booked Oslo.".into()]));
    let events = app
        .stream(
            "ann",
            "threads.custom_action",
            action(&thread, &item, "human.form_submit", valid_values(&id)),
        )
        .await;
    assert!(
        events
            .iter()
            .any(|e| e.to_string().contains("Booked Oslo."))
    );
    let answered = receiver.wait_for_event("form.answered", &id).await;
    answered.assert_signed_with(KEY);
    let form = &answered.json()["form"];
    assert_eq!(
        (&form["status"], &form["answered_by"]),
        (&json!("answered"), &json!("user"))
    );
    assert!(!answered.body.contains("Oslo"), "{}", answered.body);

    // Both rows delivered at the first attempt.
    let rows = eventually("both delivered", || async {
        let rows = deliveries(&app).await;
        (rows.len() == 2 && rows.iter().all(|d| d.status == DeliveryStatus::Delivered))
            .then_some(rows)
    })
    .await;
    for row in rows {
        assert_eq!((row.attempts, row.last_status), (1, Some(200)), "{row:?}");
        assert!(row.delivered_at.is_some() && row.locked_until.is_none());
        assert_eq!(row.url, url);
    }
    receiver.stop().await;
}

db_case!(an_operator_answer_is_reported_and_an_unanswered_form_expires_on_time);
async fn an_operator_answer_is_reported_and_an_unanswered_form_expires_on_time(db: Db) {
    let receiver = Receiver::start().await;
    let url = format!("{}/hook", receiver.base);
    let vars = [
        ("CHATKIT_HUMAN_WEBHOOK_URL", url.as_str()),
        ("CHATKIT_HUMAN_INPUT_TIMEOUT_SECS", "3"),
        ("CHATKIT_HUMAN_SWEEP_SECS", "1"),
    ];
    let Some((app, llm)) = spawn(db, &vars).await else {
        return;
    };
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let console = sign_in(&app, REVIEWER, PASSWORD).await;

    // Answered by an operator in the console.
    let (thread, _, answered_id) = asked_on(&app, &llm, None, "ann").await;
    llm.push(Reply::Text(vec!["Booked by the desk.".into()]));
    let done = console
        .act(&format!("/admin/forms/{answered_id}"), VALID)
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    wait_for_reply(&app, "ann", &thread, "Booked by the desk.").await;
    let answered = receiver.wait_for_event("form.answered", &answered_id).await;
    answered.assert_signed_with(KEY);
    assert_eq!(answered.json()["form"]["answered_by"], "operator");

    // Nobody answers this one: the sweep closes it and reports it, and the run goes on.
    let (thread, _, expired_id) = asked_on(&app, &llm, None, "ben").await;
    receiver.wait_for_event("form.waiting", &expired_id).await;
    llm.push(Reply::Text(vec!["No answer came, so I stopped.".into()]));
    let expired = within(15, "form.expired", || async {
        receiver
            .received()
            .into_iter()
            .find(|r| r.event() == "form.expired" && r.form_id() == expired_id)
    })
    .await;
    expired.assert_signed_with(KEY);
    let form = &expired.json()["form"];
    assert_eq!(form["status"], "expired");
    assert!(form.get("answered_by").is_none(), "{form}");
    let stored = app.store.load_interaction(&expired_id).await.unwrap();
    assert_eq!(stored.status.as_str(), "expired");
    wait_for_reply(&app, "ben", &thread, "No answer came, so I stopped.").await;
    let last = llm.requests().last().cloned().unwrap().to_string();
    assert!(last.contains("did not answer in time"), "{last}");
    // Reported once, though every sweep looks again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expiries = receiver
        .received()
        .iter()
        .filter(|r| r.event() == "form.expired")
        .count();
    assert_eq!(expiries, 1);
    receiver.stop().await;
}

db_case!(a_failing_receiver_gets_the_delivery_on_the_third_try);
async fn a_failing_receiver_gets_the_delivery_on_the_third_try(db: Db) {
    let receiver = Receiver::start().await;
    receiver.answer_with(&[500, 500]);
    let url = format!("{}/hook", receiver.base);
    let Some((app, llm)) = spawn(db, &[("CHATKIT_HUMAN_WEBHOOK_URL", &url)]).await else {
        return;
    };
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let (_, _, id) = asked_on(&app, &llm, None, "ann").await;

    let tries = receiver.wait_for(3, |r| r.form_id() == id).await;
    // The same delivery, the same bytes, each time freshly signed.
    for r in &tries {
        r.assert_signed_with(KEY);
        assert_eq!(r.body, tries[0].body);
    }
    let row = eventually("delivered", || async {
        delivery(&app, "form.waiting", &id)
            .await
            .filter(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    assert_eq!((row.attempts, row.last_status), (3, Some(200)), "{row:?}");
    assert_eq!(row.last_error, None);
    assert_eq!(receiver.received().len(), 3, "nothing sent after the 200");

    let console = sign_in(&app, REVIEWER, PASSWORD).await;
    let page = console.get("/admin/webhooks").await;
    assert_eq!(page.status, 200);
    page.assert_secure();
    let html = &page.body;
    let at = html.find(&format!("data-id=\"{}\"", row.id)).unwrap();
    let cells = &html[at..at + html[at..].find("</tr>").unwrap()];
    for shown in [
        "form.waiting",
        &format!("href=\"/admin/forms/{id}\""),
        "Booking details",
        "127.0.0.1",
        "badge-ok\">delivered",
        "<td data-label=\"Attempts\" class=\"num\">3</td>",
        "HTTP 200",
    ] {
        assert!(cells.contains(shown), "{shown} in {cells}");
    }
    assert!(!html.contains("/hook\""), "the URL's path is not shown");
    assert!(!cells.contains("Retry now"), "delivered: nothing to retry");
    assert!(html.contains(r#"href="/admin/webhooks" title="#));
    // Filters.
    let failed = console.get("/admin/webhooks?status=failed").await;
    assert!(failed.body.contains("No deliveries") && !failed.body.contains(&row.id));
    let gone = console.get("/admin/webhooks?after=whd_gone").await;
    assert!((400..500).contains(&gone.status), "{}", gone.status);
    assert!(gone.body.contains("that page no longer exists"));
    let bad = console.get("/admin/webhooks?status=lost").await;
    assert!(
        bad.body
            .contains("Status: &#39;lost&#39; is not one of the choices; ignored.")
    );
    receiver.stop().await;
}

db_case!(a_receiver_that_is_down_loses_nothing_and_an_admin_retries);
async fn a_receiver_that_is_down_loses_nothing_and_an_admin_retries(db: Db) {
    let (url, port) = nobody_listens();
    let vars = [
        ("CHATKIT_HUMAN_WEBHOOK_URL", url.as_str()),
        ("CHATKIT_WEBHOOK_RETRY_BASE_MS", "1000"),
        ("CHATKIT_WEBHOOK_MAX_ATTEMPTS", "3"),
    ];
    let Some((app, llm)) = spawn(db, &vars).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let admin = sign_in(&app, ADMIN, PASSWORD).await;
    let reviewer = sign_in(&app, REVIEWER, PASSWORD).await;

    // The form is shown and answered, and the run goes on, whatever the receiver does.
    let (thread, _, id) = asked_on(&app, &llm, None, "ann").await;
    llm.push(Reply::Text(vec!["Booked anyway.".into()]));
    let done = admin.act(&format!("/admin/forms/{id}"), VALID).await;
    assert_eq!(done.status, 303, "{}", done.body);
    wait_for_reply(&app, "ann", &thread, "Booked anyway.").await;

    // Pending with the error, then failed after the last attempt.
    let pending = eventually("a failed first attempt", || async {
        delivery(&app, "form.waiting", &id).await.filter(|d| {
            d.status == DeliveryStatus::Pending && d.attempts >= 1 && d.last_error.is_some()
        })
    })
    .await;
    let error = pending.last_error.clone().unwrap();
    assert!(error.starts_with("cannot connect"), "{error}");
    assert_eq!(pending.last_status, None);
    let page = admin.get("/admin/webhooks?status=pending").await.body;
    assert!(
        page.contains(&format!("data-id=\"{}\"", pending.id)),
        "{page}"
    );
    assert!(page.contains("badge-pending\">pending") && page.contains("cannot connect"));
    let failed = within(30, "both deliveries failed", || async {
        let rows = deliveries(&app).await;
        (rows.len() == 2 && rows.iter().all(|d| d.status == DeliveryStatus::Failed)).then_some(rows)
    })
    .await;
    assert!(failed.iter().all(|d| d.attempts == 3), "{failed:?}");
    let failed = delivery(&app, "form.waiting", &id).await.unwrap();
    let page = admin.get("/admin/webhooks").await.body;
    assert!(page.contains("badge-error\">failed") && page.contains("cannot connect"));
    let retry_path = format!("/admin/webhooks/{}/retry", failed.id);
    assert!(page.contains(&format!("action=\"{retry_path}\"")));
    let reviewer_page = reviewer.get("/admin/webhooks").await.body;
    assert!(reviewer_page.contains("badge-error\">failed"));
    assert!(
        reviewer_page.contains(&format!("action=\"{retry_path}\"")),
        "reviewers retry too"
    );

    // The receiver is back. A post without the token does nothing.
    let receiver = Receiver::start_at(port).await;
    let forged = reviewer.post(&retry_path, &[]).await;
    assert_eq!(forged.status, 403);
    let forged = admin.post(&retry_path, &[]).await;
    assert_eq!(forged.status, 403);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 0);
    let unchanged = app.store.load_delivery(&failed.id).await.unwrap();
    assert_eq!(
        (unchanged.status, unchanged.attempts),
        (DeliveryStatus::Failed, 3)
    );

    // A reviewer's retry sends it again at once, and is audited.
    let retried = reviewer.act(&retry_path, &[]).await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    assert_eq!(retried.location(), "/admin/webhooks?done=retried");
    let got = receiver.wait_for_event("form.waiting", &id).await;
    got.assert_signed_with(KEY);
    let row = eventually("delivered", || async {
        let row = app.store.load_delivery(&failed.id).await.unwrap();
        (row.status == DeliveryStatus::Delivered).then_some(row)
    })
    .await;
    assert_eq!((row.attempts, row.last_status), (4, Some(200)));
    let audit = audit_rows(&app, "webhook.retry").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].object_id.as_deref(), Some(failed.id.as_str()));
    assert_eq!(audit[0].operator_email.as_deref(), Some(REVIEWER));
    assert_eq!(audit[0].detail["before"]["status"], "failed");
    assert_eq!(audit[0].detail["after"]["status"], "pending");
    assert!(!audit[0].detail.to_string().contains("/hook"), "host only");
    let unknown = admin.act("/admin/webhooks/whd_none/retry", &[]).await;
    assert_eq!(unknown.status, 404);
    // A delivered one cannot be retried.
    let again = admin.act(&retry_path, &[]).await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("already delivered"));
    // Only the retried one went out: the other failed delivery stays failed.
    let other = deliveries(&app)
        .await
        .into_iter()
        .find(|d| d.id != failed.id)
        .unwrap();
    assert_eq!(other.status, DeliveryStatus::Failed);
    receiver.stop().await;
}

db_case!(an_agents_own_url_replaces_the_global_one);
async fn an_agents_own_url_replaces_the_global_one(db: Db) {
    let global = Receiver::start().await;
    let own = Receiver::start().await;
    let url = format!("{}/global", global.base);
    let Some((app, llm)) = spawn(db, &[("CHATKIT_HUMAN_WEBHOOK_URL", &url)]).await else {
        return;
    };
    let sales = add_agent(&app, "sales").await;
    let own_url = format!("{}/sales", own.base);
    app.store
        .set_agent_webhook_url(&sales, Some(&own_url))
        .await
        .unwrap();

    let (_, _, sales_form) = asked_on(&app, &llm, Some("sales"), "ann").await;
    let (_, _, default_form) = asked_on(&app, &llm, None, "ann").await;
    let got = own.wait_for_event("form.waiting", &sales_form).await;
    got.assert_signed_with(KEY);
    assert_eq!(got.path, "/sales");
    assert_eq!(got.json()["form"]["agent"]["slug"], "sales");
    global.wait_for_event("form.waiting", &default_form).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(global.received().iter().all(|r| r.form_id() != sales_form));
    assert!(own.received().iter().all(|r| r.form_id() != default_form));
    let row = delivery(&app, "form.waiting", &sales_form).await.unwrap();
    assert_eq!((row.url, row.agent_id), (own_url, sales));

    // Without a key to sign with, a server on this database refuses to start.
    let settings = test_settings(&app.db_url, &[]);
    let refused = Application::build(settings).await.err().expect("refused");
    let message = refused.to_string();
    assert!(
        message.starts_with("CHATKIT_SECRET_KEY:") && message.contains("sales"),
        "{message}"
    );
    global.stop().await;
    own.stop().await;
}

db_case!(the_worker_stops_with_the_server);
async fn the_worker_stops_with_the_server(db: Db) {
    let receiver = Receiver::start().await;
    receiver.answer_with(&[500; 100]);
    let url = format!("{}/hook", receiver.base);
    let vars = [
        ("CHATKIT_HUMAN_WEBHOOK_URL", url.as_str()),
        ("CHATKIT_WEBHOOK_RETRY_BASE_MS", "100"),
    ];
    let Some((app, llm)) = spawn(db, &vars).await else {
        return;
    };
    let (_, _, id) = asked_on(&app, &llm, None, "ann").await;
    receiver.wait_for(2, |r| r.form_id() == id).await;
    app.stop.stop(true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_stop = receiver.received().len();
    let row = delivery(&app, "form.waiting", &id).await.unwrap();
    assert_eq!(
        row.status,
        DeliveryStatus::Pending,
        "kept for the next start"
    );
    // A running worker would send it again at its next attempt time.
    let due = (row.next_attempt_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(due + Duration::from_millis(700)).await;
    assert_eq!(receiver.received().len(), after_stop);
    receiver.stop().await;
}

db_case!(the_page_says_when_webhooks_are_off);
async fn the_page_says_when_webhooks_are_off(db: Db) {
    let Some((app, llm)) = spawn_llm_app_with(db, &[("CHATKIT_AUTO_TITLES", "false")]).await else {
        return;
    };
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    asked_on(&app, &llm, None, "ann").await;
    assert!(deliveries(&app).await.is_empty());
    let console = sign_in(&app, REVIEWER, PASSWORD).await;
    let page = console.get("/admin/webhooks").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Webhooks are off"), "{}", page.body);
    assert!(page.body.contains("No deliveries"));
}
