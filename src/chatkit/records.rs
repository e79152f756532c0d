//! Records the server keeps beside ChatKit items in a thread: tool calls with their results.
//! They are model input and operator information; ChatKit clients never receive them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::{ThreadItem, timestamp};

/// One tool call of the model and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    pub id: String,
    pub thread_id: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// The model's id for the call, which its result must quote.
    pub call_id: String,
    pub name: String,
    /// The arguments as the model wrote them.
    pub arguments: String,
    /// What the model was given back.
    pub output: String,
    pub is_error: bool,
    /// The tool's raw result (e.g. an MCP content array), for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    pub duration_ms: u64,
}

/// An entry of a thread as the model sees it, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryEntry {
    Item(ThreadItem),
    ToolCall(ToolCallRecord),
}
