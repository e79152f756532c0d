//! Attachments in an S3-compatible bucket (moto's server, started per test): both upload
//! strategies stored as objects under the configured prefix and served back, read for the
//! model, deletion and the purge removing the objects, a 200 MiB file streamed through a
//! multipart upload, checks that fail or clients that go away leaving no object and no open
//! upload, and the store dying mid-upload or before a download answering `503` (with nothing
//! left `uploaded`). The storage does not depend on the database, so these run on SQLite only.

use base64::Engine;
use chatkit_server::store::Role;
use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{SECRET, header, id_of, message_input};
use crate::support::app::{Db, TestApp, eventually, spawn_app_with, spawn_llm_app_with};
use crate::support::console::{PASSWORD, add_operator, sign_in};
use crate::support::fake_llm::Reply;
use crate::support::fixtures::PNG;
use crate::support::s3::Moto;

const PREFIX: &str = "chat/files";
const MIB: usize = 1024 * 1024;

/// A server storing in `moto`'s bucket under [`PREFIX`], with `extra` variables.
async fn s3_app(moto: &Moto, extra: &[(&str, &str)]) -> TestApp {
    let vars = moto.vars(PREFIX);
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("CHATKIT_SECRET_KEY", SECRET));
    all.extend_from_slice(extra);
    spawn_app_with(Db::Sqlite, &all).await.expect("sqlite app")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_files_reach_the_model() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let vars = moto.vars(PREFIX);
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend([
        ("CHATKIT_SECRET_KEY", SECRET),
        ("CHATKIT_AUTO_TITLES", "false"),
    ]);
    let (app, llm) = spawn_llm_app_with(Db::Sqlite, &all)
        .await
        .expect("sqlite app");
    let image = app.two_phase("ann", "cat.png", "image/png", PNG).await;
    let long: Vec<u8> = (0..40 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let big = app.two_phase("ann", "big.txt", "text/plain", &long).await;
    let ids = [id_of(&image), id_of(&big)];

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
    let parts = user["content"].as_array().expect("parts");
    let data_url = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(PNG)
    );
    assert_eq!(
        parts[1],
        json!({"type": "image_url", "image_url": {"url": data_url}})
    );
    let truncated = parts[2]["text"].as_str().unwrap();
    assert!(
        truncated.contains(&String::from_utf8_lossy(&long[..32 * 1024]).into_owned())
            && !truncated.contains(&String::from_utf8_lossy(&long[..32 * 1024 + 1]).into_owned())
            && truncated.contains("Truncated: only the first 32768 of 40960 bytes"),
        "the start of the object, up to the cap"
    );
}

impl TestApp {
    /// The storage key of an attachment, as recorded in its row.
    async fn key_of(&self, user: &str, id: &str) -> String {
        self.row(user, id).await.unwrap().storage_key.unwrap()
    }
}

/// Byte `i` of the large test file: a pattern that no chunk boundary lines up with.
fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| (i % 251) as u8).collect()
}

/// `len` bytes of [`pattern`] as a request body made as it is sent, in 1 MiB chunks.
fn generated_body(len: usize) -> reqwest::Body {
    let chunks = (0..len.div_ceil(MIB))
        .map(move |n| Ok::<_, std::io::Error>(pattern(n * MIB, MIB.min(len - n * MIB))));
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// The upload URL of a new attachment of `size` bytes.
async fn upload_url(app: &TestApp, name: &str, size: usize) -> (String, String) {
    let created = app.create_attachment("ann", name, size, "text/plain").await;
    assert_eq!(created.status, 200, "{created:?}");
    let created = created.json();
    let url = created["upload_descriptor"]["url"].as_str().unwrap();
    (id_of(&created), url.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_uploads_are_stored_served_and_deleted() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let app = s3_app(&moto, &[]).await;

    // Two-phase: the object appears under the prefix, whole, once the upload answers.
    let text = b"hello from a bucket";
    let file = app.two_phase("ann", "notes.txt", "text/plain", text).await;
    let id = id_of(&file);
    let row = app.row("ann", &id).await.unwrap();
    assert_eq!(row.state, "uploaded");
    assert_eq!(
        row.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(text)).as_str())
    );
    let object = format!("{PREFIX}/{}", row.storage_key.unwrap());
    assert_eq!(moto.object(&object).await.as_deref(), Some(text.as_slice()));
    assert!(
        std::fs::read_dir(&app.storage_dir)
            .unwrap()
            .next()
            .is_none(),
        "nothing is written to a local folder"
    );

    // Served back from the bucket, streamed with its length.
    let (got, headers, bytes) = app.get_content(&app.content_url(&id), Some("ann")).await;
    assert_eq!(
        (got.status, bytes.as_slice()),
        (200, text.as_slice()),
        "{got:?}"
    );
    assert!(got.content_type.starts_with("text/plain"), "{got:?}");
    assert_eq!(header(&headers, "content-length"), text.len().to_string());
    assert_eq!(header(&headers, "accept-ranges"), "none");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(header(&headers, "content-disposition").starts_with("attachment;"));

    // Direct: an image, whose signed preview URL works without credentials.
    let image = app
        .upload_direct("ann", "dot.png", Some("image/png"), PNG)
        .await;
    assert_eq!(image.status, 200, "{image:?}");
    let image = image.json();
    let image_key = app.key_of("ann", &id_of(&image)).await;
    assert_eq!(
        moto.object(&format!("{PREFIX}/{image_key}"))
            .await
            .as_deref(),
        Some(PNG)
    );
    let (got, headers, bytes) = app
        .get_content(image["preview_url"].as_str().unwrap(), None)
        .await;
    assert_eq!((got.status, bytes.as_slice()), (200, PNG));
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");

    // Deleted: the object goes with the row.
    app.ok("ann", "attachments.delete", json!({"attachment_id": id}))
        .await;
    assert_eq!(moto.object(&object).await, None);
    let (gone, _, _) = app.get_content(&app.content_url(&id), Some("ann")).await;
    assert_eq!(gone.status, 404);

    // An object removed behind the server's back is a 404, not an error.
    moto.delete(&format!("{PREFIX}/{image_key}")).await;
    let (missing, _, _) = app
        .get_content(image["preview_url"].as_str().unwrap(), None)
        .await;
    assert_eq!(missing.status, 404, "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_sweep_purges_unused_uploads() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let app = s3_app(
        &moto,
        &[
            ("CHATKIT_ATTACHMENT_ORPHAN_HOURS", "0.001"),
            ("CHATKIT_ATTACHMENT_SWEEP_SECS", "1"),
        ],
    )
    .await;
    let orphan = app
        .two_phase("ann", "orphan.txt", "text/plain", b"dropped")
        .await;
    let object = format!("{PREFIX}/{}", app.key_of("ann", &id_of(&orphan)).await);
    assert!(moto.object(&object).await.is_some());
    let id = id_of(&orphan);
    eventually("the sweep to purge the unused upload", || {
        let (app, id) = (&app, id.clone());
        async move { app.row("ann", &id).await.is_none().then_some(()) }
    })
    .await;
    eventually("its object to go too", || {
        let (moto, object) = (&moto, object.clone());
        async move { moto.object(&object).await.is_none().then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_large_files_stream_through_a_multipart_upload() {
    const SIZE: usize = 200 * MIB;
    /// sha256 of the 200 MiB of [`pattern`].
    const SHA256: &str = "6e4953891db2598722fa6ade0d4ea1794faa51153365526287dabce238d401d2";
    let Some(moto) = Moto::start().await else {
        return;
    };
    let max = (256 * MIB).to_string();
    let app = s3_app(&moto, &[("CHATKIT_UPLOAD_MAX_BYTES", &max)]).await;

    let (id, url) = upload_url(&app, "big.txt", SIZE).await;
    let response = app
        .client
        .put(&url)
        .body(generated_body(SIZE))
        .send()
        .await
        .expect("upload sent");
    assert_eq!(response.status(), 200);
    let row = app.row("ann", &id).await.unwrap();
    assert_eq!(row.state, "uploaded");
    assert_eq!(
        (row.size, row.sha256.as_deref()),
        (SIZE as i64, Some(SHA256))
    );
    let object = format!("{PREFIX}/{}", row.storage_key.unwrap());
    assert_eq!(moto.object_size(&object).await, Some(SIZE as u64));
    assert_eq!(moto.counts().await, (1, 0), "one object, no open upload");

    // Downloaded as a stream, compared chunk by chunk.
    let response = app
        .client
        .get(app.content_url(&id))
        .header("X-ChatKit-User", "ann")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(SIZE as u64));
    let mut offset = 0;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("download chunk");
        assert!(
            chunk.as_ref() == pattern(offset, chunk.len()).as_slice(),
            "the bytes at {offset} differ"
        );
        offset += chunk.len();
    }
    assert_eq!(offset, SIZE);

    // A file that turns out longer than declared, past the first part: refused, its
    // multipart upload aborted, nothing left.
    let (id, url) = upload_url(&app, "liar.txt", 10 * MIB).await;
    let refused = app
        .client
        .put(&url)
        .body(generated_body(20 * MIB))
        .send()
        .await;
    if let Ok(refused) = refused {
        assert_eq!(refused.status(), 400);
    }
    assert_eq!(app.row("ann", &id).await.unwrap().state, "failed");
    eventually("the refused upload to be aborted", || async {
        (moto.counts().await == (1, 0)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_mid_upload_is_a_503_and_leaves_nothing() {
    const SIZE: usize = 64 * MIB;
    let Some(mut moto) = Moto::start().await else {
        return;
    };
    let max = (SIZE * 2).to_string();
    let app = s3_app(&moto, &[("CHATKIT_UPLOAD_MAX_BYTES", &max)]).await;
    let (id, url) = upload_url(&app, "doomed.txt", SIZE).await;

    // The body is fed by the test: a first part's worth and more, then the store dies.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_of(rx));
    let request = tokio::spawn(app.client.put(&url).body(body).send());
    for n in 0..16 {
        tx.send(Ok(pattern(n * MIB, MIB))).await.unwrap();
    }
    eventually("the multipart upload to begin", || async {
        (moto.counts().await.1 == 1).then_some(())
    })
    .await;
    moto.kill();
    let feeder = tokio::spawn(async move {
        for n in 16..SIZE / MIB {
            if tx.send(Ok(pattern(n * MIB, MIB))).await.is_err() {
                break;
            }
        }
    });
    let response = request.await.unwrap().expect("the server answers");
    feeder.abort();
    let (answer, _, _) = crate::support::answer::Answer::read(response).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (503, "storage_unavailable"),
        "{answer:?}"
    );
    assert!(
        !answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "the store's address stays in the log: {answer:?}"
    );
    let row = app.row("ann", &id).await.unwrap();
    assert_eq!(row.state, "failed", "never uploaded");
    let (content, _, _) = app.get_content(&app.content_url(&id), Some("ann")).await;
    assert_eq!(content.status, 404, "nothing to serve");
}

/// With the store down, a download is a clear `503` for the chat (JSON) and for an operator
/// (the console's error page), never a `500`, and the store's address stays in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_makes_downloads_unavailable() {
    let Some(mut moto) = Moto::start().await else {
        return;
    };
    let app = s3_app(&moto, &[]).await;
    let file = app
        .two_phase("ann", "notes.txt", "text/plain", b"kept in a bucket")
        .await;
    let id = id_of(&file);
    add_operator(&app, "reviewer@example.com", Role::Reviewer).await;
    let reviewer = sign_in(&app, "reviewer@example.com", PASSWORD).await;
    let download = format!("/admin/attachments/{id}/download");
    assert_eq!(reviewer.get(&download).await.status, 200);

    moto.kill();
    let (chat, _, _) = app.get_content(&app.content_url(&id), Some("ann")).await;
    assert_eq!(
        (chat.status, chat.error_code().as_str()),
        (503, "storage_unavailable"),
        "{chat:?}"
    );
    let page = reviewer.get(&download).await;
    assert_eq!(page.status, 503, "{page:?}");
    assert!(
        page.body.contains("Attachment storage unavailable"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("127.0.0.1"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_client_that_goes_away_leaves_no_upload() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let max = (64 * MIB).to_string();
    let app = s3_app(&moto, &[("CHATKIT_UPLOAD_MAX_BYTES", &max)]).await;
    let (id, url) = upload_url(&app, "gone.txt", 32 * MIB).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let request = tokio::spawn(
        app.client
            .put(&url)
            .body(reqwest::Body::wrap_stream(tokio_stream_of(rx)))
            .send(),
    );
    for n in 0..12 {
        tx.send(Ok(pattern(n * MIB, MIB))).await.unwrap();
    }
    eventually("the multipart upload to begin", || async {
        (moto.counts().await.1 == 1).then_some(())
    })
    .await;
    // The client fails mid-body: the connection goes.
    tx.send(Err(std::io::Error::other("client gave up")))
        .await
        .unwrap();
    let _ = request.await;
    eventually("the open upload to be aborted", || async {
        (moto.counts().await == (0, 0)).then_some(())
    })
    .await;
    eventually("the attachment to be marked failed", || {
        let (app, id) = (&app, id.clone());
        async move { (app.row("ann", &id).await.unwrap().state == "failed").then_some(()) }
    })
    .await;
}

/// A stream of what arrives on `rx`.
fn tokio_stream_of<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|t| (t, rx)) })
}
