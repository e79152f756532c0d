//! Console access: sign-in and its failures, the failure limit, session cookies, sign-out,
//! idle and absolute expiry, redirects of strangers, CSRF, security headers, the first admin
//! from the environment and the command line. Operator management is in `operators`, the
//! browser walk-through in `browser`.

mod browser;
mod operators;

use std::time::Duration;

use chatkit_server::auth::operators::token_hash;
use chatkit_server::store::{AuditFilter, Role};
use serde_json::json;

use crate::support::app::TestApp;
use crate::support::console::{
    FORM, PASSWORD, add_operator, audit_rows, client, form_body, get, login_form, post_login,
    sign_in,
};
use crate::support::macros::db_test;

const ADMIN: &str = "admin@example.com";

db_test!(sign_in_and_its_failures);
async fn sign_in_and_its_failures(app: TestApp) {
    let admin = add_operator(&app, ADMIN, Role::Admin).await;
    let form = login_form(&app).await;

    // Unknown email and wrong password: the same status and page, but for the email typed.
    let wrong = post_login(&app, &form, ADMIN, "not the password").await;
    let unknown = post_login(&app, &form, "nobody@example.com", PASSWORD).await;
    assert_eq!((wrong.status, unknown.status), (401, 401), "{wrong:?}");
    assert!(wrong.body.contains("The email or password is incorrect."));
    assert_eq!(
        wrong.body.replace(ADMIN, "EMAIL"),
        unknown.body.replace("nobody@example.com", "EMAIL")
    );
    assert_eq!(wrong.set_cookie("chatkit_admin"), None);
    wrong.assert_secure();

    // The right password, in any case of the email: a session cookie and the threads list.
    let ok = post_login(&app, &form, "Admin@Example.COM", PASSWORD).await;
    assert_eq!(ok.status, 303, "{ok:?}");
    assert_eq!(ok.location(), "/admin/threads");
    ok.assert_secure();
    let cookie = ok.set_cookie("chatkit_admin").unwrap();
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(attributes.contains(&wanted), "{cookie}");
    }
    assert!(!attributes.contains(&"Secure"), "plain http: {cookie}");
    let token = cookie["chatkit_admin=".len()..].split(';').next().unwrap();
    assert_eq!(token.len(), 43);
    let (session, operator) = app
        .store
        .session_by_token_hash(&token_hash(token))
        .await
        .unwrap()
        .expect("stored by the hash of its token");
    assert_eq!(operator.id, admin.id);
    assert_eq!(session.ip.as_deref(), Some("127.0.0.1"));
    assert!(
        app.store
            .operator(&admin.id)
            .await
            .unwrap()
            .last_login_at
            .is_some()
    );

    // Where the sign-in page was asked to return.
    let back = client()
        .post(format!("{}/admin/login", app.address))
        .header("cookie", &form.cookie)
        .header("content-type", FORM)
        .body(form_body(&[
            ("email", ADMIN),
            ("password", PASSWORD),
            ("csrf_token", &form.csrf_token),
            ("next", "/admin/audit?action=login"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(back.headers()["location"], "/admin/audit?action=login");

    let failed = audit_rows(&app, "login_failed").await;
    let tried: Vec<_> = failed
        .iter()
        .map(|r| {
            (
                r.operator_email.as_deref(),
                r.operator_id.as_deref(),
                r.detail.clone(),
            )
        })
        .collect();
    assert_eq!(
        tried,
        [
            (Some(ADMIN), None, json!({"reason": "wrong_password"})),
            (
                Some("nobody@example.com"),
                None,
                json!({"reason": "unknown_email"})
            ),
        ]
    );
    assert_eq!(failed[0].ip.as_deref(), Some("127.0.0.1"));
    let logins = audit_rows(&app, "login").await;
    assert_eq!(logins.len(), 2);
    assert_eq!(logins[0].operator_id.as_deref(), Some(admin.id.as_str()));
    assert_eq!(logins[0].object_id.as_deref(), Some(session.id.as_str()));
}

db_test!(sign_in_needs_the_form_token);
async fn sign_in_needs_the_form_token(app: TestApp) {
    add_operator(&app, ADMIN, Role::Admin).await;
    let form = login_form(&app).await;
    let other = login_form(&app).await;
    for (cookie, token) in [
        ("", form.csrf_token.as_str()),
        (form.cookie.as_str(), ""),
        (form.cookie.as_str(), other.csrf_token.as_str()),
        (form.cookie.as_str(), form.cookie.split('=').nth(1).unwrap()),
    ] {
        let page = client()
            .post(format!("{}/admin/login", app.address))
            .header("cookie", cookie)
            .header("content-type", FORM)
            .body(form_body(&[
                ("email", ADMIN),
                ("password", PASSWORD),
                ("csrf_token", token),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 403);
        assert!(
            page.headers()
                .get("set-cookie")
                .is_none_or(|c| { !c.to_str().unwrap().starts_with("chatkit_admin=") })
        );
    }
    assert!(audit_rows(&app, "login").await.is_empty());
}

db_test!(failed_sign_ins_are_limited);
async fn failed_sign_ins_are_limited(app: TestApp) {
    add_operator(&app, ADMIN, Role::Admin).await;
    let form = login_form(&app).await;
    for _ in 0..10 {
        let page = post_login(&app, &form, ADMIN, "guess").await;
        assert_eq!(page.status, 401);
    }
    // Past ten failures for the email, even the right password is refused for a while.
    for password in ["guess", PASSWORD] {
        let page = post_login(&app, &form, ADMIN, password).await;
        assert_eq!(page.status, 429, "{page:?}");
        let wait: u64 = page.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&wait), "{wait}");
        assert!(page.body.contains("Too many failed sign-ins"));
        page.assert_secure();
    }
    // Unknown emails count the same, and another email from this address still gets an answer.
    let form2 = login_form(&app).await;
    assert_eq!(
        post_login(&app, &form2, "x@example.com", "guess")
            .await
            .status,
        401
    );
    assert_eq!(audit_rows(&app, "login_failed").await.len(), 11);
}

db_test!(sign_out_ends_the_session);
async fn sign_out_ends_the_session(app: TestApp) {
    add_operator(&app, ADMIN, Role::Admin).await;
    let console = sign_in(&app, ADMIN, PASSWORD).await;
    assert_eq!(console.get("/admin/audit").await.status, 200);
    let stored = || async {
        app.store
            .session_by_token_hash(&token_hash(&console.token))
            .await
            .unwrap()
    };

    let refused = console.post("/admin/logout", &[]).await;
    assert_eq!(refused.status, 403);
    refused.assert_secure();
    assert!(stored().await.is_some(), "no token, no sign-out");

    let out = console.act("/admin/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/admin/login");
    out.assert_secure();
    let removal = out.set_cookie("chatkit_admin").unwrap();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(stored().await.is_none(), "deleted from the database");
    let after = console.get("/admin/audit").await;
    assert_eq!(after.status, 303);
    assert_eq!(after.location(), "/admin/login?next=/admin/audit");
    let rows = audit_rows(&app, "logout").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].operator_email.as_deref(), Some(ADMIN));
}

const SHORT_IDLE: &[(&str, &str)] = &[("CHATKIT_ADMIN_SESSION_IDLE_MINS", "0.05")];

db_test!(idle_sessions_end, vars = SHORT_IDLE);
async fn idle_sessions_end(app: TestApp) {
    add_operator(&app, ADMIN, Role::Admin).await;
    // Idle timeout 3 s: use every 2 s keeps the session alive past it.
    let console = sign_in(&app, ADMIN, PASSWORD).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert_eq!(console.get("/admin/audit").await.status, 200);
    }
    // Then 3.5 s unused: gone.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let page = console.get("/admin/audit").await;
    assert_eq!(page.status, 303);
    assert!(page.location().starts_with("/admin/login"));
    let hash = token_hash(&console.token);
    let gone = app.store.session_by_token_hash(&hash).await.unwrap();
    assert!(gone.is_none());
}

const SHORT_MAX: &[(&str, &str)] = &[("CHATKIT_ADMIN_SESSION_MAX_HOURS", "0.001")];

db_test!(sessions_end_at_their_absolute_expiry, vars = SHORT_MAX);
async fn sessions_end_at_their_absolute_expiry(app: TestApp) {
    add_operator(&app, ADMIN, Role::Admin).await;
    // 3.6 s after sign-in, however busy.
    let console = sign_in(&app, ADMIN, PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(console.get("/admin/audit").await.status, 200);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let page = console.get("/admin/audit").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert!(page.location().starts_with("/admin/login"));
}

db_test!(strangers_are_sent_to_sign_in);
async fn strangers_are_sent_to_sign_in(app: TestApp) {
    for (path, login) in [
        ("/admin", "/admin/login"),
        ("/admin/", "/admin/login?next=/admin/"),
        ("/admin/operators", "/admin/login?next=/admin/operators"),
        (
            "/admin/audit?action=login",
            "/admin/login?next=/admin/audit%3Faction%3Dlogin",
        ),
        ("/admin/threads", "/admin/login?next=/admin/threads"),
        (
            "/admin/no-such-page",
            "/admin/login?next=/admin/no-such-page",
        ),
    ] {
        let page = get(&app, path).await;
        assert_eq!(page.status, 303, "{path}: {page:?}");
        assert_eq!(page.location(), login, "{path}");
        assert_eq!(page.body, "", "{path}");
        page.assert_secure();
    }
    // A forged or stale cookie is no better, and is told to go.
    let page = client()
        .get(format!("{}/admin/audit", app.address))
        .header("cookie", "chatkit_admin=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    // Anything but a page load: 401, no data.
    for path in [
        "/admin/operators",
        "/admin/logout",
        "/admin/operators/op_1/disable",
    ] {
        let page = client()
            .post(format!("{}{path}", app.address))
            .header("content-type", FORM)
            .body("csrf_token=x")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 401, "{path}");
        let text = page.text().await.unwrap();
        assert!(text.contains("Sign in") && !text.contains("class=\"sidebar\""));
    }
    // The sign-in page itself is open, and its answers carry the headers too.
    get(&app, "/admin/login").await.assert_secure();
    let outside = get(&app, "/admin/login?next=https://evil.example/").await;
    assert!(!outside.body.contains("evil.example"), "{}", outside.body);
}

db_test!(every_console_answer_is_hardened);
async fn every_console_answer_is_hardened(app: TestApp) {
    add_operator(&app, ADMIN, Role::Admin).await;
    add_operator(&app, "rev@example.com", Role::Reviewer).await;
    let admin = sign_in(&app, ADMIN, PASSWORD).await;
    let reviewer = sign_in(&app, "rev@example.com", PASSWORD).await;
    let pages = [
        admin.get("/admin").await,
        admin.get("/admin/operators").await,
        admin.get("/admin/audit").await,
        admin.get("/admin/no-such-page").await,
        admin
            .post("/admin/operators", &[("email", "x@example.com")])
            .await,
        admin
            .act("/admin/operators", &[("email", "bad"), ("role", "admin")])
            .await,
        reviewer.get("/admin/operators").await,
        reviewer.get("/admin/login").await,
    ];
    let statuses: Vec<u16> = pages.iter().map(|p| p.status).collect();
    assert_eq!(statuses, [303, 200, 200, 404, 403, 400, 403, 303]);
    for page in &pages {
        page.assert_secure();
    }
    // Errors for someone signed in are drawn in the layout, without data.
    let missing = &pages[3];
    assert!(missing.body.contains("class=\"sidebar\"") && missing.body.contains("No such page"));
    assert!(
        !pages[6].body.contains(ADMIN),
        "a reviewer sees no operator list"
    );
    for page in &pages[1..=2] {
        assert!(!page.body.contains("<script>") && !page.body.contains(" style="));
    }
}

const FIRST_ADMIN: &[(&str, &str)] = &[
    ("CHATKIT_ADMIN_EMAIL", "First@Example.com"),
    ("CHATKIT_ADMIN_PASSWORD", "first admin password"),
];

db_test!(
    the_first_admin_comes_from_the_environment,
    vars = FIRST_ADMIN
);
async fn the_first_admin_comes_from_the_environment(app: TestApp) {
    let operators = app.store.list_operators().await.unwrap();
    assert_eq!(operators.len(), 1);
    assert_eq!(
        (operators[0].email.as_str(), operators[0].role),
        ("first@example.com", Role::Admin)
    );
    let console = sign_in(&app, "first@example.com", "first admin password").await;
    assert_eq!(console.get("/admin/operators").await.status, 200);
}

/// `admin create-operator`, the built binary against a fresh SQLite file, the password on
/// standard input.
#[tokio::test]
async fn the_command_line_creates_operators() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chatkit-server"))
            .args(args)
            .env_clear()
            .env("DATABASE_URL", &url)
            .env("CHATKIT_STORAGE_DIR", dir.path().join("files"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A refusal may come before the password is read: the pipe is then closed.
        let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap()
    };
    let out = run(
        &[
            "admin",
            "create-operator",
            "Cli@Example.com",
            "--role",
            "reviewer",
        ],
        "cli password 123\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("created reviewer operator cli@example.com")
    );
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!everything.contains("cli password 123"), "{everything}");

    let refusals = [
        (vec!["admin", "create-operator", "x@example.com"], "short\n"),
        (
            vec![
                "admin",
                "create-operator",
                "x@example.com",
                "--role",
                "boss",
            ],
            "long enough pw\n",
        ),
        (
            vec!["admin", "create-operator", "cli@example.com"],
            "long enough pw\n",
        ),
        (vec!["admin", "create-operator", "y@example.com"], ""),
        (vec!["admin", "create-operator"], "long enough pw\n"),
    ];
    for (args, stdin) in refusals {
        let out = run(&args, stdin);
        assert!(!out.status.success(), "{args:?} succeeded");
    }

    let store = chatkit_server::store::Store::connect(&url, 1).unwrap();
    let operators = store.list_operators().await.unwrap();
    assert_eq!(operators.len(), 1);
    let operator = &operators[0];
    assert_eq!(operator.role, Role::Reviewer);
    assert!(chatkit_server::auth::operators::verify_password(
        "cli password 123",
        &operator.password_hash
    ));
    let rows = store
        .audit_page(&AuditFilter::default(), 10, None)
        .await
        .unwrap()
        .data;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "operator.create");
    assert_eq!(rows[0].operator_id, None, "the system acted");
}
