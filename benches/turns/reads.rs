//! The reads measured beside the turns: `threads.get_by_id` and `threads.list`.

use super::*;

/// 4. `threads.get_by_id` of a 20-item thread and `threads.list` of 20 threads, 64 connections.
pub(crate) async fn reads(bench: &Bench, report: &mut Report) {
    let user = "reader";
    let reply = words(10);
    let first = bench.create(user, "message 0", reply.clone()).await;
    let thread_id = first.thread_id();
    for i in 1..READ_ITEMS / 2 {
        let params = json!({"thread_id": thread_id, "input": user_input(&format!("message {i}"))});
        bench
            .turn(user, "threads.add_user_message", params, reply.clone())
            .await;
    }
    for i in 1..READ_THREADS {
        bench
            .create(user, &format!("thread {i}"), reply.clone())
            .await;
    }
    let get = json!({"type": "threads.get_by_id", "params": {"thread_id": thread_id}}).to_string();
    let list = json!({"type": "threads.list", "params": {"limit": READ_THREADS, "order": "desc"}})
        .to_string();
    let thread: Value = serde_json::from_slice(&read_once(bench, user, &get).await).expect("JSON");
    assert_eq!(
        thread["items"]["data"].as_array().map(Vec::len),
        Some(READ_ITEMS)
    );
    let page: Value = serde_json::from_slice(&read_once(bench, user, &list).await).expect("JSON");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(READ_THREADS));

    for (what, body) in [
        (
            format!("`threads.get_by_id`, {READ_ITEMS}-item thread"),
            &get,
        ),
        (format!("`threads.list`, {READ_THREADS} threads"), &list),
    ] {
        read_load(bench, user, body, Duration::from_millis(500)).await;
        let before = bench.cpu.start();
        let (latencies, elapsed) = read_load(bench, user, body, READ_BUDGET).await;
        let cpu = before.elapsed(&bench.cpu);
        report.row(
            &format!("{what}, {READ_CONNECTIONS} connections, SQLite"),
            &format!(
                "{:.0} requests/s; p50 {} p99 {}; server CPU {} per request (client {})",
                latencies.len() as f64 / elapsed.as_secs_f64(),
                ms(percentile(&latencies, 50.0)),
                ms(percentile(&latencies, 99.0)),
                per(cpu.server, latencies.len()),
                per(cpu.client, latencies.len()),
            ),
        );
    }
}

pub(crate) async fn read_once(bench: &Bench, user: &str, body: &str) -> bytes::Bytes {
    let response = bench
        .client
        .post(format!("{}/chatkit", bench.address))
        .header("X-ChatKit-User", user)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body read")
}

/// [`READ_CONNECTIONS`] tasks sending `body` back to back for `budget` (at most [`READ_CAP`]
/// requests); each request's latency and the time taken.
pub(crate) async fn read_load(
    bench: &Bench,
    user: &str,
    body: &str,
    budget: Duration,
) -> (Vec<Duration>, Duration) {
    let started = Arc::new(AtomicUsize::new(0));
    let begin = Instant::now();
    let tasks = (0..READ_CONNECTIONS).map(|_| {
        let started = started.clone();
        async move {
            let mut latencies = Vec::new();
            while begin.elapsed() < budget && started.fetch_add(1, Ordering::Relaxed) < READ_CAP {
                let sent = Instant::now();
                read_once(bench, user, body).await;
                latencies.push(sent.elapsed());
            }
            latencies
        }
    });
    let latencies = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    (latencies, begin.elapsed())
}
