//! The two shapes of load the streams bench puts on a server: a burst (every stream opened
//! at once: the worst a crowd can do) and a sustained load (a fixed number of streams open at
//! all times, each replaced as soon as it ends: what a server with that many people chatting
//! at once carries).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use crate::client::{self, Outcome};

/// One stream of a load: when it was opened, from the start of the load, and how it went.
pub struct Opened {
    pub at: Duration,
    pub outcome: Outcome,
}

/// `n` streams at once, as users `offset..offset + n`. Each stream's first delta is counted
/// in `firsts`.
pub async fn burst(
    n: usize,
    server: SocketAddr,
    offset: usize,
    firsts: Arc<AtomicUsize>,
) -> Vec<Opened> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let firsts = firsts.clone();
            tokio::spawn(async move { client::stream(offset + i, server, &firsts).await })
        })
        .collect();
    let mut opened = Vec::with_capacity(n);
    for task in tasks {
        let outcome = task.await.expect("a stream task");
        opened.push(Opened {
            at: Duration::ZERO,
            outcome,
        });
    }
    opened
}

/// `n` users, each opening a stream and another as soon as it ends, for as long as `until`
/// has not passed since the start; the users' first streams are spread evenly over `ramp`,
/// so that from then on `n` streams are open at any moment and they start at an even pace.
/// Every stream has a user of its own (`u<index>`), so each starts a thread.
pub async fn sustained(
    n: usize,
    server: SocketAddr,
    ramp: Duration,
    until: Duration,
    firsts: Arc<AtomicUsize>,
) -> Vec<Opened> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|user| {
            let firsts = firsts.clone();
            let first_at = ramp.mul_f64(user as f64 / n as f64);
            tokio::spawn(async move {
                tokio::time::sleep_until((start + first_at).into()).await;
                let mut opened = Vec::new();
                for round in 0.. {
                    let at = start.elapsed();
                    if at >= until {
                        break;
                    }
                    let outcome = client::stream(user + round * n, server, &firsts).await;
                    opened.push(Opened { at, outcome });
                }
                opened
            })
        })
        .collect();
    let mut opened = Vec::new();
    for task in tasks {
        opened.extend(task.await.expect("a user task"));
    }
    opened
}
