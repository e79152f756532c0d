//! Runs that outlive trouble: a server killed mid-stream (its run is marked interrupted at the
//! next start, with the text it had streamed, and the thread takes a new turn), a SIGTERM
//! with streams longer than the grace (each ends with a retryable error and keeps its partial
//! answer), a thread deleted while its run streams (the model stops at once, no retry is
//! offered), and two processes on one database (one run per thread across them; a survivor
//! ends the runs of a process that died).

use std::time::{Duration, Instant};

use chatkit_server::chatkit::states::RunStatus;
use chatkit_server::runs::INTERRUPTED_TITLE;
use chatkit_server::store::{RunRow, Store};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::app::{Db, TestApp, TestDb, eventually, llm_vars};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::user_input;
use crate::support::macros::llm_test;
use crate::support::process::ServerProcess;

/// A model answer long enough to outlast every test: 200 words, one every 100 ms.
pub(crate) fn long_answer() -> Reply {
    Reply::SlowText {
        pieces: (0..200).map(|n| format!("w{n} ")).collect(),
        delay_ms: 100,
    }
}

/// The settings of a server process answering with `fake`, without title requests (which
/// would take the scripted answers), plus `extra`.
pub(crate) fn process_vars(fake: &FakeLlm, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    llm_vars(&fake.base_url())
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain([("CHATKIT_AUTO_TITLES".to_owned(), "false".to_owned())])
        .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

pub(crate) fn as_refs(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// An SSE response read event by event, with the assistant text streamed so far.
pub(crate) struct Sse {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
    pub(crate) events: Vec<Value>,
    pub(crate) text: String,
}

impl Sse {
    pub(crate) fn new(response: reqwest::Response) -> Sse {
        assert_eq!(response.status(), 200);
        Sse {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
            events: Vec::new(),
            text: String::new(),
        }
    }

    /// The next event; `None` at a clean end of the body. A body that breaks fails the test.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..at + 2).collect();
                let Some(data) = frame.trim_end().strip_prefix("data: ") else {
                    continue;
                };
                let event: Value = serde_json::from_str(data).expect("event is JSON");
                if event["update"]["type"] == "assistant_message.content_part.text_delta" {
                    self.text
                        .push_str(event["update"]["delta"].as_str().unwrap_or_default());
                }
                self.events.push(event.clone());
                return Some(event);
            }
            match self.body.next().await {
                Some(Ok(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Some(Err(e)) => panic!("the stream broke instead of ending: {e}"),
                None => return None,
            }
        }
    }

    /// Reads until `words` text deltas have come.
    pub(crate) async fn until_words(&mut self, words: usize) {
        while self.text.split_whitespace().count() < words {
            self.next().await.expect("the stream goes on");
        }
    }

    /// Reads to the end of the stream.
    pub(crate) async fn read_all(&mut self) {
        while self.next().await.is_some() {}
    }

    /// Reads to the end of a stream of [`long_answer`] whose thread was deleted under it: it
    /// ends long before the answer would (200 words over 20 s), and offers no retry.
    pub(crate) async fn ends_stopped_without_retry(&mut self) {
        // A hang guard only.
        tokio::time::timeout(Duration::from_secs(60), self.read_all())
            .await
            .expect("the stream ends when its thread is deleted");
        let words = self.text.split_whitespace().count();
        assert!(
            words < 200,
            "the run streamed on after its thread was deleted: {words} words"
        );
        assert!(
            !self.events.iter().any(|e| e["allow_retry"] == true),
            "{:?}",
            self.events
        );
    }

    pub(crate) fn thread_id(&self) -> String {
        self.events[0]["thread"]["id"]
            .as_str()
            .expect("thread.created first")
            .to_owned()
    }
}

/// The newest run of a thread.
async fn last_run(store: &Store, thread_id: &str) -> RunRow {
    store
        .load_runs(thread_id)
        .await
        .unwrap()
        .pop()
        .expect("a run")
}

/// The items of a thread, oldest first, as the chat lists them.
pub(crate) async fn items(server: &ServerProcess, user: &str, thread_id: &str) -> Vec<Value> {
    let page = server
        .ok(
            user,
            "items.list",
            json!({"thread_id": thread_id, "limit": 100, "order": "asc"}),
        )
        .await;
    page["data"].as_array().unwrap().clone()
}

pub(crate) fn message_text(item: &Value) -> String {
    item["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|part| part["text"].as_str())
        .collect()
}

/// A turn on an existing thread must stream a full answer with no error.
async fn new_turn_works(server: &ServerProcess, fake: &FakeLlm, user: &str, thread_id: &str) {
    fake.push(Reply::Text(vec!["A fresh ".into(), "answer.".into()]));
    let response = server
        .post(
            user,
            "threads.add_user_message",
            json!({"thread_id": thread_id, "input": user_input("Again, please")}),
        )
        .await;
    let mut stream = Sse::new(response);
    stream.read_all().await;
    assert!(
        !stream.events.iter().any(|e| e["type"] == "error"),
        "{:?}",
        stream.events
    );
    assert_eq!(stream.text, "A fresh answer.");
}

/// SIGKILL mid-stream, then a start on the same database: the run is interrupted with a
/// reason, the text streamed until well before the kill is in the thread with a notice, and a
/// new turn works.
async fn a_killed_run_is_recovered(db: Db) {
    let Some((_db, url)) = TestDb::create(db) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeLlm::start().await;
    let vars = process_vars(&fake, &[("CHATKIT_RUN_STALE_SECS", "3")]);
    let mut server = ServerProcess::start(&url, dir.path(), &as_refs(&vars)).await;
    fake.push(long_answer());
    let mut stream = Sse::new(server.create_thread("ann", "Tell me a long story").await);
    stream.until_words(5).await;
    let seen_early = stream.text.clone();
    // More than a flush interval goes by with the stream running before the kill.
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        stream.next().await.expect("the stream goes on");
    }
    server.kill().await;
    let thread_id = stream.thread_id();

    server.restart().await;
    let store = Store::connect(&url, 1).unwrap();
    let run = eventually("the killed run to be marked interrupted", || async {
        let run = last_run(&store, &thread_id).await;
        (run.status == RunStatus::Interrupted).then_some(run)
    })
    .await;
    let reason = run.error.clone().unwrap_or_default();
    assert!(reason.contains("stopped"), "{reason}");
    let kept = run.partial_text.clone().unwrap_or_default();
    assert!(
        kept.starts_with(&seen_early) && kept.len() > seen_early.len(),
        "kept {kept:?}, streamed {seen_early:?} at least a second before the kill\n{}",
        server.log()
    );

    let items = items(&server, "ann", &thread_id).await;
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["user_message", "assistant_message", "task"],
        "{items:#?}"
    );
    assert_eq!(message_text(&items[1]), kept);
    assert_eq!(items[2]["task"]["title"], INTERRUPTED_TITLE);

    new_turn_works(&server, &fake, "ann", &thread_id).await;
    let history = fake.requests().last().unwrap()["messages"].to_string();
    assert!(
        history.contains(&seen_early) && history.contains("cut off"),
        "{history}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_is_recovered_sqlite() {
    a_killed_run_is_recovered(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_is_recovered_postgres() {
    a_killed_run_is_recovered(Db::Postgres).await;
}

/// SIGTERM with streams longer than the grace: each client gets a retryable `error` and a
/// clean end, each partial answer is stored, and the process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_long_streams_cleanly_after_the_grace() {
    const STREAMS: usize = 8;
    let (_db, url) = TestDb::create(Db::Sqlite).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeLlm::start().await;
    let vars = process_vars(&fake, &[("CHATKIT_SHUTDOWN_GRACE_SECS", "1")]);
    let mut server = ServerProcess::start(&url, dir.path(), &as_refs(&vars)).await;
    let mut streams = Vec::new();
    for n in 0..STREAMS {
        fake.push(long_answer());
        let response = server
            .create_thread(&format!("user{n}"), "A long story")
            .await;
        let mut stream = Sse::new(response);
        stream.until_words(1).await;
        streams.push(stream);
    }
    for stream in &mut streams {
        stream.until_words(3).await;
    }
    server.signal(libc::SIGTERM);
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                stream.read_all().await;
                stream
            })
        })
        .collect();
    let mut ended = Vec::new();
    for reader in readers {
        ended.push(reader.await.expect("every stream ends cleanly"));
    }
    let status = server.exits_within(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}\n{}", server.log());

    let store = Store::connect(&url, 1).unwrap();
    for (n, stream) in ended.iter().enumerate() {
        let last = stream.events.last().unwrap();
        assert_eq!(last["type"], "error", "{:?}", stream.events);
        assert_eq!(last["allow_retry"], true, "{last}");
        let thread_id = stream.thread_id();
        let run = last_run(&store, &thread_id).await;
        assert_eq!(
            run.status,
            RunStatus::Interrupted,
            "stream {n}\n{}",
            server.log()
        );
        let scope = chatkit_server::store::Scope {
            account_id: store.ensure_defaults().await.unwrap().0.id,
            agent_id: store.ensure_defaults().await.unwrap().1.id,
            user_id: format!("user{n}"),
        };
        let thread = store
            .load_thread_with_items(&scope, &thread_id, 20)
            .await
            .unwrap();
        let items = serde_json::to_value(&thread.items.data).unwrap();
        let answer = items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "assistant_message")
            .unwrap_or_else(|| panic!("no partial answer kept in stream {n}: {items:#}"));
        let kept = message_text(answer);
        assert!(
            !stream.text.is_empty() && kept.starts_with(&stream.text),
            "kept {kept:?}, streamed {:?}",
            stream.text
        );
    }
}

const NO_TITLES: &[(&str, &str)] = &[("CHATKIT_AUTO_TITLES", "false")];

llm_test!(deleting_a_thread_stops_its_run, vars = NO_TITLES);
/// `threads.delete` during a stream: the model's stream is dropped at once, and the client's
/// stream ends without offering a retry.
async fn deleting_a_thread_stops_its_run(app: TestApp, llm: FakeLlm) {
    llm.push(long_answer());
    let response = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("X-ChatKit-User", "ann")
        .body(
            json!({"type": "threads.create", "params": {"input": user_input("Go on")}}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let mut stream = Sse::new(response);
    stream.until_words(3).await;
    let thread_id = stream.thread_id();
    app.ok("ann", "threads.delete", json!({"thread_id": thread_id}))
        .await;
    stream.ends_stopped_without_retry().await;
    eventually("the model's stream to be dropped", || async {
        (llm.abandoned() == 1).then_some(())
    })
    .await;
}

/// Two processes on one Postgres database: a turn on a thread whose run streams in the other
/// process is refused as busy; when that process is killed, the survivor marks its run
/// interrupted after the stale timeout and the thread takes a new turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_runs_of_one_database() {
    let Some((_db, url)) = TestDb::create(Db::Postgres) else {
        return;
    };
    let fake = FakeLlm::start().await;
    let vars = process_vars(&fake, &[("CHATKIT_RUN_STALE_SECS", "3")]);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = ServerProcess::start(&url, dir_a.path(), &as_refs(&vars)).await;
    let b = ServerProcess::start(&url, dir_b.path(), &as_refs(&vars)).await;

    fake.push(Reply::Text(vec!["Hello.".into()]));
    let mut first = Sse::new(a.create_thread("ann", "Hi").await);
    first.read_all().await;
    let thread_id = first.thread_id();

    fake.push(long_answer());
    let turn = async |server: &ServerProcess, text: &str| {
        let input = json!({"thread_id": thread_id, "input": user_input(text)});
        Sse::new(server.post("ann", "threads.add_user_message", input).await)
    };
    let mut running = turn(&a, "A long story, please").await;
    running.until_words(3).await;
    let mut refused = turn(&b, "And another").await;
    refused.read_all().await;
    assert_eq!(refused.events.len(), 1, "{:?}", refused.events);
    assert_eq!(refused.events[0]["type"], "error");
    assert_eq!(refused.events[0]["allow_retry"], false);
    assert!(
        refused.events[0]["message"]
            .as_str()
            .unwrap()
            .contains("already being generated")
    );

    a.kill().await;
    let store = Store::connect(&url, 1).unwrap();
    eventually(
        "the survivor to mark the dead process's run interrupted",
        || async {
            let run = last_run(&store, &thread_id).await;
            (run.status == RunStatus::Interrupted).then_some(())
        },
    )
    .await;
    new_turn_works(&b, &fake, "ann", &thread_id).await;
}
