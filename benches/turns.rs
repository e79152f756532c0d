//! Streamed turns through the real server against the fake model with zero latency: the numbers
//! behind the "Streamed turns" section of `docs/benchmarks.md`.
//!
//! `cargo bench --bench turns` (add `TEST_DATABASE_URL=postgres://...` for the Postgres row).
//! Everything runs on loopback in this process: the server (its own actix workers), the fake
//! OpenAI endpoint (one actix worker) and the load-generating client (this tokio runtime), so
//! the client and the fake compete with the server for the machine's cores. Every loop is
//! bounded by a count and a time budget; nothing here asserts on time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The test suite's support: its fake model (the bench needs only plain replies from it) and
// its per-run database (a SQLite file or a fresh Postgres schema).
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../tests/api/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chatkit_server::config::Settings;
use chatkit_server::startup::Application;
use futures_util::StreamExt;
use serde_json::{Value, json};
use support::app::{Db, TestDb};
use support::fake_llm::{FakeLlm, Reply};

/// Sequential turns timed for time-to-first-delta.
const TTFD_TURNS: usize = 300;
/// Pieces of the long reply timed for deltas/s.
const LONG_REPLY_PIECES: usize = 20_000;
/// How often the long reply is streamed (the median run is reported).
const LONG_REPLY_RUNS: usize = 7;
/// Words of a reply in the turns/s runs.
const REPLY_WORDS: usize = 50;
/// Concurrent clients of the turns/s runs.
const TURN_CLIENTS: [usize; 3] = [1, 16, 64];
/// Time budget and turn cap of one turns/s run.
const TURNS_BUDGET: Duration = Duration::from_secs(5);
const TURNS_CAP: usize = 50_000;
/// Concurrent connections, time budget and request cap of one read run.
const READ_CONNECTIONS: usize = 64;
const READ_BUDGET: Duration = Duration::from_secs(5);
const READ_CAP: usize = 1_000_000;
/// Items of the thread read by `threads.get_by_id`, and threads of the user of `threads.list`.
const READ_ITEMS: usize = 20;
const READ_THREADS: usize = 20;
/// How long one streamed answer may take before the bench gives up on it.
const TURN_DEADLINE: Duration = Duration::from_secs(60);

/// What marks a text delta frame of our stream, and a content chunk of the fake's (the
/// pieces are words "w0 ", "w1 ", ...).
const DELTA_MARK: &[u8] = b"_part.text_delta\"";
const FAKE_DELTA_MARK: &[u8] = b"{\"content\":\"w";

fn main() {
    // Only warnings and errors: a failing request says why, a normal run prints nothing.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    // The client's threads are named, so their CPU time can be told from the server's.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}

async fn bench() {
    let started = Instant::now();
    let mut report = Report::default();
    machine_facts(&mut report);
    // `CHATKIT_BENCH_ONLY=reads,turns` runs some parts only (for profiling one of them).
    let only = std::env::var("CHATKIT_BENCH_ONLY").ok();
    let runs = |part: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|p| p == part))
    };

    let sqlite = Bench::start(Db::Sqlite).await.expect("sqlite server");
    if runs("ttfd") {
        time_to_first_delta(&sqlite, &mut report).await;
    }
    if runs("deltas") {
        deltas_per_second(&sqlite, &mut report).await;
    }
    if runs("reads") {
        reads(&sqlite, &mut report).await;
    }
    if runs("turns") {
        turns_per_second(&sqlite, "SQLite", &mut report).await;
    }
    drop(sqlite);

    if runs("postgres") {
        match Bench::start(Db::Postgres).await {
            Some(postgres) => turns_per_second(&postgres, "Postgres", &mut report).await,
            None => report.note("Postgres rows skipped: TEST_DATABASE_URL is not set."),
        }
    }

    report
        .facts
        .push(format!("load average at the end: {}", load_average()));
    report.note(&format!(
        "Whole bench: {:.0} s.",
        started.elapsed().as_secs_f64()
    ));
    report.print();
}

// ---------------------------------------------------------------------------------------------
// The server under test.

/// Our server on a fresh database, talking to a fresh fake model.
struct Bench {
    address: String,
    client: reqwest::Client,
    fake: Arc<FakeLlm>,
    cpu: CpuMeter,
    _db: TestDb,
}

impl Bench {
    async fn start(kind: Db) -> Option<Bench> {
        let (db, db_url) = TestDb::create(kind)?;
        let before = threads();
        let fake = FakeLlm::start().await;
        let client = reqwest::Client::new();
        // The fake's threads start on its first request; any answer will do.
        client
            .get(format!("{}/models", fake.base_url()))
            .send()
            .await
            .expect("the fake answers");
        let cpu = CpuMeter {
            fake: threads().difference(&before).copied().collect(),
        };
        let vars: HashMap<&str, String> = HashMap::from([
            ("DATABASE_URL", db_url),
            ("CHATKIT_BIND", "127.0.0.1:0".into()),
            ("OPENAI_BASE_URL", fake.base_url()),
            ("OPENAI_API_KEY", "x".into()),
            ("CHATKIT_AUTO_TITLES", "false".into()),
        ]);
        let settings = Settings::from_vars(|name| vars.get(name).cloned()).expect("settings");
        let app = Application::build(settings).await.expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        Some(Bench {
            address,
            client,
            fake: Arc::new(fake),
            cpu,
            _db: db,
        })
    }

    /// One streamed request: queues `reply` at the fake, sends, and reads the stream to its
    /// end; the HTTP status when the server refuses it.
    async fn try_turn(
        &self,
        user: &str,
        kind: &str,
        params: Value,
        reply: Vec<String>,
    ) -> Result<Streamed, u16> {
        self.fake.push(Reply::Text(reply));
        let sent = Instant::now();
        let response = self
            .client
            .post(format!("{}/chatkit", self.address))
            .header("X-ChatKit-User", user)
            .header("Content-Type", "application/json")
            .body(json!({"type": kind, "params": params}).to_string())
            .send()
            .await
            .expect("request sent");
        match response.status().as_u16() {
            200 => Ok(read_stream(response, sent, DELTA_MARK).await),
            status => Err(status),
        }
    }

    async fn turn(&self, user: &str, kind: &str, params: Value, reply: Vec<String>) -> Streamed {
        self.try_turn(user, kind, params, reply)
            .await
            .unwrap_or_else(|status| panic!("{kind} failed with HTTP {status}"))
    }

    /// A turn that starts a thread with `text`.
    async fn create(&self, user: &str, text: &str, reply: Vec<String>) -> Streamed {
        self.turn(
            user,
            "threads.create",
            json!({"input": user_input(text)}),
            reply,
        )
        .await
    }

    /// The same reply read straight from the fake, no server in between.
    async fn direct(&self, reply: Vec<String>) -> Streamed {
        self.fake.push(Reply::Text(reply));
        let sent = Instant::now();
        let response = self
            .client
            .post(format!("{}/chat/completions", self.fake.base_url()))
            .header("Content-Type", "application/json")
            .body(
                json!({
                    "model": "fake-model",
                    "messages": [{"role": "user", "content": "go"}],
                    "stream": true,
                    "stream_options": {"include_usage": true},
                })
                .to_string(),
            )
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200);
        read_stream(response, sent, FAKE_DELTA_MARK).await
    }
}

fn user_input(text: &str) -> Value {
    json!({"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}})
}

/// `n` reply pieces, each one word and its space.
fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{i} ")).collect()
}

// ---------------------------------------------------------------------------------------------
// Reading SSE as it arrives.

/// When each delta of a stream arrived.
struct Streamed {
    sent: Instant,
    deltas: Vec<Instant>,
    ended: Instant,
    /// The stream's first frame (`thread.created` for a new thread).
    first_frame: Vec<u8>,
}

impl Streamed {
    fn first_delta(&self) -> Duration {
        self.deltas
            .first()
            .expect("a delta")
            .duration_since(self.sent)
    }

    /// From the first delta to the last.
    fn delta_span(&self) -> Duration {
        match (self.deltas.first(), self.deltas.last()) {
            (Some(first), Some(last)) => last.duration_since(*first),
            _ => Duration::ZERO,
        }
    }

    fn thread_id(&self) -> String {
        let data = self
            .first_frame
            .strip_prefix(b"data: ")
            .expect("data frame");
        let event: Value = serde_json::from_slice(data).expect("JSON event");
        event["thread"]["id"]
            .as_str()
            .expect("thread.created")
            .to_owned()
    }
}

/// Reads `response` to its end, noting the arrival of every frame that contains `mark`.
async fn read_stream(response: reqwest::Response, sent: Instant, mark: &[u8]) -> Streamed {
    let deadline = sent + TURN_DEADLINE;
    let mut body = response.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut deltas = Vec::new();
    let mut first_frame = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = match tokio::time::timeout(left, body.next()).await {
            Err(_) => panic!("stream still open after {TURN_DEADLINE:?}"),
            Ok(None) => break,
            Ok(Some(chunk)) => chunk.expect("stream read"),
        };
        let now = Instant::now();
        buf.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = find(&buf[start..], b"\n\n") {
            let frame = &buf[start..start + end];
            if first_frame.is_none() {
                first_frame = Some(frame.to_vec());
            }
            if find(frame, mark).is_some() {
                deltas.push(now);
            }
            start += end + 2;
        }
        buf.drain(..start);
    }
    Streamed {
        sent,
        deltas,
        ended: Instant::now(),
        first_frame: first_frame.unwrap_or_default(),
    }
}

/// Where `needle` (not empty) first occurs in `haystack`: a byte scan for its first byte, then a
/// comparison, so the client spends little of the machine on finding frames.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut at = 0;
    while let Some(offset) = haystack.get(at..)?.iter().position(|&b| b == first) {
        let start = at + offset;
        if haystack.get(start + 1..start + needle.len()) == Some(rest) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The measurements.

/// 1. `threads.create` sent -> first text delta received, over sequential turns.
async fn time_to_first_delta(bench: &Bench, report: &mut Report) {
    let reply = words(REPLY_WORDS);
    for _ in 0..20 {
        bench.create("ttfd", "warm up", reply.clone()).await;
    }
    let mut ours = Vec::with_capacity(TTFD_TURNS);
    let mut fake = Vec::with_capacity(TTFD_TURNS);
    for i in 0..TTFD_TURNS {
        let turn = bench
            .create("ttfd", &format!("turn {i}"), reply.clone())
            .await;
        assert_eq!(turn.deltas.len(), REPLY_WORDS, "every delta arrives");
        ours.push(turn.first_delta());
        fake.push(bench.direct(reply.clone()).await.first_delta());
    }
    report.row(
        &format!("time to first delta, `threads.create`, {TTFD_TURNS} sequential turns, SQLite"),
        &latency(&ours),
    );
    report.row(
        "time to first delta, the fake alone (same client, no server)",
        &latency(&fake),
    );
}

/// 2. Deltas/s of one long reply through the server and straight from the fake.
async fn deltas_per_second(bench: &Bench, report: &mut Report) {
    let reply = words(LONG_REPLY_PIECES);
    let mut ours = Vec::new();
    let mut fake = Vec::new();
    let mut gaps_ours = Vec::new();
    let mut gaps_fake = Vec::new();
    let mut cpu = Cpu::default();
    for run in 0..LONG_REPLY_RUNS {
        let before = bench.cpu.sample();
        let turn = bench
            .create("long", &format!("long {run}"), reply.clone())
            .await;
        cpu += before.elapsed(&bench.cpu);
        assert_eq!(turn.deltas.len(), LONG_REPLY_PIECES, "every delta arrives");
        ours.push(turn.delta_span());
        gaps_ours.extend(gaps(&turn.deltas));
        let direct = bench.direct(reply.clone()).await;
        assert_eq!(
            direct.deltas.len(),
            LONG_REPLY_PIECES,
            "every delta arrives"
        );
        fake.push(direct.delta_span());
        gaps_fake.extend(gaps(&direct.deltas));
    }
    let ours = median(&ours);
    let fake = median(&fake);
    let per_delta = |d: Duration| d.as_secs_f64() / (LONG_REPLY_PIECES - 1) as f64;
    let rate = |d: Duration| 1.0 / per_delta(d);
    report.row(
        &format!("deltas/s through the server, one {LONG_REPLY_PIECES}-piece reply, first to last delta (median of {LONG_REPLY_RUNS})"),
        &format!("{:.0} deltas/s ({} per delta)", rate(ours), us(per_delta(ours))),
    );
    report.row(
        "deltas/s straight from the fake, same reply",
        &format!(
            "{:.0} deltas/s ({} per delta)",
            rate(fake),
            us(per_delta(fake))
        ),
    );
    report.row(
        "server-added time per text delta, mean ((ours - fake) / deltas)",
        &us(per_delta(ours) - per_delta(fake)),
    );
    let deltas = LONG_REPLY_PIECES * LONG_REPLY_RUNS;
    report.row(
        "server CPU time per text delta, same turns (whole turn's server CPU / deltas)",
        &format!(
            "{} (fake {}, client {})",
            per(cpu.server, deltas),
            per(cpu.fake, deltas),
            per(cpu.client, deltas)
        ),
    );
    report.row(
        "gap between consecutive deltas at the client, through the server",
        &latency(&gaps_ours),
    );
    report.row(
        "gap between consecutive deltas at the client, straight from the fake",
        &latency(&gaps_fake),
    );
}

fn gaps(arrivals: &[Instant]) -> Vec<Duration> {
    arrivals
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .collect()
}

/// 3. Completed streamed turns per second with N clients, each starting turn after turn.
async fn turns_per_second(bench: &Bench, db: &str, report: &mut Report) {
    for clients in TURN_CLIENTS {
        // Opens the connections and warms the pools.
        load(bench, clients, Duration::from_millis(500), clients * 4).await;
        let before = bench.cpu.sample();
        let (latencies, failed, elapsed) = load(bench, clients, TURNS_BUDGET, TURNS_CAP).await;
        let cpu = before.elapsed(&bench.cpu);
        let failed = if failed == 0 {
            String::new()
        } else {
            format!("; **{failed} turns failed**")
        };
        report.row(
            &format!(
                "streamed turns/s, {clients} concurrent client(s), {REPLY_WORDS}-word replies, {db}"
            ),
            &format!(
                "{:.0} turns/s ({} turns in {:.1} s; turn p50 {} p99 {}; server CPU {} per turn{failed})",
                latencies.len() as f64 / elapsed.as_secs_f64(),
                latencies.len(),
                elapsed.as_secs_f64(),
                ms(percentile(&latencies, 50.0)),
                ms(percentile(&latencies, 99.0)),
                per(cpu.server, latencies.len()),
            ),
        );
    }
}

/// `clients` tasks each running whole `threads.create` turns until `budget` passes or `cap`
/// turns were started: the duration of each complete turn, how many turns failed (refused, or
/// a stream without every delta), and the time taken.
async fn load(
    bench: &Bench,
    clients: usize,
    budget: Duration,
    cap: usize,
) -> (Vec<Duration>, usize, Duration) {
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let begin = Instant::now();
    let tasks = (0..clients).map(|c| {
        let (started, failed) = (started.clone(), failed.clone());
        let user = format!("client-{c}");
        async move {
            let reply = words(REPLY_WORDS);
            let params = json!({"input": user_input("hello")});
            let mut latencies = Vec::new();
            while begin.elapsed() < budget && started.fetch_add(1, Ordering::Relaxed) < cap {
                match bench
                    .try_turn(&user, "threads.create", params.clone(), reply.clone())
                    .await
                {
                    Ok(turn) if turn.deltas.len() == REPLY_WORDS => {
                        latencies.push(turn.ended.duration_since(turn.sent));
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }
    });
    let latencies = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    (latencies, failed.load(Ordering::Relaxed), begin.elapsed())
}

/// 4. `threads.get_by_id` of a 20-item thread and `threads.list` of 20 threads, 64 connections.
async fn reads(bench: &Bench, report: &mut Report) {
    let user = "reader";
    let reply = words(10);
    let first = bench.create(user, "message 0", reply.clone()).await;
    let thread_id = first.thread_id();
    for i in 1..READ_ITEMS / 2 {
        let params = json!({"thread_id": thread_id, "input": user_input(&format!("message {i}"))});
        bench
            .turn(user, "threads.add_user_message", params, reply.clone())
            .await;
    }
    for i in 1..READ_THREADS {
        bench
            .create(user, &format!("thread {i}"), reply.clone())
            .await;
    }
    let get = json!({"type": "threads.get_by_id", "params": {"thread_id": thread_id}}).to_string();
    let list = json!({"type": "threads.list", "params": {"limit": READ_THREADS, "order": "desc"}})
        .to_string();
    let thread: Value = serde_json::from_slice(&read_once(bench, user, &get).await).expect("JSON");
    assert_eq!(
        thread["items"]["data"].as_array().map(Vec::len),
        Some(READ_ITEMS)
    );
    let page: Value = serde_json::from_slice(&read_once(bench, user, &list).await).expect("JSON");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(READ_THREADS));

    for (what, body) in [
        (
            format!("`threads.get_by_id`, {READ_ITEMS}-item thread"),
            &get,
        ),
        (format!("`threads.list`, {READ_THREADS} threads"), &list),
    ] {
        read_load(bench, user, body, Duration::from_millis(500)).await;
        let before = bench.cpu.sample();
        let (latencies, elapsed) = read_load(bench, user, body, READ_BUDGET).await;
        let cpu = before.elapsed(&bench.cpu);
        report.row(
            &format!("{what}, {READ_CONNECTIONS} connections, SQLite"),
            &format!(
                "{:.0} requests/s; p50 {} p99 {}; server CPU {} per request (client {})",
                latencies.len() as f64 / elapsed.as_secs_f64(),
                ms(percentile(&latencies, 50.0)),
                ms(percentile(&latencies, 99.0)),
                per(cpu.server, latencies.len()),
                per(cpu.client, latencies.len()),
            ),
        );
    }
}

async fn read_once(bench: &Bench, user: &str, body: &str) -> bytes::Bytes {
    let response = bench
        .client
        .post(format!("{}/chatkit", bench.address))
        .header("X-ChatKit-User", user)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body read")
}

/// [`READ_CONNECTIONS`] tasks sending `body` back to back for `budget` (at most [`READ_CAP`]
/// requests); each request's latency and the time taken.
async fn read_load(
    bench: &Bench,
    user: &str,
    body: &str,
    budget: Duration,
) -> (Vec<Duration>, Duration) {
    let started = Arc::new(AtomicUsize::new(0));
    let begin = Instant::now();
    let tasks = (0..READ_CONNECTIONS).map(|_| {
        let started = started.clone();
        async move {
            let mut latencies = Vec::new();
            while begin.elapsed() < budget && started.fetch_add(1, Ordering::Relaxed) < READ_CAP {
                let sent = Instant::now();
                read_once(bench, user, body).await;
                latencies.push(sent.elapsed());
            }
            latencies
        }
    });
    let latencies = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    (latencies, begin.elapsed())
}

// ---------------------------------------------------------------------------------------------
// CPU time, from /proc: on one machine the client and the fake take cores from the server, so
// the server's own CPU time per turn, delta or request is the steadier figure.

/// The name of the client runtime's threads (the main thread is the client's too).
const CLIENT_THREAD: &str = "bench-client";

/// On-CPU time of this process's threads, split by whose they are.
#[derive(Clone, Copy, Default)]
struct Cpu {
    server: Duration,
    fake: Duration,
    client: Duration,
}

impl std::ops::AddAssign for Cpu {
    fn add_assign(&mut self, other: Cpu) {
        self.server += other.server;
        self.fake += other.fake;
        self.client += other.client;
    }
}

/// Each thread's CPU time at one moment.
struct CpuSample(HashMap<u32, Duration>);

impl CpuSample {
    /// The CPU time used since this sample. Threads are compared one by one, so a thread that
    /// exited in between (a stopped server's) changes nothing; a thread that exits between the
    /// samples loses its time, but tokio's blocking threads only exit after 10 s idle, longer
    /// than any measured phase.
    fn elapsed(&self, meter: &CpuMeter) -> Cpu {
        let now = meter.sample();
        let mut cpu = Cpu::default();
        for (tid, used) in now.0 {
            let used = used.saturating_sub(self.0.get(&tid).copied().unwrap_or_default());
            *meter.slot(&mut cpu, tid) += used;
        }
        cpu
    }
}

/// Reads `/proc/self/task/*/schedstat` (nanoseconds on CPU). Elsewhere than Linux every
/// figure is zero.
struct CpuMeter {
    /// The fake model's threads (those that appeared when it started).
    fake: std::collections::HashSet<u32>,
}

impl CpuMeter {
    fn sample(&self) -> CpuSample {
        let times = threads()
            .into_iter()
            .filter_map(|tid| {
                let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"));
                let ns = stat.ok()?.split_whitespace().next()?.parse().ok()?;
                Some((tid, Duration::from_nanos(ns)))
            })
            .collect();
        CpuSample(times)
    }

    /// Whose thread `tid` is: the client's (the main thread and the named runtime threads),
    /// the fake's, or else the server's (its actix workers and their blocking threads).
    fn slot<'a>(&self, cpu: &'a mut Cpu, tid: u32) -> &'a mut Duration {
        let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"));
        if tid == std::process::id() || name.is_ok_and(|n| n.starts_with(CLIENT_THREAD)) {
            &mut cpu.client
        } else if self.fake.contains(&tid) {
            &mut cpu.fake
        } else {
            &mut cpu.server
        }
    }
}

/// The ids of this process's threads.
fn threads() -> std::collections::HashSet<u32> {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// CPU time per unit of work, in µs.
fn per(cpu: Duration, units: usize) -> String {
    us(cpu.as_secs_f64() / units.max(1) as f64)
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report.

/// Nearest-rank percentile.
fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(samples: &[Duration]) -> Duration {
    percentile(samples, 50.0)
}

fn latency(samples: &[Duration]) -> String {
    format!(
        "p50 {} p90 {} p99 {}",
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 90.0)),
        ms(percentile(samples, 99.0))
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(secs: f64) -> String {
    format!("{:.2} µs", secs * 1e6)
}

#[derive(Default)]
struct Report {
    facts: Vec<String>,
    rows: Vec<(String, String)>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, what: &str, result: &str) {
        // Shown as it comes, so a long run shows progress.
        eprintln!("{what}: {result}");
        self.rows.push((what.to_owned(), result.to_owned()));
    }

    fn note(&mut self, note: &str) {
        self.notes.push(note.to_owned());
    }

    fn print(&self) {
        println!();
        for fact in &self.facts {
            println!("- {fact}");
        }
        println!();
        println!("| what | result |");
        println!("|---|---|");
        for (what, result) in &self.rows {
            println!("| {what} | {result} |");
        }
        println!();
        for note in &self.notes {
            println!("{note}");
        }
    }
}

fn machine_facts(report: &mut Report) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let output = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    report.facts.push(format!("cores (nproc): {cores}"));
    report.facts.push(format!("CPU: {cpu}"));
    report
        .facts
        .push(format!("rustc: {}", output("rustc", &["--version"])));
    report.facts.push(format!(
        "commit: {}",
        output("git", &["rev-parse", "--short", "HEAD"])
    ));
    // Other work on the machine takes cores from the bench: the load says how much.
    report
        .facts
        .push(format!("load average at the start: {}", load_average()));
}

/// The 1, 5 and 15 minute load averages (Linux).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}
