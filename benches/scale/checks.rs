//! What the turns left in the database, against what their clients saw: no lost turn (every
//! completed stream's user message and assistant message are rows, with the same text), no
//! doubled turn (no user message twice, no assistant message no client saw, nothing stored by
//! a busy answer), and one completed run per completed turn, no two of one thread overlapping
//! in time. And the contention check: concurrent turns on one thread through both processes.

use std::collections::{BTreeMap, HashMap};

use chatkit_server::chatkit::states::RunStatus;
use chatkit_server::store::Store;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::server::Server;
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::turn::{self, Outcome, REPLY_WORDS, Turn, text_of, words};

/// Threads read back at the same time.
const VERIFY_CONCURRENCY: usize = 8;

/// The verdict over a set of turns.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    pub threads: usize,
    pub turns: usize,
    pub completed: usize,
    pub busy: usize,
    pub failed: usize,
    /// Completed turns whose user or assistant message is missing or differs.
    pub lost: usize,
    /// User messages stored twice, assistant messages no client saw, messages of busy turns.
    pub doubled: usize,
    /// Threads whose completed runs are not one per completed turn.
    pub run_mismatches: usize,
    /// Pairs of runs of one thread whose times overlap.
    pub overlapping_runs: usize,
    /// A few failure messages, for the report.
    pub failures: Vec<String>,
}

impl Verdict {
    pub fn holds(&self) -> bool {
        self.lost + self.doubled + self.run_mismatches + self.overlapping_runs + self.failed == 0
    }
}

/// Reads every thread of `turns` back (items through `server`, runs through `store`) and
/// compares.
pub async fn verify(turns: &[Turn], server: &Server, store: &Store) -> Verdict {
    let mut verdict = Verdict {
        turns: turns.len(),
        ..Verdict::default()
    };
    let mut by_thread: BTreeMap<&str, Vec<&Turn>> = BTreeMap::new();
    for turn in turns {
        match &turn.outcome {
            Outcome::Completed { .. } => verdict.completed += 1,
            Outcome::Busy => verdict.busy += 1,
            Outcome::Failed(why) => {
                verdict.failed += 1;
                if verdict.failures.len() < 5 {
                    verdict.failures.push(why.clone());
                }
            }
        }
        if let Some(thread) = turn.thread_id.as_deref() {
            by_thread.entry(thread).or_default().push(turn);
        }
    }
    verdict.threads = by_thread.len();
    let client = reqwest::Client::new();
    let checked: Vec<(usize, usize, bool, usize)> =
        futures_util::stream::iter(by_thread.into_iter().map(|(thread, turns)| {
            let client = &client;
            async move {
                let items = items(client, server, &turns[0].user, thread).await;
                let runs = store.load_runs(thread).await.expect("runs");
                let (lost, doubled) = compare(&turns, &items);
                let completed = turns
                    .iter()
                    .filter(|t| matches!(t.outcome, Outcome::Completed { .. }))
                    .count();
                let runs_completed = runs
                    .iter()
                    .filter(|r| r.status == RunStatus::Completed)
                    .count();
                let overlaps = runs
                    .windows(2)
                    .filter(|w| w[0].finished_at.is_none_or(|end| end > w[1].started_at))
                    .count();
                (
                    lost,
                    doubled,
                    runs_completed != completed || runs.len() != completed,
                    overlaps,
                )
            }
        }))
        .buffer_unordered(VERIFY_CONCURRENCY)
        .collect()
        .await;
    for (lost, doubled, mismatch, overlaps) in checked {
        verdict.lost += lost;
        verdict.doubled += doubled;
        verdict.run_mismatches += usize::from(mismatch);
        verdict.overlapping_runs += overlaps;
    }
    verdict
}

/// The items of a thread, oldest first.
async fn items(client: &reqwest::Client, server: &Server, user: &str, thread: &str) -> Vec<Value> {
    let response = client
        .post(format!("{}/chatkit", server.address))
        .header("X-ChatKit-User", user)
        .header("Content-Type", "application/json")
        .body(
            json!({"type": "items.list", "params": {"thread_id": thread, "limit": 200, "order": "asc"}})
                .to_string(),
        )
        .send()
        .await
        .expect("items.list sent");
    assert_eq!(response.status(), 200, "items.list of {thread}");
    let page: Value = response.json().await.expect("items JSON");
    page["data"].as_array().cloned().unwrap_or_default()
}

/// Lost and doubled messages of one thread's turns against its items.
fn compare(turns: &[&Turn], items: &[Value]) -> (usize, usize) {
    let mut users: HashMap<String, usize> = HashMap::new();
    let mut assistants: HashMap<&str, String> = HashMap::new();
    for item in items {
        match item["type"].as_str() {
            Some("user_message") => *users.entry(text_of(item)).or_default() += 1,
            Some("assistant_message") => {
                assistants.insert(item["id"].as_str().unwrap_or(""), text_of(item));
            }
            _ => {}
        }
    }
    let (mut lost, mut doubled, mut seen) = (0, 0, 0);
    for turn in turns {
        let stored = users.get(&turn.text).copied().unwrap_or(0);
        doubled += stored.saturating_sub(1);
        match &turn.outcome {
            Outcome::Completed { id, text } => {
                seen += 1;
                if stored == 0 || assistants.get(id.as_str()) != Some(text) {
                    lost += 1;
                }
            }
            // A refused turn stores nothing.
            Outcome::Busy => doubled += stored,
            Outcome::Failed(_) => {}
        }
    }
    // Assistant messages that no client saw complete.
    doubled += assistants.len().saturating_sub(seen);
    (lost, doubled)
}

/// What the contention rounds found.
#[derive(Debug, Default)]
pub struct Contention {
    pub rounds: usize,
    pub fired: usize,
    /// Rounds in which exactly one turn ran.
    pub exactly_one: usize,
    pub busy: usize,
    /// Rounds in which every busy answer came before the running turn's stream ended: the
    /// turns really overlapped.
    pub overlapped: usize,
    pub verdict: Verdict,
}

/// `rounds` times: a new thread, then `contenders` concurrent `threads.add_user_message` on
/// it, alternating between the servers. The turn that runs gets a slow reply, so the others
/// arrive while it streams.
pub async fn same_thread(
    servers: &[Server],
    fake: &FakeLlm,
    store: &Store,
    rounds: usize,
    contenders: usize,
) -> Contention {
    let client = reqwest::Client::new();
    let user = "contender";
    let mut all = Vec::new();
    let mut found = Contention {
        rounds,
        ..Contention::default()
    };
    for round in 0..rounds {
        let first = &servers[round % servers.len()];
        let text = format!("round {round} opens");
        let reply = Some(Reply::Text(words(REPLY_WORDS)));
        let opened = turn::send(&client, fake, &first.address, user, None, text, reply).await;
        let Some(thread) = opened.thread_id.clone() else {
            all.push(opened);
            continue;
        };
        all.push(opened);
        fake.push(Reply::SlowText {
            pieces: words(REPLY_WORDS),
            delay_ms: 10,
        });
        let fired = (0..contenders).map(|i| {
            let server = &servers[i % servers.len()];
            let (client, thread) = (&client, thread.as_str());
            let text = format!("round {round} contender {i}");
            async move {
                turn::send(
                    client,
                    fake,
                    &server.address,
                    user,
                    Some(thread),
                    text,
                    None,
                )
                .await
            }
        });
        let answers = futures_util::future::join_all(fired).await;
        let ran: Vec<&Turn> = answers
            .iter()
            .filter(|t| matches!(t.outcome, Outcome::Completed { .. }))
            .collect();
        let busy: Vec<&Turn> = answers
            .iter()
            .filter(|t| t.outcome == Outcome::Busy)
            .collect();
        found.fired += answers.len();
        found.busy += busy.len();
        found.exactly_one += usize::from(ran.len() == 1 && busy.len() == contenders - 1);
        if let [winner] = ran.as_slice() {
            found.overlapped += usize::from(busy.iter().all(|b| b.ended <= winner.ended));
        }
        all.extend(answers);
    }
    found.verdict = verify(&all, &servers[0], store).await;
    found
}
