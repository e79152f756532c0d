//! What the default agent may call and when a person is asked: client tools and MCP servers
//! (parsed in [`super::mcp`]), tools that wait for approval, and the built-in
//! `request_human_input` and `ask_user_questions` tools with how long their questions stay
//! answerable.

use std::time::Duration;

use super::mcp::{self, ClientToolSettings, McpServerSettings};
use super::{ConfigError, parse};

#[derive(Debug, Clone)]
pub struct ToolSettings {
    /// Tools the default agent declares for the client to run (`CHATKIT_CLIENT_TOOLS`).
    pub client_tools: Vec<ClientToolSettings>,
    /// MCP servers whose tools the default agent uses (`CHATKIT_MCP_SERVERS`).
    pub mcp_servers: Vec<McpServerSettings>,
    /// Tools (as the model names them) that wait for the user's approval before they run
    /// (`CHATKIT_APPROVAL_TOOLS`, a comma list).
    pub approval_tools: Vec<String>,
    /// Whether agents get the built-in `request_human_input` tool (`CHATKIT_HUMAN_INPUT`).
    pub human_input: bool,
    /// Whether agents get the built-in `ask_user_questions` tool (`CHATKIT_ASK_QUESTIONS`).
    pub ask_questions: bool,
    /// How long a question to a person stays answerable (`CHATKIT_HUMAN_INPUT_TIMEOUT_SECS`).
    pub human_input_timeout: Duration,
}

impl ToolSettings {
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<ToolSettings, ConfigError> {
        let client_tools = mcp::client_tools(get)?;
        let mcp_servers = mcp::mcp_servers(get)?;
        let human_input = parse::flag(get, "CHATKIT_HUMAN_INPUT", true)?;
        let ask_questions = parse::flag(get, "CHATKIT_ASK_QUESTIONS", true)?;
        let human_input_timeout = parse::secs(
            get,
            "CHATKIT_HUMAN_INPUT_TIMEOUT_SECS",
            86_400,
            1,
            365 * 86_400,
        )?;
        Ok(ToolSettings {
            client_tools,
            mcp_servers,
            approval_tools: parse::list(get, "CHATKIT_APPROVAL_TOOLS").unwrap_or_default(),
            human_input,
            ask_questions,
            human_input_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap().tools;
        assert!(s.human_input);
        assert_eq!(s.human_input_timeout, Duration::from_secs(86_400));
        assert!(s.client_tools.is_empty() && s.mcp_servers.is_empty());
        assert!(s.approval_tools.is_empty());
        let s = settings(&[
            ("CHATKIT_HUMAN_INPUT", "false"),
            ("CHATKIT_HUMAN_INPUT_TIMEOUT_SECS", "5"),
        ])
        .unwrap()
        .tools;
        assert!(!s.human_input);
        assert_eq!(s.human_input_timeout, Duration::from_secs(5));
        let s = settings(&[("CHATKIT_APPROVAL_TOOLS", "delete_file, deploy ,")])
            .unwrap()
            .tools;
        assert_eq!(s.approval_tools, ["delete_file", "deploy"]);
        assert_eq!(
            settings(&[("CHATKIT_HUMAN_INPUT_TIMEOUT_SECS", "0")])
                .unwrap_err()
                .var,
            "CHATKIT_HUMAN_INPUT_TIMEOUT_SECS"
        );
    }
}
