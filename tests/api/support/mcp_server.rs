//! A real MCP server inside the test process: rmcp's server side, served over hyper on
//! 127.0.0.1:0, speaking both protocol eras. Its tools cover plain text, a canonical `ui://`
//! widget whose button names a tool, progress, and a tool-level error. It keeps the headers of
//! every HTTP request it received, so tests can check what a client sent (credentials).

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler};
use serde_json::{Value, json};

/// A running server; stops when dropped.
pub struct TestMcpServer {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
    seen: Arc<std::sync::Mutex<Vec<hyper::HeaderMap>>>,
}

impl Drop for TestMcpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestMcpServer {
    pub async fn start() -> TestMcpServer {
        Self::start_on(0).await
    }

    /// Serves on 127.0.0.1:`port` (0 for any free port), so a test can stop a server and start
    /// it again at the same URL. The port may still be held for a moment by a server just
    /// dropped, so binding is retried for a while.
    pub async fn start_on(port: u16) -> TestMcpServer {
        let listener = crate::support::app::eventually("the MCP server's port", || async {
            tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .ok()
        })
        .await;
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let service = StreamableHttpService::new(
            || Ok(Tools),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default(),
        );
        let seen: Arc<std::sync::Mutex<Vec<hyper::HeaderMap>>> = Arc::default();
        let recorded = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let inner = TowerToHyperService::new(service.clone());
                let recorded = recorded.clone();
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        if let Ok(mut seen) = recorded.lock() {
                            seen.push(request.headers().clone());
                        }
                        hyper::service::Service::call(&inner, request)
                    },
                );
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestMcpServer { url, task, seen }
    }

    /// The values of header `name` in every request received so far, in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|headers| headers.get(name)?.to_str().ok().map(str::to_owned))
            .collect()
    }
}

#[derive(Clone)]
struct Tools;

fn tool(name: &str, description: &str, properties: Value) -> Value {
    json!({"name": name, "description": description, "inputSchema": {"type": "object", "properties": properties}})
}

/// The weather card; its button asks for the same tool again, one refresh later.
pub fn weather_payload(city: &str, refresh: u64) -> Value {
    json!({
        "widget": {"type": "Card", "children": [
            {"type": "Text", "id": "temp", "value": format!("20°C in {city} (refresh {refresh})")},
            {"type": "Button", "label": "Refresh", "onClickAction": {
                "type": "weather.refresh",
                "payload": {"tool": "weather", "arguments": {"city": city, "refresh": refresh + 1}}}}
        ]},
        "copy_text": format!("Weather in {city}: 20°C (refresh {refresh})")
    })
}

fn result(value: Value) -> Result<CallToolResponse, ErrorData> {
    let result: CallToolResult = serde_json::from_value(value)
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
    Ok(result.into())
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = json!({"tools": [
            tool("echo", "Echoes the text.", json!({"text": {"type": "string"}})),
            tool("weather", "Shows the weather of a city as a card.", json!({"city": {"type": "string"}, "refresh": {"type": "integer"}})),
            tool("slow", "Waits, reporting progress.", json!({"ms": {"type": "integer"}})),
            tool("fail", "Always fails.", json!({})),
        ]});
        serde_json::from_value(tools).map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        match request.name.as_ref() {
            "echo" => result(
                json!({"content": [{"type": "text", "text": format!("echo: {}", args["text"].as_str().unwrap_or(""))}]}),
            ),
            "weather" => {
                let city = args["city"].as_str().unwrap_or("Oslo");
                let refresh = args["refresh"].as_u64().unwrap_or(0);
                result(json!({"content": [
                    {"type": "text", "text": format!("It is 20°C in {city}.")},
                    {"type": "resource", "resource": {"uri": format!("ui://weather/{city}"),
                        "mimeType": "application/vnd.ui.widget+json",
                        "text": weather_payload(city, refresh).to_string()}}
                ]}))
            }
            "slow" => {
                let ms = args["ms"].as_u64().unwrap_or(500);
                let steps = (ms / 100).max(1);
                for step in 1..=steps {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if let Some(token) = context.meta.get_progress_token() {
                        let note = ProgressNotificationParam::new(token, step as f64)
                            .with_total(steps as f64)
                            .with_message(format!("step {step} of {steps}"));
                        let _ = context.peer.notify_progress(note).await;
                    }
                }
                result(json!({"content": [{"type": "text", "text": format!("waited {ms} ms")}]}))
            }
            "fail" => result(
                json!({"content": [{"type": "text", "text": "Simulated failure"}], "isError": true}),
            ),
            other => Err(ErrorData::invalid_params(
                format!("unknown tool {other}"),
                None,
            )),
        }
    }
}
