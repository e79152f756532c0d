//! Hostile HTTP against the real server binary: the figures of `docs/reliability.md`.
//!
//! `cargo bench --bench reliability` starts `chatkit-server` as a child process on a temporary
//! SQLite database, with the test suite's fake model as its model service, then
//! 1. sends 10,000 fuzzed requests (mutated valid ChatKit requests, bad JSON, wrong types, huge
//!    strings, random routes and methods, and raw requests with broken heads and bodies) and
//!    counts the answers by status, the 5xx by request type, and the hangs (no answer within
//!    [`HANG_AFTER`]);
//! 2. opens 200 slow clients that trickle a body, announce a body and send none, or stop in the
//!    middle of their head, and never close their side;
//!
//! and reads the server's open descriptors (`/proc/<pid>/fd`) before, during and after, which
//! must come back to the baseline once the server has closed the slow clients. Everything is
//! seeded, so a rerun sends the same requests. Linux only (it reads `/proc`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The test suite's support, for its fake model.
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../tests/api/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "common/stats.rs"]
mod stats;

#[path = "reliability/fuzzed.rs"]
mod fuzzed;

use fuzzed::{Fuzzed, Rng, fuzzed, templates};

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stats::load_average;
use support::fake_llm::FakeLlm;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Fuzzed requests of phase 1, and how many are in flight at once.
const FUZZ_REQUESTS: usize = 10_000;
const FUZZ_CONCURRENCY: usize = 16;
/// Slow clients of phase 2.
const SLOW_CLIENTS: usize = 200;
/// The server's body timeout in this bench (shorter than the default, so the run is short).
const BODY_TIMEOUT_SECS: u64 = 5;
/// A request not answered within this long counts as a hang.
const HANG_AFTER: Duration = Duration::from_secs(15);
/// How long the server gets to close the slow clients and return to its baseline.
const SETTLE_BUDGET: Duration = Duration::from_secs(60);
const SEED: u64 = 0x5eed_cafe_f00d_d00d;

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
    let fake = FakeLlm::start().await;
    let server = Server::start(&fake.base_url());
    let pid = server.child.id();
    let address = server.address.clone();
    println!("server pid {pid} at {address}");

    let fds_start = fd_count(pid);
    let fuzz = fuzz_phase(&address).await;
    let fds_after_fuzz = settle(pid, fds_start).await;
    let slow = slow_phase(&address, pid, fds_after_fuzz.0).await;

    println!("\n## Figures\n");
    println!("- fuzzed requests: {}", fuzz.sent);
    println!("- answers by status: {:?}", fuzz.statuses);
    println!(
        "- 5xx: {} ({:?})",
        fuzz.server_errors.values().sum::<usize>(),
        fuzz.server_errors
    );
    println!(
        "- hangs (no answer within {} s): {}",
        HANG_AFTER.as_secs(),
        fuzz.hangs.len()
    );
    for hang in fuzz.hangs.iter().take(10) {
        println!("  - {hang}");
    }
    println!(
        "- slowest answer: {:.1} s ({})",
        fuzz.slowest.0.as_secs_f64(),
        fuzz.slowest.1
    );
    println!("- fuzz phase: {:.0} s", fuzz.took.as_secs_f64());
    println!("- server fds at start: {fds_start}");
    println!(
        "- server fds after the fuzz, settled: {} (after {:.0} s)",
        fds_after_fuzz.0,
        fds_after_fuzz.1.as_secs_f64()
    );
    println!(
        "- slow clients: {SLOW_CLIENTS} ({} trickling a body, {} announcing a body and sending \
         none, {} stopping in their head)",
        slow.kinds[0], slow.kinds[1], slow.kinds[2]
    );
    println!(
        "- server fds with the slow clients connected (peak): {}",
        slow.peak
    );
    println!("- slow clients answered 408: {}", slow.answered_408);
    println!("- slow clients closed by the server: {}", slow.closed);
    println!(
        "- slow clients closed within: {:.1} s (slowest)",
        slow.slowest_close.as_secs_f64()
    );
    println!(
        "- server fds after, settled: {} (after {:.0} s; baseline {})",
        slow.settled.0,
        slow.settled.1.as_secs_f64(),
        fds_after_fuzz.0
    );
    println!("- server peak RSS: {}", peak_rss(pid));
    println!("- whole bench: {:.0} s", started.elapsed().as_secs_f64());
    println!("- load average at the end: {}", load_average());
    drop(server);
}

/// The server binary as a child process, killed when dropped.
struct Server {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(model_url: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_chatkit-server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("bench.db").display()),
            )
            .env("CHATKIT_BIND", format!("127.0.0.1:{port}"))
            .env("CHATKIT_STORAGE_DIR", dir.path().join("files"))
            .env("OPENAI_BASE_URL", model_url)
            .env("OPENAI_API_KEY", "x")
            .env("CHATKIT_AUTO_TITLES", "false")
            .env("CHATKIT_BODY_TIMEOUT_SECS", BODY_TIMEOUT_SECS.to_string())
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the server binary starts");
        let server = Server {
            child,
            address: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&server.address).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn peak_rss(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Waits until the descriptor count is at most `baseline` (or stops changing for 20 s once
/// past the budget's first half); the count and how long it took.
async fn settle(pid: u32, baseline: usize) -> (usize, Duration) {
    let started = Instant::now();
    let mut last = (fd_count(pid), Instant::now());
    loop {
        let now = fd_count(pid);
        if now <= baseline || started.elapsed() > SETTLE_BUDGET {
            return (now, started.elapsed());
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(20) {
            return (now, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Phase 1: fuzzed requests.

/// Sends raw bytes and reads until the server closes; the status code, if any came.
async fn exchange(address: &str, bytes: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    // The server may answer (and close) before it has read everything.
    let _ = stream.write_all(bytes).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if answer.len() < 64 {
                    answer.extend_from_slice(&buf[..n]);
                }
            }
        }
    }
    let head = String::from_utf8_lossy(&answer);
    head.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

#[derive(Default)]
struct Fuzz {
    sent: usize,
    statuses: BTreeMap<String, usize>,
    server_errors: BTreeMap<String, usize>,
    hangs: Vec<String>,
    slowest: (Duration, String),
    took: Duration,
}

async fn fuzz_phase(address: &str) -> Fuzz {
    let started = Instant::now();
    let templates = templates();
    let mut rng = Rng(SEED);
    let requests: Vec<Fuzzed> = (0..FUZZ_REQUESTS)
        .map(|_| fuzzed(&mut rng, &templates))
        .collect();
    let queue = Arc::new(Mutex::new(requests));
    let report = Arc::new(Mutex::new(Fuzz::default()));
    let workers: Vec<_> = (0..FUZZ_CONCURRENCY)
        .map(|_| {
            let (queue, report, address) = (queue.clone(), report.clone(), address.to_owned());
            tokio::spawn(async move {
                loop {
                    let Some(request) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let sent = Instant::now();
                    let answer =
                        tokio::time::timeout(HANG_AFTER, exchange(&address, &request.bytes)).await;
                    let took = sent.elapsed();
                    let mut report = report.lock().unwrap();
                    report.sent += 1;
                    if took > report.slowest.0 {
                        report.slowest = (took, request.label.clone());
                    }
                    let status = match answer {
                        Err(_) => {
                            report.hangs.push(request.label.clone());
                            "hang".to_owned()
                        }
                        Ok(None) => "closed without an answer".to_owned(),
                        Ok(Some(code)) => {
                            if code >= 500 {
                                *report
                                    .server_errors
                                    .entry(request.label.clone())
                                    .or_default() += 1;
                            }
                            code.to_string()
                        }
                    };
                    *report.statuses.entry(status).or_default() += 1;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("fuzz worker");
    }
    let mut report = std::mem::take(&mut *report.lock().unwrap());
    report.took = started.elapsed();
    report
}

// ---------------------------------------------------------------------------------------------
// Phase 2: slow clients.

struct Slow {
    /// Clients trickling a body, announcing one and sending none, stopping in their head.
    kinds: [usize; 3],
    peak: usize,
    answered_408: usize,
    closed: usize,
    slowest_close: Duration,
    settled: (usize, Duration),
}

/// One slow client: what it sends, then how it behaves; returns whether the server answered
/// 408 and when it closed the connection (`None`: still open at the end of the budget).
async fn slow_client(address: String, kind: usize) -> (bool, Option<Duration>) {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect(&address).await else {
        return (false, None);
    };
    let head = "POST /chatkit HTTP/1.1\r\nHost: bench\r\nX-ChatKit-User: slow\r\n\
                Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    let sent = match kind {
        0 | 1 => stream.write_all(head.as_bytes()).await,
        _ => stream.write_all(&head.as_bytes()[..40]).await,
    };
    if sent.is_err() {
        return (false, Some(started.elapsed()));
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + SETTLE_BUDGET;
    loop {
        let wait = if kind == 0 {
            Duration::from_millis(700)
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                let got_408 = String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408");
                return (got_408, Some(started.elapsed()));
            }
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) if Instant::now() >= deadline => return (false, None),
            // A trickling client sends one more byte of its body.
            Err(_) => {
                let _ = stream.write_all(b" ").await;
            }
        }
    }
}

async fn slow_phase(address: &str, pid: u32, baseline: usize) -> Slow {
    let mut kinds = [0usize; 3];
    let clients: Vec<_> = (0..SLOW_CLIENTS)
        .map(|i| {
            let kind = i % 3;
            kinds[kind] += 1;
            tokio::spawn(slow_client(address.to_owned(), kind))
        })
        .collect();
    // The peak: sampled while the clients are connected, before any timeout can have fired.
    let mut peak = 0;
    let sampling = Instant::now();
    while sampling.elapsed() < Duration::from_secs(3) {
        peak = peak.max(fd_count(pid));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut answered_408 = 0;
    let mut closed = 0;
    let mut slowest_close = Duration::ZERO;
    for client in clients {
        let (got_408, closed_after) = client.await.expect("slow client");
        answered_408 += usize::from(got_408);
        if let Some(after) = closed_after {
            closed += 1;
            slowest_close = slowest_close.max(after);
        }
    }
    let settled = settle(pid, baseline).await;
    Slow {
        kinds,
        peak,
        answered_408,
        closed,
        slowest_close,
        settled,
    }
}
