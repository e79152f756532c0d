//! The streaming measurements: time to first delta, deltas/s, turns/s.

use super::*;

/// 1. `threads.create` sent -> first text delta received, over sequential turns.
pub(crate) async fn time_to_first_delta(bench: &Bench, report: &mut Report) {
    let reply = words(REPLY_WORDS);
    for _ in 0..20 {
        bench.create("ttfd", "warm up", reply.clone()).await;
    }
    let mut ours = Vec::with_capacity(TTFD_TURNS);
    let mut fake = Vec::with_capacity(TTFD_TURNS);
    for i in 0..TTFD_TURNS {
        let turn = bench
            .create("ttfd", &format!("turn {i}"), reply.clone())
            .await;
        assert_eq!(turn.deltas.len(), REPLY_WORDS, "every delta arrives");
        ours.push(turn.first_delta());
        fake.push(bench.direct(reply.clone()).await.first_delta());
    }
    report.row(
        &format!("time to first delta, `threads.create`, {TTFD_TURNS} sequential turns, SQLite"),
        &latency(&ours),
    );
    report.row(
        "time to first delta, the fake alone (same client, no server)",
        &latency(&fake),
    );
}

/// 2. Deltas/s of one long reply through the server and straight from the fake.
pub(crate) async fn deltas_per_second(bench: &Bench, report: &mut Report) {
    let reply = words(LONG_REPLY_PIECES);
    let mut ours = Vec::new();
    let mut fake = Vec::new();
    let mut gaps_ours = Vec::new();
    let mut gaps_fake = Vec::new();
    let mut cpu = Cpu::default();
    for run in 0..LONG_REPLY_RUNS {
        let before = bench.cpu.start();
        let turn = bench
            .create("long", &format!("long {run}"), reply.clone())
            .await;
        cpu += before.elapsed(&bench.cpu);
        assert_eq!(turn.deltas.len(), LONG_REPLY_PIECES, "every delta arrives");
        ours.push(turn.delta_span());
        gaps_ours.extend(gaps(&turn.deltas));
        let direct = bench.direct(reply.clone()).await;
        assert_eq!(
            direct.deltas.len(),
            LONG_REPLY_PIECES,
            "every delta arrives"
        );
        fake.push(direct.delta_span());
        gaps_fake.extend(gaps(&direct.deltas));
    }
    let ours = median(&ours);
    let fake = median(&fake);
    let per_delta = |d: Duration| d.as_secs_f64() / (LONG_REPLY_PIECES - 1) as f64;
    let rate = |d: Duration| 1.0 / per_delta(d);
    report.row(
        &format!("deltas/s through the server, one {LONG_REPLY_PIECES}-piece reply, first to last delta (median of {LONG_REPLY_RUNS})"),
        &format!("{:.0} deltas/s ({} per delta)", rate(ours), us(per_delta(ours))),
    );
    report.row(
        "deltas/s straight from the fake, same reply",
        &format!(
            "{:.0} deltas/s ({} per delta)",
            rate(fake),
            us(per_delta(fake))
        ),
    );
    report.row(
        "server-added time per text delta, mean ((ours - fake) / deltas)",
        &us(per_delta(ours) - per_delta(fake)),
    );
    let deltas = LONG_REPLY_PIECES * LONG_REPLY_RUNS;
    report.row(
        "server CPU time per text delta, same turns (whole turn's server CPU / deltas)",
        &format!(
            "{} (fake {}, client {})",
            per(cpu.server, deltas),
            per(cpu.fake, deltas),
            per(cpu.client, deltas)
        ),
    );
    report.row(
        "gap between consecutive deltas at the client, through the server",
        &latency(&gaps_ours),
    );
    report.row(
        "gap between consecutive deltas at the client, straight from the fake",
        &latency(&gaps_fake),
    );
}

pub(crate) fn gaps(arrivals: &[Instant]) -> Vec<Duration> {
    arrivals
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .collect()
}

/// 3. Completed streamed turns per second with N clients, each starting turn after turn.
pub(crate) async fn turns_per_second(bench: &Bench, db: &str, report: &mut Report) {
    for clients in TURN_CLIENTS {
        // Opens the connections and warms the pools.
        load(bench, clients, Duration::from_millis(500), clients * 4).await;
        let before = bench.cpu.start();
        let (latencies, failed, elapsed) = load(bench, clients, TURNS_BUDGET, TURNS_CAP).await;
        let cpu = before.elapsed(&bench.cpu);
        let failed = if failed == 0 {
            String::new()
        } else {
            format!("; **{failed} turns failed**")
        };
        report.row(
            &format!(
                "streamed turns/s, {clients} concurrent client(s), {REPLY_WORDS}-word replies, {db}"
            ),
            &format!(
                "{:.0} turns/s ({} turns in {:.1} s; turn p50 {} p99 {}; server CPU {} per turn{failed})",
                latencies.len() as f64 / elapsed.as_secs_f64(),
                latencies.len(),
                elapsed.as_secs_f64(),
                ms(percentile(&latencies, 50.0)),
                ms(percentile(&latencies, 99.0)),
                per(cpu.server, latencies.len()),
            ),
        );
    }
}

/// `clients` tasks each running whole `threads.create` turns until `budget` passes or `cap`
/// turns were started: the duration of each complete turn, how many turns failed (refused, or
/// a stream without every delta), and the time taken.
pub(crate) async fn load(
    bench: &Bench,
    clients: usize,
    budget: Duration,
    cap: usize,
) -> (Vec<Duration>, usize, Duration) {
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let begin = Instant::now();
    let tasks = (0..clients).map(|c| {
        let (started, failed) = (started.clone(), failed.clone());
        let user = format!("client-{c}");
        async move {
            let reply = words(REPLY_WORDS);
            let params = json!({"input": user_input("hello")});
            let mut latencies = Vec::new();
            while begin.elapsed() < budget && started.fetch_add(1, Ordering::Relaxed) < cap {
                match bench
                    .try_turn(&user, "threads.create", params.clone(), reply.clone())
                    .await
                {
                    Ok(turn) if turn.deltas.len() == REPLY_WORDS => {
                        latencies.push(turn.ended.duration_since(turn.sent));
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }
    });
    let latencies = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    (latencies, failed.load(Ordering::Relaxed), begin.elapsed())
}
