//! The operator console on a large database: the numbers behind the "Console" section of
//! `docs/benchmarks.md`.
//!
//! `cargo bench --bench console` (add `TEST_DATABASE_URL=postgres://...` for Postgres). For
//! each database it starts the real server on a fresh one (a SQLite file, or a fresh Postgres
//! schema), which runs the migrations; seeds 100,000 threads and 1,000,000 items with bulk
//! SQL (see `console/seed.rs`); signs an operator in through the login form; then times, one
//! request after another over loopback HTTP, the pages an operator opens: the thread list
//! with and without filters, a deep page, searches and a 500-item transcript. Every loop is
//! bounded by a count and a time budget; nothing here asserts on time.
//!
//! `CHATKIT_BENCH_ONLY=sqlite` or `=postgres` runs one database only; `CHATKIT_BENCH_KEEP=1`
//! keeps the seeded databases and prints their URLs (to look at query plans).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The test suite's support: its per-run database and the console's sign-in.
#[path = "console/rows.rs"]
mod rows;
#[path = "console/seed.rs"]
mod seed;
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../tests/api/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "common/stats.rs"]
mod stats;
#[path = "console/words.rs"]
mod words;

use std::time::{Duration, Instant};

use chatkit_server::store::Role;
use stats::{load_average, percentile};
use support::app::{Db, TestDb, serve};
use support::console::{PASSWORD, add_operator, sign_in};

/// Requests before the timed ones of a case (fills caches, prepares statements).
const WARM_UP: usize = 5;
/// Timed requests of one case, and the time budget that stops it earlier.
const REQUESTS: usize = 300;
const BUDGET: Duration = Duration::from_secs(15);
/// The page reached through the "Older" links for the deep-page case.
const DEEP_PAGE: usize = 20;
/// The targets of the issue: list and search pages, and the transcript.
const LIST_TARGET: Duration = Duration::from_millis(50);
const TRANSCRIPT_TARGET: Duration = Duration::from_millis(100);

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}

async fn bench() {
    let started = Instant::now();
    let only = std::env::var("CHATKIT_BENCH_ONLY").ok();
    let mut facts = machine_facts();
    let mut results = Vec::new();
    for db in [Db::Sqlite, Db::Postgres] {
        if only.as_deref().is_some_and(|o| o != db.name()) {
            continue;
        }
        match run(db).await {
            Some(result) => results.push(result),
            None => facts.push(format!(
                "{}: skipped (TEST_DATABASE_URL is not set)",
                db.name()
            )),
        }
    }
    facts.push(format!("load average at the end: {}", load_average()));
    facts.push(format!(
        "whole bench: {:.0} s",
        started.elapsed().as_secs_f64()
    ));

    println!();
    for fact in &facts {
        println!("- {fact}");
    }
    for result in &results {
        result.print();
    }
}

/// One database's run: what was seeded, how long that took, and the cases.
struct DbResult {
    name: &'static str,
    notes: Vec<String>,
    cases: Vec<Case>,
}

struct Case {
    what: String,
    target: Duration,
    /// Threads on the page (list pages), or the page's size (the transcript).
    shown: String,
    latencies: Vec<Duration>,
}

async fn run(db: Db) -> Option<DbResult> {
    let name = match db {
        Db::Sqlite => "SQLite",
        Db::Postgres => "Postgres",
    };
    let (test_db, db_url) = TestDb::create(db)?;
    // The real server, which runs the migrations as it starts.
    let app = serve(&db_url, &[], None).await;
    let (account, agent) = app.store.ensure_defaults().await.expect("defaults");
    let mut notes = Vec::new();

    eprintln!("{name}: seeding...");
    let started = Instant::now();
    let url = db_url.clone();
    let seeded = tokio::task::spawn_blocking(move || seed::seed(&url, &account.id, &agent.id))
        .await
        .expect("seeding");
    notes.push(format!(
        "seeded {} threads, {} items, {} runs in {:.0} s ({} users; {} threads with negative \
         feedback, {} with a waiting form, {} with a failed run; {} messages with \"{}\", {} \
         with both of \"{}\")",
        seed::THREADS,
        seeded.items,
        seeded.runs,
        started.elapsed().as_secs_f64(),
        seeded.users.len(),
        seeded.negative_threads,
        seeded.pending_threads,
        seeded.failed_threads,
        seeded.common_messages,
        words::COMMON_WORD,
        seeded.two_word_messages,
        words::TWO_WORDS,
    ));
    if let Db::Sqlite = db {
        // The server indexes waiting messages for search about once a second, so some of the
        // seeded ones still wait: indexed now instead of in the first timed search.
        let started = Instant::now();
        let indexed = app.store.index_pending_search().await.expect("indexing");
        notes.push(format!(
            "then the last {indexed} messages indexed for search: {:.1} s",
            started.elapsed().as_secs_f64()
        ));
    }
    if let Db::Postgres = db {
        // What autovacuum does after a bulk load, done now instead of during the timing.
        let started = Instant::now();
        let mut conn = rows::Conn::open(&db_url);
        conn.execute(
            "VACUUM ANALYZE threads, items, runs, feedback, human_interactions, attachments",
        );
        notes.push(format!(
            "then `VACUUM ANALYZE` of the tables: {:.0} s",
            started.elapsed().as_secs_f64()
        ));
    }
    eprintln!("{name}: {}", notes.join("; "));

    add_operator(&app, "bench@example.com", Role::Admin).await;
    let session = sign_in(&app, "bench@example.com", PASSWORD).await;
    let client = Client {
        http: support::console::client(),
        address: app.address.clone(),
        cookie: format!("chatkit_admin={}", session.token),
    };

    let (top_user, top_count) = seeded.users[0].clone();
    let agent_index = 2;
    let day = |days_ago: i64| {
        (seeded.now - chrono::Duration::days(days_ago))
            .format("%Y-%m-%d")
            .to_string()
    };
    let deep = client.follow_older("/admin/threads", DEEP_PAGE - 1).await;
    let list_cases: Vec<(String, String)> = vec![
        ("list, first page".into(), "/admin/threads".into()),
        (
            format!(
                "list, one agent ({} threads)",
                seeded.agent_threads[agent_index]
            ),
            format!("/admin/threads?agent={}", seeded.agents[agent_index]),
        ),
        (
            format!("list, one user ({top_count} threads)"),
            format!("/admin/threads?user={top_user}"),
        ),
        (
            format!(
                "list, negative feedback ({} threads)",
                seeded.negative_threads
            ),
            "/admin/threads?negative=1".into(),
        ),
        (
            "list, last activity in a 10-day range 30 to 21 days ago".into(),
            format!("/admin/threads?from={}&to={}", day(30), day(21)),
        ),
        (
            format!("list, page {DEEP_PAGE} via the keyset cursor"),
            deep,
        ),
        (
            format!("search, common word \"{}\"", words::COMMON_WORD),
            format!("/admin/threads?q={}", words::COMMON_WORD),
        ),
        (
            format!(
                "search, rare word \"{}\" ({} threads)",
                words::RARE_WORD,
                words::RARE_WORD_THREADS
            ),
            format!("/admin/threads?q={}", words::RARE_WORD),
        ),
        (
            format!("search, two words \"{}\"", words::TWO_WORDS),
            format!("/admin/threads?q={}", words::TWO_WORDS.replace(' ', "+")),
        ),
    ];
    let mut cases = Vec::new();
    for (what, path) in list_cases {
        let (latencies, body) = client.time(&path).await;
        let rows = body.matches("<tr class=\"linked\"").count();
        if what.starts_with("search, rare") {
            assert_eq!(
                rows,
                words::RARE_WORD_THREADS,
                "every planted thread is found"
            );
        }
        eprintln!("{name}: {what}: {rows} rows, {}", summary(&latencies));
        cases.push(Case {
            what,
            target: LIST_TARGET,
            shown: format!("{rows} threads"),
            latencies,
        });
    }
    let transcript = format!("/admin/threads/{}", seeded.big_thread);
    let (latencies, body) = client.time(&transcript).await;
    assert!(
        body.contains("Order A-1001 arrived damaged"),
        "the transcript shows"
    );
    let what = format!("transcript, {} items", seed::BIG_THREAD_ITEMS);
    eprintln!(
        "{name}: {what}: {} KB, {}",
        body.len() / 1024,
        summary(&latencies)
    );
    cases.push(Case {
        what,
        target: TRANSCRIPT_TARGET,
        shown: format!("{} KB", body.len() / 1024),
        latencies,
    });

    app.stop.stop(true).await;
    if std::env::var_os("CHATKIT_BENCH_KEEP").is_some() {
        eprintln!("{name}: kept {db_url}");
        std::mem::forget(test_db);
    }
    Some(DbResult { name, notes, cases })
}

/// A signed-in operator's browser: one connection, kept alive.
struct Client {
    http: reqwest::Client,
    address: String,
    cookie: String,
}

impl Client {
    /// GETs `path`; the body of a `200`, or a failure naming the answer.
    async fn get(&self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let body = response.text().await.expect("body read");
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The list page `pages` "Older" links after `path`.
    async fn follow_older(&self, path: &str, pages: usize) -> String {
        let mut path = path.to_owned();
        for _ in 0..pages {
            let body = self.get(&path).await;
            let link = body
                .split("href=\"")
                .find_map(|rest| rest.split_once("\" rel=\"next\"").map(|(href, _)| href))
                .expect("an Older link");
            path = link.replace("&amp;", "&");
        }
        path
    }

    /// [`WARM_UP`] requests, then up to [`REQUESTS`] timed ones within [`BUDGET`]: their
    /// latencies (request sent to body read) and the last body.
    async fn time(&self, path: &str) -> (Vec<Duration>, String) {
        let mut body = String::new();
        for _ in 0..WARM_UP {
            body = self.get(path).await;
        }
        let begin = Instant::now();
        let mut latencies = Vec::with_capacity(REQUESTS);
        while latencies.len() < REQUESTS && begin.elapsed() < BUDGET {
            let sent = Instant::now();
            body = self.get(path).await;
            latencies.push(sent.elapsed());
        }
        (latencies, body)
    }
}

impl DbResult {
    fn print(&self) {
        println!();
        println!("### {}", self.name);
        println!();
        for note in &self.notes {
            println!("- {note}");
        }
        println!();
        println!("| case | shown | requests | p50 | p95 | p99 | max | target (p99) |");
        println!("|---|---|---|---|---|---|---|---|");
        for case in &self.cases {
            let p99 = percentile(&case.latencies, 99.0);
            let verdict = if p99 < case.target {
                "met"
            } else {
                "**missed**"
            };
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | < {} ms: {verdict} |",
                case.what,
                case.shown,
                case.latencies.len(),
                ms(percentile(&case.latencies, 50.0)),
                ms(percentile(&case.latencies, 95.0)),
                ms(p99),
                ms(case.latencies.iter().max().copied().unwrap_or_default()),
                case.target.as_millis(),
            );
        }
    }
}

fn summary(latencies: &[Duration]) -> String {
    format!(
        "p50 {} p95 {} p99 {} max {} ({} requests)",
        ms(percentile(latencies, 50.0)),
        ms(percentile(latencies, 95.0)),
        ms(percentile(latencies, 99.0)),
        ms(latencies.iter().max().copied().unwrap_or_default()),
        latencies.len()
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn machine_facts() -> Vec<String> {
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
    vec![
        format!("cores (nproc): {cores}; CPU: {cpu}"),
        format!("rustc: {}", output("rustc", &["--version"])),
        format!(
            "commit: {}",
            output("git", &["rev-parse", "--short", "HEAD"])
        ),
        format!("load average at the start: {}", load_average()),
    ]
}
