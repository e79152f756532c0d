//! File attachments through the real server: both upload strategies, what is stored and
//! served, and every limit and bad input. What becomes of an attachment once uploaded (reach,
//! use in messages, the model, restarts, the purge, thread deletion) is in `in_use`.

use std::path::Path;

use chatkit_server::auth::signed::{Purpose, UrlSigner};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::answer::Answer;
use crate::support::app::{TestApp, eventually};
use crate::support::fixtures::{PNG, multipart};
use crate::support::macros::db_test;

mod in_use;
mod s3;

/// The signing key of the test servers, so tests can forge expired tokens.
pub const SECRET: &str = "test-secret-key-0123456789-abcdefghij";
const MAX: u64 = 1024 * 1024;

const VARS: &[(&str, &str)] = &[
    ("CHATKIT_SECRET_KEY", SECRET),
    ("CHATKIT_UPLOAD_MAX_BYTES", "1048576"),
];

const JPEG_HEAD: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

impl TestApp {
    /// `attachments.create` as `user`.
    pub async fn create_attachment(
        &self,
        user: &str,
        name: &str,
        size: usize,
        mime: &str,
    ) -> Answer {
        self.send(
            user,
            "attachments.create",
            json!({"name": name, "size": size, "mime_type": mime}),
        )
        .await
    }

    /// `attachments.create` + upload; the uploaded attachment.
    pub async fn two_phase(&self, user: &str, name: &str, mime: &str, bytes: &[u8]) -> Value {
        let created = self.create_attachment(user, name, bytes.len(), mime).await;
        assert_eq!(created.status, 200, "{created:?}");
        let url = created.json()["upload_descriptor"]["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let uploaded = self.upload_to(&url, bytes).await;
        assert_eq!(uploaded.status, 200, "{uploaded:?}");
        uploaded.json()
    }

    /// `GET` of a content URL, with the user header when `user` is given.
    async fn get_content(
        &self,
        url: &str,
        user: Option<&str>,
    ) -> (Answer, reqwest::header::HeaderMap, Vec<u8>) {
        let mut request = self.client.get(url);
        if let Some(user) = user {
            request = request.header("X-ChatKit-User", user);
        }
        Answer::read(request.send().await.expect("get sent")).await
    }

    fn content_url(&self, id: &str) -> String {
        format!("{}/chatkit/attachments/{id}/content", self.address)
    }

    /// The attachment row, if any (read past every scope).
    async fn row(&self, user: &str, id: &str) -> Option<chatkit_server::store::AttachmentRow> {
        self.store
            .load_attachment(&self.scope(user).await, id)
            .await
            .ok()
    }
}

fn id_of(attachment: &Value) -> String {
    attachment["id"].as_str().unwrap().to_owned()
}

fn signer() -> UrlSigner {
    UrlSigner::new(SECRET.as_bytes().to_vec())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn message_input<S: AsRef<str>>(text: &str, attachments: &[S]) -> Value {
    let ids: Vec<&str> = attachments.iter().map(AsRef::as_ref).collect();
    json!({"content": [{"type": "input_text", "text": text}], "attachments": ids, "inference_options": {}})
}

fn temp_files(storage: &Path) -> usize {
    std::fs::read_dir(storage.join("tmp")).map_or(0, |d| d.count())
}

db_test!(two_phase_upload_then_serve, vars = VARS);
async fn two_phase_upload_then_serve(app: TestApp) {
    let text = b"hello world";
    let created = app
        .create_attachment("ann", "notes.txt", text.len(), "text/plain")
        .await;
    assert_eq!(created.status, 200, "{created:?}");
    let created = created.json();
    let id = id_of(&created);
    assert!(id.starts_with("atc_"), "{created}");
    assert_eq!(created["type"], "file");
    assert_eq!(created["name"], "notes.txt");
    assert_eq!(created["mime_type"], "text/plain");
    assert!(created.get("thread_id").is_none() && created.get("preview_url").is_none());
    let descriptor = &created["upload_descriptor"];
    assert_eq!(descriptor["method"], "POST");
    assert_eq!(descriptor["headers"], json!({}));
    let url = descriptor["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/chatkit/attachments/{id}/upload?token=",
            app.address
        )),
        "{url}"
    );
    let row = app.row("ann", &id).await.unwrap();
    assert_eq!((row.state.as_str(), row.size), ("pending", 11));

    let uploaded = app.upload_to(url, text).await;
    assert_eq!(uploaded.status, 200, "{uploaded:?}");
    assert_eq!(
        uploaded.json(),
        json!({"type": "file", "id": id, "name": "notes.txt", "mime_type": "text/plain"})
    );
    let row = app.row("ann", &id).await.unwrap();
    assert_eq!(row.state, "uploaded");
    assert_eq!(
        row.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(text)).as_str())
    );
    let key = row.storage_key.unwrap();
    assert!(!key.contains("notes"), "the key comes from the id: {key}");
    assert_eq!(std::fs::read(app.storage_dir.join(&key)).unwrap(), text);

    // The owner reads it with their credentials: a download, never sniffed.
    let (got, headers, bytes) = app.get_content(&app.content_url(&id), Some("ann")).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(bytes, text);
    assert!(got.content_type.starts_with("text/plain"), "{got:?}");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    let disposition = header(&headers, "content-disposition");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename=\"notes.txt\""),
        "{disposition}"
    );
    assert!(headers.get("access-control-allow-origin").is_none());

    // An image, uploaded with PUT and a raw body: its preview URL works without credentials.
    let created = app
        .create_attachment("ann", "cat.png", PNG.len(), "image/png")
        .await
        .json();
    assert_eq!(created["type"], "image");
    let preview = created["preview_url"].as_str().unwrap().to_owned();
    assert!(preview.starts_with(&format!("{}/chatkit/attachments/", app.address)));
    let (before, _, _) = app.get_content(&preview, None).await;
    assert_eq!(before.status, 404, "nothing to show before the upload");
    let put = app
        .client
        .put(created["upload_descriptor"]["url"].as_str().unwrap())
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    let (put, _, _) = Answer::read(put).await;
    assert_eq!(put.status, 200, "{put:?}");
    let image = put.json();
    assert!(image.get("upload_descriptor").is_none(), "{image}");
    assert!(image["preview_url"].as_str().unwrap().contains("token="));
    let (got, headers, bytes) = app.get_content(&preview, None).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(bytes, PNG);
    assert_eq!(got.content_type, "image/png");
    assert!(header(&headers, "content-disposition").starts_with("inline;"));
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
}

db_test!(direct_upload_stores_and_answers_the_attachment, vars = VARS);
async fn direct_upload_stores_and_answers_the_attachment(app: TestApp) {
    // No type from the browser (as for .md files): guessed from the name.
    let markdown = b"# Plan\n\n- one\n";
    let answer = app.upload_direct("bob", "plan.md", None, markdown).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let file = answer.json();
    assert_eq!(file["type"], "file");
    assert_eq!(file["mime_type"], "text/markdown");
    assert_eq!(file["name"], "plan.md");
    assert!(file.get("upload_descriptor").is_none(), "{file}");
    let row = app.row("bob", &id_of(&file)).await.unwrap();
    assert_eq!(
        (row.state.as_str(), row.size),
        ("uploaded", markdown.len() as i64)
    );
    assert_eq!(row.sha256.unwrap(), hex::encode(Sha256::digest(markdown)));

    let image = app
        .upload_direct("bob", "dot.png", Some("image/png"), PNG)
        .await;
    assert_eq!(image.status, 200, "{image:?}");
    let image = image.json();
    assert_eq!(image["type"], "image");
    let (got, _, bytes) = app
        .get_content(image["preview_url"].as_str().unwrap(), None)
        .await;
    assert_eq!((got.status, bytes.as_slice()), (200, PNG));

    // The chosen agent must exist.
    let (content_type, body) = multipart("file", Some("a.txt"), Some("text/plain"), b"x");
    let unknown = app
        .upload_direct_raw("bob", "?agent=nobody", &content_type, body)
        .await;
    assert_eq!(
        (unknown.status, unknown.error_code().as_str()),
        (404, "unknown_agent")
    );

    // Other form fields before the file are skipped.
    let boundary = "b0undary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nchat\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"n.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nnote\r\n--{boundary}--\r\n"
    );
    let answer = app
        .upload_direct_raw(
            "bob",
            "",
            &format!("multipart/form-data; boundary={boundary}"),
            body.into_bytes(),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["name"], "n.txt");
}

db_test!(limits_and_bad_input_are_refused, vars = VARS);
async fn limits_and_bad_input_are_refused(app: TestApp) {
    // Declared too large, or of a type not allowed.
    let big = app
        .create_attachment("ann", "big.txt", MAX as usize + 1, "text/plain")
        .await;
    assert_eq!(
        (big.status, big.error_code().as_str()),
        (413, "file_too_large")
    );
    for (name, mime) in [
        ("setup.exe", "application/x-msdownload"),
        ("blob", ""),
        ("x.svg", "image/svg+xml"),
    ] {
        let refused = app.create_attachment("ann", name, 10, mime).await;
        assert_eq!(
            (refused.status, refused.error_code().as_str()),
            (415, "unsupported_media_type"),
            "{name} {mime}: {refused:?}"
        );
    }

    // Too large while streaming: 413, and nothing kept.
    let too_big = vec![b'a'; MAX as usize * 2];
    let refused = app
        .upload_direct("ann", "big.txt", Some("text/plain"), &too_big)
        .await;
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (413, "file_too_large"),
        "{refused:?}"
    );
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1048576")
    );
    let storage = app.storage_dir.clone();
    eventually("the temp file of the refused upload to go", || {
        let storage = storage.clone();
        async move { (temp_files(&storage) == 0).then_some(()) }
    })
    .await;
    // Exactly at the limit is fine.
    let at_limit = vec![b'a'; MAX as usize];
    let accepted = app
        .upload_direct("ann", "full.txt", Some("text/plain"), &at_limit)
        .await;
    assert_eq!(accepted.status, 200, "{accepted:?}");

    // Bytes that are not the declared image type.
    let fake = app
        .upload_direct("ann", "fake.png", Some("image/png"), b"not an image at all")
        .await;
    assert_eq!(
        (fake.status, fake.error_code().as_str()),
        (400, "content_mismatch")
    );
    let tiny = app
        .upload_direct("ann", "tiny.gif", Some("image/gif"), b"GIF")
        .await;
    assert_eq!(
        (tiny.status, tiny.error_code().as_str()),
        (400, "content_mismatch")
    );
    let created = app
        .create_attachment("ann", "photo.png", JPEG_HEAD.len(), "image/png")
        .await
        .json();
    let url = created["upload_descriptor"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let mismatch = app.upload_to(&url, JPEG_HEAD).await;
    assert_eq!(
        (mismatch.status, mismatch.error_code().as_str()),
        (400, "content_mismatch")
    );
    let row = app.row("ann", &id_of(&created)).await.unwrap();
    assert_eq!(row.state, "failed");
    // The token was used up by the failed attempt.
    let retry = app.upload_to(&url, JPEG_HEAD).await;
    assert_eq!(
        (retry.status, retry.error_code().as_str()),
        (409, "upload_used")
    );

    // Sizes that differ from what was declared, either way.
    for sent in [9usize, 11, 5000] {
        let created = app
            .create_attachment("ann", "ten.txt", 10, "text/plain")
            .await
            .json();
        let url = created["upload_descriptor"]["url"].as_str().unwrap();
        let refused = app.upload_to(url, &vec![b'x'; sent]).await;
        assert_eq!(
            (refused.status, refused.error_code().as_str()),
            (400, "size_mismatch"),
            "{sent} bytes: {refused:?}"
        );
    }

    // Tokens: reused, expired, forged, for another attachment, of the other purpose, none.
    let once = app
        .create_attachment("ann", "once.txt", 4, "text/plain")
        .await
        .json();
    let id = id_of(&once);
    let once_url = once["upload_descriptor"]["url"].as_str().unwrap();
    assert_eq!(app.upload_to(once_url, b"once").await.status, 200);
    let reused = app.upload_to(once_url, b"once").await;
    assert_eq!(
        (reused.status, reused.error_code().as_str()),
        (409, "upload_used")
    );
    let created = app
        .create_attachment("ann", "late.txt", 4, "text/plain")
        .await
        .json();
    let late_id = id_of(&created);
    let upload_url = |id: &str, token: &str| {
        format!(
            "{}/chatkit/attachments/{id}/upload?token={token}",
            app.address
        )
    };
    let cases = [
        (
            signer().sign(Purpose::Upload, &late_id, now() - 1),
            "token_expired",
        ),
        (
            format!("{}.{}", now() + 60, "ab".repeat(32)),
            "invalid_token",
        ),
        ("garbage".to_owned(), "invalid_token"),
        (
            signer().sign(Purpose::Upload, &id, now() + 60),
            "invalid_token",
        ),
        (
            signer().sign(Purpose::Content, &late_id, now() + 60),
            "invalid_token",
        ),
        (
            UrlSigner::new(UrlSigner::random_key()).sign(Purpose::Upload, &late_id, now() + 60),
            "invalid_token",
        ),
    ];
    for (token, code) in cases {
        let refused = app.upload_to(&upload_url(&late_id, &token), b"late").await;
        assert_eq!(
            (refused.status, refused.error_code().as_str()),
            (403, code),
            "{token}"
        );
    }
    let no_token = app
        .upload_to(
            &format!("{}/chatkit/attachments/{late_id}/upload", app.address),
            b"late",
        )
        .await;
    assert_eq!(
        (no_token.status, no_token.error_code().as_str()),
        (403, "invalid_token")
    );
    // None of that used the real token up.
    let late = app
        .upload_to(
            created["upload_descriptor"]["url"].as_str().unwrap(),
            b"late",
        )
        .await;
    assert_eq!(late.status, 200, "{late:?}");

    // Content tokens: expired and forged.
    let content = |token: &str| format!("{}?token={token}", app.content_url(&id));
    let (expired, _, _) = app
        .get_content(
            &content(&signer().sign(Purpose::Content, &id, now() - 1)),
            None,
        )
        .await;
    assert_eq!(
        (expired.status, expired.error_code().as_str()),
        (403, "token_expired")
    );
    let (forged, _, _) = app.get_content(&content("1.00"), None).await;
    assert_eq!(
        (forged.status, forged.error_code().as_str()),
        (403, "invalid_token")
    );
    let (upload_token, _, _) = app
        .get_content(
            &content(&signer().sign(Purpose::Upload, &id, now() + 60)),
            None,
        )
        .await;
    assert_eq!(upload_token.status, 403);

    // No file in the request.
    let (content_type, body) = multipart("document", Some("a.txt"), Some("text/plain"), b"x");
    let missing = app.upload_direct_raw("ann", "", &content_type, body).await;
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (400, "missing_file")
    );
    let raw = app
        .upload_direct_raw("ann", "", "text/plain", b"raw".to_vec())
        .await;
    assert_eq!(
        (raw.status, raw.error_code().as_str()),
        (400, "missing_file")
    );
    let broken = app
        .upload_direct_raw(
            "ann",
            "",
            "multipart/form-data; boundary=zz",
            b"--zz\r\nnonsense".to_vec(),
        )
        .await;
    assert_eq!(broken.status, 400, "{broken:?}");

    // Hostile file names are cleaned, and never reach the disk.
    let hostile = app
        .upload_direct("ann", "../../etc/pass\twd.txt", Some("text/plain"), b"x")
        .await;
    assert_eq!(hostile.status, 200, "{hostile:?}");
    let hostile = hostile.json();
    assert_eq!(hostile["name"], "passwd.txt");
    let (got, headers, _) = app
        .get_content(&app.content_url(&id_of(&hostile)), Some("ann"))
        .await;
    assert_eq!(got.status, 200);
    assert!(header(&headers, "content-disposition").contains("filename=\"passwd.txt\""));
    assert!(!app.storage_dir.join("etc").exists());
    let created = app
        .create_attachment("ann", "..\\..\\we\"ird\u{7}.txt", 1, "text/plain")
        .await;
    assert_eq!(created.json()["name"], "weird.txt");
}
