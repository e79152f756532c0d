//! What a chat page needs to know of its agent: its name and slug, the models its composer
//! offers, and whether dictation is on. The page itself is drawn by `routes::pages`.

use super::ChatKitService;
use crate::config::llm::LlmSettings;
use crate::service::error::ChatKitError;
use crate::store::AgentRow;

/// The facts a chat page is drawn from.
#[derive(Debug, Clone)]
pub struct ChatPageFacts {
    pub agent: AgentRow,
    /// The models the composer's picker offers, the agent's own first; empty (no picker) when
    /// the agent allows no other.
    pub models: Vec<String>,
    /// The largest recording transcribed; `None` when dictation is off (no microphone).
    pub dictation_max_bytes: Option<usize>,
}

impl ChatKitService {
    /// The chat page's facts for the agent `slug` names (the default agent when `None`).
    /// `llm` is the server's model settings, which an agent's own model and models override as
    /// they do for its runs.
    pub async fn chat_page(
        &self,
        slug: Option<&str>,
        llm: Option<&LlmSettings>,
    ) -> Result<ChatPageFacts, ChatKitError> {
        let agent = self.auth.agent(slug).await?;
        let models = llm.map_or_else(Vec::new, |llm| picker_models(&agent, llm));
        Ok(ChatPageFacts {
            agent,
            models,
            dictation_max_bytes: self.dictation.max_bytes(),
        })
    }
}

/// The agent's model first, then the others a client may pick: the agent's own list when it
/// has a readable one, else the server's. A list that does not parse offers no picker (the
/// agent's runs refuse to start and say why).
fn picker_models(agent: &AgentRow, llm: &LlmSettings) -> Vec<String> {
    let allowed = match agent.models.as_deref() {
        None => llm.allowed_models.clone(),
        Some(json) => serde_json::from_str::<Vec<String>>(json).unwrap_or_default(),
    };
    if allowed.is_empty() {
        return Vec::new();
    }
    let mut models = vec![agent.model.clone().unwrap_or_else(|| llm.model.clone())];
    for model in allowed {
        if !models.contains(&model) {
            models.push(model);
        }
    }
    models
}
