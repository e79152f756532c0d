//! Server-sent events decoded from a byte stream as the HTML standard's event-stream
//! interpretation says: lines end with CRLF, LF or CR; a line starting with a colon is a
//! comment; `field: value` loses one space after the colon; `data` lines join with line feeds;
//! a blank line dispatches the event (none if it has no data); the end of the body drops an
//! unfinished event; bytes that are not UTF-8 become U+FFFD. `id` and `retry` steer a
//! reconnecting browser, which a model call never is, so they are read and ignored.
//!
//! Written here rather than taken from eventsource-stream: its parser combinators cost about
//! 2,000 instructions per event of a model's answer, a tenth of a whole turn's, for a format
//! this small.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

const BOM: &[u8] = b"\xef\xbb\xbf";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event` field, `message` when there was none (borrowed then: no allocation for
    /// the events of a model's answer, which have none).
    pub event: Cow<'static, str>,
    pub data: String,
}

/// The events of a byte stream; an error of the body ends it.
pub struct Events<S> {
    body: S,
    /// Bytes read; the lines before `taken` are done with. Lines are read in place and the
    /// done bytes dropped once per read, not split off one line at a time.
    buffer: BytesMut,
    taken: usize,
    /// Up to where `buffer` is known to hold no line end.
    scanned: usize,
    /// The last line ended with CR: a LF that comes next belongs to it.
    after_cr: bool,
    ended: bool,
    fields: Fields,
}

/// The event being put together.
#[derive(Default)]
struct Fields {
    first_line: bool,
    event: String,
    data: String,
}

impl<S> Events<S> {
    pub fn new(body: S) -> Self {
        Events {
            body,
            buffer: BytesMut::new(),
            taken: 0,
            scanned: 0,
            after_cr: false,
            ended: false,
            fields: Fields {
                first_line: true,
                ..Fields::default()
            },
        }
    }

    /// Where the next whole line in the buffer lies, without its end; takes it.
    fn next_line(&mut self) -> Option<(usize, usize)> {
        if self.after_cr && self.taken < self.buffer.len() {
            self.after_cr = false;
            if self.buffer[self.taken] == b'\n' {
                self.taken += 1;
            }
        }
        let from = self.scanned.max(self.taken);
        let Some(at) = memchr::memchr2(b'\n', b'\r', &self.buffer[from..]) else {
            self.scanned = self.buffer.len();
            return None;
        };
        let (start, end) = (self.taken, from + at);
        self.after_cr = self.buffer[end] == b'\r';
        self.taken = end + 1;
        Some((start, end))
    }
}

impl Fields {
    /// Takes one line; the event it completes, if any.
    fn take_line(&mut self, line: &[u8]) -> Option<Event> {
        let line = if std::mem::take(&mut self.first_line) {
            line.strip_prefix(BOM).unwrap_or(line)
        } else {
            line
        };
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"event" => self.event = text(value).into_owned(),
            b"data" => {
                // Room for the line feed too: the event's data is a new string each time,
                // which would otherwise grow again for its last byte.
                self.data.reserve(value.len() + 1);
                self.data.push_str(&text(value));
                self.data.push('\n');
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() {
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        let event = if event.is_empty() {
            Cow::Borrowed("message")
        } else {
            Cow::Owned(event)
        };
        Some(Event { event, data })
    }
}

/// UTF-8 as it is (checked a word at a time), anything else with U+FFFD for what is not.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

impl<S, E> Stream for Events<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Event, String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            while let Some((start, end)) = this.next_line() {
                if let Some(event) = this.fields.take_line(&this.buffer[start..end]) {
                    return Poll::Ready(Some(Ok(event)));
                }
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match ready!(this.body.poll_next_unpin(cx)) {
                Some(Ok(read)) => {
                    // The lines taken go before more is read: the buffer's space is reused.
                    this.buffer.advance(this.taken);
                    this.scanned -= this.taken.min(this.scanned);
                    this.taken = 0;
                    this.buffer.extend_from_slice(&read);
                }
                Some(Err(e)) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(e.to_string())));
                }
                // What is left is an unfinished event: dropped.
                None => this.ended = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn events(reads: &[&'static [u8]]) -> Vec<(String, String)> {
        let reads = reads
            .iter()
            .map(|read| Ok::<_, std::convert::Infallible>(Bytes::from_static(read)));
        Events::new(futures_util::stream::iter(reads))
            .map(|e| {
                let e = e.unwrap();
                (e.event.into_owned(), e.data)
            })
            .collect()
            .await
    }

    fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(e, d)| (e.to_string(), d.to_string()))
            .collect()
    }

    /// Events split anywhere across reads, several in one read, and a multi-byte character cut
    /// in two come out as the server sent them.
    #[tokio::test]
    async fn events_split_anywhere_are_the_events_sent() {
        let got = events(&[
            b"data: {\"a\":1}\n\ndata: x",
            b"y\n\nevent: error\ndata: \xc3",
            b"\xa9\n\n",
            b"",
            b"data: [DONE]\n\n",
        ])
        .await;
        let want = [
            ("message", "{\"a\":1}"),
            ("message", "xy"),
            ("error", "\u{e9}"),
            ("message", "[DONE]"),
        ];
        assert_eq!(got, expect(&want));
    }

    /// The standard's rules: every line end, comments, one space dropped after the colon,
    /// data lines joined, a field with no colon, a leading BOM, unknown and ignored fields,
    /// an event with no data not dispatched, invalid UTF-8 replaced, an unfinished event
    /// dropped at the end.
    #[tokio::test]
    async fn lines_and_fields_are_read_as_the_standard_says() {
        let got = events(&[
            b"\xef\xbb\xbfdata:one\r\n\r\n",
            b": a comment\rdata:  two spaces\r",
            b"\ndata\ndata: x\n\nevent: ping\nid: 7\nretry: 10\nfoo: bar\n\n",
            b"data: \xff\r\rdata: never finished",
        ])
        .await;
        let want = [
            ("message", "one"),
            ("message", " two spaces\n\nx"),
            ("message", "\u{fffd}"),
        ];
        assert_eq!(got, expect(&want));
    }

    #[tokio::test]
    async fn a_broken_body_ends_the_events_with_its_error() {
        let reads = vec![Ok(Bytes::from_static(b"data: a\n\ndata: b")), Err("reset")];
        let got: Vec<_> = Events::new(futures_util::stream::iter(reads))
            .collect()
            .await;
        assert_eq!(
            got,
            vec![
                Ok(Event {
                    event: "message".into(),
                    data: "a".into()
                }),
                Err("reset".into())
            ]
        );
    }

    /// Decodes `reads` synchronously: their stream is always ready.
    fn decode(reads: Vec<Vec<u8>>) -> Vec<Event> {
        let reads = reads
            .into_iter()
            .map(|read| Ok::<_, std::convert::Infallible>(Bytes::from(read)));
        let mut events = Events::new(futures_util::stream::iter(reads));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        while let Poll::Ready(Some(event)) = Pin::new(&mut events).poll_next(&mut cx) {
            out.push(event.unwrap());
        }
        out
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::chatkit::fuzz::CASES))]

        /// Whatever the bytes and wherever the reads cut them, decoding never panics and gives
        /// the events of the whole body read at once.
        #[test]
        fn where_reads_cut_a_body_never_changes_its_events(
            pieces in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(vec![
                        &b"data: "[..], b"data:", b"event: ", b"id: 1", b": c", b"\n", b"\r",
                        b"\r\n", b"\xef\xbb\xbf", b"\xc3", b"\xa9", b"[DONE]",
                    ]).prop_map(<[u8]>::to_vec),
                    proptest::collection::vec(any::<u8>(), 0..8),
                ],
                0..40,
            ),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let body: Vec<u8> = pieces.concat();
            let whole = decode(vec![body.clone()]);
            let mut at: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
            at.sort_unstable();
            let mut reads = Vec::new();
            let mut from = 0;
            for cut in at.into_iter().chain([body.len()]) {
                reads.push(body[from..cut].to_vec());
                from = cut;
            }
            prop_assert_eq!(decode(reads), whole);
        }
    }
}
