//! What operators do with one attachment: download it (never as active content, audited),
//! preview an image, and delete it (admins only, with the CSRF token, audited).

use chatkit_server::store::{BlobStore, Role};
use serde_json::json;

use super::{ADMIN, HTML, REVIEWER, operator, rows, seed, totals};
use crate::support::app::TestApp;
use crate::support::console::audit_rows;
use crate::support::console::get;
use crate::support::fixtures::PNG;
use crate::support::macros::db_test;

db_test!(downloads_and_previews_are_safe);
async fn downloads_and_previews_are_safe(app: TestApp) {
    let s = seed(&app).await;
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;
    let download = |id: &str| format!("/admin/attachments/{id}/download");
    let preview = |id: &str| format!("/admin/attachments/{id}/preview");

    // HTML downloads as bytes, never as a page.
    let html = reviewer.get(&download(&s.html)).await;
    assert_eq!(html.status, 200, "{html:?}");
    assert_eq!(
        html.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(html.header("x-content-type-options"), Some("nosniff"));
    let disposition = html.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename=\"page.html\""),
        "{disposition}"
    );
    assert!(
        html.header("content-security-policy")
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert_eq!(html.body.as_bytes(), HTML);

    // Passive types keep their type, still as a download.
    let pdf = reviewer.get(&download(&s.pdf)).await;
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert!(
        pdf.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    let photo = reviewer.get(&download(&s.photo)).await;
    assert_eq!(photo.header("content-type"), Some("image/png"));
    assert!(
        photo
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );

    // A name that is markup: plain ASCII in filename=, the real name in filename*=.
    let xss = reviewer.get(&download(&s.xss)).await;
    let disposition = xss.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename=\"_img src=x onerror=alert(1)_.txt\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''%3Cimg"),
        "{disposition}"
    );

    // Downloads are audited, with who and what.
    let audited = audit_rows(&app, "attachment.download").await;
    let ids: Vec<_> = audited
        .iter()
        .map(|e| e.object_id.clone().unwrap())
        .collect();
    assert_eq!(
        ids,
        [&s.html, &s.pdf, &s.photo, &s.xss].map(|id| id.clone())
    );
    assert_eq!(audited[0].operator_email.as_deref(), Some(REVIEWER));
    assert_eq!(audited[0].object_type.as_deref(), Some("attachment"));
    assert_eq!(audited[0].detail["name"], "page.html");
    assert_eq!(audited[0].detail["user_id"], "ana");

    // Previews: uploaded images only, inline, under a policy that allows nothing else.
    let thumb = reviewer.get(&preview(&s.photo)).await;
    assert_eq!(thumb.status, 200, "{thumb:?}");
    assert_eq!(thumb.header("content-type"), Some("image/png"));
    assert!(
        thumb
            .header("content-disposition")
            .unwrap()
            .starts_with("inline;")
    );
    assert_eq!(
        thumb.header("content-security-policy"),
        Some("default-src 'none'")
    );
    assert_eq!(thumb.header("x-content-type-options"), Some("nosniff"));
    for refused in [&s.html, &s.pdf, &s.xss, &s.pending, &s.failed] {
        let page = reviewer.get(&preview(refused)).await;
        assert_eq!(page.status, 404, "{refused}: {page:?}");
        assert!(!page.body.as_bytes().starts_with(b"\x89PNG"));
    }
    assert_eq!(
        audit_rows(&app, "attachment.download").await.len(),
        4,
        "previews are not"
    );

    // Nothing to download yet, or nothing at all.
    for missing in [&s.pending, &s.failed, &"atc_0000000000000000".to_owned()] {
        assert_eq!(
            reviewer.get(&download(missing)).await.status,
            404,
            "{missing}"
        );
    }
    assert_eq!(audit_rows(&app, "attachment.download").await.len(), 4);

    // Strangers get nothing.
    let stranger = get(&app, &download(&s.pdf)).await;
    assert_eq!(stranger.status, 303);
    assert!(stranger.location().starts_with("/admin/login"));
}

db_test!(only_admins_delete_with_the_form_token);
async fn only_admins_delete_with_the_form_token(app: TestApp) {
    let s = seed(&app).await;
    let admin = operator(&app, ADMIN, Role::Admin).await;
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;
    let row = app.store.load_attachment_by_id(&s.photo).await.unwrap();
    let file = app.storage_dir.join(BlobStore::key_for(&s.photo));
    assert_eq!(row.storage_key, Some(BlobStore::key_for(&s.photo)));
    assert!(file.exists());
    let path = format!("/admin/attachments/{}/delete", s.photo);
    let intact = |app: &TestApp| {
        let (app, id, file) = (app.store.clone(), s.photo.clone(), file.clone());
        async move {
            assert!(
                app.load_attachment_by_id(&id).await.is_ok(),
                "the row is there"
            );
            assert!(file.exists(), "the file is there");
        }
    };

    // Reviewers: neither the confirmation nor the deletion, and no Delete button.
    assert_eq!(reviewer.get(&path).await.status, 403);
    let refused = reviewer.act(&path, &[]).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    intact(&app).await;
    assert!(
        !reviewer
            .get("/admin/attachments")
            .await
            .body
            .contains("/delete\"")
    );

    // Admins without the session's token: refused.
    assert_eq!(admin.post(&path, &[]).await.status, 403);
    assert_eq!(
        admin.post(&path, &[("csrf_token", "forged")]).await.status,
        403
    );
    assert_eq!(
        admin
            .post(&path, &[("csrf_token", &reviewer.csrf_token)])
            .await
            .status,
        403
    );
    intact(&app).await;
    assert!(audit_rows(&app, "attachment.delete").await.is_empty());

    // The confirmation says what goes, and which message loses it.
    let confirm = admin.get(&path).await;
    assert_eq!(confirm.status, 200, "{confirm:?}");
    confirm.assert_secure();
    assert!(confirm.body.contains("cat.png"));
    assert!(confirm.body.contains(&format!("<dd>{} B</dd>", PNG.len())));
    assert!(confirm.body.contains(&format!(
        "href=\"/admin/threads/{}#item-{}\"",
        s.thread, s.message
    )));
    assert!(confirm.body.contains("stored file"));
    assert!(confirm.body.contains(&format!(
        "name=\"csrf_token\" value=\"{}\"",
        admin.csrf_token
    )));
    let orphan = admin
        .get(&format!("/admin/attachments/{}/delete", s.pdf))
        .await;
    assert!(
        orphan.body.contains("No message uses it"),
        "{}",
        orphan.body
    );
    let pending = admin
        .get(&format!("/admin/attachments/{}/delete", s.pending))
        .await;
    assert!(
        !pending.body.contains("stored file"),
        "nothing stored for a pending upload"
    );
    assert!(
        admin
            .get("/admin/attachments")
            .await
            .body
            .contains(&format!("href=\"{path}\""))
    );

    // With the token: the row and the file go, the deletion is audited, the list says so.
    let done = admin.act(&path, &[]).await;
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(done.location(), "/admin/attachments?done=deleted");
    assert!(app.store.load_attachment_by_id(&s.photo).await.is_err());
    assert!(!file.exists());
    let audited = audit_rows(&app, "attachment.delete").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].operator_email.as_deref(), Some(ADMIN));
    assert_eq!(audited[0].object_id.as_deref(), Some(s.photo.as_str()));
    assert_eq!(audited[0].detail["name"], "cat.png");
    assert_eq!(audited[0].detail["thread_id"], json!(s.thread));
    assert_eq!(audited[0].detail["message_id"], json!(s.message));
    let list = admin.get("/admin/attachments?done=deleted").await;
    assert!(list.body.contains("Attachment deleted."));
    assert!(!rows(&list.body).contains(&s.photo));
    assert_eq!(totals(&list.body).0, 6);

    // The thread is still there; the message's file no longer opens.
    let thread = app
        .ok("ana", "threads.get_by_id", json!({"thread_id": s.thread}))
        .await;
    assert_eq!(thread["id"], json!(s.thread));
    assert_eq!(admin.act(&path, &[]).await.status, 404);
    assert_eq!(
        admin
            .get(&format!("/admin/attachments/{}/download", s.photo))
            .await
            .status,
        404
    );

    // An orphan goes the same way, and other files stay.
    assert_eq!(
        admin
            .act(&format!("/admin/attachments/{}/delete", s.html), &[])
            .await
            .status,
        303
    );
    assert!(app.store.load_attachment_by_id(&s.html).await.is_err());
    assert!(app.storage_dir.join(BlobStore::key_for(&s.pdf)).exists());
    assert_eq!(audit_rows(&app, "attachment.delete").await.len(), 2);
}
