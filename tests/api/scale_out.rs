//! Two server processes on one Postgres database, and the signals between them: a thread
//! deleted through one process stops its run streaming in the other; a form asked through one
//! is answered through the other (in the chat or the console); a cut listening connection is
//! restored; a handshake-era MCP question asked on one is answered on the
//! other, which hands the answer to the call parked on the first (or, with the first gone,
//! tells the model plainly). Postgres only: SQLite serves one process.

use serde_json::{Value, json};

use crate::recovery::{Sse, as_refs, items, long_answer, message_text, process_vars};
use chatkit_server::auth::operators::hash_password;
use chatkit_server::store::{NewOperator, Role, Store};

use crate::support::app::{Db, TestDb, eventually};
use crate::support::console::{PASSWORD, sign_in_at};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{action, ask, form_of, valid_values};
use crate::support::process::ServerProcess;
use crate::support::python::PythonMcp;

/// Two processes on a fresh Postgres database answering with `fake`, with `extra` settings.
async fn two_processes(
    fake: &FakeLlm,
    extra: &[(&str, &str)],
) -> Option<(
    TestDb,
    String,
    ServerProcess,
    ServerProcess,
    [tempfile::TempDir; 2],
)> {
    let (db, url) = TestDb::create(Db::Postgres)?;
    let vars = process_vars(fake, extra);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = ServerProcess::start(&url, dirs[0].path(), &as_refs(&vars)).await;
    let b = ServerProcess::start(&url, dirs[1].path(), &as_refs(&vars)).await;
    Some((db, url, a, b, dirs))
}

/// The tool result the model received in request `n`.
fn tool_result(requests: &[Value], n: usize) -> String {
    requests[n]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .and_then(|m| m["content"].as_str())
        .expect("a tool result")
        .to_owned()
}

/// Answers a form of `thread` through `server`, streaming the resumed run to its end.
async fn answer(
    server: &ServerProcess,
    thread: &str,
    item: &str,
    kind: &str,
    values: Value,
) -> Sse {
    let params = action(thread, item, kind, values);
    let mut stream = Sse::new(server.post("ann", "threads.custom_action", params).await);
    stream.read_all().await;
    stream
}

/// `threads.delete` through B while the thread's run streams on A stops A's run at once: the
/// model's stream is dropped and A's client sees the end without a retry, as in one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_thread_on_one_process_stops_its_run_on_the_other() {
    let fake = FakeLlm::start().await;
    let Some((_db, _, a, b, _dirs)) = two_processes(&fake, &[]).await else {
        return;
    };
    fake.push(long_answer());
    let mut stream = Sse::new(a.create_thread("ann", "Go on").await);
    stream.until_words(3).await;
    let thread_id = stream.thread_id();
    b.ok("ann", "threads.delete", json!({"thread_id": thread_id}))
        .await;
    stream.ends_stopped_without_retry().await;
    eventually("the model's stream to be dropped", || async {
        (fake.abandoned() == 1).then_some(())
    })
    .await;
}

/// A form the model asked through A, answered in the chat through B: the run resumes on B,
/// and A then lists the summary and the answer that followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_asked_on_one_process_is_answered_on_the_other() {
    let fake = FakeLlm::start().await;
    let Some((_db, _, a, b, _dirs)) = two_processes(&fake, &[]).await else {
        return;
    };
    ask(&fake);
    let mut asked = Sse::new(a.create_thread("ann", "Book a room").await);
    asked.read_all().await;
    let thread_id = asked.thread_id();
    let (item, id) = form_of(&asked.events);

    fake.push(Reply::Text(vec!["Booked in Oslo.".into()]));
    let resumed = answer(
        &b,
        &thread_id,
        &item,
        "human.form_submit",
        valid_values(&id),
    )
    .await;
    assert_eq!(resumed.text, "Booked in Oslo.", "{:?}", resumed.events);
    let requests = fake.wait_for_requests(2).await;
    assert!(tool_result(&requests, 1).contains("Oslo"), "{requests:?}");

    let listed = items(&a, "ann", &thread_id).await;
    let last = listed.last().unwrap();
    assert_eq!(message_text(last), "Booked in Oslo.", "{listed:?}");
    let form = listed.iter().find(|i| i["id"] == item).unwrap();
    assert!(form["widget"].to_string().contains("Oslo"), "{form}");
    // Answered once: the same answer through A is refused.
    let again = answer(
        &a,
        &thread_id,
        &item,
        "human.form_submit",
        valid_values(&id),
    )
    .await;
    assert!(
        again.events.iter().any(|e| e["type"] == "error"),
        "{:?}",
        again.events
    );
}

/// A form the model asked through A, answered by an operator in B's console: the run
/// resumes on B in the background and persists, and A lists its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_asked_on_one_process_is_answered_in_the_other_processs_console() {
    let fake = FakeLlm::start().await;
    let Some((_db, url, a, b, _dirs)) = two_processes(&fake, &[]).await else {
        return;
    };
    ask(&fake);
    let mut asked = Sse::new(a.create_thread("ann", "Book a room").await);
    asked.read_all().await;
    let thread_id = asked.thread_id();
    let (_, id) = form_of(&asked.events);

    let store = Store::connect(&url, 1).unwrap();
    let email = "ops@example.com";
    store
        .create_operator(NewOperator {
            email: email.to_owned(),
            password_hash: hash_password(PASSWORD).unwrap(),
            role: Role::Reviewer,
        })
        .await
        .unwrap();
    let console = sign_in_at(&b.address, &store, email, PASSWORD).await;
    fake.push(Reply::Text(vec!["Booked by the desk.".into()]));
    let fields = [
        ("city", "Oslo"),
        ("nights", "3"),
        ("room", "double"),
        ("from", "2026-12-01"),
        ("action", "submit"),
    ];
    let done = console.act(&format!("/admin/forms/{id}"), &fields).await;
    assert_eq!(done.status, 303, "{}", done.body);
    eventually("the resumed run's answer to be listed on A", || async {
        let listed = items(&a, "ann", &thread_id).await;
        let last = listed.last()?;
        (last["type"] == "assistant_message" && message_text(last) == "Booked by the desk.")
            .then_some(())
    })
    .await;
    let row = store.load_interaction(&id).await.unwrap();
    assert_eq!(
        row.answered_by.map(|by| by.to_string()).as_deref(),
        Some("operator")
    );
}

/// The MCP test server's handshake-era settings for two processes, calls waiting at most
/// `timeout_ms`.
fn legacy_mcp(python: &PythonMcp, timeout_ms: u64) -> String {
    json!([{"name": "py", "url": python.url, "protocol": "legacy", "timeout_ms": timeout_ms}])
        .to_string()
}

/// A handshake-era MCP question raised on A (its call parked in A's memory), answered in the
/// chat on B: the call completes on A with the answer, and B's run goes on with its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_mcp_question_raised_on_one_process_is_answered_on_the_other() {
    let Some(python) = PythonMcp::start().await else {
        return;
    };
    let fake = FakeLlm::start().await;
    let servers = legacy_mcp(&python, 30_000);
    let Some((_db, _, a, b, _dirs)) =
        two_processes(&fake, &[("CHATKIT_MCP_SERVERS", servers.as_str())]).await
    else {
        return;
    };
    fake.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![(
            "ask_human".into(),
            json!({"question": "Restart the cluster?"}),
        )],
    });
    let mut asked = Sse::new(a.create_thread("ann", "Restart it").await);
    asked.read_all().await;
    let thread_id = asked.thread_id();
    let (item, id) = form_of(&asked.events);

    fake.push(Reply::Text(vec!["Restarted.".into()]));
    let values = json!({"__interaction": id, "approved": "on", "comment": "now"});
    let resumed = answer(&b, &thread_id, &item, "human.form_submit", values).await;
    assert_eq!(resumed.text, "Restarted.", "{:?}", resumed.events);
    let requests = fake.wait_for_requests(2).await;
    let result = tool_result(&requests, 1);
    let result: Value = serde_json::from_str(&result).unwrap_or_else(|_| panic!("{result}"));
    assert_eq!(result["action"], "accept", "{result}");
    assert_eq!(
        result["answer"],
        json!({"approved": true, "comment": "now"})
    );
    let listed = items(&a, "ann", &thread_id).await;
    assert_eq!(message_text(listed.last().unwrap()), "Restarted.");
}

/// With the process that holds the call gone, an answer on the other tells the model in plain
/// words that the question is no longer open, and the run goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_mcp_question_whose_process_died_is_told_plainly() {
    let Some(python) = PythonMcp::start().await else {
        return;
    };
    let fake = FakeLlm::start().await;
    // The wait for a holder that never answers is bounded by the call's timeout.
    let servers = legacy_mcp(&python, 2_000);
    let extra = [
        ("CHATKIT_MCP_SERVERS", servers.as_str()),
        ("CHATKIT_RUN_STALE_SECS", "3"),
    ];
    let Some((_db, _, mut a, b, _dirs)) = two_processes(&fake, &extra).await else {
        return;
    };
    fake.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("ask_human".into(), json!({"question": "Go?"}))],
    });
    let mut asked = Sse::new(a.create_thread("ann", "Ask").await);
    asked.read_all().await;
    let thread_id = asked.thread_id();
    let (item, id) = form_of(&asked.events);
    a.kill().await;

    fake.push(Reply::Text(vec!["The question was lost.".into()]));
    let values = json!({"__interaction": id, "approved": "on", "comment": ""});
    let resumed = answer(&b, &thread_id, &item, "human.form_submit", values).await;
    assert_eq!(
        resumed.text, "The question was lost.",
        "{:?}",
        resumed.events
    );
    let requests = fake.wait_for_requests(2).await;
    let result = tool_result(&requests, 1);
    assert!(result.contains("no longer open"), "{result}");
}

/// The database sessions a process's log says it listened for signals on, in order.
fn listening_sessions(server: &ServerProcess) -> Vec<i32> {
    server
        .log()
        .lines()
        .filter_map(|line| {
            line.split("listening for signals (database session ")
                .nth(1)
        })
        .filter_map(|rest| rest.split(')').next()?.parse().ok())
        .collect()
}

/// A process whose listening connection is cut connects and listens again, and signals reach
/// it as before: a delete through the other process stops its run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listening_connection_is_restored() {
    let fake = FakeLlm::start().await;
    let Some((_db, _, a, b, _dirs)) = two_processes(&fake, &[]).await else {
        return;
    };
    let first = eventually("A to listen for signals", || async {
        listening_sessions(&a).first().copied()
    })
    .await;
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
    crate::support::app::execute_sql(&admin_url, &format!("SELECT pg_terminate_backend({first})"));
    eventually("A to listen again on a new session", || async {
        let sessions = listening_sessions(&a);
        (sessions.len() == 2 && sessions[1] != first).then_some(())
    })
    .await;

    fake.push(long_answer());
    let mut stream = Sse::new(a.create_thread("ann", "Go on").await);
    stream.until_words(3).await;
    let thread_id = stream.thread_id();
    b.ok("ann", "threads.delete", json!({"thread_id": thread_id}))
        .await;
    stream.ends_stopped_without_retry().await;
}
