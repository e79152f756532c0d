//! Prometheus metrics of the process, rendered in the text format by `GET /metrics`.
//!
//! The `prometheus` crate (default features off: no protobuf, no HTTP server of its own, and
//! its few dependencies are already in our build) keeps every value in atomics; a labelled
//! series is found under a read lock once per event, never per streamed delta. Labels are
//! small closed sets or names from the deployment's own configuration (ChatKit request types,
//! route patterns, agents, models, MCP servers and tools): never raw paths, ids or users.
//!
//! Recording is one call where the event happens. The registry is process-wide, since a scrape
//! describes the process; tests read it through the endpoint.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric, registered in one registry.
struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    open_streams: IntGauge,
    runs: IntCounterVec,
    first_token_seconds: Histogram,
    model_tokens: IntCounterVec,
    mcp_calls: IntCounterVec,
    mcp_call_seconds: HistogramVec,
    pending_human_inputs: IntGauge,
    refusals: IntCounterVec,
    db_connections: IntGaugeVec,
    db_pool_wait_seconds: Histogram,
    upload_bytes: IntCounter,
    read_cache_results: IntCounterVec,
    /// The series of `read_cache_results` by [`ReadCache`], resolved once: one is counted on
    /// every repeated read, where a label lookup would show in the profile.
    read_cache: [IntCounter; 3],
}

/// Built on first use; `None` only if the crate refused our definitions, which a unit test
/// rules out (recording then does nothing rather than failing a request).
static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| Metrics::new().ok());

fn counter(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

fn histogram(name: &str, help: &str, buckets: &[f64]) -> HistogramOpts {
    HistogramOpts::new(name, help).buckets(buckets.to_vec())
}

/// Seconds, from a millisecond to a minute: requests, MCP calls, first tokens.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Seconds waited for a pooled connection: microseconds when the pool has one free.
const POOL_WAIT_BUCKETS: &[f64] = &[
    0.000_01, 0.000_1, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
];

impl Metrics {
    fn new() -> prometheus::Result<Metrics> {
        let read_cache_results = counter(
            "chatkit_read_cache_total",
            "Reads a client repeats (threads.get_by_id, threads.list, items.list), by result: \
             hit (answered from memory), miss (read from the database, kept if it can be), \
             bypass (read from the database and not kept: no mark to keep it under, as while \
             the listening connection is down).",
            &["result"],
        )?;
        let read_cache = [ReadCache::Hit, ReadCache::Miss, ReadCache::Bypass]
            .map(|result| read_cache_results.with_label_values(&[result.label()]));
        let metrics = Metrics {
            registry: Registry::new(),
            requests: counter(
                "chatkit_http_requests_total",
                "HTTP requests answered, by method, type (the ChatKit request type on POST \
                 /chatkit, else the route pattern) and status.",
                &["method", "type", "status"],
            )?,
            request_seconds: HistogramVec::new(
                histogram(
                    "chatkit_http_request_duration_seconds",
                    "Time to the response's head (a stream's first byte, not its end).",
                    LATENCY_BUCKETS,
                ),
                &["method", "type"],
            )?,
            open_streams: IntGauge::new("chatkit_open_streams", "ChatKit SSE responses open now.")?,
            runs: counter(
                "chatkit_runs_total",
                "Runs (assistant turns) finished, by outcome.",
                &["outcome"],
            )?,
            first_token_seconds: Histogram::with_opts(histogram(
                "chatkit_run_first_token_seconds",
                "From a run's start to its first text delta.",
                LATENCY_BUCKETS,
            ))?,
            model_tokens: counter(
                "chatkit_model_tokens_total",
                "Tokens the model reported, by agent id, model and kind (prompt, completion).",
                &["agent", "model", "kind"],
            )?,
            mcp_calls: counter(
                "chatkit_mcp_calls_total",
                "MCP tool calls, by server, tool and outcome (ok, tool_error, input_required, \
                 error).",
                &["server", "tool", "outcome"],
            )?,
            mcp_call_seconds: HistogramVec::new(
                histogram(
                    "chatkit_mcp_call_duration_seconds",
                    "Time an MCP tool call took, by server and tool.",
                    LATENCY_BUCKETS,
                ),
                &["server", "tool"],
            )?,
            pending_human_inputs: IntGauge::new(
                "chatkit_pending_human_inputs",
                "Questions to a person (forms, approvals) waiting for an answer, at scrape time.",
            )?,
            refusals: counter(
                "chatkit_rate_limit_refusals_total",
                "Requests refused by a rate limit or quota, by limit.",
                &["limit"],
            )?,
            db_connections: IntGaugeVec::new(
                Opts::new(
                    "chatkit_db_pool_connections",
                    "Database pool connections at scrape time, by state (in_use, idle).",
                ),
                &["state"],
            )?,
            db_pool_wait_seconds: Histogram::with_opts(histogram(
                "chatkit_db_pool_wait_seconds",
                "Time spent waiting for a pooled database connection.",
                POOL_WAIT_BUCKETS,
            ))?,
            upload_bytes: IntCounter::new(
                "chatkit_upload_bytes_total",
                "Bytes of attachments uploaded and stored.",
            )?,
            read_cache_results,
            read_cache,
        };
        let r = &metrics.registry;
        r.register(Box::new(metrics.requests.clone()))?;
        r.register(Box::new(metrics.request_seconds.clone()))?;
        r.register(Box::new(metrics.open_streams.clone()))?;
        r.register(Box::new(metrics.runs.clone()))?;
        r.register(Box::new(metrics.first_token_seconds.clone()))?;
        r.register(Box::new(metrics.model_tokens.clone()))?;
        r.register(Box::new(metrics.mcp_calls.clone()))?;
        r.register(Box::new(metrics.mcp_call_seconds.clone()))?;
        r.register(Box::new(metrics.pending_human_inputs.clone()))?;
        r.register(Box::new(metrics.refusals.clone()))?;
        r.register(Box::new(metrics.db_connections.clone()))?;
        r.register(Box::new(metrics.db_pool_wait_seconds.clone()))?;
        r.register(Box::new(metrics.upload_bytes.clone()))?;
        r.register(Box::new(metrics.read_cache_results.clone()))?;
        Ok(metrics)
    }
}

fn with(record: impl FnOnce(&Metrics)) {
    if let Some(metrics) = METRICS.as_ref() {
        record(metrics);
    }
}

/// An HTTP request answered: `kind` is its ChatKit type or route pattern, `elapsed` the time
/// to its response head.
pub fn request(method: &str, kind: &str, status: &str, elapsed: Duration) {
    with(|m| {
        if let Ok(c) = m
            .requests
            .get_metric_with_label_values(&[method, kind, status])
        {
            c.inc();
        }
        if let Ok(h) = m
            .request_seconds
            .get_metric_with_label_values(&[method, kind])
        {
            h.observe(elapsed.as_secs_f64());
        }
    });
}

/// Counts an open SSE stream for as long as it lives; see [`open_stream`].
pub struct OpenStream(());

/// An SSE stream opened; it counts until the returned guard is dropped.
pub fn open_stream() -> OpenStream {
    with(|m| m.open_streams.inc());
    OpenStream(())
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        with(|m| m.open_streams.dec());
    }
}

/// A run ended with `outcome` (its status: completed, failed, cancelled, …).
pub fn run_finished(outcome: &str) {
    with(|m| {
        if let Ok(c) = m.runs.get_metric_with_label_values(&[outcome]) {
            c.inc();
        }
    });
}

/// A run wrote its first text, `after` its start.
pub fn first_token(after: Duration) {
    with(|m| m.first_token_seconds.observe(after.as_secs_f64()));
}

/// Tokens of one model call.
pub fn model_tokens(agent: &str, model: &str, prompt: u64, completion: u64) {
    with(|m| {
        for (kind, n) in [("prompt", prompt), ("completion", completion)] {
            if let Ok(c) = m
                .model_tokens
                .get_metric_with_label_values(&[agent, model, kind])
            {
                c.inc_by(n);
            }
        }
    });
}

/// An MCP tool call ended with `outcome` after `elapsed`.
pub fn mcp_call(server: &str, tool: &str, outcome: &str, elapsed: Duration) {
    with(|m| {
        if let Ok(c) = m
            .mcp_calls
            .get_metric_with_label_values(&[server, tool, outcome])
        {
            c.inc();
        }
        if let Ok(h) = m
            .mcp_call_seconds
            .get_metric_with_label_values(&[server, tool])
        {
            h.observe(elapsed.as_secs_f64());
        }
    });
}

/// A request refused by `limit` (the limit's name).
pub fn rate_limited(limit: &str) {
    with(|m| {
        if let Ok(c) = m.refusals.get_metric_with_label_values(&[limit]) {
            c.inc();
        }
    });
}

/// What became of a read a client repeats.
#[derive(Debug, Clone, Copy)]
pub enum ReadCache {
    Hit = 0,
    Miss = 1,
    Bypass = 2,
}

impl ReadCache {
    fn label(self) -> &'static str {
        match self {
            ReadCache::Hit => "hit",
            ReadCache::Miss => "miss",
            ReadCache::Bypass => "bypass",
        }
    }
}

/// A repeated read was answered: `result` tells how.
pub fn read_cache(result: ReadCache) {
    with(|m| m.read_cache[result as usize].inc());
}

/// An upload's bytes were stored.
pub fn uploaded(bytes: u64) {
    with(|m| m.upload_bytes.inc_by(bytes));
}

/// A database connection was handed out after `waited`.
pub fn db_pool_wait(waited: Duration) {
    with(|m| m.db_pool_wait_seconds.observe(waited.as_secs_f64()));
}

/// What is read at scrape time rather than counted as it happens; `None` leaves the last value.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scrape {
    pub pending_human_inputs: Option<i64>,
    /// Connections of the database pool: (open, idle).
    pub pool: Option<(u32, u32)>,
}

/// Every metric in the Prometheus text format, with `scrape`'s values set first.
pub fn render(scrape: Scrape) -> String {
    let Some(m) = METRICS.as_ref() else {
        return String::new();
    };
    if let Some(pending) = scrape.pending_human_inputs {
        m.pending_human_inputs.set(pending);
    }
    if let Some((open, idle)) = scrape.pool {
        let in_use = i64::from(open.saturating_sub(idle));
        for (state, n) in [("in_use", in_use), ("idle", i64::from(idle))] {
            if let Ok(g) = m.db_connections.get_metric_with_label_values(&[state]) {
                g.set(n);
            }
        }
    }
    let mut out = String::new();
    if let Err(e) = TextEncoder::new().encode_utf8(&m.registry.gather(), &mut out) {
        log::error!("cannot render the metrics: {e}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_registers_and_renders() {
        assert!(Metrics::new().is_ok());
        request("POST", "threads.list", "200", Duration::from_millis(3));
        rate_limited("user requests per minute");
        read_cache(ReadCache::Hit);
        let text = render(Scrape {
            pending_human_inputs: Some(2),
            pool: Some((3, 1)),
        });
        assert!(text.contains(
            "chatkit_http_requests_total{method=\"POST\",status=\"200\",type=\"threads.list\"}"
        ));
        assert!(text.contains("chatkit_pending_human_inputs 2"), "{text}");
        assert!(
            text.contains("chatkit_read_cache_total{result=\"hit\"}"),
            "{text}"
        );
        assert!(text.contains("chatkit_db_pool_connections{state=\"in_use\"} 2"));
        assert!(text.contains("# TYPE chatkit_http_request_duration_seconds histogram"));
    }
}
