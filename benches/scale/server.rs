//! The server binary as a child process: a clean environment (the given variables and a free
//! loopback port), its log in a temporary folder, killed when dropped. Its pid is what the
//! CPU and memory figures are read for.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// How long a start may take.
const START_DEADLINE: Duration = Duration::from_secs(60);

pub struct Server {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts the binary with `vars` (and nothing else of this process's environment) and
    /// waits until it answers `/healthz`.
    pub async fn start(vars: &[(&str, String)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_chatkit-server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CHATKIT_BIND", format!("127.0.0.1:{port}"))
            .env("CHATKIT_PROBE_PORTS", "none")
            .env("CHATKIT_DEMO_MODEL", "false")
            .env("CHATKIT_AUTO_TITLES", "false")
            .env(
                "CHATKIT_SECRET_KEY",
                "bench-secret-key-0123456789-abcdefghij",
            )
            .env("RUST_LOG", "warn")
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .envs(
                (!vars.iter().any(|(k, _)| *k == "CHATKIT_STORAGE_URL"))
                    .then(|| ("CHATKIT_STORAGE_DIR", dir.path().join("files"))),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let pid = child.id().expect("a running child");
        let mut server = Server {
            child,
            pid,
            address: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the server exited at start ({status}): {}", server.log());
            }
            let health = client.get(format!("{}/healthz", server.address)).send();
            if health.await.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the process logged (warnings and errors), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The process's peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.pid, "VmHWM:")
    }
}

/// A `kB` line of `/proc/<pid>/status`; 0 when it cannot be read.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
