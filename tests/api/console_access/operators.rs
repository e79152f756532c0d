//! Operator management and the audit page: admins only, every change audited with before and
//! after (never a password), the last enabled admin kept, CSRF on every change.

use chatkit_server::auth::operators::{token_hash, verify_password};
use chatkit_server::store::{AuditFilter, NewAuditEntry, Role};
use serde_json::json;

use super::{ADMIN, audit_rows};
use crate::support::app::TestApp;
use crate::support::console::{PASSWORD, add_operator, sign_in};
use crate::support::macros::db_test;

db_test!(admins_manage_operators_and_every_change_is_audited);
async fn admins_manage_operators_and_every_change_is_audited(app: TestApp) {
    let admin = add_operator(&app, ADMIN, Role::Admin).await;
    let console = sign_in(&app, ADMIN, PASSWORD).await;

    let page = console
        .act(
            "/admin/operators",
            &[
                ("email", "New@Example.com"),
                ("role", "reviewer"),
                ("password", "initial password"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), "/admin/operators?done=created");
    let listed = console.get("/admin/operators?done=created").await;
    assert!(listed.body.contains("Operator added."), "{}", listed.body);
    assert!(listed.body.contains("new@example.com"));
    let new = app
        .store
        .operator_by_email("new@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.role, Role::Reviewer);
    let newcomer = sign_in(&app, "new@example.com", "initial password").await;

    let path = |action: &str| format!("/admin/operators/{}/{action}", new.id);
    assert_eq!(
        console
            .act(&path("role"), &[("role", "admin")])
            .await
            .status,
        303
    );
    assert_eq!(app.store.operator(&new.id).await.unwrap().role, Role::Admin);
    assert_eq!(console.act(&path("disable"), &[]).await.status, 303);
    assert!(app.store.operator(&new.id).await.unwrap().disabled);
    assert_eq!(
        newcomer.get("/admin/audit").await.status,
        303,
        "disabling signs out"
    );
    let form = crate::support::console::login_form(&app).await;
    let refused =
        crate::support::console::post_login(&app, &form, "new@example.com", "initial password")
            .await;
    assert_eq!(refused.status, 401, "a disabled operator cannot sign in");
    assert_eq!(console.act(&path("enable"), &[]).await.status, 303);
    let newcomer = sign_in(&app, "new@example.com", "initial password").await;
    let reset = console
        .act(&path("password"), &[("password", "a brand new secret")])
        .await;
    assert_eq!(reset.status, 303);
    let stored = app.store.operator(&new.id).await.unwrap();
    assert!(verify_password("a brand new secret", &stored.password_hash));
    let ended = app
        .store
        .session_by_token_hash(&token_hash(&newcomer.token))
        .await
        .unwrap();
    assert!(ended.is_none(), "a new password ends the sessions");

    let mut rows = Vec::new();
    for action in [
        "operator.create",
        "operator.role",
        "operator.disable",
        "operator.enable",
        "operator.password_reset",
    ] {
        let found = audit_rows(&app, action).await;
        assert_eq!(found.len(), 1, "{action}");
        rows.push(found.into_iter().next().unwrap());
    }
    for row in &rows {
        assert_eq!(row.operator_id.as_deref(), Some(admin.id.as_str()));
        assert_eq!(row.operator_email.as_deref(), Some(ADMIN));
        assert_eq!(row.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            (row.object_type.as_deref(), row.object_id.as_deref()),
            (Some("operator"), Some(new.id.as_str()))
        );
        let text = row.detail.to_string();
        for secret in ["initial password", "a brand new secret", "argon2"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    let view = |role: &str, disabled: bool| json!({"email": "new@example.com", "role": role, "disabled": disabled});
    assert_eq!(rows[0].detail, json!({"after": view("reviewer", false)}));
    assert_eq!(
        rows[1].detail,
        json!({"before": view("reviewer", false), "after": view("admin", false)})
    );
    assert_eq!(
        rows[2].detail,
        json!({"before": view("admin", false), "after": view("admin", true)})
    );
    assert_eq!(
        rows[4].detail,
        json!({"before": view("admin", false), "after": view("admin", false), "password": "changed"})
    );
}

db_test!(bad_operator_forms_are_refused_with_the_reason);
async fn bad_operator_forms_are_refused_with_the_reason(app: TestApp) {
    add_operator(&app, ADMIN, Role::Admin).await;
    let console = sign_in(&app, ADMIN, PASSWORD).await;
    for (fields, status, reason) in [
        (
            [
                ("email", "a@example.com"),
                ("role", "reviewer"),
                ("password", "short"),
            ],
            400,
            "at least 10 characters",
        ),
        (
            [
                ("email", "ADMIN@example.com"),
                ("role", "reviewer"),
                ("password", "long enough"),
            ],
            400,
            "an operator with this email exists",
        ),
        (
            [
                ("email", "not-an-email"),
                ("role", "reviewer"),
                ("password", "long enough"),
            ],
            400,
            "enter an email address",
        ),
        (
            [
                ("email", "b@example.com"),
                ("role", "owner"),
                ("password", "long enough"),
            ],
            400,
            "choose admin or reviewer",
        ),
    ] {
        let page = console.act("/admin/operators", &fields).await;
        assert_eq!(page.status, status, "{fields:?}");
        assert!(page.body.contains(reason), "{reason}: {}", page.body);
    }
    assert_eq!(app.store.list_operators().await.unwrap().len(), 1);
    let unknown = console.act("/admin/operators/op_nobody/disable", &[]).await;
    assert_eq!(unknown.status, 404);
}

db_test!(changes_need_the_csrf_token);
async fn changes_need_the_csrf_token(app: TestApp) {
    add_operator(&app, ADMIN, Role::Admin).await;
    let other = add_operator(&app, "other@example.com", Role::Admin).await;
    let console = sign_in(&app, ADMIN, PASSWORD).await;
    let before = app.store.list_operators().await.unwrap();
    let create = [
        ("email", "x@example.com"),
        ("role", "admin"),
        ("password", "long enough pw"),
    ];
    let role = format!("/admin/operators/{}/role", other.id);
    let disable = format!("/admin/operators/{}/disable", other.id);
    let password = format!("/admin/operators/{}/password", other.id);
    for token in [None, Some(""), Some("not-the-token")] {
        let with = |fields: &[(&'static str, &'static str)]| {
            let mut all = fields.to_vec();
            if let Some(token) = token {
                all.push(("csrf_token", token));
            }
            all
        };
        let pages = [
            console.post("/admin/operators", &with(&create)).await,
            console.post(&role, &with(&[("role", "reviewer")])).await,
            console.post(&disable, &with(&[])).await,
            console
                .post(&password, &with(&[("password", "another pw 123")]))
                .await,
        ];
        for page in pages {
            assert_eq!(page.status, 403, "{token:?}: {page:?}");
            assert!(
                page.body
                    .contains("has expired or did not come from the console")
            );
            page.assert_secure();
        }
    }
    assert_eq!(app.store.list_operators().await.unwrap(), before);
    assert!(audit_rows(&app, "operator.create").await.is_empty());
}

db_test!(reviewers_cannot_manage_operators);
async fn reviewers_cannot_manage_operators(app: TestApp) {
    let admin = add_operator(&app, ADMIN, Role::Admin).await;
    add_operator(&app, "rev@example.com", Role::Reviewer).await;
    let reviewer = sign_in(&app, "rev@example.com", PASSWORD).await;
    let before = app.store.list_operators().await.unwrap();

    let list = reviewer.get("/admin/operators").await;
    assert_eq!(list.status, 403);
    assert!(list.body.contains("Only admins can do this."));
    assert!(
        !list.body.contains("/admin/operators\""),
        "no Operators link"
    );
    let create = [
        ("email", "x@example.com"),
        ("role", "admin"),
        ("password", "long enough pw"),
    ];
    let pages = [
        reviewer.act("/admin/operators", &create).await,
        reviewer
            .act(&format!("/admin/operators/{}/disable", admin.id), &[])
            .await,
        reviewer
            .act(
                &format!("/admin/operators/{}/role", admin.id),
                &[("role", "reviewer")],
            )
            .await,
        reviewer
            .act(
                &format!("/admin/operators/{}/password", admin.id),
                &[("password", "taken over 123")],
            )
            .await,
    ];
    for page in pages {
        assert_eq!(page.status, 403, "{page:?}");
    }
    assert_eq!(app.store.list_operators().await.unwrap(), before);
    // Reading the audit log is open to every operator.
    assert_eq!(reviewer.get("/admin/audit").await.status, 200);
}

db_test!(the_last_enabled_admin_stays);
async fn the_last_enabled_admin_stays(app: TestApp) {
    let admin = add_operator(&app, ADMIN, Role::Admin).await;
    let console = sign_in(&app, ADMIN, PASSWORD).await;
    let path = |action: &str| format!("/admin/operators/{}/{action}", admin.id);
    for page in [
        console.act(&path("disable"), &[]).await,
        console.act(&path("role"), &[("role", "reviewer")]).await,
    ] {
        assert_eq!(page.status, 409, "{page:?}");
        assert!(
            page.body.contains("the last enabled admin"),
            "{}",
            page.body
        );
    }
    let stored = app.store.operator(&admin.id).await.unwrap();
    assert_eq!((stored.role, stored.disabled), (Role::Admin, false));

    // A disabled admin does not count; a second enabled one does.
    let second = add_operator(&app, "second@example.com", Role::Admin).await;
    let second_path = format!("/admin/operators/{}/disable", second.id);
    assert_eq!(console.act(&second_path, &[]).await.status, 303);
    assert_eq!(console.act(&path("disable"), &[]).await.status, 409);
    let enable = format!("/admin/operators/{}/enable", second.id);
    assert_eq!(console.act(&enable, &[]).await.status, 303);
    assert_eq!(
        console
            .act(&path("role"), &[("role", "reviewer")])
            .await
            .status,
        303
    );
    assert_eq!(
        app.store.operator(&admin.id).await.unwrap().role,
        Role::Reviewer
    );
}

db_test!(the_audit_page_filters_and_pages);
async fn the_audit_page_filters_and_pages(app: TestApp) {
    add_operator(&app, ADMIN, Role::Admin).await;
    for i in 0..60 {
        let action = if i % 3 == 0 {
            "thread.delete"
        } else {
            "thread.export"
        };
        app.store
            .insert_audit(NewAuditEntry {
                operator_email: Some("bot@example.com".into()),
                action: action.into(),
                object_type: Some("thread".into()),
                object_id: Some(format!("thr_{i:03}")),
                detail: json!({"n": i, "note": "<b>bold</b>"}),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let console = sign_in(&app, ADMIN, PASSWORD).await;
    let rows = |body: &str| body.matches("<tr>").count() - 1;

    let first = console.get("/admin/audit").await;
    assert_eq!(first.status, 200);
    assert_eq!(rows(&first.body), 50, "a page of 50");
    assert!(first.body.contains("thr_059"), "newest first");
    assert!(first.body.contains("&lt;b&gt;bold&lt;/b&gt;") && !first.body.contains("<b>bold"));
    let older = first.body.split("href=\"").find_map(|s| {
        let link = &s[..s.find('"').unwrap()];
        link.contains("after=").then(|| link.replace("&amp;", "&"))
    });
    let second = console.get(&older.expect("an Older link")).await;
    // 61 rows: the 60 above and this session's sign-in.
    assert_eq!(rows(&second.body), 11);
    assert!(second.body.contains("thr_000") && !second.body.contains("thr_059"));

    let deletes = console.get("/admin/audit?action=thread.delete").await;
    assert_eq!(rows(&deletes.body), 20);
    assert!(!deletes.body.contains("thread.export</span>"));
    let one = console
        .get("/admin/audit?object_type=thread&object_id=thr_007&operator=BOT@example.com")
        .await;
    assert_eq!(rows(&one.body), 1);
    let logins = console
        .get(&format!("/admin/audit?operator={ADMIN}&action=login"))
        .await;
    assert_eq!(rows(&logins.body), 1);
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    let past = console
        .get(&format!("/admin/audit?until={yesterday}"))
        .await;
    assert!(past.body.contains("No entries"));
    let current = console
        .get(&format!("/admin/audit?from={today}&until={today}"))
        .await;
    assert_eq!(rows(&current.body), 50);
    let bad = console.get("/admin/audit?from=yesterday").await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("is not a date"));
    let stale = console.get("/admin/audit?after=aud_gone").await;
    assert_eq!(stale.status, 400);
    let filter = AuditFilter::default();
    assert_eq!(
        app.store
            .audit_page(&filter, 500, None)
            .await
            .unwrap()
            .data
            .len(),
        61
    );
}
