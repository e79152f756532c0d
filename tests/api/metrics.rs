//! `GET /metrics` read as Prometheus reads it (a text-format parser), with the counters moving
//! as requests are made: requests by ChatKit type and status, runs and tokens, rate-limit
//! refusals, upload bytes, open streams; the optional bearer token; and request ids in the
//! response and in every log line written for the request, the run's own lines included.
//!
//! The metrics describe the process, which every test of this binary shares: assertions are
//! on series unique to the test (its agent id) or on growth, which other tests cannot undo.

use prometheus_parse::{Scrape, Value as Sample};
use serde_json::json;

use crate::support::answer::{Answer, parse_sse};
use crate::support::app::{TestApp, eventually};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{PNG, user_input};
use crate::support::logs;
use crate::support::macros::{db_test, llm_test};

/// `GET /metrics` with `token`, parsed; panics unless it is a 200 in the text format.
async fn scrape_with(app: &TestApp, token: Option<&str>) -> Scrape {
    let mut request = app.client.get(format!("{}/metrics", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text format")
}

async fn scrape(app: &TestApp) -> Scrape {
    scrape_with(app, None).await
}

/// The sum of the samples of `metric` with all of `labels`: a counter's or gauge's value, a
/// histogram's count (its `+Inf` bucket). Zero when there is none yet.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v) => *v,
            Sample::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            Sample::Summary(_) => 0.0,
        })
        .sum()
}

const LIST: &[(&str, &str)] = &[
    ("method", "POST"),
    ("type", "threads.list"),
    ("status", "200"),
];

db_test!(repeated_reads_are_counted_as_cache_hits);
/// A read asked again while nothing changed is counted as answered from memory (on Postgres
/// once the worker's listening connection is up; until then reads count as bypassing).
async fn repeated_reads_are_counted_as_cache_hits(app: TestApp) {
    let (thread, _) = app.create_thread("ann", "hello").await;
    let get = json!({"thread_id": thread});
    let hits = |scrape: &Scrape| value(scrape, "chatkit_read_cache_total", &[("result", "hit")]);
    eventually("a repeated read answered from memory", || async {
        app.ok("ann", "threads.get_by_id", get.clone()).await;
        let before = hits(&scrape(&app).await);
        app.ok("ann", "threads.get_by_id", get.clone()).await;
        (hits(&scrape(&app).await) > before).then_some(())
    })
    .await;
    let scraped = scrape(&app).await;
    assert!(value(&scraped, "chatkit_read_cache_total", &[("result", "miss")]) >= 1.0);
}

db_test!(requests_are_counted_by_type_and_status);
async fn requests_are_counted_by_type_and_status(app: TestApp) {
    let before = scrape(&app).await;
    app.ok("ann", "threads.list", json!({})).await;
    let missing = app
        .client
        .get(format!(
            "{}/chatkit/attachments/atc_metrics_probe/content",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404, "no token, no such attachment");
    let after = scrape(&app).await;

    let counted = |s: &Scrape| value(s, "chatkit_http_requests_total", LIST);
    assert!(counted(&after) >= counted(&before) + 1.0);
    let timed = |s: &Scrape| {
        let labels = [("method", "POST"), ("type", "threads.list")];
        value(s, "chatkit_http_request_duration_seconds", &labels)
    };
    assert!(
        timed(&after) >= timed(&before) + 1.0,
        "a latency observation"
    );
    // Other routes by their pattern, never by the path with its id. The parser skips samples
    // whose label values hold a `}` (its pattern for labels is `[^}]+`), so the pattern's
    // series is read from the text itself.
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines().any(|line| {
            line.starts_with("chatkit_http_requests_total{")
                && line.contains(r#"status="404",type="/chatkit/attachments/{id}/content"}"#)
        }),
        "{text}"
    );
    assert!(!text.contains("atc_metrics_probe"), "a raw path in {text}");
    // Read at scrape time.
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "chatkit_db_pool_connections")
    );
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "chatkit_pending_human_inputs")
    );
}

const NO_TITLES: &[(&str, &str)] = &[("CHATKIT_AUTO_TITLES", "false")];

llm_test!(a_turn_counts_its_stream_run_and_tokens, vars = NO_TITLES);
async fn a_turn_counts_its_stream_run_and_tokens(app: TestApp, llm: FakeLlm) {
    let agent = app.scope("ann").await.agent_id;
    let tokens = |s: &Scrape, kind: &str| {
        let labels = [
            ("agent", agent.as_str()),
            ("model", "fake-model"),
            ("kind", kind),
        ];
        value(s, "chatkit_model_tokens_total", &labels)
    };
    let completed = |s: &Scrape| value(s, "chatkit_runs_total", &[("outcome", "completed")]);
    let first_tokens = |s: &Scrape| value(s, "chatkit_run_first_token_seconds", &[]);
    let before = scrape(&app).await;
    assert_eq!(tokens(&before, "completion"), 0.0, "a new agent");

    llm.push(Reply::SlowText {
        pieces: vec!["Hello".into(), " there".into()],
        delay_ms: 300,
    });
    let response = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("X-ChatKit-User", "ann")
        .body(json!({"type": "threads.create", "params": {"input": user_input("Hi")}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The response's head is here and its body still streams.
    let during = scrape(&app).await;
    assert!(value(&during, "chatkit_open_streams", &[]) >= 1.0);
    let events = parse_sse(&response.text().await.unwrap());
    assert!(events.iter().any(|e| e["type"] == "thread.item.done"));

    let after = eventually("the run's end counted", || {
        let app = &app;
        let before = &before;
        async move {
            let after = scrape(app).await;
            (completed(&after) > completed(before)).then_some(after)
        }
    })
    .await;
    assert!(
        tokens(&after, "completion") > 0.0,
        "completion tokens counted"
    );
    assert!(tokens(&after, "prompt") > 0.0, "prompt tokens counted");
    assert!(first_tokens(&after) >= first_tokens(&before) + 1.0);
    let stream = [("type", "threads.create"), ("status", "200")];
    assert!(value(&after, "chatkit_http_requests_total", &stream) >= 1.0);
}

const ONE_REQUEST: &[(&str, &str)] = &[("CHATKIT_LIMIT_USER_REQUESTS_PER_MINUTE", "1")];

db_test!(rate_limit_refusals_are_counted, vars = ONE_REQUEST);
async fn rate_limit_refusals_are_counted(app: TestApp) {
    let refused = |s: &Scrape| {
        let labels = [("limit", "user requests per minute")];
        value(s, "chatkit_rate_limit_refusals_total", &labels)
    };
    let too_many = |s: &Scrape| {
        let labels = [("type", "threads.list"), ("status", "429")];
        value(s, "chatkit_http_requests_total", &labels)
    };
    logs::capture();
    let before = scrape(&app).await;
    app.ok("ann", "threads.list", json!({})).await;
    let id = format!("rid-{}", uuid::Uuid::new_v4().simple());
    let response = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("X-ChatKit-User", "ann")
        .header("X-Request-Id", &id)
        .body(json!({"type": "threads.list", "params": {}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let after = scrape(&app).await;
    assert!(refused(&after) >= refused(&before) + 1.0);
    assert!(too_many(&after) >= too_many(&before) + 1.0);
    // The limiter's own line names the request it refused.
    let lines = logs::all_lines(&format!("request_id={id}"));
    assert!(
        lines
            .iter()
            .any(|(target, line)| target == "chatkit_server::service::limits"
                && line.starts_with("rate limited: user 'ann'")),
        "{lines:?}"
    );
}

db_test!(uploads_add_their_bytes);
async fn uploads_add_their_bytes(app: TestApp) {
    let bytes = |s: &Scrape| value(s, "chatkit_upload_bytes_total", &[]);
    let before = scrape(&app).await;
    let answer = app
        .upload_direct("ann", "pic.png", Some("image/png"), PNG)
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let after = scrape(&app).await;
    assert!(bytes(&after) >= bytes(&before) + PNG.len() as f64);
}

const TOKEN: &str = "metrics-token-for-the-test-0123";
const WITH_TOKEN: &[(&str, &str)] = &[("CHATKIT_METRICS_TOKEN", TOKEN)];

db_test!(a_metrics_token_guards_the_metrics, vars = WITH_TOKEN);
async fn a_metrics_token_guards_the_metrics(app: TestApp) {
    for (token, code) in [
        (None, "missing_token"),
        (Some("not-the-token"), "invalid_token"),
    ] {
        let mut request = app.client.get(format!("{}/metrics", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let (answer, headers, _) = Answer::read(request.send().await.unwrap()).await;
        assert_eq!(answer.status, 401, "{answer:?}");
        assert_eq!(answer.error_code(), code);
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
    let scraped = scrape_with(&app, Some(TOKEN)).await;
    assert!(!scraped.samples.is_empty());
}

llm_test!(
    a_request_id_is_in_every_line_of_its_request,
    vars = NO_TITLES
);
async fn a_request_id_is_in_every_line_of_its_request(app: TestApp, llm: FakeLlm) {
    logs::capture();
    llm.push(Reply::Error {
        status: 400,
        message: "the model refuses this one".into(),
    });
    let id = format!("rid-{}", uuid::Uuid::new_v4().simple());
    let response = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("X-ChatKit-User", "ann")
        .header("X-Request-Id", &id)
        .body(json!({"type": "threads.create", "params": {"input": user_input("Hi")}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], id.as_str());
    let events = parse_sse(&response.text().await.unwrap());
    assert!(events.iter().any(|e| e["type"] == "error"), "{events:?}");

    let needle = format!("request_id={id}");
    let lines = eventually("the run's line", || {
        let needle = needle.clone();
        async move {
            let lines = logs::all_lines(&needle);
            lines
                .iter()
                .any(|(target, _)| target.starts_with("chatkit_server::runs"))
                .then_some(lines)
        }
    })
    .await;
    let access: Vec<_> = lines.iter().filter(|(t, _)| t == "access").collect();
    assert_eq!(access.len(), 1, "{lines:?}");
    assert!(access[0].1.starts_with("POST /chatkit 200 "), "{lines:?}");
    let run = lines
        .iter()
        .find(|(t, _)| t.starts_with("chatkit_server::runs"))
        .unwrap();
    assert!(run.1.contains("turn failed"), "{run:?}");
    assert!(run.1.ends_with(&needle), "{run:?}");
}
