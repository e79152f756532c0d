//! Turns on long threads: with a context budget, a turn on a thread of 1,000 items reads and
//! sends about what a turn on a short thread does, so its server CPU should stay close.

use super::*;

/// Items of the short threads and of the long thread (two per turn).
const SHORT_ITEMS: usize = 10;
const LONG_ITEMS: usize = 1_000;
/// Turns measured on each kind of thread.
const LONG_TURNS: usize = 100;
/// The server's context budget in estimated tokens: a short thread fits whole, the long one is
/// cut to about 20 of its turns.
pub(crate) const LONG_BUDGET: u64 = 1_000;

/// 5. Server CPU of a turn on a thread of [`LONG_ITEMS`] items against one of [`SHORT_ITEMS`].
///    Each measured turn on a short thread is on a thread of its own (so each sees
///    [`SHORT_ITEMS`] items before its message); those on the long thread follow one another,
///    so it grows by two items a turn.
pub(crate) async fn long_threads(bench: &Bench, db: &str, report: &mut Report) {
    let reply = words(REPLY_WORDS);
    let user = "long-threads";
    let mut short = Vec::with_capacity(LONG_TURNS);
    for i in 0..LONG_TURNS {
        short.push(thread_of(bench, user, SHORT_ITEMS, &format!("short {i}")).await);
    }
    let long = thread_of(bench, user, LONG_ITEMS, "long").await;
    // Warm the pools and caches on a thread of neither kind.
    let warm = thread_of(bench, user, 2, "warm").await;
    for _ in 0..20 {
        add_message(bench, user, &warm, &reply).await;
    }

    let before = bench.cpu.start();
    for thread in &short {
        add_message(bench, user, thread, &reply).await;
    }
    let short_cpu = before.elapsed(&bench.cpu).server;
    let before = bench.cpu.start();
    for _ in 0..LONG_TURNS {
        add_message(bench, user, &long, &reply).await;
    }
    let long_cpu = before.elapsed(&bench.cpu).server;
    report.row(
        &format!(
            "server CPU per turn, {SHORT_ITEMS}-item threads vs a {LONG_ITEMS}-item thread, \
             {REPLY_WORDS}-word replies, context budget {LONG_BUDGET} tokens, {db}"
        ),
        &format!(
            "{} vs {} per turn ({LONG_TURNS} sequential turns each): {:.2}x",
            per(short_cpu, LONG_TURNS),
            per(long_cpu, LONG_TURNS),
            long_cpu.as_secs_f64() / short_cpu.as_secs_f64().max(f64::MIN_POSITIVE),
        ),
    );
}

/// A new thread of `items` items (`items / 2` turns, at least one): its id.
async fn thread_of(bench: &Bench, user: &str, items: usize, tag: &str) -> String {
    let reply = words(REPLY_WORDS);
    let thread = bench.create(user, tag, reply.clone()).await.thread_id();
    for _ in 1..items / 2 {
        add_message(bench, user, &thread, &reply).await;
    }
    thread
}

/// One turn on `thread`, every delta checked.
async fn add_message(bench: &Bench, user: &str, thread: &str, reply: &[String]) {
    let params = json!({"thread_id": thread, "input": user_input("hello")});
    let turn = bench
        .turn(user, "threads.add_user_message", params, reply.to_vec())
        .await;
    assert_eq!(turn.deltas.len(), REPLY_WORDS, "every delta arrives");
}
