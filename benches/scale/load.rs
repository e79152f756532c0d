//! The `load` part: one server process, then two, on one fresh Postgres schema, with the fake
//! model answering at once. In each configuration [`TURN_CLIENTS`] clients run streamed turns
//! back to back (a new thread, then more messages on it), then [`READ_CLIENTS`] clients send
//! reads back to back; each request goes to the next process (round robin), so one thread's
//! turns alternate between the processes. Then every turn is checked against the rows, and
//! concurrent turns on one thread are fired at both processes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chatkit_server::store::Store;
use serde_json::json;

use crate::Report;
use crate::checks::{self, Verdict};
use crate::cpu::{Sample, Usage};
use crate::server::Server;
use crate::stats::percentile;
use crate::support::app::{Db, TestDb};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::turn::{self, Outcome, REPLY_WORDS, Turn, words};

/// Clients running turns at once, and the turns of a thread before a client starts another.
const TURN_CLIENTS: usize = 16;
const TURNS_PER_THREAD: usize = 4;
/// Clients sending reads at once.
const READ_CLIENTS: usize = 32;
/// Each phase: a warm-up, then the measured run, each bounded by time and count.
const WARM_UP: Duration = Duration::from_secs(1);
const BUDGET: Duration = Duration::from_secs(10);
const TURN_CAP: usize = 50_000;
const READ_CAP: usize = 1_000_000;
/// The reader's thread has this many items; it has this many threads.
const READ_ITEMS: usize = 20;
const READ_THREADS: usize = 20;
/// Contention: rounds, and concurrent turns on the round's thread.
const ROUNDS: usize = 20;
const CONTENDERS: usize = 8;

pub async fn run(report: &mut Report) {
    let Some((_db, url)) = TestDb::create(Db::Postgres) else {
        report.note("The load part needs Postgres: set TEST_DATABASE_URL.");
        return;
    };
    let fake = FakeLlm::start().await;
    let vars = [
        ("DATABASE_URL", url.clone()),
        ("OPENAI_BASE_URL", fake.base_url()),
        ("OPENAI_API_KEY", "x".to_owned()),
    ];
    let store = Store::connect(&url, 2).expect("the bench's own connection");
    let client = reqwest::Client::new();
    let mut servers = vec![Server::start(&vars).await];
    let reads = seed_reads(&client, &fake, &servers[0]).await;

    report.table(
        "#### Throughput",
        &[
            "processes",
            "load",
            "throughput",
            "latency p50 / p99",
            "CPU of each server process (cores)",
            "server CPU per request, all processes",
            "Postgres CPU for the servers (cores; per request); other Postgres",
            "client + fake model CPU (cores)",
            "machine busy (of 2 cores)",
        ],
    );
    let mut turns = Vec::new();
    for processes in [1, 2] {
        if processes == 2 {
            servers.push(Server::start(&vars).await);
        }
        let label = format!("{processes}p");
        turn_load(&client, &servers, &fake, &format!("{label}-warm"), WARM_UP).await;
        let before = Sample::now(&pids(&servers));
        let (done, elapsed) = turn_load(&client, &servers, &fake, &label, BUDGET).await;
        let usage = before.elapsed(&pids(&servers));
        let completed: Vec<Duration> = done
            .iter()
            .filter(|t| matches!(t.outcome, Outcome::Completed { .. }))
            .map(|t| t.took)
            .collect();
        report.row(row(
            processes,
            &format!("streamed turns, {TURN_CLIENTS} clients, {REPLY_WORDS}-word replies"),
            completed.len(),
            elapsed,
            &completed,
            &usage,
            "turns",
        ));
        turns.extend(done);

        read_load(&client, &servers, &reads, WARM_UP).await;
        let before = Sample::now(&pids(&servers));
        let (latencies, failed, elapsed) = read_load(&client, &servers, &reads, BUDGET).await;
        let failed_count = failed.len();
        let usage = before.elapsed(&pids(&servers));
        report.row(row(
            processes,
            &format!(
                "reads, {READ_CLIENTS} clients (`threads.get_by_id` of {READ_ITEMS} items, \
                 `threads.list` of {READ_THREADS}, `items.list` of {READ_ITEMS}, in turn)"
            ),
            latencies.len(),
            elapsed,
            &latencies,
            &usage,
            "reads",
        ));
        report.check(
            failed_count == 0,
            &format!(
                "{failed_count} reads failed: {:?}",
                &failed[..failed_count.min(5)]
            ),
        );
    }

    let verdict = checks::verify(&turns, &servers[0], &store).await;
    let contention = checks::same_thread(&servers, &fake, &store, ROUNDS, CONTENDERS).await;
    report.table("#### Checks", &["check", "result"]);
    checks_rows(report, "all load turns, both configurations", &verdict);
    report.row(vec![
        format!(
            "same thread: {ROUNDS} rounds of {CONTENDERS} concurrent `threads.add_user_message`, \
             alternating between the 2 processes"
        ),
        format!(
            "exactly one ran in {} of {} rounds; {} busy answers of {} turns; every busy answer \
             came before the running turn ended in {} rounds",
            contention.exactly_one,
            contention.rounds,
            contention.busy,
            contention.fired,
            contention.overlapped
        ),
    ]);
    report.check(
        contention.exactly_one == ROUNDS,
        "concurrent turns on one thread: not exactly one ran in every round",
    );
    checks_rows(report, "same-thread rounds", &contention.verdict);
    for server in &servers {
        let log = server.log();
        if !log.trim().is_empty() {
            report.note(&format!(
                "A server logged:\n\n```\n{}\n```",
                log.lines().take(20).collect::<Vec<_>>().join("\n")
            ));
        }
    }
}

fn pids(servers: &[Server]) -> Vec<u32> {
    servers.iter().map(|s| s.pid).collect()
}

/// A throughput row: `units` requests in `elapsed`, with the CPU used.
fn row(
    processes: usize,
    load: &str,
    units: usize,
    elapsed: Duration,
    latencies: &[Duration],
    usage: &Usage,
    unit: &str,
) -> Vec<String> {
    let per = |cpu: Duration| format!("{:.0} µs", cpu.as_secs_f64() * 1e6 / units.max(1) as f64);
    let each: Vec<String> = usage
        .servers
        .iter()
        .map(|&cpu| format!("{:.2}", usage.cores(cpu)))
        .collect();
    vec![
        processes.to_string(),
        load.to_owned(),
        format!(
            "{:.0} {unit}/s ({units} in {:.1} s)",
            units as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        ),
        format!(
            "{} / {}",
            ms(percentile(latencies, 50.0)),
            ms(percentile(latencies, 99.0))
        ),
        each.join(" + "),
        per(usage.servers_total()),
        format!(
            "{:.2}; {}; {:.2}",
            usage.cores(usage.postgres),
            per(usage.postgres),
            usage.cores(usage.postgres_other)
        ),
        format!(
            "{:.2} + {:.2}",
            usage.cores(usage.client),
            usage.cores(usage.fake)
        ),
        format!("{:.0} %", usage.machine_busy * 100.0),
    ]
}

fn checks_rows(report: &mut Report, what: &str, v: &Verdict) {
    report.row(vec![
        format!("{what}: turns sent"),
        format!(
            "{} on {} threads: {} completed, {} busy, {} failed {:?}",
            v.turns, v.threads, v.completed, v.busy, v.failed, v.failures
        ),
    ]);
    report.row(vec![
        format!("{what}: lost / doubled turns"),
        format!("{} / {}", v.lost, v.doubled),
    ]);
    report.row(vec![
        format!("{what}: threads whose runs are not one completed run per completed turn"),
        v.run_mismatches.to_string(),
    ]);
    report.row(vec![
        format!("{what}: runs of one thread overlapping in time"),
        v.overlapping_runs.to_string(),
    ]);
    report.check(v.holds(), &format!("{what}: {v:?}"));
}

/// [`TURN_CLIENTS`] clients running turns for `budget` (at most [`TURN_CAP`]); the turns and
/// the time taken.
async fn turn_load(
    client: &reqwest::Client,
    servers: &[Server],
    fake: &FakeLlm,
    label: &str,
    budget: Duration,
) -> (Vec<Turn>, Duration) {
    let next = AtomicUsize::new(0);
    let started = AtomicUsize::new(0);
    let begin = Instant::now();
    let clients = (0..TURN_CLIENTS).map(|c| {
        let (next, started) = (&next, &started);
        async move {
            let user = format!("load-{c}");
            let (mut thread, mut on_thread) = (None::<String>, 0);
            let mut turns = Vec::new();
            while begin.elapsed() < budget && started.fetch_add(1, Ordering::Relaxed) < TURN_CAP {
                let server = &servers[next.fetch_add(1, Ordering::Relaxed) % servers.len()];
                if on_thread == TURNS_PER_THREAD {
                    (thread, on_thread) = (None, 0);
                }
                let text = format!("{label} client {c} turn {}", turns.len());
                let reply = Some(Reply::Text(words(REPLY_WORDS)));
                let sent = &server.address;
                let done = turn::send(client, fake, sent, &user, thread.as_deref(), text, reply);
                let done = done.await;
                if matches!(done.outcome, Outcome::Completed { .. }) {
                    (thread, on_thread) = (done.thread_id.clone(), on_thread + 1);
                } else {
                    (thread, on_thread) = (None, 0);
                }
                turns.push(done);
            }
            turns
        }
    });
    let turns = futures_util::future::join_all(clients).await;
    (turns.into_iter().flatten().collect(), begin.elapsed())
}

/// The reader's thread of [`READ_ITEMS`] items among its [`READ_THREADS`] threads; the
/// bodies of the three reads.
async fn seed_reads(client: &reqwest::Client, fake: &FakeLlm, server: &Server) -> Vec<String> {
    let mut thread = None;
    for i in 0..READ_ITEMS / 2 {
        let reply = Some(Reply::Text(words(10)));
        let text = format!("reader message {i}");
        let sent = turn::send(
            client,
            fake,
            &server.address,
            "reader",
            thread.as_deref(),
            text,
            reply,
        );
        let sent = sent.await;
        assert!(matches!(sent.outcome, Outcome::Completed { .. }) || sent.thread_id.is_some());
        thread = sent.thread_id;
    }
    for i in 1..READ_THREADS {
        let reply = Some(Reply::Text(words(10)));
        let text = format!("reader thread {i}");
        turn::send(client, fake, &server.address, "reader", None, text, reply).await;
    }
    let thread = thread.expect("the reader's thread");
    [
        json!({"type": "threads.get_by_id", "params": {"thread_id": thread}}),
        json!({"type": "threads.list", "params": {"limit": READ_THREADS, "order": "desc"}}),
        json!({"type": "items.list", "params": {"thread_id": thread, "limit": READ_ITEMS}}),
    ]
    .iter()
    .map(|body| body.to_string())
    .collect()
}

/// [`READ_CLIENTS`] clients sending the reads in turn for `budget` (at most [`READ_CAP`]):
/// the latency of each answered read, why each failed one failed, and the time taken.
async fn read_load(
    client: &reqwest::Client,
    servers: &[Server],
    bodies: &[String],
    budget: Duration,
) -> (Vec<Duration>, Vec<String>, Duration) {
    let next = AtomicUsize::new(0);
    let failed = std::sync::Mutex::new(Vec::new());
    let begin = Instant::now();
    let clients = (0..READ_CLIENTS).map(|_| {
        let (next, failed) = (&next, &failed);
        async move {
            let mut latencies = Vec::new();
            while begin.elapsed() < budget {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= READ_CAP {
                    break;
                }
                let server = &servers[n % servers.len()];
                let sent = Instant::now();
                let answer = client
                    .post(format!("{}/chatkit", server.address))
                    .header("X-ChatKit-User", "reader")
                    .header("Content-Type", "application/json")
                    .body(bodies[(n / servers.len()) % bodies.len()].clone())
                    .send()
                    .await;
                let why = match answer {
                    Ok(r) if r.status() == 200 => r.bytes().await.err().map(|e| e.to_string()),
                    Ok(r) => Some(format!("HTTP {}", r.status())),
                    Err(e) => Some(format!("{e:?}")),
                };
                match why {
                    None => latencies.push(sent.elapsed()),
                    Some(why) => failed.lock().unwrap().push(why),
                }
            }
            latencies
        }
    });
    let latencies = futures_util::future::join_all(clients).await;
    let latencies = latencies.into_iter().flatten().collect();
    (latencies, failed.into_inner().unwrap(), begin.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}
