//! A first run that works: with no model configured, the server asks the usual loopback ports
//! of local model servers (Ollama, LM Studio, llama.cpp, vLLM) for `/v1/models` and uses the
//! first that answers; failing that, the built-in demo model. It then says in one log line
//! which model answers and where the chat and the console are.

use std::time::Duration;

use crate::config::{LlmSettings, Settings};

/// The model the default agent answers with, and how it was chosen.
#[derive(Debug, Clone)]
pub enum ModelChoice {
    /// `OPENAI_API_KEY` or `OPENAI_BASE_URL` is set: only that is ever used.
    Configured(LlmSettings),
    /// An OpenAI-compatible server answered on this loopback port.
    Found { llm: LlmSettings, port: u16 },
    /// The built-in demo model.
    Demo,
    /// No model at all (`CHATKIT_DEMO_MODEL=false`): turns end with an error.
    Nothing,
}

impl ModelChoice {
    /// The model settings of a real model.
    pub fn llm(&self) -> Option<&LlmSettings> {
        match self {
            ModelChoice::Configured(llm) | ModelChoice::Found { llm, .. } => Some(llm),
            ModelChoice::Demo | ModelChoice::Nothing => None,
        }
    }

    /// What the start-up line says about the model.
    pub fn describe(&self) -> String {
        match self {
            ModelChoice::Configured(llm) => format!("{} at {}", llm.model, llm.base_url),
            ModelChoice::Found { llm, port } => format!(
                "{} at {} (found on port {port}; set OPENAI_BASE_URL to choose another)",
                llm.model, llm.base_url
            ),
            ModelChoice::Demo => "the built-in demo model (set OPENAI_API_KEY or \
                                  OPENAI_BASE_URL for a real assistant)"
                .into(),
            ModelChoice::Nothing => "none (set OPENAI_API_KEY or OPENAI_BASE_URL)".into(),
        }
    }
}

/// Chooses the model: the configured one; else the first loopback port (never `own_port`)
/// whose server lists a model; else the demo model when allowed.
pub async fn choose_model(settings: &Settings, own_port: u16) -> ModelChoice {
    if let Some(llm) = &settings.llm {
        return ModelChoice::Configured(llm.clone());
    }
    let ports: Vec<u16> = settings
        .first_run
        .probe_ports
        .iter()
        .copied()
        .filter(|port| *port != own_port)
        .collect();
    let timeout = settings.first_run.probe_timeout;
    // All at once, so a port that hangs costs one timeout, not one each; the first port in
    // the list that answers wins.
    let answers =
        futures_util::future::join_all(ports.iter().map(|port| listed_model(*port, timeout))).await;
    for (port, listed) in ports.into_iter().zip(answers) {
        let Some(listed) = listed else { continue };
        let mut llm = settings.local_llm.clone();
        llm.base_url = base_url(port);
        if llm.model.is_empty() {
            llm.model = listed;
        }
        return ModelChoice::Found { llm, port };
    }
    if settings.first_run.demo_model {
        ModelChoice::Demo
    } else {
        ModelChoice::Nothing
    }
}

fn base_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/v1")
}

/// The first model an OpenAI-compatible server on `port` lists, or `None` when nothing
/// answers in time, the answer is not a model list, or the list is empty.
async fn listed_model(port: u16, timeout: Duration) -> Option<String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .ok()?;
    let response = client
        .get(format!("{}/models", base_url(port)))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let list: serde_json::Value = response.json().await.ok()?;
    let model = list["data"].as_array()?.first()?["id"].as_str()?.to_owned();
    log::info!("found an OpenAI-compatible server on port {port}, model {model}");
    Some(model)
}
