//! Thousands of simultaneous streams against the real server binary: the "Simultaneous
//! streams" figures of `docs/benchmarks.md`.
//!
//! `cargo bench --bench streams` starts a fake model (this binary again, as a child process,
//! see `streams/model.rs`) and `chatkit-server` (a child process on a temporary SQLite
//! database), warms the server up, and then, for each scenario, opens N `threads.create`
//! streams at once, each answered by the model with 50 deltas a fixed interval apart:
//!
//! - 2,000 streams, deltas 100 ms apart (ideal duration 4.9 s);
//! - 10,000 streams, deltas 300 ms apart (ideal duration 14.7 s).
//!
//! Each runs twice: as a burst (every stream opened at once) and sustained (that many streams
//! open at all times, the first spread over one stream's length, each replaced as it ends,
//! for two lengths more; latencies of the streams opened after the ramp), see `streams/load.rs`.
//!
//! It reports the time to the first delta and the stream duration (p50, p99, max) as the
//! client sees them, the CPU each process spent until every stream had its first delta (a
//! sustained load: the pace of starts and the server's CPU per stream instead), lost
//! streams (any that did not end with all 50 deltas and no error), the
//! server's RSS idle before, at its peak and a minute after the load, its descriptors and the
//! model server's at their peak, and the server's CPU time. Before the server, each scenario
//! runs against a bare actix-web relay of the model's stream (`streams/bare.rs`) with the same
//! client and a fresh fake model: the floor the server's figures are set beside, in a table
//! at the end of the scenario. `CHATKIT_BENCH_ONLY=2000`, `10000`, `2000-sustained` or
//! `10000-sustained` runs one scenario; `CHATKIT_BENCH_MODEL_HTTP=2` tells the server the
//! model speaks HTTP/2 cleartext (`CHATKIT_LLM_HTTP2_PRIOR_KNOWLEDGE`; by default, as in the
//! server, its model client uses HTTP/1.1);
//! `CHATKIT_BENCH_SERVER_BIN` measures another build of the server. Linux only (it reads
//! `/proc`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "streams/bare.rs"]
mod bare;
#[path = "streams/client.rs"]
mod client;
#[path = "streams/load.rs"]
mod load;
#[path = "streams/model.rs"]
mod model;
#[path = "streams/procfs.rs"]
mod procfs;
#[path = "common/schedstat.rs"]
mod schedstat;
#[allow(dead_code)]
#[path = "common/stats.rs"]
mod stats;

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use procfs::Sample;

/// Tells this binary, started again, to be the fake model; the value is the delta interval.
const MODEL_ROLE: &str = "CHATKIT_BENCH_MODEL_INTERVAL_MS";
/// How long after the load the server's RSS is read again.
const AFTER_LOAD: Duration = Duration::from_secs(60);
/// Streams of the warm-up, at once.
const WARM_UP: usize = 50;

struct Scenario {
    streams: usize,
    interval: Duration,
    /// Kept open at all times (each stream replaced when it ends) instead of opened at once.
    sustained: bool,
}

impl Scenario {
    /// What `CHATKIT_BENCH_ONLY` names it by.
    fn name(&self) -> String {
        match self.sustained {
            true => format!("{}-sustained", self.streams),
            false => self.streams.to_string(),
        }
    }

    /// A stream's duration with no wait but the model's.
    fn ideal(&self) -> Duration {
        self.interval * (model::DELTAS as u32 - 1)
    }

    /// Sustained: the first streams spread over one stream's length (the ramp, not scored),
    /// then streams opened for two lengths more.
    fn ramp(&self) -> Duration {
        if self.sustained {
            self.ideal()
        } else {
            Duration::ZERO
        }
    }
}

fn main() {
    if let Ok(ms) = std::env::var(MODEL_ROLE) {
        let interval = Duration::from_millis(ms.parse().expect("an interval in ms"));
        return runtime().block_on(model::serve(interval));
    }
    if let Ok(address) = std::env::var(bare::ROLE) {
        let model = std::env::var(bare::MODEL).expect("the model's URL");
        let h2c = std::env::var(bare::HTTP).as_deref() == Ok("2");
        return bare::serve(&address, model, h2c);
    }
    procfs::raise_open_files();
    let only = std::env::var("CHATKIT_BENCH_ONLY").unwrap_or_default();
    let scenarios = [false, true].into_iter().flat_map(|sustained| {
        [
            Scenario {
                streams: 2_000,
                interval: Duration::from_millis(100),
                sustained,
            },
            Scenario {
                streams: 10_000,
                interval: Duration::from_millis(300),
                sustained,
            },
        ]
    });
    let h2c = std::env::var("CHATKIT_BENCH_MODEL_HTTP").as_deref() == Ok("2");
    println!("{}", procfs::machine());
    for scenario in scenarios.filter(|s| only.is_empty() || only == s.name()) {
        runtime().block_on(run(&scenario, h2c));
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A child process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// This binary as the fake model; its process and port.
fn start_model(interval: Duration) -> (Process, u16) {
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .env(MODEL_ROLE, interval.as_millis().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the fake model starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("the fake model's port");
    let port = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .expect("a port");
    (Process(child), port)
}

/// The server binary on a fresh SQLite database, with the fake model as its model.
fn start_server(dir: &std::path::Path, model_port: u16, h2c: bool) -> (Process, SocketAddr) {
    let address = free_address();
    let log = std::fs::File::create(dir.join("server.log")).expect("log file");
    // Another build of the server may be measured with the same bench (before and after).
    let binary = std::env::var("CHATKIT_BENCH_SERVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_chatkit-server").to_owned());
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("bench.db").display()),
        )
        .env("CHATKIT_BIND", address.to_string())
        .env("CHATKIT_STORAGE_DIR", dir.join("files"))
        .env(
            "OPENAI_BASE_URL",
            format!("http://127.0.0.1:{model_port}/v1"),
        )
        .env("OPENAI_API_KEY", "x")
        .env("CHATKIT_AUTO_TITLES", "false")
        .env("RUST_LOG", "warn");
    if h2c {
        command.env("CHATKIT_LLM_HTTP2_PRIOR_KNOWLEDGE", "true");
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the server binary starts");
    (Process(child), wait_for(address))
}

/// This binary as the bare relay to the fake model at `model_port`; its process and address.
fn start_bare(model_port: u16, h2c: bool) -> (Process, SocketAddr) {
    let address = free_address();
    let child = Command::new(std::env::current_exe().expect("this binary"))
        .env(bare::ROLE, address.to_string())
        .env(bare::MODEL, format!("http://127.0.0.1:{model_port}/v1"))
        .env(bare::HTTP, if h2c { "2" } else { "1.1" })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("the bare relay starts");
    (Process(child), wait_for(address))
}

/// A loopback address with a port free now (the server binds it a moment later).
fn free_address() -> SocketAddr {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    ([127, 0, 0, 1], port).into()
}

/// `address` once a server accepts on it.
fn wait_for(address: SocketAddr) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    address
}

/// The start of a load: from sending the requests until every stream had its first delta,
/// and the CPU each process spent in that time.
struct Starts {
    took: Duration,
    server: Duration,
    model: Duration,
    client: Duration,
}

/// Waits until `n` first deltas are counted (or the load ends without them: `None`).
async fn watch_starts(
    n: usize,
    firsts: Arc<AtomicUsize>,
    running: Arc<AtomicBool>,
    pids: (u32, u32),
) -> Option<Starts> {
    let cpu =
        || [pids.0, pids.1, std::process::id()].map(|pid| schedstat::threads_cpu(&pid.to_string()));
    let (started, before) = (Instant::now(), cpu());
    while firsts.load(Ordering::Relaxed) < n {
        if !running.load(Ordering::Relaxed) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (took, after) = (started.elapsed(), cpu());
    // Thread by thread, as the turns bench counts: a thread started meanwhile counts from
    // zero; one that ended meantime is missing from `after`, its time in between lost.
    let used = |i: usize| -> Duration {
        after[i]
            .iter()
            .map(|(tid, now)| now.saturating_sub(before[i].get(tid).copied().unwrap_or_default()))
            .sum()
    };
    Some(Starts {
        took,
        server: used(0),
        model: used(1),
        client: used(2),
    })
}

/// What one server did under a scenario's load.
struct Measured {
    warm_lost: usize,
    /// Samples 5 s after the warm-up.
    idle: Sample,
    model_idle: Sample,
    opened: Vec<load::Opened>,
    /// Streams opened before this (a sustained load's ramp) count for losses, not latencies.
    scored_from: Duration,
    starts: Option<Starts>,
    /// From sending the requests to the end of the last stream.
    took: Duration,
    /// The server's CPU seconds in that time.
    cpu: f64,
    server_peak: Sample,
    model_peak: Sample,
}

impl Measured {
    fn lost(&self) -> Vec<&client::Outcome> {
        self.opened
            .iter()
            .map(|o| &o.outcome)
            .filter(|o| !o.complete(model::DELTAS))
            .collect()
    }

    /// The streams whose latencies count.
    fn scored(&self) -> impl Iterator<Item = &client::Outcome> {
        self.opened
            .iter()
            .filter(|o| o.at >= self.scored_from)
            .map(|o| &o.outcome)
    }

    /// First deltas and durations of the scored streams, each sorted.
    fn latencies(&self) -> (Vec<Duration>, Vec<Duration>) {
        let mut first: Vec<Duration> = self.scored().filter_map(|o| o.first_delta).collect();
        let mut whole: Vec<Duration> = self.scored().filter_map(|o| o.duration).collect();
        first.sort();
        whole.sort();
        (first, whole)
    }
}

/// The warm-up, a rest, then the scenario's load against the server at `address`.
async fn measure(scenario: &Scenario, address: SocketAddr, pids: (u32, u32)) -> Measured {
    let (pid, model_pid) = pids;
    let warm = load::burst(WARM_UP, address, 1_000_000, Arc::default()).await;
    let warm_lost = warm
        .iter()
        .filter(|o| !o.outcome.complete(model::DELTAS))
        .count();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = Sample::of(pid);
    let model_idle = Sample::of(model_pid);

    // Sampled while the streams run: the peaks of RSS and descriptors.
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let running = running.clone();
        tokio::spawn(async move {
            let (mut server_peak, mut model_peak) = (Sample::default(), Sample::default());
            while running.load(Ordering::Relaxed) {
                server_peak = server_peak.max(&Sample::of(pid));
                model_peak = model_peak.max(&Sample::of(model_pid));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (server_peak, model_peak)
        })
    };
    let firsts = Arc::new(AtomicUsize::new(0));
    // A sustained load has no moment when every stream has started.
    let starts = (!scenario.sustained).then(|| {
        tokio::spawn(watch_starts(
            scenario.streams,
            firsts.clone(),
            running.clone(),
            pids,
        ))
    });
    let cpu_before = procfs::cpu_seconds(pid);
    let started = Instant::now();
    let opened = if scenario.sustained {
        let until = scenario.ramp() + scenario.ideal() * 2;
        load::sustained(scenario.streams, address, scenario.ramp(), until, firsts).await
    } else {
        load::burst(scenario.streams, address, 0, firsts).await
    };
    let took = started.elapsed();
    let cpu = procfs::cpu_seconds(pid) - cpu_before;
    running.store(false, Ordering::Relaxed);
    let (server_peak, model_peak) = sampler.await.expect("the sampler");
    let starts = match starts {
        Some(task) => task.await.expect("the start watcher"),
        None => None,
    };
    Measured {
        warm_lost,
        idle,
        model_idle,
        opened,
        scored_from: scenario.ramp(),
        starts,
        took,
        cpu,
        server_peak,
        model_peak,
    }
}

async fn run(scenario: &Scenario, h2c: bool) {
    // The floor first, each with a fresh fake model.
    let relay = {
        let (model, model_port) = start_model(scenario.interval);
        let (relay, address) = start_bare(model_port, h2c);
        measure(scenario, address, (relay.0.id(), model.0.id())).await
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (model, model_port) = start_model(scenario.interval);
    let (server, address) = start_server(dir.path(), model_port, h2c);
    let pid = server.0.id();
    let ours = measure(scenario, address, (pid, model.0.id())).await;
    let load_average = procfs::load_average();
    tokio::time::sleep(AFTER_LOAD).await;
    let after = Sample::of(pid);
    let hwm = procfs::peak_rss_kib(pid);
    let huge_pages = procfs::huge_pages(pid);
    drop(server);
    drop(model);

    let Measured {
        warm_lost,
        idle,
        model_idle,
        server_peak,
        model_peak,
        ..
    } = ours;
    let lost = ours.lost();
    let (first, whole) = ours.latencies();
    let mib = |kib: u64| kib as f64 / 1024.0;
    let shape = match scenario.sustained {
        true => "streams open at all times",
        false => "simultaneous streams",
    };
    println!(
        "\n## {} {shape}, 50 deltas {} ms apart (ideal duration {:.1} s)\n",
        scenario.streams,
        scenario.interval.as_millis(),
        scenario.ideal().as_secs_f64()
    );
    if scenario.sustained {
        println!(
            "- streams: the first {} spread over {:.1} s, each replaced when it ends, for {:.1} s \
             more; {} opened, of which the {} opened after the first {:.1} s are scored",
            scenario.streams,
            scenario.ramp().as_secs_f64(),
            (scenario.ideal() * 2).as_secs_f64(),
            ours.opened.len(),
            ours.scored().count(),
            scenario.ramp().as_secs_f64()
        );
    }
    println!(
        "- model client: {}",
        if h2c {
            "told the model speaks HTTP/2 cleartext"
        } else {
            "HTTP/1.1"
        }
    );
    println!("- warm-up: {WARM_UP} streams, {warm_lost} lost");
    println!(
        "- first delta: p50 {} / p99 {} / max {}",
        ms(percentile(&first, 50.0)),
        ms(percentile(&first, 99.0)),
        ms(first.last().copied())
    );
    println!(
        "- {}: {}",
        starts_label(scenario),
        starts_line(&ours, scenario)
    );
    println!(
        "- duration: p50 {} / p99 {} / max {}",
        ms(percentile(&whole, 50.0)),
        ms(percentile(&whole, 99.0)),
        ms(whole.last().copied())
    );
    println!("- lost streams: {} of {}", lost.len(), ours.opened.len());
    let mut reasons: std::collections::BTreeMap<&str, usize> = Default::default();
    for outcome in &lost {
        let reason = outcome.failure.as_deref().unwrap_or("too few deltas");
        *reasons.entry(reason).or_default() += 1;
    }
    for (reason, count) in reasons {
        println!("  - {count}: {reason}");
    }
    println!(
        "- server RSS: idle {:.0} MiB, peak {:.0} MiB (sampled; VmHWM {:.0} MiB), {} s after \
         the load {:.0} MiB ({:.2}x idle)",
        mib(idle.rss_kib),
        mib(server_peak.rss_kib),
        mib(hwm),
        AFTER_LOAD.as_secs(),
        mib(after.rss_kib),
        after.rss_kib as f64 / idle.rss_kib.max(1) as f64
    );
    println!(
        "- server's transparent huge pages: {}",
        match huge_pages {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown (no THP_enabled in /proc)",
        }
    );
    println!(
        "- server descriptors: idle {}, peak {}, after {}",
        idle.fds, server_peak.fds, after.fds
    );
    println!(
        "- model server descriptors (its connections): idle {}, peak {}",
        model_idle.fds, model_peak.fds
    );
    println!(
        "- server threads: idle {}, peak {}",
        idle.threads, server_peak.threads
    );
    println!(
        "- server CPU: {:.1} s over {:.1} s of load ({:.0}% of one core)",
        ours.cpu,
        ours.took.as_secs_f64(),
        100.0 * ours.cpu / ours.took.as_secs_f64()
    );
    println!("- load average at the end of the load: {load_average}");
    compare(scenario, &ours, &relay);
}

/// What `starts_line` tells for the scenario.
fn starts_label(scenario: &Scenario) -> &'static str {
    match scenario.sustained {
        true => "streams opened; server CPU per stream over the load",
        false => "until every stream's first delta",
    }
}

/// A burst: the time until every first delta and each process's CPU in it; a sustained
/// load: the pace of starts and the server's CPU per stream; as one line.
fn starts_line(measured: &Measured, scenario: &Scenario) -> String {
    if scenario.sustained {
        let scored = measured.scored().count();
        return format!(
            "{} ({:.0}/s after the ramp); {:.0} µs",
            measured.opened.len(),
            scored as f64 / (scenario.ideal() * 2).as_secs_f64(),
            measured.cpu * 1e6 / measured.opened.len().max(1) as f64
        );
    }
    match &measured.starts {
        Some(s) => format!(
            "{:.0} ms; server CPU {:.0} ms ({:.0} µs per stream), fake model {:.0} ms, this \
             client {:.0} ms",
            s.took.as_secs_f64() * 1e3,
            s.server.as_secs_f64() * 1e3,
            s.server.as_secs_f64() * 1e6 / scenario.streams as f64,
            s.model.as_secs_f64() * 1e3,
            s.client.as_secs_f64() * 1e3
        ),
        None => "not every stream had one".to_owned(),
    }
}

/// This server beside the bare relay of the same run.
fn compare(scenario: &Scenario, ours: &Measured, relay: &Measured) {
    println!("\n| figure | this server | bare actix-web relay (no database, no agent) |");
    println!("|---|---|---|");
    let what = [
        "first delta p50 / p99",
        starts_label(scenario),
        "duration p99",
        "lost streams; server CPU during the load",
    ];
    let (ours, relay) = (figures(ours, scenario), figures(relay, scenario));
    for ((what, ours), relay) in what.iter().zip(ours).zip(relay) {
        println!("| {what} | {ours} | {relay} |");
    }
}

/// The figures of `compare`'s rows for one server.
fn figures(measured: &Measured, scenario: &Scenario) -> [String; 4] {
    let (first, whole) = measured.latencies();
    [
        format!(
            "{} / {}",
            ms(percentile(&first, 50.0)),
            ms(percentile(&first, 99.0))
        ),
        starts_line(measured, scenario),
        ms(percentile(&whole, 99.0)),
        format!("{}; {:.1} s", measured.lost().len(), measured.cpu),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".into(),
        |d| format!("{:.0} ms", d.as_secs_f64() * 1e3),
    )
}
