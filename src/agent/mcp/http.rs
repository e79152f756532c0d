//! The HTTP side of MCP: one reqwest client for every MCP server of the process, the
//! transports made on it, and what a failed connection is explained with. One client, built
//! once: building one per session read the system's certificates each time, and once the
//! process ran short of file descriptors that failed inside the SDK, which panics on it.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::common::client_side_sse::BoxedSseResponse;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use tokio::sync::watch;

use super::McpError;
use crate::config::McpServerSettings;

type HttpResult<T> = Result<T, StreamableHttpError<reqwest::Error>>;

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// The client every MCP server shares, built on first use; an error if it cannot be built.
pub fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                // An idle connection kept in a pool is a socket no one closes; and reusing
                // one whose last answer was not read whole stalls on delayed ACKs.
                .pool_max_idle_per_host(0)
                .redirect(same_origin_redirects())
                .build()
                .map_err(|e| format!("cannot set up HTTP: {}", root_cause(&e)))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Only 307 and 308 on the same origin: they keep the method and the JSON-RPC body, and do
/// not replay the session id and the configured headers (credentials) to another host.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !keeps_body || !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// A transport to the server on the shared client, with its configured headers, and what
/// ends its requests when dropped.
pub(super) fn transport(
    settings: &McpServerSettings,
) -> Result<(StreamableHttpClientTransport<SessionHttp>, Closer), McpError> {
    let connect_error = |message: String| McpError::Connect {
        server: settings.name.clone(),
        message,
    };
    let mut headers = HashMap::new();
    for (name, value) in &settings.headers {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| connect_error(e.to_string()))?;
        let value =
            HeaderValue::from_str(value.expose()).map_err(|e| connect_error(e.to_string()))?;
        headers.insert(name, value);
    }
    let config = StreamableHttpClientTransportConfig::with_uri(settings.url.as_str())
        .custom_headers(headers);
    let (closer, open) = watch::channel(());
    let http = SessionHttp {
        client: client().map_err(connect_error)?.clone(),
        open,
        timeout: settings.timeout,
    };
    Ok((
        StreamableHttpClientTransport::with_client(http, config),
        Closer { _sender: closer },
    ))
}

/// Kept with a session (or a session being opened): dropping it ends every request of that
/// session's transport, and with them their connections.
pub(super) struct Closer {
    _sender: watch::Sender<()>,
}

/// The shared client as one session's transport uses it. The SDK's own cancellation does not
/// reach the request that opens a session: against a server that accepts and never answers,
/// that request (its task and its socket) would wait forever after the session was given up.
/// Here every request, and every stream it opened, ends when the session's [`Closer`] goes.
#[derive(Clone)]
pub(super) struct SessionHttp {
    client: reqwest::Client,
    /// Changes never; its sender dropped means the session was given up.
    open: watch::Receiver<()>,
    /// Longest wait for a session's goodbye (`DELETE`), sent after it was given up.
    timeout: Duration,
}

impl SessionHttp {
    /// Resolves once the session is given up.
    fn given_up(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut open = self.open.clone();
        async move { while open.changed().await.is_ok() {} }
    }

    async fn until_given_up<T>(
        &self,
        request: impl Future<Output = HttpResult<T>>,
    ) -> HttpResult<T> {
        tokio::select! {
            result = request => result,
            () = self.given_up() => Err(StreamableHttpError::TransportChannelClosed),
        }
    }

    fn bounded(&self, stream: BoxedSseResponse) -> BoxedSseResponse {
        stream.take_until(self.given_up()).boxed()
    }

    fn bounded_post(&self, response: StreamableHttpPostResponse) -> StreamableHttpPostResponse {
        match response {
            StreamableHttpPostResponse::Sse(stream, session) => {
                StreamableHttpPostResponse::Sse(self.bounded(stream), session)
            }
            other => other,
        }
    }
}

impl StreamableHttpClient for SessionHttp {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let request =
            self.client
                .post_message(uri, message, session_id, auth_header, custom_headers);
        Ok(self.bounded_post(self.until_given_up(request).await?))
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let request = self.client.post_message_with_max_sse_event_size(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            max_sse_event_size,
        );
        Ok(self.bounded_post(self.until_given_up(request).await?))
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let request = self.client.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        );
        Ok(self.bounded_post(self.until_given_up(request).await?))
    }

    /// Sent once the session is given up, so bounded by time rather than by the session.
    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<()> {
        let request = self
            .client
            .delete_session(uri, session_id, auth_header, custom_headers);
        tokio::time::timeout(self.timeout, request)
            .await
            .unwrap_or(Err(StreamableHttpError::TransportChannelClosed))
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<BoxedSseResponse> {
        let request =
            self.client
                .get_stream(uri, session_id, last_event_id, auth_header, custom_headers);
        Ok(self.bounded(self.until_given_up(request).await?))
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> HttpResult<BoxedSseResponse> {
        let request = self.client.get_stream_with_max_sse_event_size(
            uri,
            session_id,
            last_event_id,
            auth_header,
            custom_headers,
            max_sse_event_size,
        );
        Ok(self.bounded(self.until_given_up(request).await?))
    }
}

/// A failed connection explained: the SDK's error hides its cause, so one plain request with
/// the same headers finds it (connection refused, a DNS failure, HTTP 401...). When that
/// request works, the SDK's own message is kept.
pub(super) async fn diagnose(settings: &McpServerSettings, failed: McpError) -> McpError {
    let Ok(client) = client() else {
        return failed;
    };
    let connect_error = |message: String| McpError::Connect {
        server: settings.name.clone(),
        message,
    };
    let mut request = client
        .post(settings.url.as_str())
        .timeout(settings.timeout)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#);
    for (name, value) in &settings.headers {
        request = request.header(name.as_str(), value.expose());
    }
    match request.send().await {
        Err(e) if e.is_timeout() => connect_error(format!(
            "no answer within {} ms",
            settings.timeout.as_millis()
        )),
        Err(e) => connect_error(root_cause(&e)),
        Ok(response) if !response.status().is_success() => {
            connect_error(format!("HTTP {}", response.status()))
        }
        Ok(_) => failed,
    }
}

/// What went wrong, as an operator reads it: the innermost cause ("Connection refused (os
/// error 111)", a DNS failure, a TLS problem) with the outermost message when it adds to it.
/// The SDK's own messages name its generic transport types, which help no one.
pub(super) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut root = error;
    while let Some(source) = root.source() {
        root = source;
    }
    let (outer, inner) = (error.to_string(), root.to_string());
    if outer.contains("WorkerTransport") {
        inner
    } else if outer.contains(&inner) {
        outer
    } else {
        format!("{outer}: {inner}")
    }
}
