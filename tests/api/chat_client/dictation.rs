//! Dictation in the chat page with a transcription model configured: the microphone button
//! records from Chromium's fake microphone, shows that it records, and the text the
//! transcription endpoint hears lands in the composer, ready to send; a failed transcription
//! shows the transcribing state, then says why, and leaves the button usable; a server
//! without a transcription model shows no microphone at all.

use super::{ENTER, VARS, open_chat, wait_until};
use crate::support::app::Db;
use crate::support::browser::{Browser, Viewport};
use crate::support::fake_llm::{Heard, Reply};
use crate::support::macros::db_case;

const DICTATION: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_TRANSCRIBE_MODEL", "whisper-1"),
];

/// A transcription service that gives up on a silent endpoint after a second.
const IMPATIENT: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_TRANSCRIBE_MODEL", "whisper-1"),
    ("CHATKIT_TRANSCRIBE_TIMEOUT_SECS", "1"),
];

/// Records about a second from the fake microphone, then stops.
async fn record(browser: &Browser) {
    let mic = browser.find("chatkit-chat .ck-mic").await;
    assert_eq!(
        mic.attr("aria-label").await.unwrap().as_deref(),
        Some("Dictate")
    );
    mic.click().await.expect("mic clicked");
    browser
        .wait_for("chatkit-chat .ck-mic[aria-pressed='true'][aria-label='Stop dictation']")
        .await;
    // The clock shows that recording runs; a second of audio is enough.
    wait_until(
        browser,
        "a second of recording",
        "const s = document.querySelector('chatkit-chat .ck-dictation-status');
         return /^Recording \\d+:\\d\\d$/.test(s.textContent) && !s.textContent.endsWith('0:00');",
    )
    .await;
}

db_case!(dictated_text_lands_in_the_composer);
async fn dictated_text_lands_in_the_composer(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "dictation_on", DICTATION).await else {
        return;
    };
    llm.push_heard(Heard::Text("Plan a weekend in Lisbon".into()));
    record(&browser).await;
    browser.screenshot("recording").await;
    browser.resize(Viewport::Phone).await;
    browser.assert_fits(390.0).await;
    browser.screenshot("recording-phone").await;
    browser.click("chatkit-chat .ck-mic").await;
    wait_until(
        &browser,
        "the dictated text in the composer",
        "return document.querySelector('chatkit-chat .ck-input').value === 'Plan a weekend in Lisbon';",
    )
    .await;
    // Back to rest: the button dictates again and the status is gone.
    browser
        .wait_for(
            "chatkit-chat .ck-mic[aria-pressed='false'][aria-label='Dictate']:not([disabled])",
        )
        .await;
    wait_until(
        &browser,
        "the dictation status to hide",
        "return document.querySelector('chatkit-chat .ck-dictation-status').hidden;",
    )
    .await;
    let upload = &llm.uploads()[0];
    assert_eq!(upload.model, "whisper-1");
    assert_eq!(
        (upload.file_name.as_str(), upload.content_type.as_str()),
        ("audio.webm", "audio/webm"),
        "Chromium records WebM (its `;codecs=opus` is not sent on)"
    );
    assert!(upload.bytes.len() > 1000, "{} bytes", upload.bytes.len());
    browser.assert_fits(390.0).await;
    browser.screenshot("dictated-phone").await;

    // The dictated text is sent like typed text.
    llm.push(Reply::Text(vec!["Lisbon it is.".into()]));
    browser
        .find("chatkit-chat .ck-input")
        .await
        .send_keys(ENTER)
        .await
        .expect("Enter pressed");
    browser
        .wait_for_text(".ck-user-message", "Plan a weekend in Lisbon")
        .await;
    browser
        .wait_for_text(".ck-assistant-message", "Lisbon it is.")
        .await;
    browser.close().await;
}

db_case!(a_failed_dictation_says_why);
async fn a_failed_dictation_says_why(db: Db) {
    let Some((_app, llm, browser)) = open_chat(db, "dictation_fails", IMPATIENT).await else {
        return;
    };
    llm.push_heard(Heard::Hang);
    record(&browser).await;
    browser.click("chatkit-chat .ck-mic").await;
    // While the server waits for the transcription: a busy, disabled button and a status.
    browser
        .wait_for("chatkit-chat .ck-mic[disabled][aria-busy='true'][aria-label='Transcribing']")
        .await;
    browser
        .wait_for_text("chatkit-chat .ck-dictation-status", "Transcribing")
        .await;
    browser.screenshot("transcribing").await;
    let banner = browser
        .wait_for_text(".ck-banner.ck-danger", "Dictation failed")
        .await;
    let said = banner.text().await.unwrap();
    assert!(said.contains("did not answer within 1 s"), "{said}");
    browser
        .wait_for("chatkit-chat .ck-mic[aria-label='Dictate']:not([disabled])")
        .await;
    let typed = browser
        .execute(
            "return document.querySelector('chatkit-chat .ck-input').value;",
            vec![],
        )
        .await;
    assert_eq!(typed, "", "nothing was put in the composer");
    browser.close().await;
}

db_case!(no_microphone_without_a_transcription_model);
async fn no_microphone_without_a_transcription_model(db: Db) {
    let Some((_app, _llm, browser)) = open_chat(db, "dictation_off", VARS).await else {
        return;
    };
    let shown = browser
        .execute(
            "return [document.getElementById('chat').dataset.dictationMaxBytes,
                     !!document.querySelector('chatkit-chat .ck-mic')];",
            vec![],
        )
        .await;
    assert_eq!(shown, serde_json::json!(["0", false]));
    browser.close().await;
}
