//! The operator console's services, with no HTTP in them: who operators are and how they sign
//! in ([`OperatorService`]), what they did ([`AuditService`]), threads, their transcripts and
//! exports ([`ThreadConsoleService`]), the attachments browser ([`AttachmentBrowser`]) and
//! feedback review ([`FeedbackReview`]), the human-input queue ([`FormQueue`]) and its
//! webhook deliveries ([`WebhookLog`]), usage and cost ([`UsageService`]), and agents with
//! their MCP servers ([`AgentConsole`]). Console pages reach every other service through the
//! same [`Actor`], so permission checks and audit rows come from one place.

pub mod agent_files;
pub mod agents;
pub mod attachments;
mod audit;
mod error;
pub mod export;
pub mod feedback;
pub mod forms;
pub mod mcp_servers;
mod operators;
pub mod threads;
pub mod transcript;
pub mod usage;
pub mod webhooks;

pub use agents::AgentConsole;
pub use attachments::AttachmentBrowser;
pub use audit::AuditService;
pub use error::ConsoleError;
pub use feedback::FeedbackReview;
pub use forms::{FormQueue, QueueChanges};
pub use operators::{
    CurrentSession, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, NewLogin, OperatorService,
    SessionPolicy,
};
pub use threads::ThreadConsoleService;
pub use usage::UsageService;
pub use webhooks::WebhookLog;

pub use crate::store::Role;

/// The signed-in operator, as pages see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInfo {
    pub id: String,
    pub email: String,
    pub role: Role,
}

impl OperatorInfo {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Who performs an action: a signed-in operator and their address, or the system itself (the
/// command line, start-up), which has no operator and may do what an admin may.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub operator: Option<OperatorInfo>,
    pub ip: Option<String>,
}

impl Actor {
    pub fn operator(operator: OperatorInfo, ip: Option<String>) -> Self {
        Actor {
            operator: Some(operator),
            ip,
        }
    }

    /// The server acting on its own behalf (never for a request from the network).
    pub fn system() -> Self {
        Actor::default()
    }

    /// Refuses reviewers; admins and the system pass.
    pub fn require_admin(&self) -> Result<(), ConsoleError> {
        match &self.operator {
            Some(operator) if !operator.is_admin() => Err(ConsoleError::Forbidden(
                "this needs the admin role".to_owned(),
            )),
            _ => Ok(()),
        }
    }
}
