//! The real server binary as a child process, for what only a process can show: being killed
//! (SIGKILL), being told to stop (SIGTERM), and starting again on the same database. It runs
//! with a clean environment: the database URL, a free loopback port, its own attachment folder
//! and the variables a test gives (such as the fake model's), nothing else.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::fixtures::user_input;

/// How long a start may take before the test fails.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A running server process; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub client: reqwest::Client,
    db_url: String,
    vars: Vec<(String, String)>,
    /// Attachments and the process's log, in the test's own folder.
    dir: PathBuf,
    /// How many times the server was started (names the log of each start).
    starts: usize,
}

/// A free loopback port, found by binding port 0 and letting it go.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl ServerProcess {
    /// Starts the binary on `db_url` with `vars` (and the files of `dir`), and waits until it
    /// answers `/healthz`.
    pub async fn start(db_url: &str, dir: &std::path::Path, vars: &[(&str, &str)]) -> Self {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (child, address) = spawn(db_url, dir, &vars, 1).await;
        ServerProcess {
            child,
            address,
            client: reqwest::Client::new(),
            db_url: db_url.to_owned(),
            vars,
            dir: dir.to_path_buf(),
            starts: 1,
        }
    }

    /// The process id, for signals.
    fn pid(&self) -> i32 {
        i32::try_from(self.child.id().expect("the process runs")).expect("a pid")
    }

    /// Sends `signal` (`libc::SIGKILL`, `libc::SIGTERM` …).
    pub fn signal(&self, signal: i32) {
        // SAFETY: a plain kill(2) on our own child's pid.
        let sent = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(sent, 0, "kill({signal}) failed");
    }

    /// Kills the process at once, as a crash or the OOM killer would, and reaps it.
    pub async fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.child.wait().await.expect("reaped");
    }

    /// Waits for the process to exit by itself, failing the test after `limit`.
    pub async fn exits_within(&mut self, limit: Duration) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the server did not exit within {limit:?}"))
            .expect("reaped")
    }

    /// Starts the server again on the same database and settings (a new port), after it
    /// stopped.
    pub async fn restart(&mut self) {
        self.starts += 1;
        let (child, address) = spawn(&self.db_url, &self.dir, &self.vars, self.starts).await;
        self.child = child;
        self.address = address;
    }

    /// Everything the process logged so far, over all its starts (for failure messages).
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| std::fs::read_to_string(self.dir.join(format!("server-{n}.log"))))
            .filter_map(Result::ok)
            .collect()
    }

    /// POSTs a ChatKit request as `user` and returns the response as it starts.
    pub async fn post(&self, user: &str, kind: &str, params: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/chatkit", self.address))
            .header("X-ChatKit-User", user)
            .header("Content-Type", "application/json")
            .body(json!({"type": kind, "params": params}).to_string())
            .send()
            .await
            .expect("request sent")
    }

    /// A JSON request that must succeed; its body.
    pub async fn ok(&self, user: &str, kind: &str, params: Value) -> Value {
        let response = self.post(user, kind, params).await;
        assert_eq!(response.status(), 200, "{kind} failed");
        response.json().await.expect("JSON body")
    }

    /// Starts a turn on a new thread with `text`.
    pub async fn create_thread(&self, user: &str, text: &str) -> reqwest::Response {
        self.post(user, "threads.create", json!({"input": user_input(text)}))
            .await
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Spawns the binary and waits for `/healthz`; its output goes to `server-{start}.log`.
async fn spawn(
    db_url: &str,
    dir: &std::path::Path,
    vars: &[(String, String)],
    start: usize,
) -> (Child, String) {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("server-{start}.log"))).expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatkit-server"));
    command
        .env_clear()
        .env("DATABASE_URL", db_url)
        .env("CHATKIT_BIND", format!("127.0.0.1:{port}"))
        .env("CHATKIT_STORAGE_DIR", dir.join("files"))
        .env("CHATKIT_PROBE_PORTS", "none")
        .env("CHATKIT_DEMO_MODEL", "false")
        .env("RUST_LOG", "info")
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .kill_on_drop(true);
    let mut child = command.spawn().expect("the server binary starts");
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join(format!("server-{start}.log")));
            panic!(
                "the server exited at start ({status}): {}",
                log.unwrap_or_default()
            );
        }
        let health = client.get(format!("{address}/healthz")).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return (child, address);
        }
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
