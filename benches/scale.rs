//! Scale-out figures of `docs/benchmarks.md` ("Two processes on one Postgres" and "Upload
//! memory"), against the real server binary started as child processes.
//!
//! `cargo bench --bench scale` (Postgres in `TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; moto's server in the Python of
//! `CHATKIT_TEST_PYTHON` for the upload part). Parts, chosen with `CHATKIT_BENCH_ONLY`:
//! - `load`: one `chatkit-server`, then two, on one fresh Postgres schema, with the test
//!   suite's fake model (zero latency) over HTTP. Clients spread streamed turns and then reads
//!   over the processes (round robin); every turn is then checked against the rows (none lost,
//!   none doubled, no two runs of one thread overlapping), and concurrent turns on one thread
//!   are fired at both processes (exactly one may run). Throughput comes with each process's
//!   CPU share, Postgres's and the client's.
//! - `upload`: the server's peak resident memory while a 10 MiB and a 200 MiB file are
//!   uploaded into moto (two-phase `PUT` and direct multipart `POST`), against its idle peak.
//!
//! Every loop is bounded by a count and a time budget; nothing asserts on time. A failed
//! check is shown in the report and makes the bench exit with an error. Linux only (`/proc`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The test suite's support: its fake model, its fresh Postgres schema and its moto server.
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../tests/api/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "common/stats.rs"]
mod stats;

#[path = "scale/checks.rs"]
mod checks;
#[path = "scale/cpu.rs"]
mod cpu;
#[path = "scale/load.rs"]
mod load;
#[path = "scale/server.rs"]
mod server;
#[path = "scale/turn.rs"]
mod turn;
#[path = "scale/upload.rs"]
mod upload;

pub use stats::load_average;
use std::time::Instant;

/// The Postgres of the load part when `TEST_DATABASE_URL` is not set.
const DEFAULT_DATABASE: &str = "postgres://postgres@127.0.0.1:5432/test";

fn main() {
    if std::env::var_os("TEST_DATABASE_URL").is_none() {
        // SAFETY: no other thread runs yet.
        unsafe { std::env::set_var("TEST_DATABASE_URL", DEFAULT_DATABASE) };
    }
    // Only warnings and errors: a failing request says why, a normal run prints nothing.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    // The client's threads are named, so their CPU time can be told from the fake model's.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(cpu::CLIENT_THREAD)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}

async fn bench() {
    let started = Instant::now();
    let mut report = Report::default();
    machine_facts(&mut report);
    let only = std::env::var("CHATKIT_BENCH_ONLY").ok();
    let runs = |part: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|p| p == part))
    };
    if runs("load") {
        load::run(&mut report).await;
    }
    if runs("upload") {
        upload::run(&mut report).await;
    }
    report
        .facts
        .push(format!("load average at the end: {}", load_average()));
    report.note(&format!(
        "Whole bench: {:.0} s.",
        started.elapsed().as_secs_f64()
    ));
    report.print();
    assert!(
        report.failures.is_empty(),
        "failed checks: {:#?}",
        report.failures
    );
}

/// What the bench found, printed as Markdown at the end.
#[derive(Default)]
pub struct Report {
    facts: Vec<String>,
    /// Tables, each a title, its header and its rows.
    tables: Vec<(String, Vec<String>, Vec<Vec<String>>)>,
    notes: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    pub fn table(&mut self, title: &str, header: &[&str]) {
        self.tables.push((
            title.to_owned(),
            header.iter().map(|h| (*h).to_owned()).collect(),
            Vec::new(),
        ));
    }

    /// A row of the last table; shown at once too, so a long run shows progress.
    pub fn row(&mut self, cells: Vec<String>) {
        eprintln!("{}", cells.join(" | "));
        self.tables.last_mut().expect("a table").2.push(cells);
    }

    pub fn note(&mut self, note: &str) {
        eprintln!("{note}");
        self.notes.push(note.to_owned());
    }

    /// A check that did not hold: noted, and the bench fails at the end.
    pub fn check(&mut self, holds: bool, what: &str) {
        if !holds {
            self.note(&format!("**Check failed: {what}**"));
            self.failures.push(what.to_owned());
        }
    }

    fn print(&self) {
        println!();
        for fact in &self.facts {
            println!("- {fact}");
        }
        for (title, header, rows) in &self.tables {
            println!("\n{title}\n");
            println!("| {} |", header.join(" | "));
            println!("|{}", "---|".repeat(header.len()));
            for row in rows {
                println!("| {} |", row.join(" | "));
            }
        }
        println!();
        for note in &self.notes {
            println!("{note}");
        }
    }
}

fn machine_facts(report: &mut Report) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let from_proc = |file: &str, key: &str| {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with(key))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, value)| value.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into())
    };
    let output = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    report.facts.push(format!(
        "cores (nproc): {cores}, shared by the servers, Postgres, the fake model and the client"
    ));
    report
        .facts
        .push(format!("CPU: {}", from_proc("/proc/cpuinfo", "model name")));
    report.facts.push(format!(
        "memory: {}",
        from_proc("/proc/meminfo", "MemTotal")
    ));
    report
        .facts
        .push(format!("rustc: {}", output("rustc", &["--version"])));
    report.facts.push(format!(
        "commit: {}",
        output("git", &["rev-parse", "--short", "HEAD"])
    ));
    report
        .facts
        .push(format!("load average at the start: {}", load_average()));
}
