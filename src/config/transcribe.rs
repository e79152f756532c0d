//! Dictation: the OpenAI-compatible `/audio/transcriptions` endpoint that `input.transcribe`
//! sends recordings to (OpenAI, a local faster-whisper or speaches server, vLLM), and how large
//! a recording may be. Naming a model turns dictation on; the endpoint and key default to the
//! model service's.

use std::time::Duration;

use super::{ConfigError, Secret, parse};

/// OpenAI's own limit is 25 MiB for the whole upload; this leaves room for the form's headers.
const DEFAULT_MAX_BYTES: usize = 25_000_000;

/// Where recordings are transcribed, and their limits.
#[derive(Debug, Clone)]
pub struct TranscribeSettings {
    /// `CHATKIT_TRANSCRIBE_BASE_URL` (else `OPENAI_BASE_URL`, else OpenAI's), without a
    /// trailing slash.
    pub base_url: String,
    /// `CHATKIT_TRANSCRIBE_API_KEY`, else `OPENAI_API_KEY` when the endpoint is the model
    /// service's: the model key never goes to another server.
    pub api_key: Option<Secret>,
    /// `CHATKIT_TRANSCRIBE_MODEL`, e.g. `gpt-4o-mini-transcribe` or `whisper-1`.
    pub model: String,
    /// Largest recording, decoded. There is no duration in the request, so this also bounds
    /// how long a recording may be.
    pub max_bytes: usize,
    pub connect_timeout: Duration,
    /// How long one transcription may take, upload included.
    pub timeout: Duration,
}

impl TranscribeSettings {
    /// `None` (dictation off) unless `CHATKIT_TRANSCRIBE_MODEL` is set.
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<TranscribeSettings>, ConfigError> {
        let Some(model) = get("CHATKIT_TRANSCRIBE_MODEL") else {
            for var in ["CHATKIT_TRANSCRIBE_BASE_URL", "CHATKIT_TRANSCRIBE_API_KEY"] {
                if get(var).is_some() {
                    return Err(ConfigError::new(
                        var,
                        "dictation needs CHATKIT_TRANSCRIBE_MODEL too (e.g. whisper-1)",
                    ));
                }
            }
            return Ok(None);
        };
        let model_base = get("OPENAI_BASE_URL")
            .unwrap_or_else(|| "https://api.openai.com/v1".into())
            .trim_end_matches('/')
            .to_owned();
        let base_url = match get("CHATKIT_TRANSCRIBE_BASE_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => {
                return Err(ConfigError::new(
                    "CHATKIT_TRANSCRIBE_BASE_URL",
                    format!("'{url}' is not an http(s) URL"),
                ));
            }
            None => model_base.clone(),
        };
        let api_key = get("CHATKIT_TRANSCRIBE_API_KEY")
            .or_else(|| get("OPENAI_API_KEY").filter(|_| base_url == model_base))
            .map(Secret::new);
        Ok(Some(TranscribeSettings {
            base_url,
            api_key,
            model,
            max_bytes: parse::number(
                get,
                "CHATKIT_TRANSCRIBE_MAX_BYTES",
                DEFAULT_MAX_BYTES,
                1024,
                200_000_000,
            )?,
            connect_timeout: parse::secs(get, "CHATKIT_LLM_CONNECT_TIMEOUT_SECS", 10, 1, 300)?,
            timeout: parse::secs(get, "CHATKIT_TRANSCRIBE_TIMEOUT_SECS", 120, 1, 3600)?,
        }))
    }

    /// The largest `POST /chatkit` body an `input.transcribe` of the largest recording needs:
    /// its base64 (4 characters per 3 bytes) plus room for the rest of the JSON.
    pub fn max_request_bytes(&self) -> usize {
        self.max_bytes.div_ceil(3) * 4 + 64 * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;

    #[test]
    fn off_without_a_model() {
        assert!(settings(&[]).unwrap().transcribe.is_none());
        let e =
            settings(&[("CHATKIT_TRANSCRIBE_BASE_URL", "http://localhost:9000/v1")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_TRANSCRIBE_BASE_URL");
        assert!(e.to_string().contains("CHATKIT_TRANSCRIBE_MODEL"), "{e}");
    }

    #[test]
    fn endpoint_and_key_default_to_the_model_service() {
        let t = settings(&[
            ("OPENAI_BASE_URL", "http://llm:8000/v1/"),
            ("OPENAI_API_KEY", "sk-model"),
            ("CHATKIT_TRANSCRIBE_MODEL", "whisper-1"),
        ])
        .unwrap()
        .transcribe
        .unwrap();
        assert_eq!(t.base_url, "http://llm:8000/v1");
        assert_eq!(t.api_key.as_ref().unwrap().expose(), "sk-model");
        assert_eq!(t.model, "whisper-1");
        assert_eq!(t.max_bytes, 25_000_000);
        assert!(t.max_request_bytes() > 25_000_000 / 3 * 4);
    }

    #[test]
    fn another_endpoint_never_gets_the_model_key() {
        let t = settings(&[
            ("OPENAI_API_KEY", "sk-model"),
            ("CHATKIT_TRANSCRIBE_MODEL", "Systran/faster-whisper-small"),
            ("CHATKIT_TRANSCRIBE_BASE_URL", "http://127.0.0.1:8001/v1"),
        ])
        .unwrap()
        .transcribe
        .unwrap();
        assert_eq!(t.base_url, "http://127.0.0.1:8001/v1");
        assert!(t.api_key.is_none());
        let own = settings(&[
            ("CHATKIT_TRANSCRIBE_MODEL", "whisper-1"),
            ("CHATKIT_TRANSCRIBE_API_KEY", "sk-stt"),
        ])
        .unwrap()
        .transcribe
        .unwrap();
        assert_eq!(own.base_url, "https://api.openai.com/v1");
        assert_eq!(own.api_key.unwrap().expose(), "sk-stt");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("CHATKIT_TRANSCRIBE_BASE_URL", "ftp://x"),
            ("CHATKIT_TRANSCRIBE_MAX_BYTES", "12"),
            ("CHATKIT_TRANSCRIBE_TIMEOUT_SECS", "0"),
        ] {
            let e =
                settings(&[("CHATKIT_TRANSCRIBE_MODEL", "whisper-1"), (var, value)]).unwrap_err();
            assert_eq!(e.var, var);
        }
    }
}
