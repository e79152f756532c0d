use askama::Template;
use serde_json::json;

use super::{Flash, escape_html, pretty_json};
use crate::routes::admin::session::Chrome;

#[test]
fn pretty_json_is_indented_and_escaped() {
    let value = json!({"html": "<b>\"hi\" & 'bye'</b>", "n": [1, 2]});
    assert_eq!(
        pretty_json(&value),
        "{\n  &quot;html&quot;: &quot;&lt;b&gt;\\&quot;hi\\&quot; &amp; &#39;bye&#39;&lt;/b&gt;&quot;,\n  \
         &quot;n&quot;: [\n    1,\n    2\n  ]\n}"
    );
}

#[test]
fn escape_html_covers_the_significant_characters() {
    assert_eq!(
        escape_html(r#"<a href="x">&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(escape_html("plain é"), "plain é");
}

/// A page as others write them: the layout with every variable, flash included.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"{% extends "admin/_layout.html" %}{% block title %}Threads{% endblock %}
{% block crumbs %}<span>Threads</span>{% endblock %}
{% block content %}<p class="page-body">body</p>{% endblock %}"#
)]
struct FullPage {
    chrome: Chrome,
    flash: Option<Flash>,
}

/// The layout with only the variables it requires.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"{% extends "admin/_layout.html" %}{% block content %}<p>minimal</p>{% endblock %}"#
)]
struct MinimalPage {
    chrome: Chrome,
}

fn chrome(nav: &'static str, email: &str, csrf: &str, pending: i64, admin: bool) -> Chrome {
    Chrome {
        nav,
        operator_email: email.to_owned(),
        csrf_token: csrf.to_owned(),
        pending_forms: pending,
        is_admin: admin,
    }
}

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage<'a> {
    csrf_token: &'a str,
    email: &'a str,
    error: Option<String>,
}

/// No inline script, style or event handler: the console's CSP would refuse them.
fn assert_csp_clean(html: &str) {
    assert!(!html.contains("style="), "{html}");
    assert!(!html.contains("<style"), "{html}");
    let external = html
        .matches(r#"<script src="/static/admin.js" defer></script>"#)
        .count()
        + html
            .matches(r#"<script src="/static/admin-live.js" defer></script>"#)
            .count();
    assert_eq!(html.matches("<script").count(), external, "{html}");
    // Text is escaped, so every `<` opens a real tag; look for handlers inside tags only.
    for tag in html
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
    {
        let handler = tag.split_whitespace().skip(1).any(|attr| {
            attr.starts_with("on") && attr.split('=').next().is_some_and(|n| n.len() > 2)
        });
        assert!(!handler, "event handler in <{tag}>");
    }
}

#[test]
fn layout_renders_nav_user_logout_and_flash() {
    let html = FullPage {
        chrome: chrome("feedback", "lead@example.com", "tok-123", 3, true),
        flash: Some(Flash::ok("Saved.")),
    }
    .render()
    .unwrap();
    assert_csp_clean(&html);
    assert!(
        html.contains("<title>Threads · chatkit-server</title>"),
        "{html}"
    );
    assert!(html.contains(r#"<link rel="stylesheet" href="/static/admin.css">"#));
    assert_eq!(html.matches(r#"aria-current="page""#).count(), 1, "{html}");
    assert!(
        html.contains(r#"href="/admin/feedback" aria-current="page""#),
        "{html}"
    );
    assert!(html.contains(r#"<script src="/static/admin-live.js" defer></script>"#));
    assert!(
        html.contains(r#"<span class="nav-count" data-pending-count>3</span>"#),
        "{html}"
    );
    assert!(html.contains(r#"href="/admin/operators""#), "{html}");
    for link in [
        "threads",
        "forms",
        "attachments",
        "feedback",
        "usage",
        "audit",
        "webhooks",
        "agents",
        "operators",
    ] {
        assert!(html.contains(&format!(r#"href="/admin/{link}""#)), "{link}");
    }
    // Only pages that exist are linked.
    assert_eq!(html.matches(r#"href="/admin/"#).count(), 10, "{html}");
    assert!(
        html.contains(r#"<form class="logout" method="post" action="/admin/logout">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="hidden" name="csrf_token" value="tok-123">"#),
        "{html}"
    );
    assert!(html.contains(">lead@example.com</span>"), "{html}");
    assert!(
        html.contains(r#"<div class="flash flash-ok" role="status">Saved.</div>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<div class="crumbs"><span>Threads</span></div>"#),
        "{html}"
    );
    assert!(html.contains(r#"<p class="page-body">body</p>"#), "{html}");
}

#[test]
fn layout_escapes_its_variables() {
    let html = FullPage {
        chrome: chrome(
            "threads",
            "<script>alert(1)</script>@x",
            "\"><script>alert(2)</script>",
            0,
            false,
        ),
        flash: Some(Flash::error("<img src=x onerror=alert(3)>")),
    }
    .render()
    .unwrap();
    assert_csp_clean(&html);
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)") || html.contains("&lt;script&gt;alert(1)"),
        "{html}"
    );
    assert!(
        html.contains(r#"class="flash flash-error" role="alert""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="nav-count" data-pending-count hidden>0</span>"#),
        "{html}"
    );
    assert!(
        !html.contains(r#"href="/admin/operators""#),
        "reviewers do not see Operators: {html}"
    );
    assert!(
        !html.contains(r#"href="/admin/agents""#),
        "reviewers do not see Agents: {html}"
    );
}

#[test]
fn layout_needs_only_its_required_variables() {
    let html = MinimalPage {
        chrome: chrome("audit", "a@b.c", "t", 0, true),
    }
    .render()
    .unwrap();
    assert_csp_clean(&html);
    assert!(
        html.contains(r#"href="/admin/audit" aria-current="page""#),
        "{html}"
    );
    assert!(html.contains(r#"href="/admin/operators""#), "{html}");
    assert!(!html.contains("class=\"flash"), "{html}");
    assert!(
        html.contains("<title>Console · chatkit-server</title>"),
        "{html}"
    );
}

#[test]
fn login_page_renders_fields_token_and_error() {
    let html = LoginPage {
        csrf_token: "tok\"<",
        email: "who@example.com",
        error: Some("Wrong email or password.".into()),
    }
    .render()
    .unwrap();
    assert_csp_clean(&html);
    assert!(
        !html.contains("class=\"sidebar\""),
        "no navigation before sign-in"
    );
    assert!(
        html.contains(r#"<form class="login-card" method="post" action="/admin/login">"#),
        "{html}"
    );
    assert!(!html.contains("tok\"<"), "{html}");
    assert!(html.contains(r#"name="csrf_token""#), "{html}");
    assert!(
        html.contains(r#"name="email" value="who@example.com""#),
        "{html}"
    );
    assert!(
        html.contains(r#"type="password" name="password""#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<div class="flash flash-error" role="alert">Wrong email or password.</div>"#
        ),
        "{html}"
    );

    let first = LoginPage {
        csrf_token: "t",
        email: "",
        error: None,
    }
    .render()
    .unwrap();
    assert!(!first.contains("flash"), "{first}");
}

#[test]
fn flash_kinds() {
    assert_eq!(Flash::ok("x").class(), "flash flash-ok");
    assert_eq!(Flash::error("x").class(), "flash flash-error");
    assert_eq!(Flash::error("x").role(), "alert");
}
