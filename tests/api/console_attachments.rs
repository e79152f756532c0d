//! The console's attachments browser through the real server: filters alone and combined, the
//! totals of a filter, and keyset paging; downloads, previews and deletion are in `files`.
//! Data is made through the chat's own upload routes; only timestamps are set in SQL, to make
//! ties.

mod files;

use std::collections::HashSet;

use chatkit_server::store::Role;
use serde_json::{Value, json};

use crate::support::app::{TestApp, add_agent, tie_in_threes};
use crate::support::console::{
    ConsoleSession, PASSWORD, add_operator, attribute_values, get, sign_in,
};
use crate::support::fixtures::{PNG, multipart};
use crate::support::macros::db_test;

const ADMIN: &str = "admin@example.com";
const REVIEWER: &str = "reviewer@example.com";
/// A file name that is markup.
const XSS_NAME: &str = "<img src=x onerror=alert(1)>.txt";
const HTML: &[u8] = b"<html><script>alert(document.cookie)</script></html>";
const PDF: &[u8] = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

/// Signs in a new operator with `role`.
async fn operator(app: &TestApp, email: &str, role: Role) -> ConsoleSession {
    add_operator(app, email, role).await;
    sign_in(app, email, PASSWORD).await
}

/// A direct upload as `user`, to agent `agent` when given; the attachment's id.
async fn upload(
    app: &TestApp,
    user: &str,
    agent: Option<&str>,
    name: &str,
    mime: &str,
    bytes: &[u8],
) -> String {
    let (content_type, body) = multipart("file", Some(name), Some(mime), bytes);
    let query = agent.map(|a| format!("?agent={a}")).unwrap_or_default();
    let answer = app
        .upload_direct_raw(user, &query, &content_type, body)
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()["id"].as_str().unwrap().to_owned()
}

/// `attachments.create` as `user`: a pending attachment and its upload URL.
async fn create(
    app: &TestApp,
    user: &str,
    name: &str,
    size: usize,
    mime: &str,
) -> (String, String) {
    let created = app
        .ok(
            user,
            "attachments.create",
            json!({"name": name, "size": size, "mime_type": mime}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let url = created["upload_descriptor"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, url)
}

fn message(text: &str, attachments: &[&str]) -> Value {
    json!({"content": [{"type": "input_text", "text": text}], "attachments": attachments,
           "inference_options": {}})
}

/// The attachment ids of a list page's rows, in order.
fn rows(html: &str) -> Vec<String> {
    attribute_values(html, "data-attachment")
}

/// The `href` of the link marked `rel="next"`, unescaped.
fn next_link(html: &str) -> Option<String> {
    let end = html.find("\" rel=\"next\"")?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&#38;", "&"))
}

/// The count and bytes of the totals above the table.
fn totals(html: &str) -> (i64, i64) {
    let count_at = html.find("data-total-count>").unwrap() + "data-total-count>".len();
    let count = html[count_at..html[count_at..].find('<').unwrap() + count_at]
        .trim()
        .parse()
        .unwrap();
    let bytes = attribute_values(html, "data-total-bytes")[0]
        .parse()
        .unwrap();
    (count, bytes)
}

/// The attachments every filter test starts from.
struct Seeded {
    /// ana, default agent, an image sent in a message of `thread`.
    photo: String,
    thread: String,
    message: String,
    /// ana, default agent, orphaned.
    pdf: String,
    /// ana, agent `support`, orphaned.
    html: String,
    /// ben, agent `support`, orphaned.
    notes: String,
    /// ben, default agent, never uploaded.
    pending: String,
    /// ben, default agent, refused (not a PNG).
    failed: String,
    /// ana, default agent, a name that is markup.
    xss: String,
    support_agent: String,
}

impl Seeded {
    fn bytes_of(&self, id: &str) -> i64 {
        let len = if id == self.photo {
            PNG.len()
        } else if id == self.pdf {
            PDF.len()
        } else if id == self.html {
            HTML.len()
        } else if id == self.notes {
            b"hello".len()
        } else if id == self.pending {
            10
        } else if id == self.failed {
            8
        } else {
            b"plain".len()
        };
        len as i64
    }
}

async fn seed(app: &TestApp) -> Seeded {
    let support_agent = add_agent(app, "support").await;
    let photo = upload(app, "ana", None, "cat.png", "image/png", PNG).await;
    let events = app
        .stream(
            "ana",
            "threads.create",
            json!({"input": message("look", &[&photo])}),
        )
        .await;
    let thread = events[0]["thread"]["id"].as_str().unwrap().to_owned();
    let message = events[1]["item"]["id"].as_str().unwrap().to_owned();
    let pdf = upload(app, "ana", None, "report.pdf", "application/pdf", PDF).await;
    let html = upload(app, "ana", Some("support"), "page.html", "text/html", HTML).await;
    let notes = upload(
        app,
        "ben",
        Some("support"),
        "notes.txt",
        "text/plain",
        b"hello",
    )
    .await;
    let (pending, _) = create(app, "ben", "later.png", 10, "image/png").await;
    let (failed, url) = create(app, "ben", "bad.png", 8, "image/png").await;
    let refused = app.upload_to(&url, b"notapng!").await;
    assert_eq!(refused.status, 400, "{refused:?}");
    let xss = upload(app, "ana", None, XSS_NAME, "text/plain", b"plain").await;
    Seeded {
        photo,
        thread,
        message,
        pdf,
        html,
        notes,
        pending,
        failed,
        xss,
        support_agent,
    }
}

db_test!(filters_combine_and_totals_follow_them);
async fn filters_combine_and_totals_follow_them(app: TestApp) {
    let s = seed(&app).await;
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;

    // Everything, newest first.
    let all = reviewer.get("/admin/attachments").await;
    assert_eq!(all.status, 200, "{all:?}");
    all.assert_secure();
    let newest_first = [
        &s.xss, &s.failed, &s.pending, &s.notes, &s.html, &s.pdf, &s.photo,
    ];
    assert_eq!(rows(&all.body), newest_first.map(|id| id.to_owned()));
    let every_byte: i64 = newest_first.iter().map(|id| s.bytes_of(id)).sum();
    assert_eq!(totals(&all.body), (7, every_byte));

    let support = format!("agent={}", s.support_agent);
    let cases: Vec<(String, Vec<&String>)> = vec![
        ("user=ana".into(), vec![&s.xss, &s.html, &s.pdf, &s.photo]),
        (support.clone(), vec![&s.notes, &s.html]),
        ("type=image/".into(), vec![&s.failed, &s.pending, &s.photo]),
        ("type=image".into(), vec![&s.failed, &s.pending, &s.photo]),
        ("type=application/pdf".into(), vec![&s.pdf]),
        ("type=text/".into(), vec![&s.xss, &s.notes, &s.html]),
        ("state=pending".into(), vec![&s.pending]),
        ("state=failed".into(), vec![&s.failed]),
        ("state=uploading".into(), vec![]),
        (
            "state=uploaded".into(),
            vec![&s.xss, &s.notes, &s.html, &s.pdf, &s.photo],
        ),
        (
            "orphaned=1".into(),
            vec![&s.xss, &s.failed, &s.pending, &s.notes, &s.html, &s.pdf],
        ),
        // Combined.
        ("user=ana&type=text/".into(), vec![&s.xss, &s.html]),
        ("user=ben&type=image/&state=failed".into(), vec![&s.failed]),
        (format!("{support}&user=ben&orphaned=1"), vec![&s.notes]),
        (
            format!("{support}&type=text/html&state=uploaded"),
            vec![&s.html],
        ),
        ("user=ana&type=image/&state=uploaded".into(), vec![&s.photo]),
        ("user=ana&type=image/&orphaned=1".into(), vec![]),
    ];
    for (query, expected) in cases {
        let page = reviewer.get(&format!("/admin/attachments?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {page:?}");
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(rows(&page.body), expected, "{query}");
        let bytes = expected.iter().map(|id| s.bytes_of(id)).sum();
        assert_eq!(
            totals(&page.body),
            (expected.len() as i64, bytes),
            "{query}"
        );
        if expected.is_empty() {
            assert!(
                page.body.contains("Nothing matches these filters."),
                "{query}"
            );
        }
    }

    // What a row says: a thumbnail for the uploaded image only, the thread's link, sizes.
    let photo_row = row_html(&all.body, &s.photo);
    assert!(photo_row.contains(&format!("src=\"/admin/attachments/{}/preview\"", s.photo)));
    assert!(photo_row.contains(&format!("href=\"/admin/threads/{}\"", s.thread)));
    assert!(photo_row.contains("image/png"));
    let pdf_row = row_html(&all.body, &s.pdf);
    assert!(!pdf_row.contains("/preview"), "{pdf_row}");
    assert!(
        pdf_row.contains(">PDF<") && pdf_row.contains("orphaned"),
        "{pdf_row}"
    );
    assert!(pdf_row.contains(&format!(">{} B<", PDF.len())), "{pdf_row}");
    let sha = app
        .store
        .load_attachment_by_id(&s.pdf)
        .await
        .unwrap()
        .sha256
        .unwrap();
    assert!(
        pdf_row.contains(&format!("title=\"{sha}\">{}…<", &sha[..12])),
        "{pdf_row}"
    );
    assert!(!row_html(&all.body, &s.pending).contains("/preview"));
    assert!(!row_html(&all.body, &s.pending).contains("/download"));

    // A file name that is markup stays text.
    assert!(!all.body.contains("<img src=x"), "the name is escaped");
    assert!(
        all.body
            .contains("&#60;img src=x onerror=alert(1)&#62;.txt")
    );

    // A state that does not exist is said and ignored; a cursor that names nothing is refused.
    let odd = reviewer.get("/admin/attachments?state=done").await;
    assert_eq!(odd.status, 200);
    assert!(
        odd.body
            .contains("State: &#39;done&#39; is not an upload state; ignored."),
        "{}",
        odd.body
    );
    assert_eq!(rows(&odd.body).len(), 7);
    let stale = reviewer
        .get("/admin/attachments?after=atc_0000000000000000")
        .await;
    assert_eq!(stale.status, 400, "{stale:?}");

    // Strangers are sent to sign in.
    let stranger = get(&app, "/admin/attachments").await;
    assert_eq!(stranger.status, 303);
    assert_eq!(stranger.location(), "/admin/login?next=/admin/attachments");
}

/// The `<tr>` of attachment `id`.
fn row_html<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("data-attachment=\"{id}\"")).unwrap();
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

db_test!(pages_follow_the_keyset_without_gaps_or_repeats);
async fn pages_follow_the_keyset_without_gaps_or_repeats(app: TestApp) {
    // 70 files, created in groups of three sharing a timestamp, so ties need the id.
    let mut made = Vec::new();
    for n in 0..70 {
        let user = if n % 5 == 4 { "ben" } else { "ana" };
        let id = upload(&app, user, None, &format!("f{n}.txt"), "text/plain", b"x").await;
        made.push((id, user));
    }
    let expected = tie_in_threes(
        &app.db_url,
        "attachments",
        "created_at",
        "2026-01-01",
        &made,
    );
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;

    for (query, user) in [("", None), ("?user=ana", Some("ana"))] {
        let wanted: Vec<String> = expected
            .iter()
            .filter(|(_, u)| user.is_none_or(|user| *u == user))
            .map(|(id, _)| id.clone())
            .collect();
        let mut seen = Vec::new();
        let mut next = Some(format!("/admin/attachments{query}"));
        let mut pages = 0;
        while let Some(path) = next {
            let page = reviewer.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {page:?}");
            let ids = rows(&page.body);
            assert!(ids.len() <= 50);
            // Every page shows the totals of the whole filter.
            assert_eq!(totals(&page.body).0, wanted.len() as i64);
            if pages > 0 {
                assert!(page.body.contains("Newest"), "a way back to the first page");
            }
            seen.extend(ids);
            next = next_link(&page.body);
            if let (Some(next), Some(user)) = (&next, user) {
                assert!(next.contains(&format!("user={user}")), "{next}");
            }
            pages += 1;
        }
        assert_eq!(pages, 2, "{query}");
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no row twice: {query}");
        assert_eq!(seen, wanted, "every row once, in order: {query}");
    }
}
