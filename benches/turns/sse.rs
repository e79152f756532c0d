//! Reading SSE as it arrives.

use super::*;

/// When each delta of a stream arrived.
pub(crate) struct Streamed {
    pub(crate) sent: Instant,
    pub(crate) deltas: Vec<Instant>,
    pub(crate) ended: Instant,
    /// The stream's first frame (`thread.created` for a new thread).
    pub(crate) first_frame: Vec<u8>,
}

impl Streamed {
    pub(crate) fn first_delta(&self) -> Duration {
        self.deltas
            .first()
            .expect("a delta")
            .duration_since(self.sent)
    }

    /// From the first delta to the last.
    pub(crate) fn delta_span(&self) -> Duration {
        match (self.deltas.first(), self.deltas.last()) {
            (Some(first), Some(last)) => last.duration_since(*first),
            _ => Duration::ZERO,
        }
    }

    pub(crate) fn thread_id(&self) -> String {
        let data = self
            .first_frame
            .strip_prefix(b"data: ")
            .expect("data frame");
        let event: Value = serde_json::from_slice(data).expect("JSON event");
        event["thread"]["id"]
            .as_str()
            .expect("thread.created")
            .to_owned()
    }
}

/// Reads `response` to its end, noting the arrival of every frame that contains `mark`.
pub(crate) async fn read_stream(
    response: reqwest::Response,
    sent: Instant,
    mark: &[u8],
) -> Streamed {
    let deadline = sent + TURN_DEADLINE;
    let mut body = response.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut deltas = Vec::new();
    let mut first_frame = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = match tokio::time::timeout(left, body.next()).await {
            Err(_) => panic!("stream still open after {TURN_DEADLINE:?}"),
            Ok(None) => break,
            Ok(Some(chunk)) => chunk.expect("stream read"),
        };
        let now = Instant::now();
        buf.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = find(&buf[start..], b"\n\n") {
            let frame = &buf[start..start + end];
            if first_frame.is_none() {
                first_frame = Some(frame.to_vec());
            }
            if find(frame, mark).is_some() {
                deltas.push(now);
            }
            start += end + 2;
        }
        buf.drain(..start);
    }
    Streamed {
        sent,
        deltas,
        ended: Instant::now(),
        first_frame: first_frame.unwrap_or_default(),
    }
}

/// Where `needle` (not empty) first occurs in `haystack`: a byte scan for its first byte, then a
/// comparison, so the client spends little of the machine on finding frames.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut at = 0;
    while let Some(offset) = haystack.get(at..)?.iter().position(|&b| b == first) {
        let start = at + offset;
        if haystack.get(start + 1..start + needle.len()) == Some(rest) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}
