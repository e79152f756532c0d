//! Streamed turns through the real server against the fake model with zero latency: the numbers
//! behind the "Streamed turns" section of `docs/benchmarks.md`.
//!
//! `cargo bench --bench turns` (add `TEST_DATABASE_URL=postgres://...` for the Postgres row).
//! Everything runs on loopback in this process: the server (its own actix workers), the fake
//! OpenAI endpoint (one actix worker) and the load-generating client (this tokio runtime). On
//! two cores or more the server's threads are pinned to one core and the client's and the
//! fake's to another (`cpu::pinned`), so the load does not take the server's core. Every loop
//! is bounded by a count and a time budget; nothing here asserts on time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The test suite's support: its fake model (the bench needs only plain replies from it) and
// its per-run database (a SQLite file or a fresh Postgres schema).
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../../tests/api/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../common/stats.rs"]
mod stats;

#[path = "../common/affinity.rs"]
mod affinity;
#[path = "../common/schedstat.rs"]
mod schedstat;

mod cpu;
mod long;
mod reads;
mod report;
mod server;
mod sse;
mod streaming;

/// The server binary's allocator (`src/main.rs`): the server runs in this process here, and
/// glibc malloc would make its turns cost what the binary's do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

use cpu::{CLIENT_THREAD, Cpu, CpuMeter, per, threads};
use long::{LONG_BUDGET, long_threads};
use reads::reads;
use report::{Report, latency, load_average, machine_facts, median, ms, percentile, us};
use server::{Bench, user_input, words};
use sse::{Streamed, read_stream};
use streaming::{deltas_per_second, time_to_first_delta, turns_per_second};

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
    // The server's memory is kept in ordinary pages, as the binary keeps it (`serve`).
    if std::env::var_os("CHATKIT_BENCH_HUGE_PAGES").is_none() {
        chatkit_server::startup::use_small_pages();
    }
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

    // A server with a small context budget: last, so the parts above run as before.
    if runs("long") {
        let budget = [("CHATKIT_CONTEXT_TOKENS", LONG_BUDGET.to_string())];
        let sqlite = Bench::start_with(Db::Sqlite, &budget)
            .await
            .expect("sqlite server");
        long_threads(&sqlite, "SQLite", &mut report).await;
        drop(sqlite);
        match Bench::start_with(Db::Postgres, &budget).await {
            Some(postgres) => long_threads(&postgres, "Postgres", &mut report).await,
            None => report.note("Postgres long-thread row skipped: TEST_DATABASE_URL is not set."),
        }
    }

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
