//! The tools an agent offers the model: tools the server runs (built-in now, MCP tools later)
//! behind one trait, and client tools the ChatKit page runs.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::llm::ToolSpec;

/// What a tool call gave back.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// What the model is given.
    pub text: String,
    pub is_error: bool,
    /// The raw result (e.g. an MCP content array) kept for operators.
    pub content: Option<Value>,
}

impl ToolOutput {
    pub fn ok(text: impl Into<String>) -> Self {
        ToolOutput {
            text: text.into(),
            is_error: false,
            content: None,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        ToolOutput {
            text: text.into(),
            is_error: true,
            content: None,
        }
    }
}

/// The status line shown while a tool runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub icon: &'static str,
    pub text: String,
}

/// A tool the server runs.
pub trait Tool: Send + Sync {
    fn spec(&self) -> &ToolSpec;

    /// What the user sees while the call runs, e.g. `Searching for "x"…`.
    fn progress(&self, _arguments: &Value) -> Progress {
        Progress {
            icon: "bolt",
            text: format!("Running {}…", self.spec().name),
        }
    }

    /// Runs the call; failures are results with `is_error`, never a dead run.
    fn call<'a>(&'a self, arguments: Value) -> BoxFuture<'a, ToolOutput>;
}

/// What a model's tool name refers to.
pub enum Resolved<'a> {
    Server(&'a Arc<dyn Tool>),
    Client(&'a ToolSpec),
    Unknown,
}

/// The tools of one agent, with names unique across kinds.
#[derive(Default, Clone)]
pub struct ToolRegistry {
    server: Vec<Arc<dyn Tool>>,
    client: Vec<ToolSpec>,
}

impl ToolRegistry {
    pub fn new(server: Vec<Arc<dyn Tool>>, client: Vec<ToolSpec>) -> Self {
        ToolRegistry { server, client }
    }

    /// Every tool, as the model is told of them.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.server
            .iter()
            .map(|t| t.spec().clone())
            .chain(self.client.iter().cloned())
            .collect()
    }

    pub fn resolve(&self, name: &str) -> Resolved<'_> {
        if let Some(tool) = self.server.iter().find(|t| t.spec().name == name) {
            return Resolved::Server(tool);
        }
        match self.client.iter().find(|t| t.name == name) {
            Some(spec) => Resolved::Client(spec),
            None => Resolved::Unknown,
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        !matches!(self.resolve(name), Resolved::Unknown)
    }
}

/// Built-in: the current date and time, which a model cannot know on its own.
pub struct CurrentTime {
    spec: ToolSpec,
}

impl Default for CurrentTime {
    fn default() -> Self {
        CurrentTime {
            spec: ToolSpec {
                name: "get_current_time".into(),
                description: "The current date and time in UTC (ISO 8601).".into(),
                parameters: serde_json::json!({"type": "object", "properties": {}}),
            },
        }
    }
}

impl Tool for CurrentTime {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn progress(&self, _arguments: &Value) -> Progress {
        Progress {
            icon: "clock",
            text: "Checking the time…".into(),
        }
    }

    fn call<'a>(&'a self, _arguments: Value) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async {
            ToolOutput::ok(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string())
        })
    }
}
