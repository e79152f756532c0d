//! Dictation (`input.transcribe`): checks a recording as the ChatKit client sends it (base64
//! of `audio/webm`, `audio/ogg`, `audio/mp4`, …, its media type possibly with `;codecs=`)
//! and has the configured speech-to-text endpoint transcribe it. A server without one
//! refuses the request as a capability it lacks, so the client can say so.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::agent::llm::transcribe::{Recording, TranscribeError, Transcriber};
use crate::chatkit::types::{TranscribeParams, TranscriptionResult};
use crate::config::TranscribeSettings;

/// The containers the transcription API takes, by media type: the type sent on, and the
/// file name whose extension tells the server what it gets.
const AUDIO_TYPES: &[(&str, &str, &str)] = &[
    ("audio/webm", "audio/webm", "audio.webm"),
    ("audio/ogg", "audio/ogg", "audio.ogg"),
    ("audio/opus", "audio/ogg", "audio.ogg"),
    ("audio/mp4", "audio/mp4", "audio.mp4"),
    ("audio/m4a", "audio/mp4", "audio.m4a"),
    ("audio/x-m4a", "audio/mp4", "audio.m4a"),
    ("audio/aac", "audio/mp4", "audio.m4a"),
    ("audio/mpeg", "audio/mpeg", "audio.mp3"),
    ("audio/mp3", "audio/mpeg", "audio.mp3"),
    ("audio/wav", "audio/wav", "audio.wav"),
    ("audio/wave", "audio/wav", "audio.wav"),
    ("audio/x-wav", "audio/wav", "audio.wav"),
    ("audio/vnd.wave", "audio/wav", "audio.wav"),
    ("audio/flac", "audio/flac", "audio.flac"),
    ("audio/x-flac", "audio/flac", "audio.flac"),
];

/// Why a recording was not transcribed.
#[derive(Debug, thiserror::Error)]
pub enum DictationError {
    #[error("speech-to-text (dictation) is not configured on this server")]
    NotConfigured,
    #[error(
        "'{0}' is not an audio type this server transcribes (webm, ogg, mp4/m4a, mp3, wav or \
         flac)"
    )]
    UnsupportedType(String),
    #[error("{0}")]
    InvalidAudio(&'static str),
    /// Bytes of the recording (decoded) against the limit.
    #[error(
        "the recording is {size} bytes; this server transcribes recordings of at most {limit} \
         bytes, so record a shorter one"
    )]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Upstream(#[from] TranscribeError),
}

/// The speech-to-text side of the ChatKit service; cheap to clone.
#[derive(Clone, Default)]
pub struct Dictation {
    inner: Option<Arc<Configured>>,
}

struct Configured {
    transcriber: Transcriber,
    max_bytes: usize,
    /// The largest request body a transcription of the largest recording needs.
    max_request_bytes: usize,
}

impl Dictation {
    /// Dictation as configured; off (every request refused) with `None`.
    pub fn new(settings: Option<&TranscribeSettings>) -> Result<Self, TranscribeError> {
        let Some(settings) = settings else {
            return Ok(Dictation::default());
        };
        let transcriber = Transcriber::new(
            &settings.base_url,
            settings.api_key.as_ref().map(|key| key.expose().to_owned()),
            &settings.model,
            settings.connect_timeout,
            settings.timeout,
        )?;
        Ok(Dictation {
            inner: Some(Arc::new(Configured {
                transcriber,
                max_bytes: settings.max_bytes,
                max_request_bytes: settings.max_request_bytes(),
            })),
        })
    }

    /// The largest recording transcribed; `None` when dictation is off.
    pub fn max_bytes(&self) -> Option<usize> {
        self.inner.as_ref().map(|c| c.max_bytes)
    }

    /// The largest `POST /chatkit` body a transcription may need; 0 when dictation is off.
    pub fn max_request_bytes(&self) -> usize {
        self.inner.as_ref().map_or(0, |c| c.max_request_bytes)
    }

    /// The text of the recording in `params`.
    pub async fn transcribe(
        &self,
        params: TranscribeParams,
    ) -> Result<TranscriptionResult, DictationError> {
        let configured = self.inner.as_ref().ok_or(DictationError::NotConfigured)?;
        let (mime_type, file_name) = audio_type(&params.mime_type)?;
        let bytes = decode(params.audio_base64, configured.max_bytes)?;
        let text = configured
            .transcriber
            .transcribe(Recording {
                bytes,
                mime_type,
                file_name,
            })
            .await?;
        Ok(TranscriptionResult { text })
    }
}

/// The media type sent on and the file name for a recorder's `mime_type`
/// (`audio/webm;codecs=opus` is `audio/webm`).
fn audio_type(mime_type: &str) -> Result<(&'static str, &'static str), DictationError> {
    let essence = mime_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    AUDIO_TYPES
        .iter()
        .find(|(name, _, _)| *name == essence)
        .map(|(_, sent, file)| (*sent, *file))
        .ok_or_else(|| DictationError::UnsupportedType(mime_type.chars().take(100).collect()))
}

/// The recording's bytes, refused before decoding when its base64 is already too long.
fn decode(mut base64: String, limit: usize) -> Result<Vec<u8>, DictationError> {
    if base64.bytes().any(|b| b.is_ascii_whitespace()) {
        base64.retain(|c| !c.is_ascii_whitespace());
    }
    let estimate = base64.len() / 4 * 3;
    if estimate > limit + 2 {
        return Err(DictationError::TooLarge {
            size: estimate,
            limit,
        });
    }
    let bytes = STANDARD
        .decode(&base64)
        .map_err(|_| DictationError::InvalidAudio("audio_base64 is not valid base64"))?;
    if bytes.is_empty() {
        return Err(DictationError::InvalidAudio("the recording is empty"));
    }
    if bytes.len() > limit {
        return Err(DictationError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_types_map_to_a_file_name() {
        assert_eq!(
            audio_type("audio/webm;codecs=opus").unwrap(),
            ("audio/webm", "audio.webm")
        );
        assert_eq!(audio_type("Audio/MP4").unwrap(), ("audio/mp4", "audio.mp4"));
        assert_eq!(
            audio_type("audio/ogg; codecs=opus").unwrap(),
            ("audio/ogg", "audio.ogg")
        );
        assert!(matches!(
            audio_type("video/webm"),
            Err(DictationError::UnsupportedType(_))
        ));
        assert!(matches!(
            audio_type(""),
            Err(DictationError::UnsupportedType(_))
        ));
        for (_, sent, _) in AUDIO_TYPES {
            assert!(
                reqwest::multipart::Part::bytes(&[][..])
                    .mime_str(sent)
                    .is_ok()
            );
        }
    }

    #[test]
    fn base64_is_checked_before_and_after_decoding() {
        assert_eq!(decode("AAEC".into(), 10).unwrap(), [0, 1, 2]);
        assert_eq!(decode("AA\r\nEC\n".into(), 10).unwrap(), [0, 1, 2]);
        assert!(matches!(
            decode("not base64!".into(), 10),
            Err(DictationError::InvalidAudio(_))
        ));
        assert!(matches!(
            decode(String::new(), 10),
            Err(DictationError::InvalidAudio(_))
        ));
        // 12 bytes against a limit of 10: too long before decoding.
        assert!(matches!(
            decode("A".repeat(16), 10),
            Err(DictationError::TooLarge {
                size: 12,
                limit: 10
            })
        ));
        // 11 bytes: caught once decoded.
        assert!(matches!(
            decode(format!("{}=", "A".repeat(15)), 10),
            Err(DictationError::TooLarge {
                size: 11,
                limit: 10
            })
        ));
    }
}
