//! Why a request to an MCP server failed, worded twice: in full for the log and the operator
//! (addresses, the library's own message), and plainly for the model, which passes it on to
//! the user (the service's name and what happened).

use std::time::Duration;

/// Why a request to an MCP server failed. The messages are for the log and the operator;
/// [`McpError::plain`] is for the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum McpError {
    #[error("cannot connect to MCP server '{server}': {message}")]
    Connect { server: String, message: String },
    /// The request was lost below MCP (connection refused or cut, an answer that is not MCP).
    #[error("MCP server '{server}' failed: {message}")]
    Transport { server: String, message: String },
    /// The server (or this client) refused the call, with words meant to be read.
    #[error("MCP server '{server}' failed: {message}")]
    Call { server: String, message: String },
    #[error("MCP server '{server}' did not answer within {} ms", timeout.as_millis())]
    Timeout { server: String, timeout: Duration },
    #[error("MCP server '{server}' is skipped for {} s more after failing", retry_in.as_secs())]
    Unavailable { server: String, retry_in: Duration },
}

impl McpError {
    /// What the model, and through it the user, is told: the service and what happened.
    pub fn plain(&self) -> String {
        let server = match self {
            McpError::Connect { server, .. }
            | McpError::Transport { server, .. }
            | McpError::Call { server, .. }
            | McpError::Timeout { server, .. }
            | McpError::Unavailable { server, .. } => server,
        };
        match self {
            McpError::Unavailable { .. } => format!(
                "the '{server}' service is unavailable right now: it {}",
                self.what_happened()
            ),
            _ => format!("the '{server}' service {}", self.what_happened()),
        }
    }

    /// What happened, after the service's name.
    pub fn what_happened(&self) -> String {
        match self {
            McpError::Connect { .. } => "cannot be reached".into(),
            McpError::Transport { .. } => "stopped answering".into(),
            McpError::Call { message, .. } => format!("refused the call: {message}"),
            McpError::Timeout { timeout, .. } => {
                format!("did not answer within {} ms", timeout.as_millis())
            }
            McpError::Unavailable { .. } => "failed a moment ago and is tried again later".into(),
        }
    }

    /// Whether the server is down or stuck, rather than answering with an error of its own.
    pub(super) fn is_outage(&self) -> bool {
        !matches!(self, McpError::Call { .. })
    }
}
