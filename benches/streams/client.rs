//! The client side of the streams bench: one `threads.create` stream over a plain TCP
//! connection, read as it arrives. Raw HTTP/1.1 keeps the client's own cost per stream to a
//! socket and a small buffer, so that 10,000 of them fit beside the server on the same machine.
//! Connections come from several loopback source addresses, each with its own ephemeral ports.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// Loopback source addresses the connections are spread over (127.0.0.1 to this many).
const SOURCE_ADDRESSES: u32 = 8;
/// A stream silent for this long is given up (counted lost).
const STALL: Duration = Duration::from_secs(120);

const DELTA: &[u8] = b"assistant_message.content_part.text_delta";
const ERROR: &[u8] = b"\"type\":\"error\"";
/// The last chunk of a chunked body.
const END: &[u8] = b"\r\n0\r\n\r\n";

/// How one stream went.
#[derive(Debug, Default)]
pub struct Outcome {
    pub first_delta: Option<Duration>,
    /// From sending to the end of the body.
    pub duration: Option<Duration>,
    pub deltas: usize,
    /// Why the stream is lost, if it is.
    pub failure: Option<String>,
}

impl Outcome {
    pub fn complete(&self, deltas: usize) -> bool {
        self.failure.is_none() && self.duration.is_some() && self.deltas == deltas
    }
}

/// Sends `threads.create` as user `u<index>` and reads the stream to its end; counts its
/// first delta in `firsts`.
pub async fn stream(index: usize, server: SocketAddr, firsts: &AtomicUsize) -> Outcome {
    let mut outcome = Outcome::default();
    let started = Instant::now();
    if let Err(e) = read(index, server, started, &mut outcome, firsts).await {
        outcome.failure.get_or_insert(e);
    }
    outcome
}

async fn read(
    index: usize,
    server: SocketAddr,
    started: Instant,
    outcome: &mut Outcome,
    firsts: &AtomicUsize,
) -> Result<(), String> {
    let source = Ipv4Addr::from(u32::from(Ipv4Addr::LOCALHOST) + index as u32 % SOURCE_ADDRESSES);
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::from((source, 0)))
        .map_err(|e| format!("bind: {e}"))?;
    let mut tcp = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let body = format!(
        "{{\"type\":\"threads.create\",\"params\":{{\"input\":{{\"content\":[{{\"type\":\
         \"input_text\",\"text\":\"hello {index}\"}}],\"attachments\":[],\
         \"inference_options\":{{}}}}}}}}"
    );
    let request = format!(
        "POST /chatkit HTTP/1.1\r\nHost: bench\r\nX-ChatKit-User: u{index}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    // What is scanned: the tail of the previous read (too short to hold a whole mark) and the
    // new bytes, so a mark split across reads is found once.
    let mut window: Vec<u8> = Vec::with_capacity(4096 + 64);
    let mut buf = [0u8; 4096];
    let mut head_checked = false;
    loop {
        let n = match tokio::time::timeout(STALL, tcp.read(&mut buf)).await {
            Err(_) => return Err("stalled".into()),
            Ok(Err(e)) => return Err(format!("read: {e}")),
            Ok(Ok(0)) => return Err("closed before the end".into()),
            Ok(Ok(n)) => n,
        };
        window.extend_from_slice(&buf[..n]);
        if !head_checked && window.len() >= 12 {
            if !window.starts_with(b"HTTP/1.1 200") {
                let head = String::from_utf8_lossy(&window[..window.len().min(40)]).into_owned();
                return Err(format!("answer {head}"));
            }
            head_checked = true;
        }
        let deltas = count(&window, DELTA);
        if deltas > 0 && outcome.first_delta.is_none() {
            outcome.first_delta = Some(started.elapsed());
            firsts.fetch_add(1, Ordering::Relaxed);
        }
        outcome.deltas += deltas;
        if count(&window, ERROR) > 0 {
            outcome.failure = Some("an error event".into());
        }
        if count(&window, END) > 0 {
            outcome.duration = Some(started.elapsed());
            return Ok(());
        }
        let keep = DELTA.len() - 1;
        if window.len() > keep {
            window.drain(..window.len() - keep);
        }
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}
