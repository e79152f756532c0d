//! The language model: an OpenAI-compatible Chat Completions endpoint and how the default agent
//! uses it (model, instructions, timeouts, retries, tool steps, titles).

use std::time::Duration;

use super::{ConfigError, Secret, parse};

/// An OpenAI-compatible Chat Completions endpoint and how the default agent uses it.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// `OPENAI_BASE_URL` without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// `OPENAI_API_KEY`.
    pub api_key: Option<Secret>,
    /// `CHATKIT_MODEL`: the default model.
    pub model: String,
    /// `CHATKIT_MODELS`: models a client may pick with `inference_options.model` (the default
    /// model is always allowed).
    pub allowed_models: Vec<String>,
    pub instructions: Option<String>,
    pub connect_timeout: Duration,
    /// Longest silence of the upstream stream before the turn fails.
    pub idle_timeout: Duration,
    /// `CHATKIT_LLM_HTTP2_PRIOR_KNOWLEDGE`: model servers at plain `http://` URLs speak HTTP/2
    /// (h2c), so all streams to one of them share a connection. Over https, HTTP/2 is
    /// negotiated whatever this says.
    pub http2_prior_knowledge: bool,
    /// Retries of a 429/5xx/connect failure before the first token.
    pub max_retries: u32,
    pub retry_backoff: Duration,
    /// Model calls in one turn before the loop gives up (each tool round is one).
    pub max_steps: u32,
    /// Whether threads get an automatic title after their first exchange.
    pub auto_titles: bool,
    /// `CHATKIT_CONTEXT_TOKENS`: estimated tokens of model input (instructions and history)
    /// an agent may send; unset: from the model's known context window, less room to answer.
    pub context_tokens: Option<u64>,
}

impl LlmSettings {
    /// The model is configured when an API key or a base URL is given (local servers such as
    /// Ollama or vLLM need no key).
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<LlmSettings>, ConfigError> {
        let api_key = get("OPENAI_API_KEY");
        let base_url = get("OPENAI_BASE_URL");
        if api_key.is_none() && base_url.is_none() {
            return Ok(None);
        }
        let base_url = base_url.unwrap_or_else(|| "https://api.openai.com/v1".into());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "OPENAI_BASE_URL",
                format!("'{base_url}' is not an http(s) URL"),
            ));
        }
        let model = get("CHATKIT_MODEL").unwrap_or_else(|| "gpt-4.1-mini".into());
        Self::with_endpoint(get, base_url.trim_end_matches('/'), api_key, model).map(Some)
    }

    /// The settings a model server found on loopback is used with: no endpoint yet, and the
    /// model only when `CHATKIT_MODEL` names one.
    pub(super) fn local(get: &impl Fn(&str) -> Option<String>) -> Result<LlmSettings, ConfigError> {
        Self::with_endpoint(get, "", None, get("CHATKIT_MODEL").unwrap_or_default())
    }

    fn with_endpoint(
        get: &impl Fn(&str) -> Option<String>,
        base_url: &str,
        api_key: Option<String>,
        model: String,
    ) -> Result<LlmSettings, ConfigError> {
        let allowed_models = parse::list(get, "CHATKIT_MODELS").unwrap_or_default();
        Ok(LlmSettings {
            base_url: base_url.to_owned(),
            api_key: api_key.map(Secret::new),
            model,
            allowed_models,
            instructions: get("CHATKIT_INSTRUCTIONS"),
            connect_timeout: parse::secs(get, "CHATKIT_LLM_CONNECT_TIMEOUT_SECS", 10, 1, 300)?,
            idle_timeout: parse::secs(get, "CHATKIT_LLM_IDLE_TIMEOUT_SECS", 60, 1, 3600)?,
            http2_prior_knowledge: parse::flag(get, "CHATKIT_LLM_HTTP2_PRIOR_KNOWLEDGE", false)?,
            max_retries: parse::number(get, "CHATKIT_LLM_MAX_RETRIES", 2u32, 0, 10)?,
            retry_backoff: parse::millis(get, "CHATKIT_LLM_RETRY_BACKOFF_MS", 500, 0, 60_000)?,
            max_steps: parse::number(get, "CHATKIT_MAX_TOOL_STEPS", 10u32, 1, 100)?,
            auto_titles: parse::flag(get, "CHATKIT_AUTO_TITLES", true)?,
            context_tokens: match get("CHATKIT_CONTEXT_TOKENS") {
                Some(_) => Some(parse::number(
                    get,
                    "CHATKIT_CONTEXT_TOKENS",
                    0u64,
                    100,
                    100_000_000,
                )?),
                None => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;

    #[test]
    fn model_settings() {
        assert!(
            settings(&[]).unwrap().llm.is_none(),
            "no key and no URL: no model"
        );
        let llm = settings(&[
            ("OPENAI_BASE_URL", "http://localhost:11434/v1/"),
            ("CHATKIT_MODELS", "a, b"),
        ])
        .unwrap()
        .llm
        .unwrap();
        assert_eq!(llm.base_url, "http://localhost:11434/v1");
        assert_eq!(llm.allowed_models, ["a", "b"]);
        assert!(llm.api_key.is_none());
        assert!(!llm.http2_prior_knowledge, "HTTP/1.1 unless told");
        let h2c = settings(&[
            ("OPENAI_BASE_URL", "http://localhost:8000/v1"),
            ("CHATKIT_LLM_HTTP2_PRIOR_KNOWLEDGE", "true"),
        ])
        .unwrap()
        .llm
        .unwrap();
        assert!(h2c.http2_prior_knowledge);
        assert_eq!(
            settings(&[("OPENAI_BASE_URL", "ftp://x")]).unwrap_err().var,
            "OPENAI_BASE_URL"
        );
        let e = settings(&[("OPENAI_API_KEY", "k"), ("CHATKIT_AUTO_TITLES", "maybe")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_AUTO_TITLES");
        assert_eq!(llm.context_tokens, None);
        let llm = settings(&[("OPENAI_API_KEY", "k"), ("CHATKIT_CONTEXT_TOKENS", "300")]).unwrap();
        assert_eq!(llm.llm.unwrap().context_tokens, Some(300));
        let e = settings(&[("OPENAI_API_KEY", "k"), ("CHATKIT_CONTEXT_TOKENS", "5")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_CONTEXT_TOKENS");
    }

    #[test]
    fn an_api_key_alone_means_openai() {
        let llm = settings(&[("OPENAI_API_KEY", "sk-test")])
            .unwrap()
            .llm
            .unwrap();
        assert_eq!(llm.base_url, "https://api.openai.com/v1");
        assert_eq!(llm.api_key.unwrap().expose(), "sk-test");
        assert_eq!(llm.model, "gpt-4.1-mini");
    }
}
