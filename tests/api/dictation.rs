//! Dictation (`input.transcribe`) through the real server and the fake model's
//! `/v1/audio/transcriptions`: a recording goes out as OpenAI's multipart form (model, a file
//! named for its container, its media type without codecs, the model key) and its text comes
//! back; recordings are checked before anything goes out (type, base64, size against
//! `CHATKIT_TRANSCRIBE_MAX_BYTES`); each failure of the transcription service is a JSON error
//! that says whose it is (422 for the recording, 502/503 for the service), never a panic; the
//! request body may be as large as a recording of the allowed size needs, and other requests
//! are still held to `CHATKIT_MAX_REQUEST_BYTES`; a transcription counts as a request for the
//! rate limits; and the endpoint and key can be dictation's own.
//! A server without a transcription model is in `requests::unsupported_capabilities_answer_400`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::answer::Answer;
use crate::support::app::{Db, TestApp, spawn_app_with};
use crate::support::fake_llm::{FakeLlm, Heard};
use crate::support::fixtures::user_input;
use crate::support::macros::{db_case, llm_test};

/// A small recording limit.
const VARS: &[(&str, &str)] = &[
    ("CHATKIT_TRANSCRIBE_MODEL", "whisper-1"),
    ("CHATKIT_TRANSCRIBE_MAX_BYTES", "4096"),
];

/// The shortest timeout, for a service that never answers.
const IMPATIENT: &[(&str, &str)] = &[
    ("CHATKIT_TRANSCRIBE_MODEL", "whisper-1"),
    ("CHATKIT_TRANSCRIBE_TIMEOUT_SECS", "1"),
];

/// The start of a WebM file (its EBML magic), then filler.
fn recording(len: usize) -> Vec<u8> {
    let mut bytes = vec![0x1a, 0x45, 0xdf, 0xa3];
    bytes.extend((0..len.saturating_sub(4)).map(|i| (i % 251) as u8));
    bytes
}

async fn transcribe(app: &TestApp, audio: &[u8], mime_type: &str) -> Answer {
    let params = json!({"audio_base64": STANDARD.encode(audio), "mime_type": mime_type});
    app.send("ann", "input.transcribe", params).await
}

/// The status, `error.code` and `error.message` of a refusal.
fn refusal(answer: &Answer) -> (u16, String, String) {
    let body: Value = answer.json();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        answer.status,
        text(&body["error"]["code"]),
        text(&body["error"]["message"]),
    )
}

llm_test!(a_recording_comes_back_as_text, vars = VARS);
async fn a_recording_comes_back_as_text(app: TestApp, llm: FakeLlm) {
    let audio = recording(3000);
    let answer = transcribe(&app, &audio, "audio/webm;codecs=opus").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json(),
        json!({"text": "transcribed 3000 bytes of audio/webm"})
    );
    let uploads = llm.uploads();
    let upload = &uploads[0];
    assert_eq!(upload.model, "whisper-1");
    assert_eq!(upload.file_name, "audio.webm");
    assert_eq!(upload.content_type, "audio/webm");
    assert_eq!(upload.bytes, audio, "the recording arrives byte for byte");
    assert_eq!(upload.authorization.as_deref(), Some("Bearer sk-test"));

    // Safari records MP4; what the service hears comes back as it is.
    llm.push_heard(Heard::Text("Book a table for two.".into()));
    let answer = transcribe(&app, &audio[..100], "audio/mp4").await;
    assert_eq!(answer.json(), json!({"text": "Book a table for two."}));
    let upload = &llm.uploads()[1];
    assert_eq!(
        (upload.file_name.as_str(), upload.content_type.as_str()),
        ("audio.mp4", "audio/mp4")
    );
    assert!(
        llm.requests().is_empty(),
        "no chat completion was asked for"
    );
}

llm_test!(recordings_are_checked_before_they_go_out, vars = VARS);
async fn recordings_are_checked_before_they_go_out(app: TestApp, llm: FakeLlm) {
    let (status, code, message) = refusal(&transcribe(&app, &recording(5000), "audio/ogg").await);
    assert_eq!((status, code.as_str()), (413, "audio_too_large"));
    assert!(message.contains("at most 4096 bytes"), "{message}");

    for mime_type in ["video/webm", "text/plain", ""] {
        let (status, code, message) = refusal(&transcribe(&app, b"abcd", mime_type).await);
        assert_eq!(
            (status, code.as_str()),
            (400, "unsupported_audio_type"),
            "{mime_type}"
        );
        assert!(message.contains("not an audio type"), "{message}");
    }

    let not_base64 = json!({"audio_base64": "%%% not base64 %%%", "mime_type": "audio/webm"});
    let (status, code, message) = refusal(&app.send("ann", "input.transcribe", not_base64).await);
    assert_eq!((status, code.as_str()), (400, "invalid_audio"));
    assert!(message.contains("base64"), "{message}");
    let (status, code, _) = refusal(&transcribe(&app, b"", "audio/webm").await);
    assert_eq!((status, code.as_str()), (400, "invalid_audio"));

    let missing = json!({"mime_type": "audio/webm"});
    let answer = app.send("ann", "input.transcribe", missing).await;
    assert_eq!(answer.status, 422, "{answer:?}");
    assert!(llm.uploads().is_empty(), "nothing reached the service");
}

llm_test!(service_failures_are_clear_json_errors, vars = VARS);
async fn service_failures_are_clear_json_errors(app: TestApp, llm: FakeLlm) {
    let audio = recording(200);
    let cases = [
        (
            Heard::Error {
                status: 400,
                message: "Audio file is too short.".into(),
            },
            422,
            "transcription_rejected",
            "Audio file is too short.",
        ),
        (
            Heard::Error {
                status: 500,
                message: "The server had an error.".into(),
            },
            502,
            "upstream_error",
            "The server had an error.",
        ),
        (
            Heard::Error {
                status: 401,
                message: "Incorrect API key provided.".into(),
            },
            502,
            "upstream_error",
            "CHATKIT_TRANSCRIBE_API_KEY",
        ),
        (
            Heard::Error {
                status: 429,
                message: "Rate limit reached.".into(),
            },
            503,
            "upstream_unavailable",
            "try again",
        ),
    ];
    for (heard, status, code, says) in cases {
        llm.push_heard(heard.clone());
        let answer = transcribe(&app, &audio, "audio/webm").await;
        assert!(
            answer.content_type.starts_with("application/json"),
            "{answer:?}"
        );
        let (got_status, got_code, message) = refusal(&answer);
        assert_eq!((got_status, got_code.as_str()), (status, code), "{heard:?}");
        assert!(message.contains(says), "{heard:?}: {message}");
    }
    // The server is fine afterwards.
    let answer = transcribe(&app, &audio, "audio/webm").await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

llm_test!(a_silent_service_times_out, vars = IMPATIENT);
async fn a_silent_service_times_out(app: TestApp, llm: FakeLlm) {
    llm.push_heard(Heard::Hang);
    let (status, code, message) = refusal(&transcribe(&app, &recording(100), "audio/webm").await);
    assert_eq!((status, code.as_str()), (503, "upstream_unavailable"));
    assert_eq!(
        message,
        "the transcription service did not answer within 1 s"
    );
}

db_case!(an_unreachable_service_is_unavailable);
async fn an_unreachable_service_is_unavailable(db: Db) {
    // A port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}/v1");
    let vars = [
        ("CHATKIT_TRANSCRIBE_MODEL", "whisper-1"),
        ("CHATKIT_TRANSCRIBE_BASE_URL", base.as_str()),
    ];
    let Some(app) = spawn_app_with(db, &vars).await else {
        return;
    };
    let (status, code, message) = refusal(&transcribe(&app, &recording(100), "audio/webm").await);
    assert_eq!((status, code.as_str()), (503, "upstream_unavailable"));
    assert_eq!(message, "cannot reach the transcription service");
}

/// Dictation on at the default recording limit, two requests a minute.
const LARGE: &[(&str, &str)] = &[
    ("CHATKIT_TRANSCRIBE_MODEL", "whisper-1"),
    ("CHATKIT_LIMIT_USER_REQUESTS_PER_MINUTE", "2"),
];

llm_test!(a_recording_may_be_larger_than_other_requests, vars = LARGE);
async fn a_recording_may_be_larger_than_other_requests(app: TestApp, llm: FakeLlm) {
    // 2 MB of audio is about 2.7 MB of base64: over CHATKIT_MAX_REQUEST_BYTES (1 MiB).
    let audio = recording(2_000_000);
    let answer = transcribe(&app, &audio, "audio/ogg;codecs=opus").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(llm.uploads()[0].bytes.len(), 2_000_000);

    // Any other request is still held to the request limit.
    let long = "x".repeat(2_000_000);
    let create = json!({"type": "threads.create", "params": {"input": user_input(&long)}});
    let (status, code, message) = refusal(&app.post_raw("ann", create.to_string()).await);
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    assert!(message.contains("1048576"), "{message}");

    // Transcriptions count as requests (the refused body did not): the third is refused.
    let answer = transcribe(&app, &audio[..10], "audio/ogg").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = transcribe(&app, &audio[..10], "audio/ogg").await;
    assert_eq!(
        (answer.status, answer.json()["error"]["code"].clone()),
        (429, json!("rate_limited"))
    );
    assert_eq!(llm.uploads().len(), 2);
}

db_case!(dictation_may_have_an_endpoint_and_key_of_its_own);
async fn dictation_may_have_an_endpoint_and_key_of_its_own(db: Db) {
    let model = FakeLlm::start().await;
    let speech = FakeLlm::start().await;
    let (model_url, speech_url) = (model.base_url(), speech.base_url());
    let mut vars = vec![
        ("OPENAI_BASE_URL", model_url.as_str()),
        ("OPENAI_API_KEY", "sk-model"),
        ("CHATKIT_TRANSCRIBE_MODEL", "Systran/faster-whisper-small"),
        ("CHATKIT_TRANSCRIBE_BASE_URL", speech_url.as_str()),
    ];
    let Some(app) = spawn_app_with(db, &vars).await else {
        return;
    };
    let answer = transcribe(&app, &recording(64), "audio/wav").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let upload = &speech.uploads()[0];
    assert_eq!(upload.model, "Systran/faster-whisper-small");
    assert_eq!(upload.file_name, "audio.wav");
    assert_eq!(
        upload.authorization, None,
        "the model's key never goes to another server"
    );
    assert!(model.uploads().is_empty());
    drop(app);

    vars.push(("CHATKIT_TRANSCRIBE_API_KEY", "sk-speech"));
    let Some(app) = spawn_app_with(db, &vars).await else {
        return;
    };
    transcribe(&app, &recording(64), "audio/wav").await;
    assert_eq!(
        speech.uploads()[1].authorization.as_deref(),
        Some("Bearer sk-speech")
    );
}
