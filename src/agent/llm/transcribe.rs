//! Speech to text through OpenAI's `POST {base}/audio/transcriptions`, which OpenAI
//! (`gpt-4o-mini-transcribe`, `whisper-1`) and compatible servers (speaches, faster-whisper
//! servers, vLLM) all speak: a multipart form with the recording as `file` (its name's
//! extension tells the server the container) and `model`, answered by `{"text": ...}`.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// Most of an error body kept for the message.
const ERROR_BODY_LIMIT: usize = 500;

/// One transcription endpoint and model.
pub struct Transcriber {
    client: reqwest::Client,
    url: String,
    api_key: Option<String>,
    model: String,
    timeout: Duration,
}

/// A recording to transcribe.
pub struct Recording {
    pub bytes: Vec<u8>,
    /// The media type without parameters, e.g. `audio/webm`.
    pub mime_type: &'static str,
    /// The file name sent with it, e.g. `audio.webm`.
    pub file_name: &'static str,
}

/// Why a transcription failed, by who can fix it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TranscribeError {
    /// 400, 413, 415, 422: the service could not use this recording.
    #[error("the transcription service could not use this recording (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// Any other 4xx (credentials, an unknown model, a wrong URL): the operator's to fix.
    #[error(
        "the transcription service refused this server's request (HTTP {status}: {message}); \
         the operator must check CHATKIT_TRANSCRIBE_MODEL, CHATKIT_TRANSCRIBE_BASE_URL and \
         CHATKIT_TRANSCRIBE_API_KEY"
    )]
    Refused { status: u16, message: String },
    /// 5xx: the service failed.
    #[error("the transcription service failed (HTTP {status}): {message}")]
    Failed { status: u16, message: String },
    /// 408 and 429: try again later.
    #[error("the transcription service is busy (HTTP {status}); try again in a moment")]
    Busy { status: u16 },
    /// The detail (with the URL) is for the log only.
    #[error("cannot reach the transcription service")]
    Connect(String),
    #[error("the transcription service did not answer within {0} s")]
    Timeout(u64),
    #[error("the transcription service sent an answer without text: {0}")]
    Malformed(String),
}

impl Transcriber {
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        model: &str,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, TranscribeError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| TranscribeError::Connect(e.to_string()))?;
        Ok(Transcriber {
            client,
            url: format!("{}/audio/transcriptions", base_url.trim_end_matches('/')),
            api_key,
            model: model.to_owned(),
            timeout,
        })
    }

    /// The text spoken in `recording`.
    pub async fn transcribe(&self, recording: Recording) -> Result<String, TranscribeError> {
        let file = Part::bytes(recording.bytes)
            .file_name(recording.file_name)
            .mime_str(recording.mime_type)
            .map_err(|e| TranscribeError::Connect(e.to_string()))?;
        let form = Form::new()
            .text("model", self.model.clone())
            .text("response_format", "json")
            .part("file", file);
        let mut request = self.client.post(&self.url).multipart(form);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let secs = self.timeout.as_secs();
        // One deadline for the upload, the work and the answer.
        let answered = tokio::time::timeout(self.timeout, async {
            let response = request.send().await.map_err(|e| {
                if e.is_timeout() {
                    TranscribeError::Timeout(secs)
                } else {
                    TranscribeError::Connect(e.to_string())
                }
            })?;
            let status = response.status().as_u16();
            let body = response
                .text()
                .await
                .map_err(|e| TranscribeError::Connect(e.to_string()))?;
            Ok::<_, TranscribeError>((status, body))
        })
        .await;
        let (status, body) = answered.map_err(|_| TranscribeError::Timeout(secs))??;
        if (200..300).contains(&status) {
            return text_of(&body);
        }
        let message = error_message(&body);
        Err(match status {
            400 | 413 | 415 | 422 => TranscribeError::Rejected { status, message },
            408 | 429 => TranscribeError::Busy { status },
            500.. => TranscribeError::Failed { status, message },
            _ => TranscribeError::Refused { status, message },
        })
    }
}

/// The `text` of a JSON answer.
fn text_of(body: &str) -> Result<String, TranscribeError> {
    let value: Value = serde_json::from_str(body).map_err(|e| {
        TranscribeError::Malformed(format!("not JSON ({e}): {}", excerpt(body, 100)))
    })?;
    value["text"]
        .as_str()
        .map(|text| text.trim().to_owned())
        .ok_or_else(|| TranscribeError::Malformed(excerpt(body, 100)))
}

/// OpenAI's `error.message`, else (a proxy's page, a plain-text answer) the start of the body.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v["error"]["message"]
                .as_str()
                .or_else(|| v["detail"].as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| excerpt(body, ERROR_BODY_LIMIT))
}

fn excerpt(text: &str, chars: usize) -> String {
    text.trim().chars().take(chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_errors_are_read_leniently() {
        assert_eq!(
            text_of(r#"{"text": " hello there "}"#).unwrap(),
            "hello there"
        );
        assert!(matches!(
            text_of(r#"{"segments": []}"#),
            Err(TranscribeError::Malformed(_))
        ));
        assert!(matches!(
            text_of("hello"),
            Err(TranscribeError::Malformed(_))
        ));
        assert_eq!(
            error_message(r#"{"error": {"message": "Audio file is too short"}}"#),
            "Audio file is too short"
        );
        // FastAPI-based servers (speaches) answer `{"detail": ...}`.
        assert_eq!(
            error_message(r#"{"detail": "Model not found"}"#),
            "Model not found"
        );
        assert_eq!(
            error_message("<html>Bad Gateway</html>\n"),
            "<html>Bad Gateway</html>"
        );
    }
}
