//! Attachments once uploaded: out of reach of other users and other agents, carried by
//! messages (checked, stamped, shown with fresh preview URLs), sent to the model, kept across a
//! restart, purged when never used, and deleted with their thread.

use base64::Engine;
use serde_json::{Value, json};

use super::{SECRET, VARS, id_of, message_input};
use crate::support::answer::Answer;
use crate::support::app::{TestApp, add_agent, eventually, serve};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{PNG, multipart};
use crate::support::macros::{db_test, llm_test};

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
    assert_eq!(Answer::read(response).await.0.status, 404);
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
    assert_eq!(Answer::read(create.await.unwrap()).await.0.status, 404);
    let delete = to_other("attachments.delete", json!({"attachment_id": id}));
    assert_eq!(Answer::read(delete.await.unwrap()).await.0.status, 404);
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
    let (used, _, _) = Answer::read(used.await.unwrap()).await;
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
    let (got, _, bytes) = Answer::read(response).await;
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
    // The rows go first (in one statement), then their files.
    let path = app.storage_dir.join(&key);
    eventually("its bytes to go too", || {
        let path = path.clone();
        async move { (!path.exists()).then_some(()) }
    })
    .await;
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
