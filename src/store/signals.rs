//! Signals between server processes: "stop the run of this thread", "an answer for a parked
//! call is waiting", "a parked call has its result", "the forms changed". On Postgres they
//! travel as `NOTIFY` on one channel, sent inside the transaction of the change where there is
//! one (so they arrive only once it commits), and every process listens on a dedicated
//! connection in a blocking thread that polls for what arrived and reconnects (and listens
//! again) after losing its connection. On SQLite, where one process owns the file, they go
//! through memory. Either way a subscriber sees its own process's signals too.
//!
//! A notification can be missed (the listener was reconnecting), so every consumer also
//! re-checks the database now and then: a lost signal only delays.
//!
//! The listener also keeps the [`Freshness`] of cached reads: it bumps the epoch for each
//! `changed` notification (sent by triggers), and sends and receives the barriers reads wait
//! for.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use tokio::sync::broadcast;

use super::db::AnyConnection;
use super::freshness::Freshness;
use super::{Backend, Store, StoreError};

/// The Postgres channel every signal goes through.
pub(super) const CHANNEL: &str = "chatkit_signals";

/// How often the listener looks for notifications that arrived.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// How often the listener looks again for a barrier it sent that has not come back yet.
const BARRIER_POLL: Duration = Duration::from_micros(500);

/// The least time between two barriers: under load one serves every read that asked
/// meanwhile, so reads wait up to this much longer and the listener wakes at most a few
/// thousand times a second.
const BARRIER_GATHER: Duration = Duration::from_micros(1000);

/// The payload the triggers on `threads` and `items` send: cached reads are stale.
pub(super) const CHANGED: &str = "changed";

/// How long the listener waits before connecting again after losing its connection.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Signals kept for a subscriber that lags; one that falls further behind re-checks instead.
const BACKLOG: usize = 1024;

/// Something another process (or this one) wants known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// The thread is being deleted: its run, wherever it streams, stops at once.
    StopThread(String),
    /// An answer for the parked call with this token was left in `parked_calls`.
    CallAnswered(String),
    /// The parked call with this token has its result in `parked_calls`.
    CallDone(String),
    /// A question to a person was asked or answered (the console's live updates).
    FormsChanged,
    /// Signals may have been missed (a reconnect, a subscriber that lagged): look again.
    Recheck,
}

impl Signal {
    fn encode(&self) -> String {
        match self {
            Signal::StopThread(id) => format!("stop:{id}"),
            Signal::CallAnswered(token) => format!("answer:{token}"),
            Signal::CallDone(token) => format!("done:{token}"),
            Signal::FormsChanged => "forms".into(),
            Signal::Recheck => "recheck".into(),
        }
    }

    fn decode(payload: &str) -> Option<Signal> {
        let (kind, arg) = payload.split_once(':').unwrap_or((payload, ""));
        Some(match kind {
            "stop" => Signal::StopThread(arg.to_owned()),
            "answer" => Signal::CallAnswered(arg.to_owned()),
            "done" => Signal::CallDone(arg.to_owned()),
            "forms" => Signal::FormsChanged,
            "recheck" => Signal::Recheck,
            _ => return None,
        })
    }
}

struct Inner {
    sender: broadcast::Sender<Signal>,
    /// Where the Postgres listener connects; `None` on SQLite.
    listen_url: Option<String>,
    /// Started with the first subscriber, so a store nobody listens on holds no connection.
    listening: OnceLock<()>,
    /// Marks for cached reads, which the Postgres listener keeps current.
    freshness: Arc<Freshness>,
}

/// The signal bus of one store; cheap to clone. The Postgres listener stops once every handle
/// is dropped.
#[derive(Clone)]
pub struct Signals {
    inner: Arc<Inner>,
}

/// What a subscriber receives.
pub struct Subscription {
    receiver: broadcast::Receiver<Signal>,
}

impl Subscription {
    /// The next signal; [`Signal::Recheck`] when some were dropped because this subscriber
    /// lagged. Never ends while the bus lives.
    pub async fn next(&mut self) -> Signal {
        match self.receiver.recv().await {
            Ok(signal) => signal,
            Err(broadcast::error::RecvError::Lagged(_)) => Signal::Recheck,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

impl Signals {
    pub(super) fn new(url: &str, backend: Backend) -> Signals {
        let (sender, _) = broadcast::channel(BACKLOG);
        let postgres = backend == Backend::Postgres;
        Signals {
            inner: Arc::new(Inner {
                sender,
                listen_url: postgres.then(|| url.to_owned()),
                listening: OnceLock::new(),
                freshness: if postgres {
                    Freshness::shared(url)
                } else {
                    Freshness::local(&sqlite_file(url))
                },
            }),
        }
    }

    /// Receives every signal from now on, from every process.
    pub fn subscribe(&self) -> Subscription {
        let receiver = self.inner.sender.subscribe();
        self.listen();
        Subscription { receiver }
    }

    /// The marks of cached reads (kept by the listener on Postgres: see [`Signals::listen`]).
    pub(super) fn freshness(&self) -> &Arc<Freshness> {
        &self.inner.freshness
    }

    /// Starts the Postgres listener, once.
    pub(super) fn listen(&self) {
        if let Some(url) = &self.inner.listen_url {
            self.inner.listening.get_or_init(|| {
                let (url, inner) = (url.clone(), Arc::downgrade(&self.inner));
                let spawned = std::thread::Builder::new()
                    .name("signals".into())
                    .spawn(move || listen(&url, &inner));
                if let Err(e) = spawned {
                    log::error!("cannot start listening for signals: {e}");
                }
            });
        }
    }

    /// Delivers `signal` in this process (SQLite); Postgres delivers it through the listener.
    fn deliver_here(&self, signal: Signal) {
        let _ = self.inner.sender.send(signal);
    }
}

/// The file a SQLite URL names, however it is spelled.
fn sqlite_file(url: &str) -> String {
    let path = crate::config::database::sqlite_path(url);
    std::fs::canonicalize(path).map_or_else(|_| path.to_owned(), |p| p.display().to_string())
}

/// Sends `signals` as part of the transaction `conn` is in (Postgres), delivered on commit.
/// On SQLite nothing is sent here: [`Store::after_commit`] delivers them once committed.
pub(super) fn notify_in(
    conn: &mut AnyConnection,
    signals: &[Signal],
) -> Result<(), diesel::result::Error> {
    if let AnyConnection::Postgresql(_) = conn {
        for signal in signals {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(signal.encode())
                .execute(conn)?;
        }
    }
    Ok(())
}

impl Store {
    /// This store's signal bus.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// Sends a signal to every process (this one included), outside any change.
    pub async fn signal(&self, signal: Signal) -> Result<(), StoreError> {
        let sent = signal.clone();
        self.with_conn(move |conn| Ok(notify_in(conn, std::slice::from_ref(&sent))?))
            .await?;
        self.after_commit(vec![signal]);
        Ok(())
    }

    /// Delivers on SQLite the signals of a change that committed; on Postgres the
    /// transaction's own `NOTIFY` did.
    pub(super) fn after_commit(&self, signals: Vec<Signal>) {
        if self.backend == Backend::Sqlite {
            for signal in signals {
                self.signals.deliver_here(signal);
            }
        }
    }
}

/// The Postgres listener: connects, listens, and forwards each notification to the bus until
/// the bus is gone; after a lost connection it connects again and tells subscribers to
/// re-check what they may have missed. It also sends the barriers of [`Freshness`].
fn listen(url: &str, inner: &Weak<Inner>) {
    let mut first = true;
    loop {
        let Some(freshness) = inner.upgrade().map(|i| i.freshness.clone()) else {
            return;
        };
        let mut conn = match connect_listening(url, &freshness) {
            Ok(conn) => conn,
            Err(e) => {
                log::warn!("cannot listen for signals: {e}; trying again");
                std::thread::sleep(RECONNECT_AFTER);
                continue;
            }
        };
        // Changes made while nobody listened went unseen.
        freshness.bump();
        if let Some(barrier) = freshness.barrier() {
            barrier.set_listening(true);
        }
        if !first && !forward(inner, Signal::Recheck) {
            return;
        }
        first = false;
        let lost = relay(&mut conn, inner, &freshness);
        if let Some(barrier) = freshness.barrier() {
            barrier.set_listening(false);
        }
        match lost {
            Some(e) => {
                log::warn!("lost the connection that listens for signals: {e}; reconnecting");
                std::thread::sleep(RECONNECT_AFTER);
            }
            None => return,
        }
    }
}

/// A connection listening on the signals channel and this process's sync channel.
fn connect_listening(
    url: &str,
    freshness: &Freshness,
) -> Result<diesel::PgConnection, Box<dyn std::error::Error>> {
    let mut conn = diesel::PgConnection::establish(url)?;
    diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn)?;
    if let Some(barrier) = freshness.barrier().filter(|b| !b.channel.is_empty()) {
        diesel::sql_query(format!("LISTEN {}", barrier.channel)).execute(&mut conn)?;
    }
    match backend_pid(&mut conn) {
        Ok(pid) => log::info!("listening for signals (database session {pid})"),
        Err(e) => log::info!("listening for signals (database session unknown: {e})"),
    }
    Ok(conn)
}

/// Relays what arrives on `conn` until the connection is lost (the error) or the bus is
/// gone (`None`): signals to the bus, `changed` to the epoch, returned barriers to the reads
/// waiting for them, in the order they arrive.
fn relay(
    conn: &mut diesel::PgConnection,
    inner: &Weak<Inner>,
    freshness: &Freshness,
) -> Option<diesel::result::Error> {
    let mut last_sent = std::time::Instant::now();
    loop {
        let barrier = freshness.barrier();
        let send = match barrier {
            Some(barrier) => {
                barrier.next_to_send(POLL_EVERY, BARRIER_POLL, BARRIER_GATHER, last_sent)
            }
            None => {
                std::thread::sleep(POLL_EVERY);
                None
            }
        };
        if let (Some(n), Some(barrier)) = (send, barrier) {
            // A plain NOTIFY in the simple protocol: one message each way, nothing prepared.
            // The channel is our own hex name and the payload a number: nothing to escape.
            let sent = conn.batch_execute(&format!("NOTIFY {}, '{n}'", barrier.channel));
            last_sent = std::time::Instant::now();
            if let Err(e) = sent {
                return Some(e);
            }
        }
        let mut lost = None;
        let mut arrived = Vec::new();
        let mut returned = None;
        for notification in conn.notifications_iter() {
            match notification {
                Ok(n) if barrier.is_some_and(|b| b.channel == n.channel) => {
                    returned = returned.max(n.payload.parse::<u64>().ok());
                }
                Ok(n) if n.payload == CHANGED => freshness.bump(),
                Ok(n) => arrived.extend(Signal::decode(&n.payload)),
                Err(e) => {
                    lost = Some(e);
                    break;
                }
            }
        }
        if let (Some(n), Some(barrier)) = (returned, barrier) {
            barrier.returned(n);
        }
        for signal in arrived {
            if !forward(inner, signal) {
                return None;
            }
        }
        if inner.strong_count() == 0 {
            return None;
        }
        if lost.is_some() {
            return lost;
        }
    }
}

/// The listening connection's server process, which the log names so that an operator can
/// tell it among the sessions.
fn backend_pid(conn: &mut diesel::PgConnection) -> Result<i32, diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let row: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(conn)?;
    Ok(row.pid)
}

/// Hands a signal to the subscribers; `false` once the bus is gone.
fn forward(inner: &Weak<Inner>, signal: Signal) -> bool {
    match inner.upgrade() {
        Some(inner) => {
            let _ = inner.sender.send(signal);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_read_back_as_sent() {
        for signal in [
            Signal::StopThread("thr_1".into()),
            Signal::CallAnswered("t:1".into()),
            Signal::CallDone("abc".into()),
            Signal::FormsChanged,
            Signal::Recheck,
        ] {
            assert_eq!(Signal::decode(&signal.encode()), Some(signal));
        }
        assert_eq!(Signal::decode("nonsense"), None);
    }
}
