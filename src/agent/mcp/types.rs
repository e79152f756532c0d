//! What the rest of the code gets from an MCP server, as plain JSON: tools, call results,
//! and the questions a call may end on with their answers.

use std::time::Duration;

use serde_json::{Map, Value};

/// A tool as a server lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct McpToolInfo {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// A tool call's result: the MCP content array as JSON, `structuredContent`, and `isError`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct McpResult {
    pub content: Vec<Value>,
    pub structured: Option<Value>,
    pub is_error: bool,
}

/// What a server needs before a call can complete (2026-07-28 `input_required`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputRequired {
    /// The server's requests by key, each as JSON (`{method, params}`).
    pub requests: Vec<(String, Value)>,
    /// Opaque state to echo on the re-call.
    pub request_state: Option<String>,
    /// A handshake-era question: the token of the parked call, and how long it waits.
    pub live: Option<(String, Duration)>,
}

/// The answers a re-call carries: `inputResponses` by key, and the echoed `requestState`;
/// or, for a parked handshake-era call, its token.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct InputAnswers {
    pub responses: Map<String, Value>,
    pub request_state: Option<String>,
    pub live: Option<String>,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum McpResponse {
    Complete(McpResult),
    InputRequired(InputRequired),
}
