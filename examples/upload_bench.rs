//! Upload throughput and the server's memory while it receives a file (docs/benchmarks.md,
//! "Attachments"). Not a test and not run in CI: build the server in release mode, then
//!
//! ```sh
//! cargo build --release && cargo run --release --example upload_bench -- [SIZES_MB...]
//! ```
//!
//! For every size (default 20 and 100 MB) and both upload strategies, it starts a fresh
//! `target/release/chatkit-server` on a temporary SQLite database and folder, warms it up with
//! a small upload, then streams one file of that size from memory-light chunks and reports
//! the wall time of the upload request and the server's resident memory: after the warm-up
//! (`VmRSS`) and the peak of the whole process life (`VmHWM`, from `/proc/<pid>/status`, so
//! Linux only). The peak must not grow with the file size.

// A measuring tool run by hand, like the tests: a panic is its error report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use serde_json::{Value, json};

const MB: u64 = 1024 * 1024;
const CHUNK: usize = 64 * 1024;
const BOUNDARY: &str = "bench-boundary-5b1c";

#[derive(Clone, Copy, Debug)]
enum Strategy {
    /// `attachments.create`, then a multipart POST to the upload URL (the ChatKit default).
    TwoPhase,
    /// One multipart POST to `/chatkit/upload`.
    Direct,
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_server(binary: &str, max_bytes: u64) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let child = Command::new(binary)
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bench.db").display()),
        )
        .env("CHATKIT_BIND", format!("127.0.0.1:{port}"))
        .env("CHATKIT_STORAGE_DIR", dir.path().join("files"))
        .env("CHATKIT_UPLOAD_MAX_BYTES", max_bytes.to_string())
        .env("CHATKIT_SECRET_KEY", "bench-secret-key-0123456789abcdef")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e} (cargo build --release first)"));
    // Owned (and so killed and reaped) from here on, whatever happens.
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_ok()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

/// A `/proc/<pid>/status` field in KiB.
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("field present")
}

/// A multipart body with one `file` field of `size` bytes, made of 64 KiB chunks of one
/// shared buffer, so the client holds almost nothing either.
fn multipart_body(size: u64) -> (reqwest::Body, u64) {
    let head = Bytes::from(format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    ));
    let tail = Bytes::from(format!("\r\n--{BOUNDARY}--\r\n"));
    let block = Bytes::from(vec![b'x'; CHUNK]);
    let full = size / CHUNK as u64;
    let rest = (size % CHUNK as u64) as usize;
    let length = head.len() as u64 + size + tail.len() as u64;
    let chunks = std::iter::once(head)
        .chain((0..full).map(move |_| block.clone()))
        .chain((rest > 0).then(|| Bytes::from(vec![b'x'; rest])))
        .chain(std::iter::once(tail))
        .map(Ok::<_, std::io::Error>);
    (reqwest::Body::wrap_stream(stream::iter(chunks)), length)
}

/// Uploads `size` bytes; returns the time the upload request took.
async fn upload(client: &reqwest::Client, base: &str, strategy: Strategy, size: u64) -> Duration {
    let url = match strategy {
        Strategy::Direct => format!("{base}/chatkit/upload"),
        Strategy::TwoPhase => {
            let created: Value = client
                .post(format!("{base}/chatkit"))
                .json(&json!({"type": "attachments.create",
                              "params": {"name": "big.txt", "size": size, "mime_type": "text/plain"}}))
                .send()
                .await
                .expect("create sent")
                .json()
                .await
                .expect("attachment JSON");
            created["upload_descriptor"]["url"]
                .as_str()
                .expect("upload url")
                .to_owned()
        }
    };
    let (body, length) = multipart_body(size);
    let started = Instant::now();
    let response = client
        .post(url)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("Content-Length", length)
        .body(body)
        .send()
        .await
        .expect("upload sent");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let elapsed = started.elapsed();
    assert!(status.is_success(), "upload failed: {status} {text}");
    elapsed
}

#[tokio::main]
async fn main() {
    let mut sizes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![20, 100];
    }
    let binary = std::env::var("CHATKIT_BENCH_SERVER")
        .unwrap_or_else(|_| "target/release/chatkit-server".into());
    let client = reqwest::Client::new();
    println!(
        "| strategy | file | upload time | throughput | server RSS after warm-up | server peak RSS |"
    );
    println!("|---|---|---|---|---|---|");
    for strategy in [Strategy::TwoPhase, Strategy::Direct] {
        for &mb in &sizes {
            let size = mb * MB;
            let server = start_server(&binary, size.max(MB)).await;
            let pid = server.child.id();
            upload(&client, &server.base, strategy, 256 * 1024).await;
            let warm = proc_kib(pid, "VmRSS:");
            let took = upload(&client, &server.base, strategy, size).await;
            let peak = proc_kib(pid, "VmHWM:");
            println!(
                "| {strategy:?} | {mb} MB | {:.0} ms | {:.0} MB/s | {:.1} MB | {:.1} MB |",
                took.as_secs_f64() * 1000.0,
                mb as f64 / took.as_secs_f64(),
                warm as f64 / 1024.0,
                peak as f64 / 1024.0,
            );
        }
    }
}
