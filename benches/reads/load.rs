//! The load of the reads bench: hand-written HTTP/1.1 on one thread, so the client spends as
//! little of its core as it can and the bare server's figure is not the client's.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{CONNECTIONS, RUN, Server, USER, WARM_UP, ms, percentile, us};

/// One keep-alive connection sending the same request again and again.
pub(super) struct Connection {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Connection {
    pub(super) async fn open(port: u16, body: &str) -> Connection {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let request = format!(
            "POST /chatkit HTTP/1.1\r\nHost: 127.0.0.1\r\nX-ChatKit-User: {USER}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Connection {
            stream,
            request: request.into_bytes(),
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// Sends the request and reads the whole answer: its status and body.
    pub(super) async fn send(&mut self) -> (u16, Vec<u8>) {
        let (status, start, end) = self.round_trip().await;
        (status, self.buf[start..end].to_vec())
    }

    /// Sends the request and reads the answer into `buf`: the status and where the body is.
    async fn round_trip(&mut self) -> (u16, usize, usize) {
        self.stream
            .write_all(&self.request)
            .await
            .expect("request sent");
        self.buf.clear();
        let (status, head, length) = loop {
            self.fill().await;
            if let Some(head) = find(&self.buf, b"\r\n\r\n") {
                let (status, length) = parse_head(&self.buf[..head]);
                break (status, head + 4, length);
            }
        };
        while self.buf.len() < head + length {
            self.fill().await;
        }
        (status, head, head + length)
    }

    async fn fill(&mut self) {
        let len = self.buf.len();
        if self.buf.capacity() - len < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        let spare = self.buf.capacity() - len;
        self.buf.resize(len + spare, 0);
        let read = self.stream.read(&mut self.buf[len..]).await.expect("read");
        assert!(
            read > 0,
            "the server on port {} closed the connection",
            self.stream.peer_addr().map_or(0, |a| a.port())
        );
        self.buf.truncate(len + read);
    }
}

/// The status and `Content-Length` of a response head.
pub(super) fn parse_head(head: &[u8]) -> (u16, usize) {
    let text = std::str::from_utf8(head).expect("an ASCII head");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let length = text
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .expect("a Content-Length");
    (status, length)
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What one run measured.
pub(super) struct Run {
    latencies: Vec<Duration>,
    failed: usize,
    elapsed: Duration,
    server_cpu: Duration,
    client_cpu: Duration,
}

impl Run {
    pub(super) fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub(super) fn describe(&self) -> String {
        let failed = if self.failed == 0 {
            String::new()
        } else {
            format!("; **{} failed**", self.failed)
        };
        format!(
            "{:.0} req/s; p50 {} p99 {}; server CPU {} per request; client core {:.0}% busy{failed}",
            self.rate(),
            ms(percentile(&self.latencies, 50.0)),
            ms(percentile(&self.latencies, 99.0)),
            us(self.server_cpu.as_secs_f64() / self.latencies.len().max(1) as f64),
            100.0 * self.client_cpu.as_secs_f64() / self.elapsed.as_secs_f64(),
        )
    }
}

/// A warm-up, then [`RUN`] of [`CONNECTIONS`] connections sending `request` back to back.
pub(super) async fn load(server: &Server, request: &str) -> Run {
    let mut connections = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        connections.push(Connection::open(server.port, request).await);
    }
    let (connections, _) = drive(connections, WARM_UP).await;
    let (server_cpu, client_cpu) = (server.cpu(), own_cpu());
    let begin = Instant::now();
    let (_, (latencies, failed)) = drive(connections, RUN).await;
    let elapsed = begin.elapsed();
    Run {
        latencies,
        failed,
        elapsed,
        server_cpu: server.cpu().saturating_sub(server_cpu),
        client_cpu: own_cpu().saturating_sub(client_cpu),
    }
}

/// Every connection sending its request until `budget` passes: the connections back, each
/// answer's latency, and how many answers were not a 200.
pub(super) async fn drive(
    connections: Vec<Connection>,
    budget: Duration,
) -> (Vec<Connection>, (Vec<Duration>, usize)) {
    let deadline = Instant::now() + budget;
    let tasks = connections.into_iter().map(|mut conn| async move {
        let mut latencies = Vec::with_capacity(1 << 16);
        let mut failed = 0;
        while Instant::now() < deadline {
            let sent = Instant::now();
            let (status, _, _) = conn.round_trip().await;
            if status == 200 {
                latencies.push(sent.elapsed());
            } else {
                failed += 1;
            }
        }
        (conn, latencies, failed)
    });
    let mut connections = Vec::new();
    let mut latencies = Vec::new();
    let mut failed = 0;
    for (conn, lat, fail) in futures_util::future::join_all(tasks).await {
        connections.push(conn);
        latencies.extend(lat);
        failed += fail;
    }
    (connections, (latencies, failed))
}

/// This process's CPU time (the load's thread; the rest of the process is idle meanwhile).
pub(super) fn own_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
