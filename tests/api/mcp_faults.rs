//! MCP servers that misbehave: one that accepts connections and never answers, and one that
//! goes away and comes back at the same URL. Turns must not wait on them again and again, no
//! connection may be left open, the model reads plain sentences rather than transport errors,
//! and a server that answers again gets its tools back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::support::app::{Db, TestApp, eventually, spawn_mcp_app};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::macros::db_case;
use crate::support::mcp_server::TestMcpServer;

/// A "server" that accepts connections and never answers. It reads (and ignores) what the
/// client sends, only to see when the client closes a connection.
struct HungServer {
    url: String,
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HungServer {
    /// Stops accepting and drops every connection it holds.
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HungServer {
    async fn start_on(port: u16) -> HungServer {
        let listener = eventually("the hung server's port", || async {
            tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .ok()
        })
        .await;
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let (accepted, closed) = (Arc::<AtomicUsize>::default(), Arc::<AtomicUsize>::default());
        let counts = (accepted.clone(), closed.clone());
        let task = tokio::spawn(async move {
            let (accepted, closed) = counts;
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let closed = closed.clone();
                connections.spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(1..) = stream.read(&mut buf).await {}
                    closed.fetch_add(1, Ordering::SeqCst);
                });
                while connections.try_join_next().is_some() {}
            }
        });
        HungServer {
            url,
            accepted,
            closed,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

fn port_of(url: &str) -> u16 {
    reqwest::Url::parse(url).unwrap().port().unwrap()
}

fn done_items<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == "thread.item.done" && e["item"]["type"] == kind)
        .map(|e| &e["item"])
        .collect()
}

/// The tool messages of the model's latest request.
fn last_tool_outputs(llm: &FakeLlm) -> Vec<String> {
    llm.requests().last().unwrap()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

/// One turn in which the model calls `echo` with `text`, then answers.
async fn echo_turn(app: &TestApp, llm: &FakeLlm, text: &str) -> String {
    llm.push(Reply::ToolCalls {
        text: vec![],
        calls: vec![("echo".into(), json!({"text": text}))],
    });
    llm.push(Reply::Text(vec!["ok".into()]));
    let (_, events) = app.create_thread("ann", "Echo").await;
    assert_eq!(
        done_items(&events, "assistant_message").len(),
        1,
        "{events:?}"
    );
    last_tool_outputs(llm).remove(0)
}

/// What the model reads about a failed server: who and what, in words; no URL, no library
/// or type names (those go to the log).
fn assert_plain(text: &str, server: &str) {
    assert!(
        text.contains(&format!("'{server}'")),
        "names the server: {text}"
    );
    for detail in [
        "http",
        "127.0.0.1",
        "reqwest",
        "hyper",
        "Transport",
        "Error",
        "::",
        "{",
    ] {
        assert!(!text.contains(detail), "{detail:?} in {text:?}");
    }
}

db_case!(a_hung_server_is_not_waited_for_on_every_turn_and_leaks_nothing);
async fn a_hung_server_is_not_waited_for_on_every_turn_and_leaks_nothing(db: Db) {
    let hung = HungServer::start_on(0).await;
    let servers = json!([{"name": "stuck", "url": hung.url, "timeout_ms": 200}]);
    let Some((app, llm)) = spawn_mcp_app(db, servers).await else {
        return;
    };
    const TURNS: usize = 30;
    for n in 0..TURNS {
        llm.push(Reply::Text(vec![format!("answer {n}")]));
        let (_, events) = app.create_thread("ann", "Hello").await;
        let answers = done_items(&events, "assistant_message");
        assert_eq!(answers.len(), 1, "turn {n}: {events:?}");
        assert_eq!(answers[0]["content"][0]["text"], format!("answer {n}"));
    }
    // Tried on the first turn, then again only after each (growing) back-off.
    let attempts = hung.accepted();
    assert!(
        (1..=6).contains(&attempts),
        "{attempts} connections to a hung server in {TURNS} turns"
    );
    eventually("every connection to the hung server closed", || async {
        (hung.closed() == hung.accepted()).then_some(())
    })
    .await;

    let instructions = llm.requests()[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        instructions.contains("'stuck' service are unavailable"),
        "{instructions}"
    );
    assert!(!instructions.contains("http"), "{instructions}");
}

db_case!(a_server_that_goes_away_is_skipped_until_it_answers_again);
async fn a_server_that_goes_away_is_skipped_until_it_answers_again(db: Db) {
    let up = TestMcpServer::start().await;
    let port = port_of(&up.url);
    let servers = json!([{"name": "flaky", "url": up.url, "timeout_ms": 200}]);
    let Some((app, llm)) = spawn_mcp_app(db, servers).await else {
        return;
    };
    assert_eq!(echo_turn(&app, &llm, "one").await, "echo: one");

    // Gone: the call fails on a refused connection, told to the model in plain words.
    drop(up);
    eventually("the server's port closed", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    let refused = echo_turn(&app, &llm, "two").await;
    assert_plain(&refused, "flaky");

    // Hung, within the back-off: the last known tools are still offered, and a call answers
    // at once that the service is unavailable.
    let hung = HungServer::start_on(port).await;
    let skipped = echo_turn(&app, &llm, "three").await;
    assert_plain(&skipped, "flaky");
    assert!(skipped.contains("unavailable"), "{skipped}");
    let offered = llm.requests().last().unwrap()["tools"].clone();
    assert!(
        offered
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["function"]["name"] == "echo"),
        "{offered}"
    );

    // Back: once the back-off has passed, a probe finds it and its tools work again.
    drop(hung);
    let _up = TestMcpServer::start_on(port).await;
    let (app, llm) = (&app, &llm);
    eventually("the server's tools working again", move || async move {
        (echo_turn(app, llm, "four").await == "echo: four").then_some(())
    })
    .await;
}
