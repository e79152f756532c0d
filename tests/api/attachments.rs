//! File attachments through the real server: both upload strategies, every limit and bad
//! input, isolation between users, use in messages, what the model receives, restarts, the
//! purge of unused uploads, and thread deletion.

use std::path::Path;

use base64::Engine;
use chatkit_server::auth::signed::{Purpose, UrlSigner};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fake_llm::{FakeLlm, Reply};
use crate::helpers::{Answer, TestApp, add_agent, eventually, serve};
use crate::{db_test, llm_test};

/// The signing key of the test servers, so tests can forge expired tokens.
pub const SECRET: &str = "test-secret-key-0123456789-abcdefghij";
const MAX: u64 = 1024 * 1024;

const VARS: &[(&str, &str)] = &[
    ("CHATKIT_SECRET_KEY", SECRET),
    ("CHATKIT_UPLOAD_MAX_BYTES", "1048576"),
];

/// A 1x1 PNG.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";
const JPEG_HEAD: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";

/// A `multipart/form-data` body with one field; returns the content type and the body.
pub fn multipart(
    field: &str,
    filename: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "----chatkit-test-boundary-7d3f";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(b"Content-Disposition: form-data; name=\"");
    body.extend_from_slice(field.as_bytes());
    body.push(b'"');
    if let Some(filename) = filename {
        body.extend_from_slice(b"; filename=\"");
        body.extend_from_slice(filename.as_bytes());
        body.push(b'"');
    }
    body.extend_from_slice(b"\r\n");
    if let Some(content_type) = content_type {
        body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn answer(response: reqwest::Response) -> (Answer, reqwest::header::HeaderMap, Vec<u8>) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.bytes().await.expect("body").to_vec();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    (
        Answer {
            status,
            content_type,
            body,
        },
        headers,
        bytes,
    )
}

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

    /// Uploads `bytes` to a two-phase upload URL as multipart field `file`.
    pub async fn upload_to(&self, url: &str, bytes: &[u8]) -> Answer {
        let (content_type, body) = multipart("file", Some("ignored.bin"), None, bytes);
        let response = self
            .client
            .post(url)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload sent");
        answer(response).await.0
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

    /// `POST /chatkit/upload` of a multipart body as `user`.
    pub async fn upload_direct_raw(
        &self,
        user: &str,
        query: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let response = self
            .client
            .post(format!("{}/chatkit/upload{query}", self.address))
            .header("X-ChatKit-User", user)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload sent");
        answer(response).await.0
    }

    /// The direct upload of one file as `user`.
    pub async fn upload_direct(
        &self,
        user: &str,
        name: &str,
        mime: Option<&str>,
        bytes: &[u8],
    ) -> Answer {
        let (content_type, body) = multipart("file", Some(name), mime, bytes);
        self.upload_direct_raw(user, "", &content_type, body).await
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
        answer(request.send().await.expect("get sent")).await
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
    let (put, _, _) = answer(put).await;
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

db_test!(other_users_attachments_are_out_of_reach, vars = VARS);
async fn other_users_attachments_are_out_of_reach(app: TestApp) {
    let file = app
        .two_phase("ann", "secret.txt", "text/plain", b"ann's secret")
        .await;
    let id = id_of(&file);
    let key = app.row("ann", &id).await.unwrap().storage_key.unwrap();

    // Upload: bob cannot use ann's upload URL, and trying does not use it up.
    let pending = app
        .create_attachment("ann", "later.txt", 5, "text/plain")
        .await
        .json();
    let url = pending["upload_descriptor"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (content_type, body) = multipart("file", None, None, b"bob's");
    let response = app
        .client
        .post(&url)
        .header("X-ChatKit-User", "bob")
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(response).await.0.status, 404);
    assert_eq!(app.upload_to(&url, b"ann's").await.status, 200);

    // Content: not with bob's credentials, not as anonymous, not with ann's URL as bob.
    let (as_bob, _, _) = app.get_content(&app.content_url(&id), Some("bob")).await;
    assert_eq!(as_bob.status, 404);
    let (anonymous, _, _) = app.get_content(&app.content_url(&id), None).await;
    assert_eq!(anonymous.status, 404);
    let image = app.two_phase("ann", "me.png", "image/png", PNG).await;
    let (with_url, _, _) = app
        .get_content(image["preview_url"].as_str().unwrap(), Some("bob"))
        .await;
    assert_eq!(with_url.status, 404);

    // Use in a message: refused, and nothing is stored for bob or stamped on ann's file.
    let refused = app
        .send(
            "bob",
            "threads.create",
            json!({"input": message_input("mine", &[&id])}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (404, "not_found"),
        "{refused:?}"
    );
    assert_eq!(
        app.ok("bob", "threads.list", json!({})).await["data"],
        json!([])
    );
    assert_eq!(app.row("ann", &id).await.unwrap().thread_id, None);
    let (bobs_thread, _) = app.create_thread("bob", "hello").await;
    let refused = app
        .send(
            "bob",
            "threads.add_user_message",
            json!({"thread_id": bobs_thread, "input": message_input("mine", &[&id])}),
        )
        .await;
    assert_eq!(refused.status, 404);
    let items = app
        .ok("bob", "items.list", json!({"thread_id": bobs_thread}))
        .await;
    assert_eq!(
        items["data"].as_array().unwrap().len(),
        1,
        "no second message"
    );

    // Delete: refused, and the file stays.
    let delete = app
        .send("bob", "attachments.delete", json!({"attachment_id": id}))
        .await;
    assert_eq!(
        (delete.status, delete.error_code().as_str()),
        (404, "not_found")
    );
    assert!(app.row("ann", &id).await.is_some());
    assert!(app.storage_dir.join(&key).exists());

    // The owner deletes it: row and bytes go, and it is gone for everyone.
    assert_eq!(
        app.ok("ann", "attachments.delete", json!({"attachment_id": id}))
            .await,
        json!({})
    );
    assert!(app.row("ann", &id).await.is_none());
    assert!(!app.storage_dir.join(&key).exists());
    let (gone, _, _) = app.get_content(&app.content_url(&id), Some("ann")).await;
    assert_eq!(gone.status, 404);
    let again = app
        .send("ann", "attachments.delete", json!({"attachment_id": id}))
        .await;
    assert_eq!(again.status, 404);
}

db_test!(attachments_belong_to_their_agent, vars = VARS);
async fn attachments_belong_to_their_agent(app: TestApp) {
    let other = add_agent(&app, "other").await;
    let file = app.two_phase("ann", "a.txt", "text/plain", b"abc").await;
    let id = id_of(&file);
    let to_other = |kind: &str, params: Value| {
        app.client
            .post(format!("{}/chatkit?agent=other", app.address))
            .header("X-ChatKit-User", "ann")
            .body(json!({"type": kind, "params": params}).to_string())
            .send()
    };

    // Ann talking to another agent cannot use, read or delete the default agent's file.
    let create = to_other(
        "threads.create",
        json!({"input": message_input("x", &[&id])}),
    );
    assert_eq!(answer(create.await.unwrap()).await.0.status, 404);
    let delete = to_other("attachments.delete", json!({"attachment_id": id}));
    assert_eq!(answer(delete.await.unwrap()).await.0.status, 404);
    let url = app.content_url(&id);
    let (elsewhere, _, _) = app
        .get_content(&format!("{url}?agent=other"), Some("ann"))
        .await;
    assert_eq!(elsewhere.status, 404);
    let (here, _, _) = app
        .get_content(&format!("{url}?agent=default"), Some("ann"))
        .await;
    assert_eq!(here.status, 200);

    // A direct upload for the other agent belongs to it.
    let (content_type, body) = multipart("file", Some("b.txt"), Some("text/plain"), b"b");
    let theirs = app
        .upload_direct_raw("ann", "?agent=other", &content_type, body)
        .await;
    assert_eq!(theirs.status, 200, "{theirs:?}");
    let theirs_id = id_of(&theirs.json());
    assert!(
        app.row("ann", &theirs_id).await.is_none(),
        "not the default agent's"
    );
    let refused = app
        .send(
            "ann",
            "threads.create",
            json!({"input": message_input("x", &[&theirs_id])}),
        )
        .await;
    assert_eq!(refused.status, 404);
    let used = to_other(
        "threads.create",
        json!({"input": message_input("x", &[&theirs_id])}),
    );
    let (used, _, _) = answer(used.await.unwrap()).await;
    assert_eq!(used.status, 200, "{used:?}");
    let scope = chatkit_server::store::Scope {
        agent_id: other,
        ..app.scope("ann").await
    };
    let row = app.store.load_attachment(&scope, &theirs_id).await.unwrap();
    assert!(row.thread_id.is_some());
}

db_test!(messages_carry_checked_attachments, vars = VARS);
async fn messages_carry_checked_attachments(app: TestApp) {
    let file = app
        .two_phase("ann", "data.csv", "text/csv", b"a,b\n1,2\n")
        .await;
    let image = app.two_phase("ann", "cat.png", "image/png", PNG).await;
    let (file_id, image_id) = (id_of(&file), id_of(&image));
    let pending = id_of(
        &app.create_attachment("ann", "wait.txt", 3, "text/plain")
            .await
            .json(),
    );

    for (ids, status, code) in [
        (vec![pending.clone()], 409, "attachment_not_uploaded"),
        (vec!["atc_0000000000000000".to_owned()], 404, "not_found"),
        (
            vec![file_id.clone(), "atc_0000000000000000".to_owned()],
            404,
            "not_found",
        ),
    ] {
        let refused = app
            .send(
                "ann",
                "threads.create",
                json!({"input": message_input("see", &ids)}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.error_code().as_str()),
            (status, code),
            "{ids:?}"
        );
    }
    assert_eq!(
        app.ok("ann", "threads.list", json!({})).await["data"],
        json!([])
    );
    assert_eq!(
        app.row("ann", &file_id).await.unwrap().thread_id,
        None,
        "not stamped"
    );

    let events = app
        .stream(
            "ann",
            "threads.create",
            json!({"input": message_input("see these", &[&file_id, &image_id, &file_id])}),
        )
        .await;
    let thread_id = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    let attachments = events[1]["item"]["attachments"].as_array().unwrap().clone();
    assert_eq!(attachments.len(), 2, "duplicates collapse: {attachments:?}");
    assert_eq!(
        attachments[0],
        json!({"type": "file", "id": file_id, "name": "data.csv", "mime_type": "text/csv", "thread_id": thread_id})
    );
    assert_eq!(attachments[1]["type"], "image");
    assert_eq!(attachments[1]["thread_id"], thread_id.as_str());
    for id in [&file_id, &image_id] {
        assert_eq!(
            app.row("ann", id).await.unwrap().thread_id.as_deref(),
            Some(thread_id.as_str())
        );
    }

    // Loading the thread signs fresh preview URLs that work.
    let thread = app
        .ok("ann", "threads.get_by_id", json!({"thread_id": thread_id}))
        .await;
    let loaded = &thread["items"]["data"][0]["attachments"][1];
    let (preview, _, bytes) = app
        .get_content(loaded["preview_url"].as_str().unwrap(), None)
        .await;
    assert_eq!((preview.status, bytes.as_slice()), (200, PNG));
    let listed = app
        .ok("ann", "items.list", json!({"thread_id": thread_id}))
        .await;
    assert!(
        listed["data"][0]["attachments"][1]["preview_url"]
            .as_str()
            .unwrap()
            .contains("token=")
    );

    // Used again in the same thread: fine; in another thread: refused.
    app.stream(
        "ann",
        "threads.add_user_message",
        json!({"thread_id": thread_id, "input": message_input("again", &[&file_id])}),
    )
    .await;
    let elsewhere = app
        .send(
            "ann",
            "threads.create",
            json!({"input": message_input("steal", &[&file_id])}),
        )
        .await;
    assert_eq!(
        (elsewhere.status, elsewhere.error_code().as_str()),
        (409, "attachment_in_use")
    );
}

const LLM_VARS: &[(&str, &str)] = &[
    ("CHATKIT_SECRET_KEY", SECRET),
    ("CHATKIT_AUTO_TITLES", "false"),
];

llm_test!(the_model_receives_images_and_text_files, vars = LLM_VARS);
async fn the_model_receives_images_and_text_files(app: TestApp, llm: FakeLlm) {
    let image = app.two_phase("ann", "cat.png", "image/png", PNG).await;
    let notes = app
        .two_phase(
            "ann",
            "notes.md",
            "text/markdown",
            "# Notes\nCafé at 10.".as_bytes(),
        )
        .await;
    let long: Vec<u8> = (0..40 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let big = app.two_phase("ann", "big.txt", "text/plain", &long).await;
    let pdf = app
        .two_phase("ann", "paper.pdf", "application/pdf", b"%PDF-1.4 binary")
        .await;
    let ids: Vec<String> = [&image, &notes, &big, &pdf]
        .into_iter()
        .map(id_of)
        .collect();

    llm.push(Reply::Text(vec!["A cat.".into()]));
    app.stream(
        "ann",
        "threads.create",
        json!({"input": message_input("What is this?", &ids)}),
    )
    .await;
    let requests = llm.wait_for_requests(1).await;
    let messages = requests[0]["messages"].as_array().unwrap();
    let user = messages.iter().rev().find(|m| m["role"] == "user").unwrap();
    let parts = user["content"]
        .as_array()
        .expect("parts, since there is an image");
    assert_eq!(parts[0], json!({"type": "text", "text": "What is this?"}));
    let data_url = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(PNG)
    );
    assert_eq!(
        parts[1],
        json!({"type": "image_url", "image_url": {"url": data_url}})
    );
    let text = parts[2]["text"].as_str().unwrap();
    assert!(
        text.starts_with("<File name=\"notes.md\" type=\"text/markdown\"")
            && text.contains("# Notes\nCafé at 10.")
            && text.ends_with("</File>"),
        "{text}"
    );
    let truncated = parts[3]["text"].as_str().unwrap();
    assert!(
        truncated.contains(&String::from_utf8_lossy(&long[..32 * 1024]).into_owned())
            && !truncated.contains(&String::from_utf8_lossy(&long[..32 * 1024 + 1]).into_owned())
            && truncated.contains("Truncated: only the first 32768 of 40960 bytes"),
        "the cap applies and is stated"
    );
    let described = parts[4]["text"].as_str().unwrap();
    assert!(
        described.contains("paper.pdf")
            && described.contains("application/pdf")
            && described.contains("15 bytes"),
        "{described}"
    );
    assert_eq!(parts.len(), 5);
}

db_test!(files_survive_a_restart, vars = VARS);
async fn files_survive_a_restart(app: TestApp) {
    let image = app.two_phase("ann", "keep.png", "image/png", PNG).await;
    let id = id_of(&image);
    let preview = image["preview_url"].as_str().unwrap().to_owned();

    let storage = app.storage_dir.display().to_string();
    let vars = [
        ("CHATKIT_SECRET_KEY", SECRET),
        ("CHATKIT_STORAGE_DIR", storage.as_str()),
    ];
    let second = serve(&app.db_url, &vars, None).await.address;
    let response = app
        .client
        .get(format!("{second}/chatkit/attachments/{id}/content"))
        .header("X-ChatKit-User", "ann")
        .send()
        .await
        .unwrap();
    let (got, _, bytes) = answer(response).await;
    assert_eq!((got.status, bytes.as_slice()), (200, PNG));
    // With the same key, URLs signed before the restart still work.
    let signed = preview.replace(&app.address, &second);
    let (got, _, bytes) = app.get_content(&signed, None).await;
    assert_eq!((got.status, bytes.as_slice()), (200, PNG));
}

const SWEEP_VARS: &[(&str, &str)] = &[
    ("CHATKIT_SECRET_KEY", SECRET),
    // 3.6 s, checked every second.
    ("CHATKIT_ATTACHMENT_ORPHAN_HOURS", "0.001"),
    ("CHATKIT_ATTACHMENT_SWEEP_SECS", "1"),
];

db_test!(the_sweep_purges_unused_uploads, vars = SWEEP_VARS);
async fn the_sweep_purges_unused_uploads(app: TestApp) {
    let used = app
        .two_phase("ann", "used.txt", "text/plain", b"kept")
        .await;
    app.stream(
        "ann",
        "threads.create",
        json!({"input": message_input("keep", &[id_of(&used)])}),
    )
    .await;
    let orphan = app
        .two_phase("ann", "orphan.txt", "text/plain", b"dropped")
        .await;
    let never = app
        .create_attachment("ann", "never.txt", 5, "text/plain")
        .await
        .json();
    let key = app
        .row("ann", &id_of(&orphan))
        .await
        .unwrap()
        .storage_key
        .unwrap();
    assert!(app.storage_dir.join(&key).exists());

    for id in [id_of(&orphan), id_of(&never)] {
        eventually("the sweep to purge an unused upload", || {
            let (app, id) = (&app, id.clone());
            async move { app.row("ann", &id).await.is_none().then_some(()) }
        })
        .await;
    }
    assert!(!app.storage_dir.join(&key).exists(), "its bytes went too");
    let (kept, _, bytes) = app
        .get_content(&app.content_url(&id_of(&used)), Some("ann"))
        .await;
    assert_eq!((kept.status, bytes.as_slice()), (200, b"kept".as_slice()));
}

db_test!(deleting_a_thread_deletes_its_files, vars = VARS);
async fn deleting_a_thread_deletes_its_files(app: TestApp) {
    let file = app.two_phase("ann", "a.txt", "text/plain", b"bytes").await;
    let id = id_of(&file);
    let key = app.row("ann", &id).await.unwrap().storage_key.unwrap();
    let events = app
        .stream(
            "ann",
            "threads.create",
            json!({"input": message_input("x", &[&id])}),
        )
        .await;
    let thread_id = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.store
            .thread_attachments(&thread_id)
            .await
            .unwrap()
            .len(),
        1
    );

    app.ok("ann", "threads.delete", json!({"thread_id": thread_id}))
        .await;
    assert!(app.row("ann", &id).await.is_none());
    assert!(
        app.store
            .thread_attachments(&thread_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!app.storage_dir.join(&key).exists());
}
