//! The console's thread list through the real server: threads made through the ChatKit
//! endpoint with the fake model (a rated answer, a waiting form, a failed run), then the
//! order, what a row shows, every filter alone and combined, full-text search (hostile text
//! included), keyset paging walked both ways, and what a stranger gets. The transcript is in
//! `transcript`, exports, deletion and the view audit in `actions`, the pages in a real
//! browser in `browser`.

mod actions;
mod browser;
mod transcript;

use std::collections::HashSet;

use chatkit_server::store::Role;
use serde_json::json;

use crate::support::app::{
    Db, TestApp, add_agent, eventually, execute_sql, spawn_llm_app_with, sql_count, tie_in_threes,
};
use crate::support::console::{
    ConsoleSession, FORM, PASSWORD, add_operator, attribute_values, client, form_body, get, sign_in,
};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::{ask, user_input};
use crate::support::macros::llm_test;
use crate::support::turns::{rate, say, turn};

const REVIEWER: &str = "reviewer@example.com";
/// The fake model's answers need no title request in between.
const VARS: &[(&str, &str)] = &[("CHATKIT_AUTO_TITLES", "false")];

/// `threads.update` of the title as `user`.
async fn retitle(app: &TestApp, agent: Option<&str>, user: &str, thread: &str, title: &str) {
    let params = json!({"thread_id": thread, "title": title});
    let answer = app.send_to(agent, user, "threads.update", params).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// The thread ids of a list page's rows, in order.
fn rows(html: &str) -> Vec<String> {
    attribute_values(html, "tr class=\"linked\" data-id")
}

/// The `<tr>` of thread `id`.
fn row_html<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("data-id=\"{id}\"")).unwrap();
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

/// The `href` of the pager link marked `rel` (`next` or `prev`), unescaped.
fn pager_link(html: &str, rel: &str) -> Option<String> {
    let end = html.find(&format!("\" rel=\"{rel}\""))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&#38;", "&"))
}

/// `text` as askama escapes it.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Signs in a new operator with `role`.
async fn operator(app: &TestApp, email: &str, role: Role) -> ConsoleSession {
    add_operator(app, email, role).await;
    sign_in(app, email, PASSWORD).await
}

/// The threads every list test starts from, newest first.
struct Seeded {
    /// cara, default agent, untitled, one plain turn.
    plain: String,
    /// ana, agent `support`: the model's stream broke (a failed run).
    failed: String,
    /// ben, agent `support`: a form waits for an answer.
    pending: String,
    /// ana, default agent, titled "Zebra case": a refund question, rated thumbs-down.
    rated: String,
    support: String,
}

async fn seed(app: &TestApp, llm: &FakeLlm) -> Seeded {
    let support = add_agent(app, "support").await;
    let (rated, answer) = turn(
        app,
        llm,
        None,
        "ana",
        None,
        "I want a refund for order 1234",
        "Refunds take five working days.",
    )
    .await;
    retitle(app, None, "ana", &rated, "Zebra case").await;
    rate(app, None, "ana", &rated, &[&answer], "negative").await;

    ask(llm);
    let (pending, _) = say(
        app,
        Some("support"),
        "ben",
        None,
        user_input("Shipping to Oslo please"),
    )
    .await;

    llm.push(Reply::BreakAfter(vec!["Half an ".into(), "answer".into()]));
    let (failed, events) = say(
        app,
        Some("support"),
        "ana",
        None,
        user_input("Why is the invoice wrong?"),
    )
    .await;
    assert_eq!(events.last().unwrap()["type"], "error", "{events:?}");

    let (plain, _) = turn(app, llm, None, "cara", None, "Hello there", "Hi!").await;
    Seeded {
        plain,
        failed,
        pending,
        rated,
        support,
    }
}

/// On SQLite the server indexes the messages of turns for search in batches, about once a
/// second, whether or not anyone searches (a search indexes what waits first: see the test
/// above). Read straight from the index, without the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_indexed_for_search_without_a_search() {
    let (app, llm) = spawn_llm_app_with(Db::Sqlite, VARS)
        .await
        .expect("sqlite app");
    turn(
        &app,
        &llm,
        None,
        "ana",
        None,
        "Where is my kayak",
        "Kayaks ship Monday.",
    )
    .await;
    let found = |word: &str| {
        let sql = format!("SELECT COUNT(*) AS n FROM search_fts WHERE search_fts MATCH '{word}'");
        sql_count(&app.db_url, &sql)
    };
    eventually("the turn's messages in the search index", || async {
        (found("kayak") == 1 && found("monday") == 1).then_some(())
    })
    .await;
    let waiting = sql_count(&app.db_url, "SELECT COUNT(*) AS n FROM search_pending");
    assert_eq!(waiting, 0);
}

llm_test!(the_list_filters_searches_and_shows_each_thread, vars = VARS);
async fn the_list_filters_searches_and_shows_each_thread(app: TestApp, llm: FakeLlm) {
    let s = seed(&app, &llm).await;
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;

    // Newest activity first.
    let page = reviewer.get("/admin/threads").await;
    assert_eq!(page.status, 200, "{page:?}");
    page.assert_secure();
    assert_eq!(
        rows(&page.body),
        [&s.plain, &s.failed, &s.pending, &s.rated].map(String::clone)
    );

    // What a row shows: title, user, agent, item count, last activity, badges.
    let rated = row_html(&page.body, &s.rated);
    let items = app.store.count_items(&s.rated).await.unwrap();
    assert!(items >= 2, "{items}");
    for shown in [
        format!("href=\"/admin/threads/{}\">Zebra case</a>", s.rated),
        "<a href=\"/admin/threads?user=ana\" title=\"All threads of ana\">ana</a>".to_owned(),
        format!("<td data-label=\"Items\" class=\"num\">{items}</td>"),
        "<span class=\"badge badge-negative\" title=\"1 negative feedback\">▼ 1</span>".to_owned(),
        "<time datetime=\"20".to_owned(),
        " UTC</time>".to_owned(),
    ] {
        assert!(rated.contains(&shown), "{shown} in {rated}");
    }
    assert!(!rated.contains("badge-pending") && !rated.contains("badge-error"));
    let pending = row_html(&page.body, &s.pending);
    assert!(pending.contains("Form waiting"), "{pending}");
    assert!(pending.contains(">support<span class=\"cell-sub mono\">support</span>"));
    assert!(!pending.contains("badge-negative") && !pending.contains("failed run"));
    let failed = row_html(&page.body, &s.failed);
    assert!(failed.contains("<span class=\"badge badge-error\">1 failed run</span>"));
    assert!(!failed.contains("Form waiting"), "{failed}");
    let plain = row_html(&page.body, &s.plain);
    assert!(
        plain.contains("<span class=\"subtle\">Untitled</span>"),
        "{plain}"
    );
    assert!(!plain.contains("badge"), "{plain}");

    // Dates are UTC days of the last activity, both ends included.
    let at = |id: &str, when: &str| {
        execute_sql(
            &app.db_url,
            &format!("UPDATE threads SET updated_at = '{when}' WHERE id = '{id}'"),
        );
    };
    at(&s.rated, "2026-03-01 10:00:00");
    at(&s.pending, "2026-03-02 23:59:59");
    let default_agent = app.store.ensure_defaults().await.unwrap().1.id;
    let cases: Vec<(String, Vec<&String>)> = vec![
        (format!("agent={}", s.support), vec![&s.failed, &s.pending]),
        (format!("agent={default_agent}"), vec![&s.plain, &s.rated]),
        ("user=ana".into(), vec![&s.failed, &s.rated]),
        ("user=ben".into(), vec![&s.pending]),
        ("from=2026-03-02&to=2026-03-02".into(), vec![&s.pending]),
        ("to=2026-03-01".into(), vec![&s.rated]),
        (
            "from=2026-03-02".into(),
            vec![&s.plain, &s.failed, &s.pending],
        ),
        ("pending=1".into(), vec![&s.pending]),
        ("negative=1".into(), vec![&s.rated]),
        ("failed=1".into(), vec![&s.failed]),
        ("user=ana&failed=1".into(), vec![&s.failed]),
        ("user=ana&negative=1&to=2026-03-01".into(), vec![&s.rated]),
        (format!("agent={}&pending=1", s.support), vec![&s.pending]),
        (format!("agent={}&negative=1", s.support), vec![]),
        ("user=ben&failed=1".into(), vec![]),
        ("pending=1&negative=1".into(), vec![]),
        ("q=refund&user=ana&from=2026-03-01".into(), vec![&s.rated]),
        ("q=refund&user=ben".into(), vec![]),
        (
            format!("q=invoice&agent={}&failed=1", s.support),
            vec![&s.failed],
        ),
    ];
    for (query, expected) in cases {
        let page = reviewer.get(&format!("/admin/threads?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {page:?}");
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(rows(&page.body), expected, "{query}");
        assert!(
            page.body.contains("href=\"/admin/threads\">Clear</a>"),
            "{query}"
        );
        if expected.is_empty() {
            assert!(page.body.contains("No matching threads"), "{query}");
        }
    }
    // The agent menu keeps its choice.
    let page = reviewer
        .get(&format!("/admin/threads?agent={}", s.support))
        .await;
    assert!(
        page.body.contains(&format!(
            "<option value=\"{}\" selected>support (support)",
            s.support
        )),
        "{}",
        page.body
    );
    let odd = reviewer
        .get("/admin/threads?from=yesterday&to=2026-13-40")
        .await;
    assert_eq!(odd.status, 200);
    assert!(
        odd.body
            .contains("From: &#39;yesterday&#39; is not a date (YYYY-MM-DD); ignored.")
    );
    assert_eq!(rows(&odd.body).len(), 4);

    // Search: titles, user text and model text; the last word also as a prefix.
    let searches: &[(&str, &[&String])] = &[
        ("zebra", &[&s.rated]),
        ("REFUND", &[&s.rated]),
        ("refunds five", &[&s.rated]),
        ("1234", &[&s.rated]),
        ("refu", &[&s.rated]),
        ("oslo", &[&s.pending]),
        ("invoice wrong", &[&s.failed]),
        ("refund oslo", &[]),
    ];
    for (q, expected) in searches {
        let page = reviewer.get(&format!("/admin/threads?q={q}")).await;
        assert_eq!(page.status, 200, "{q}: {page:?}");
        let expected: Vec<String> = expected.iter().map(|id| (*id).clone()).collect();
        assert_eq!(rows(&page.body), expected, "q={q}");
    }

    // Hostile text is only words: never an error, never a wider match.
    let hostile: &[(&str, Option<&[&String]>)] = &[
        ("refund*", Some(&[&s.rated])),
        ("\"refund", Some(&[&s.rated])),
        ("\"refund\" \"order\"", Some(&[&s.rated])),
        ("-refund", Some(&[&s.rated])),
        ("refund'", Some(&[&s.rated])),
        ("(refund", Some(&[&s.rated])),
        ("refund)", Some(&[&s.rated])),
        ("%ref%", Some(&[&s.rated])),
        ("refund OR oslo", Some(&[])),
        ("NEAR(refund oslo)", Some(&[])),
        ("refund NOT oslo", Some(&[])),
        ("zebra AND", Some(&[])),
        ("' OR 1=1 --", Some(&[])),
        ("'; DROP TABLE threads; --", Some(&[])),
        ("refund:* & !oslo", Some(&[])),
        ("a_b", Some(&[])),
        ("*", None),
        ("%", None),
        ("_", None),
        ("'", None),
        ("\"", None),
        ("((", None),
        ("-", None),
        ("NEAR(", Some(&[])),
        // The last word is a prefix: "or" starts "order".
        ("OR", Some(&[&s.rated])),
    ];
    for (q, expected) in hostile {
        let page = reviewer
            .get(&format!("/admin/threads?{}", form_body(&[("q", q)])))
            .await;
        assert_eq!(page.status, 200, "{q}: {page:?}");
        match expected {
            Some(expected) => {
                let expected: Vec<String> = expected.iter().map(|id| (*id).clone()).collect();
                assert_eq!(rows(&page.body), expected, "q={q}");
            }
            None => {
                assert!(
                    page.body
                        .contains("The search has no words to look for; it is ignored."),
                    "q={q}"
                );
                assert_eq!(rows(&page.body).len(), 4, "q={q}");
            }
        }
        // What was typed comes back in the box, as text.
        let typed = format!("name=\"q\" value=\"{}\"", escaped(q.trim()));
        assert!(page.body.contains(&typed), "{typed} for q={q}");
    }
    // The tables are all still there.
    assert_eq!(rows(&reviewer.get("/admin/threads").await.body).len(), 4);

    // A cursor that names nothing is ignored (the first page), never an error.
    let stale = reviewer.get("/admin/threads?older=garbage").await;
    assert_eq!(stale.status, 200);
    assert_eq!(rows(&stale.body).len(), 4);
}

llm_test!(pages_of_threads_have_no_gaps_or_repeats, vars = VARS);
async fn pages_of_threads_have_no_gaps_or_repeats(app: TestApp, llm: FakeLlm) {
    // 112 threads (every eighth of ben), their last activity set in groups of three that
    // share a timestamp, so ties are broken by the id.
    let mut made = Vec::new();
    for n in 0..112 {
        let user = if n % 8 == 7 { "ben" } else { "ana" };
        let (thread, _) = turn(&app, &llm, None, user, None, &format!("page {n}"), "ok").await;
        made.push((thread, user));
    }
    let expected = tie_in_threes(&app.db_url, "threads", "updated_at", "2026-02-01", &made);
    let reviewer = operator(&app, REVIEWER, Role::Reviewer).await;

    let walks: [(&str, Option<&str>, usize); 3] = [
        ("", None, 3),
        ("?user=ana", Some("ana"), 2),
        ("?q=page&user=ana&to=2026-02-01", Some("ana"), 2),
    ];
    for (query, user, page_count) in walks {
        let wanted: Vec<String> = expected
            .iter()
            .filter(|(_, u)| user.is_none_or(|user| *u == user))
            .map(|(id, _)| id.clone())
            .collect();
        // Older, to the end.
        let mut pages: Vec<Vec<String>> = Vec::new();
        let mut next = Some(format!("/admin/threads{query}"));
        let mut last = String::new();
        while let Some(path) = next {
            let page = reviewer.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {page:?}");
            let ids = rows(&page.body);
            assert!(!ids.is_empty() && ids.len() <= 50, "{path}: {}", ids.len());
            pages.push(ids);
            next = pager_link(&page.body, "next");
            if let Some(next) = &next {
                for kept in query
                    .trim_start_matches('?')
                    .split('&')
                    .filter(|p| !p.is_empty())
                {
                    assert!(next.contains(kept), "{kept} kept in {next}");
                }
            }
            if pages.len() > 1 {
                let prev = pager_link(&page.body, "prev").expect("a way back");
                for kept in query
                    .trim_start_matches('?')
                    .split('&')
                    .filter(|p| !p.is_empty())
                {
                    assert!(prev.contains(kept), "{kept} kept in {prev}");
                }
            } else {
                assert_eq!(pager_link(&page.body, "prev"), None, "nothing is newer");
            }
            last = path;
        }
        assert_eq!(pages.len(), page_count, "{query}");
        let seen: Vec<String> = pages.concat();
        assert_eq!(
            seen.iter().collect::<HashSet<_>>().len(),
            seen.len(),
            "no row twice: {query}"
        );
        assert_eq!(seen, wanted, "every row once, in order: {query}");

        // And back, newer, to the top: the same pages.
        let mut back: Vec<Vec<String>> = Vec::new();
        let mut prev = Some(last);
        while let Some(path) = prev {
            let page = reviewer.get(&path).await;
            assert_eq!(page.status, 200, "{path}");
            back.push(rows(&page.body));
            prev = pager_link(&page.body, "prev");
        }
        back.reverse();
        assert_eq!(back, pages, "the same pages backwards: {query}");
    }
}

llm_test!(strangers_are_sent_to_sign_in_and_see_nothing, vars = VARS);
async fn strangers_are_sent_to_sign_in_and_see_nothing(app: TestApp, llm: FakeLlm) {
    let (thread, _) = turn(
        &app,
        &llm,
        None,
        "ana",
        None,
        "My secret plan",
        "Noted secretly.",
    )
    .await;
    retitle(&app, None, "ana", &thread, "Secret title").await;
    for path in [
        "/admin/threads".to_owned(),
        "/admin/threads?user=ana".to_owned(),
        format!("/admin/threads/{thread}"),
        format!("/admin/threads/{thread}/export.json"),
        format!("/admin/threads/{thread}/export.md"),
        format!("/admin/threads/{thread}/delete"),
    ] {
        let page = get(&app, &path).await;
        assert_eq!(page.status, 303, "{path}: {page:?}");
        assert!(
            page.location()
                .starts_with("/admin/login?next=/admin/threads"),
            "{path}: {}",
            page.location()
        );
        for secret in ["secret", "Secret", &thread, "ana"] {
            assert!(!page.body.contains(secret), "{secret} leaked by {path}");
        }
        assert!(page.header("content-disposition").is_none(), "{path}");
    }
    let page = get(&app, "/admin/threads?user=ana").await;
    assert!(page.location().contains("user%3Dana") || page.location().contains("user=ana"));
    // A forged post deletes nothing.
    let post = client()
        .post(format!("{}/admin/threads/{thread}/delete", app.address))
        .header("content-type", FORM)
        .body("csrf_token=x")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 401, "{post:?}");
    assert!(app.store.count_items(&thread).await.unwrap() > 0);
}
