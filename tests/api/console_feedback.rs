//! The console's feedback review through the real server: threads made with the fake model,
//! rated through `items.feedback`; then the order (thumbs-down first, then newest), the turn
//! around each rated answer, the filters alone and combined, keyset paging, and model or user
//! text that is markup shown inert. The walk-through in a browser is in `browser`.

mod browser;

use std::collections::HashSet;

use chatkit_server::store::Role;
use serde_json::json;

use crate::support::app::{TestApp, add_agent, execute_sql};
use crate::support::console::{ConsoleSession, PASSWORD, add_operator, sign_in};
use crate::support::fake_llm::FakeLlm;
use crate::support::macros::llm_test;
use crate::support::turns::{rate, turn};

const REVIEWER: &str = "reviewer@example.com";
/// The fake model's answers need no title request in between.
const VARS: &[(&str, &str)] = &[("CHATKIT_AUTO_TITLES", "false")];
/// An answer whose Markdown carries script in every way it can.
const XSS_ANSWER: &str = "Try **this**: <img src=x onerror=alert(1)> <script>alert(2)</script> \
                          [click](javascript:alert(3)) <a href=\"/admin/operators\">here</a>";

/// The rated items of a feedback page, in order.
fn entries(html: &str) -> Vec<String> {
    let marker = "data-item=\"";
    html.match_indices(marker)
        .map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// The `<li>` of the entry for `item`.
fn entry_html<'a>(html: &'a str, item: &str) -> &'a str {
    let start = html.find(&format!("data-item=\"{item}\"")).unwrap();
    let end = html[start..].find("</li>").unwrap() + start;
    &html[start..end]
}

/// The `href` of the link marked `rel="next"`, unescaped.
fn next_link(html: &str) -> Option<String> {
    let end = html.find("\" rel=\"next\"")?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&#38;", "&"))
}

fn refs(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}

async fn reviewer(app: &TestApp) -> ConsoleSession {
    add_operator(app, REVIEWER, Role::Reviewer).await;
    sign_in(app, REVIEWER, PASSWORD).await
}

llm_test!(feedback_is_reviewed_worst_first_with_its_turn, vars = VARS);
async fn feedback_is_reviewed_worst_first_with_its_turn(app: TestApp, llm: FakeLlm) {
    let support = add_agent(&app, "support").await;
    let (sums, four) = turn(&app, &llm, None, "ana", None, "What is 2+2?", "Four.").await;
    let (_, six) = turn(&app, &llm, None, "ana", Some(&sums), "And 3+3?", "**Six.**").await;
    app.ok(
        "ana",
        "threads.update",
        json!({"thread_id": sums, "title": "Sums <b>bold</b>"}),
    )
    .await;
    let (risky, xss) = turn(
        &app,
        &llm,
        Some("support"),
        "ben",
        None,
        "<b>Show me</b> <script>alert(4)</script>",
        XSS_ANSWER,
    )
    .await;
    let (hello, greeting) = turn(&app, &llm, None, "ana", None, "Hi", "Hello!").await;
    rate(&app, None, "ana", &sums, &[&four], "positive").await;
    rate(&app, None, "ana", &sums, &[&six], "negative").await;
    rate(&app, Some("support"), "ben", &risky, &[&xss], "negative").await;
    rate(&app, None, "ana", &hello, &[&greeting], "positive").await;
    let reviewer = reviewer(&app).await;

    // Thumbs-down first, then newest.
    let page = reviewer.get("/admin/feedback").await;
    assert_eq!(page.status, 200, "{page:?}");
    page.assert_secure();
    assert_eq!(
        entries(&page.body),
        [&xss, &six, &greeting, &four].map(|id| id.clone())
    );

    // The entry of "Six." shows its own question, not the one before, and links to it.
    let entry = entry_html(&page.body, &six);
    assert!(entry.contains("feedback-mark feedback-negative"), "{entry}");
    assert!(entry.contains("And 3+3?"), "{entry}");
    assert!(!entry.contains("What is 2+2?"), "{entry}");
    assert!(
        entry.contains("<strong>Six.</strong>"),
        "Markdown rendered: {entry}"
    );
    assert!(
        entry.contains(&format!("href=\"/admin/threads/{sums}#item-{six}\"")),
        "{entry}"
    );
    assert!(
        entry.contains(&format!("href=\"/admin/threads/{sums}\"")),
        "{entry}"
    );
    assert!(
        entry.contains("Sums &#60;b&#62;bold&#60;/b&#62;"),
        "the title is text: {entry}"
    );
    assert!(entry.contains(">ana<"), "{entry}");
    let first = entry_html(&page.body, &four);
    assert!(
        first.contains("What is 2+2?") && first.contains("Four."),
        "{first}"
    );
    assert!(entry_html(&page.body, &greeting).contains("Untitled thread"));

    // Markup from the model and the user is inert.
    let entry = entry_html(&page.body, &xss);
    for live in [
        "<img src=x",
        "onerror",
        "<script",
        "javascript:",
        "href=\"/admin/operators\"",
        "<b>",
    ] {
        assert!(!entry.contains(live), "{live} in {entry}");
    }
    assert!(entry.contains("<strong>this</strong>"), "{entry}");
    assert!(
        entry.contains("&#60;b&#62;Show me&#60;/b&#62; &#60;script&#62;alert(4)&#60;/script&#62;"),
        "{entry}"
    );

    // Filters, alone and combined; dates are UTC days, both ends included.
    execute_sql(
        &app.db_url,
        &format!("UPDATE feedback SET created_at = '2026-03-01 10:00:00' WHERE item_id = '{four}'"),
    );
    let cases: Vec<(String, Vec<&String>)> = vec![
        ("kind=negative".into(), vec![&xss, &six]),
        ("kind=positive".into(), vec![&greeting, &four]),
        (format!("agent={support}"), vec![&xss]),
        ("user=ana".into(), vec![&six, &greeting, &four]),
        ("user=ben".into(), vec![&xss]),
        ("from=2026-03-01&until=2026-03-01".into(), vec![&four]),
        ("until=2026-03-01".into(), vec![&four]),
        ("from=2026-03-02".into(), vec![&xss, &six, &greeting]),
        ("user=ana&kind=negative".into(), vec![&six]),
        (
            "user=ana&kind=positive&from=2026-03-02".into(),
            vec![&greeting],
        ),
        (format!("agent={support}&kind=positive"), vec![]),
        (
            format!("agent={support}&user=ben&kind=negative&from=2026-03-02"),
            vec![&xss],
        ),
    ];
    for (query, expected) in cases {
        let page = reviewer.get(&format!("/admin/feedback?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {page:?}");
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(entries(&page.body), expected, "{query}");
        if expected.is_empty() {
            assert!(
                page.body.contains("Nothing matches these filters."),
                "{query}"
            );
        }
    }

    // Bad input is said and ignored; a cursor that names nothing is refused.
    let odd = reviewer
        .get("/admin/feedback?kind=meh&from=yesterday")
        .await;
    assert_eq!(odd.status, 200);
    assert!(
        odd.body
            .contains("Kind: &#39;meh&#39; is not positive or negative; ignored.")
    );
    assert!(
        odd.body
            .contains("From: &#39;yesterday&#39; is not a date like 2026-01-31; ignored.")
    );
    assert_eq!(entries(&odd.body).len(), 4);
    let stale = reviewer
        .get("/admin/feedback?after=msg_0000000000000000.ana")
        .await;
    assert_eq!(stale.status, 400, "{stale:?}");

    // A changed verdict moves the entry; it is never listed twice.
    rate(&app, None, "ana", &hello, &[&greeting], "negative").await;
    let page = reviewer.get("/admin/feedback").await;
    assert_eq!(
        entries(&page.body),
        [&greeting, &xss, &six, &four].map(|id| id.clone())
    );
}

llm_test!(pages_of_feedback_have_no_gaps_or_repeats, vars = VARS);
async fn pages_of_feedback_have_no_gaps_or_repeats(app: TestApp, llm: FakeLlm) {
    // 30 answers in one thread, rated in two requests: each half shares one timestamp, so the
    // order within it is the key's.
    let (thread, first) = turn(&app, &llm, None, "ana", None, "q0", "a0").await;
    let mut answers = vec![first];
    for n in 1..30 {
        let (_, id) = turn(
            &app,
            &llm,
            None,
            "ana",
            Some(&thread),
            &format!("q{n}"),
            &format!("a{n}"),
        )
        .await;
        answers.push(id);
    }
    let (down, up) = answers.split_at(15);
    rate(&app, None, "ana", &thread, &refs(down), "negative").await;
    rate(&app, None, "ana", &thread, &refs(up), "positive").await;
    let mut expected: Vec<String> = Vec::new();
    for half in [down, up] {
        let mut half = half.to_vec();
        half.sort_by(|a, b| b.cmp(a));
        expected.extend(half);
    }
    let reviewer = reviewer(&app).await;

    let mut seen = Vec::new();
    let mut next = Some("/admin/feedback".to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let page = reviewer.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {page:?}");
        let ids = entries(&page.body);
        assert_eq!(ids.len(), if pages == 0 { 25 } else { 5 }, "{path}");
        seen.extend(ids);
        next = next_link(&page.body);
        pages += 1;
    }
    assert_eq!(pages, 2);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        30,
        "no entry twice"
    );
    assert_eq!(seen, expected, "every entry once, in order");

    // Paging keeps the filter.
    let page = reviewer.get("/admin/feedback?kind=negative").await;
    assert_eq!(entries(&page.body), expected[..15]);
    assert_eq!(next_link(&page.body), None);
    let prompt = entry_html(&page.body, &expected[0]);
    let n = answers.iter().position(|a| *a == expected[0]).unwrap();
    assert!(prompt.contains(&format!(">q{n}<")), "{prompt}");
}
