//! Reads at the machine's limit: the numbers behind the "Reads" section of
//! `docs/benchmarks.md`.
//!
//! `cargo bench --bench reads` (add `TEST_DATABASE_URL=postgres://...` for the Postgres rows;
//! `CHATKIT_BENCH_ONLY=get,list,items,sqlite,postgres` runs some parts only).
//!
//! The server is the real binary, pinned to core 0; beside it, on the same core and measured in
//! the same run, a bare actix-web server (this bench binary started again in its bare mode)
//! answers every request with the exact bytes the real server returned for it, so the ratio of
//! the two is what our work per request costs against HTTP alone. The load comes from this
//! process, pinned to core 1: one thread, 64 keep-alive HTTP/1.1 connections, each sending
//! the next request as soon as the previous answer is complete. Nothing here asserts on time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The test suite's support: its per-run database (a SQLite file or a fresh Postgres schema).
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../tests/api/support/mod.rs"]
mod support;

#[path = "common/affinity.rs"]
mod affinity;
#[allow(dead_code)]
#[path = "common/stats.rs"]
mod stats;

#[path = "reads/load.rs"]
mod load;

use affinity::pin;
use load::{Connection, load};

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chatkit_server::chatkit::types::{
    AssistantMessageContent, AssistantMessageItem, InferenceOptions, ItemBody, Thread, ThreadItem,
    UserMessageContent, UserMessageItem,
};
use chatkit_server::store::{Scope, Store};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use stats::{load_average, percentile};
use support::app::{Db, TestDb};

/// Connections of the load, as in the measurements.
const CONNECTIONS: usize = 64;
/// One measured run; a shorter warm-up before it opens the connections and fills the caches.
const RUN: Duration = Duration::from_secs(5);
const WARM_UP: Duration = Duration::from_millis(1_000);
/// The reader's threads, and the items of the thread read by `get_by_id` and `items.list`.
const THREADS: usize = 50;
const ITEMS: usize = 20;
/// The page asked for by `threads.list` and `items.list`.
const PAGE: usize = 20;
/// The user the requests come from (dev authentication: `X-ChatKit-User`).
const USER: &str = "reader";
/// Cores of the server (both of them, one at a time) and of the load.
const SERVER_CORE: usize = 0;
const LOAD_CORE: usize = 1;
/// Set in the environment of this binary started again as the bare server: the file holding
/// the body to answer with; `BARE_ADDRESS` is where to listen.
const BARE_BODY: &str = "CHATKIT_BENCH_BARE_BODY";
const BARE_ADDRESS: &str = "CHATKIT_BENCH_BARE_ADDRESS";

fn main() {
    if let Ok(body) = std::env::var(BARE_BODY) {
        let address = std::env::var(BARE_ADDRESS).expect("the bare server's address");
        return bare_server(&body, &address);
    }
    let pinned = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    if pinned {
        pin(0, LOAD_CORE).expect("pin the load to its core");
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench(pinned));
}

async fn bench(pinned: bool) {
    let started = Instant::now();
    let mut report = Report::default();
    machine_facts(&mut report, pinned);
    let only = std::env::var("CHATKIT_BENCH_ONLY").unwrap_or_default();
    let runs = |part: &str| selected(&only, part);
    let backends = [Db::Sqlite, Db::Postgres];
    for db in backends.into_iter().filter(|db| runs(db.name())) {
        let Some((test_db, url)) = TestDb::create(db) else {
            report.note("Postgres rows skipped: TEST_DATABASE_URL is not set.");
            continue;
        };
        let thread_id = seed(&url).await;
        let server = Server::start(&url, pinned);
        let workloads = [
            (
                "get",
                format!("`threads.get_by_id`, {ITEMS} items"),
                json!({"type": "threads.get_by_id", "params": {"thread_id": thread_id}}),
            ),
            (
                "list",
                format!("`threads.list`, {PAGE} of {THREADS} threads"),
                json!({"type": "threads.list", "params": {"limit": PAGE, "order": "desc"}}),
            ),
            (
                "items",
                format!("`items.list`, {PAGE}, desc"),
                json!({"type": "items.list",
                       "params": {"thread_id": thread_id, "limit": PAGE, "order": "desc"}}),
            ),
        ];
        for (_, what, request) in workloads.iter().filter(|w| runs(w.0)) {
            measure(&server, what, db, &request.to_string(), pinned, &mut report).await;
        }
        drop(server);
        drop(test_db);
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

/// Whether `CHATKIT_BENCH_ONLY` (`only`, comma-separated) selects `part`: a workload
/// (`get`, `list`, `items`) or a database (`sqlite`, `postgres`). A group none of whose
/// names is listed runs whole, so `postgres` alone runs every workload on Postgres only.
fn selected(only: &str, part: &str) -> bool {
    const GROUPS: [&[&str]; 2] = [&["get", "list", "items"], &["sqlite", "postgres"]];
    let listed: Vec<&str> = only.split(',').map(str::trim).collect();
    GROUPS
        .iter()
        .find(|group| group.contains(&part))
        .is_none_or(|group| !group.iter().any(|p| listed.contains(p)) || listed.contains(&part))
}

/// One workload: its body from our server, the bare server answering the same bytes, then
/// both under the same load, bare first.
async fn measure(
    server: &Server,
    what: &str,
    db: Db,
    request: &str,
    pinned: bool,
    report: &mut Report,
) {
    let body = server.answer(request).await;
    let bare = Server::bare(&body, pinned);
    let db_name = match db {
        Db::Sqlite => "SQLite",
        Db::Postgres => "Postgres",
    };
    let base = load(&bare, request).await;
    let ours = load(server, request).await;
    let ratio = ours.rate() / base.rate().max(1.0);
    report.row(
        &format!("{what}, {db_name}, {} B body", body.len()),
        &ours.describe(),
        &base.describe(),
        &format!("{:.0}%", ratio * 100.0),
    );
}

// ---------------------------------------------------------------------------------------------
// The data read.

/// The reader's threads, the oldest of them holding the items; returns that thread's id.
async fn seed(url: &str) -> String {
    let store = Store::connect(url, 2).expect("store");
    let (account, agent) = store.ensure_defaults().await.expect("defaults");
    let scope = Scope {
        account_id: account.id,
        agent_id: agent.id,
        user_id: USER.into(),
    };
    let start = DateTime::<Utc>::from_timestamp(1_780_000_000, 123_456_000).expect("time");
    let mut first = None;
    for t in 0..THREADS {
        let created = start + chrono::Duration::seconds(t as i64 * 600);
        let mut thread = Thread::new(format!("thr_bench{t:04}"), created);
        store
            .save_new_thread(&scope, &thread)
            .await
            .expect("thread");
        thread.title = Some(format!("Questions about the quarterly report, part {t}"));
        store.save_thread(&scope, &thread).await.expect("title");
        first.get_or_insert(thread.id);
    }
    let thread_id = first.expect("a thread");
    for i in 0..ITEMS {
        let created = start + chrono::Duration::milliseconds(i as i64 * 1_537);
        let body = if i % 2 == 0 {
            ItemBody::UserMessage(UserMessageItem {
                content: vec![UserMessageContent::InputText {
                    text: sentence(i, 18),
                }],
                attachments: Vec::new(),
                quoted_text: None,
                inference_options: InferenceOptions::default(),
            })
        } else {
            ItemBody::AssistantMessage(AssistantMessageItem {
                content: vec![AssistantMessageContent::new(sentence(i, 60))],
            })
        };
        let item = ThreadItem {
            id: format!("msg_bench{i:04}"),
            thread_id: thread_id.clone(),
            created_at: created,
            body,
        };
        store.save_item(&scope, &item).await.expect("item");
    }
    thread_id
}

/// `words` words of plain prose, different for each `seed`.
fn sentence(seed: usize, words: usize) -> String {
    const WORDS: [&str; 12] = [
        "the", "report", "shows", "revenue", "growth", "in", "every", "region", "and", "a",
        "steady", "margin",
    ];
    let mut text: Vec<&str> = (0..words).map(|w| WORDS[(seed * 7 + w * 5) % 12]).collect();
    text.push("done.");
    text.join(" ")
}

// ---------------------------------------------------------------------------------------------
// The servers.

/// A server process on the server core: ours or the bare one. Killed when dropped.
struct Server {
    child: Child,
    port: u16,
    /// Kept until the bare server is gone.
    _body: Option<tempfile::NamedTempFile>,
}

impl Server {
    /// The real binary on `url`, in dev authentication, logging warnings only: the one this
    /// bench was built with, or the one `CHATKIT_BENCH_SERVER` names (to measure another
    /// build, e.g. the one before a change, in the same run of the load).
    fn start(url: &str, pinned: bool) -> Server {
        let port = free_port();
        let binary = std::env::var("CHATKIT_BENCH_SERVER")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_chatkit-server").to_owned());
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("DATABASE_URL", url)
            .env("CHATKIT_BIND", format!("127.0.0.1:{port}"))
            .env("OPENAI_API_KEY", "x")
            .env("CHATKIT_AUTO_TITLES", "false")
            .env("RUST_LOG", "warn");
        Server::spawn(command, port, pinned, None)
    }

    /// This binary in its bare mode, answering every request with `body`.
    fn bare(body: &[u8], pinned: bool) -> Server {
        let port = free_port();
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(body).expect("body written");
        let mut command = Command::new(std::env::current_exe().expect("this binary"));
        command
            .env(BARE_BODY, file.path())
            .env(BARE_ADDRESS, format!("127.0.0.1:{port}"));
        Server::spawn(command, port, pinned, Some(file))
    }

    fn spawn(
        mut command: Command,
        port: u16,
        pinned: bool,
        body: Option<tempfile::NamedTempFile>,
    ) -> Server {
        command.stdin(Stdio::null()).stdout(Stdio::null());
        if pinned {
            // SAFETY: sched_setaffinity is a plain system call, safe between fork and exec.
            unsafe {
                command.pre_exec(|| pin(0, SERVER_CORE));
            }
        }
        let child = command.spawn().expect("server starts");
        let server = Server {
            child,
            port,
            _body: body,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The answer to one request (which must succeed).
    async fn answer(&self, request: &str) -> Vec<u8> {
        let mut conn = Connection::open(self.port, request).await;
        let (status, body) = conn.send().await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice::<Value>(&body).expect("a JSON answer");
        body
    }

    /// User plus system CPU time of the process so far.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()));
        // The fields after the command name (which is in parentheses): utime is the 12th.
        let ticks = stat.ok().and_then(|stat| {
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse().ok())
                .collect();
            Some(fields.iter().sum::<u64>())
        });
        // SAFETY: sysconf only reads a constant of the system.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        Duration::from_secs_f64(ticks.unwrap_or(0) as f64 / hz)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free now (the server binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The bare server: actix-web with its defaults (one worker per core it may use, so one when
/// pinned), answering every `POST /chatkit` with the bytes of the file `body`.
fn bare_server(body: &str, address: &str) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let body = bytes::Bytes::from(std::fs::read(body).expect("the body file"));
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let body = body.clone();
            App::new().route(
                "/chatkit",
                // The request body is read, as our server reads it: actix closes a connection
                // whose request body was left unread.
                web::post().to(move |_request: web::Bytes| {
                    let body = body.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body)
                    }
                }),
            )
        })
        .bind(address)
        .expect("bind")
        .run()
        .await
        .expect("serve");
    });
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report.

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(secs: f64) -> String {
    format!("{:.1} µs", secs * 1e6)
}

#[derive(Default)]
struct Report {
    facts: Vec<String>,
    rows: Vec<[String; 4]>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, what: &str, ours: &str, bare: &str, ratio: &str) {
        // Shown as it comes, so a long run shows progress.
        eprintln!("{what}: ours {ours} | bare {bare} | {ratio} of bare");
        self.rows
            .push([what, ours, bare, ratio].map(ToOwned::to_owned));
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
        println!("| workload | this server | bare actix-web, same bytes | ratio |");
        println!("|---|---|---|---|");
        for [what, ours, bare, ratio] in &self.rows {
            println!("| {what} | {ours} | {bare} | {ratio} |");
        }
        println!();
        for note in &self.notes {
            println!("{note}");
        }
    }
}

fn machine_facts(report: &mut Report, pinned: bool) {
    // Online cores, not `available_parallelism`: this thread is pinned to one by now.
    // SAFETY: sysconf only reads a constant of the system.
    let cores = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
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
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    report.facts.push(format!("cores (nproc): {cores}"));
    report.facts.push(format!("CPU: {cpu}"));
    report.facts.push(if pinned {
        format!("servers pinned to core {SERVER_CORE}, the load to core {LOAD_CORE}")
    } else {
        "one core: servers and load share it (nothing pinned)".to_owned()
    });
    report.facts.push(format!(
        "{CONNECTIONS} connections, {} s per run after a {} s warm-up",
        RUN.as_secs(),
        WARM_UP.as_secs_f64()
    ));
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
