//! The read cache: `threads.get_by_id`, `threads.list` and `items.list` answered from memory
//! while nothing changed, and never a stale answer once a change has committed, whether it was
//! made through this server, another server process, or straight in Postgres.

use serde_json::{Value, json};

use crate::db_faults::named_postgres_app;
use crate::recovery::{Sse, as_refs, process_vars};
use crate::support::app::{Db, TestApp, TestDb, execute_sql, spawn_app, spawn_app_with, sql_count};
use crate::support::fake_llm::FakeLlm;
use crate::support::macros::db_test;
use crate::support::process::ServerProcess;

async fn title(app: &TestApp, thread: &str) -> Value {
    app.ok("ann", "threads.get_by_id", json!({"thread_id": thread}))
        .await["title"]
        .clone()
}

fn titles(list: &Value) -> Vec<Value> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].clone())
        .collect()
}

db_test!(every_change_shows_in_the_next_read);
/// Every write through the API shows in the very next read of each kind, after the same
/// reads were answered (and kept) before it.
async fn every_change_shows_in_the_next_read(app: TestApp) {
    let (first, _) = app.create_thread("ann", "first").await;
    let get = json!({"thread_id": first});
    let items = json!({"thread_id": first, "order": "desc"});
    let before = app.ok("ann", "threads.get_by_id", get.clone()).await;
    let listed = app.ok("ann", "threads.list", json!({})).await;
    let paged = app.ok("ann", "items.list", items.clone()).await;
    // Asked again, unchanged: the same answer.
    assert_eq!(
        app.ok("ann", "threads.get_by_id", get.clone()).await,
        before
    );
    assert_eq!(app.ok("ann", "threads.list", json!({})).await, listed);
    assert_eq!(app.ok("ann", "items.list", items.clone()).await, paged);

    app.ok(
        "ann",
        "threads.update",
        json!({"thread_id": first, "title": "Renamed"}),
    )
    .await;
    assert_eq!(title(&app, &first).await, "Renamed");
    assert_eq!(
        titles(&app.ok("ann", "threads.list", json!({})).await),
        ["Renamed"]
    );

    let (second, _) = app.create_thread("ann", "second").await;
    assert_eq!(
        app.ok("ann", "threads.list", json!({})).await["data"][0]["id"],
        second
    );
    app.stream(
        "ann",
        "threads.add_user_message",
        json!({"thread_id": first, "input": crate::support::fixtures::user_input("more")}),
    )
    .await;
    let more = app.ok("ann", "items.list", items.clone()).await;
    assert!(
        more["data"].as_array().unwrap().len() > paged["data"].as_array().unwrap().len(),
        "{more}"
    );

    app.ok("ann", "threads.delete", json!({"thread_id": first}))
        .await;
    assert_eq!(app.send("ann", "threads.get_by_id", get).await.status, 404);
    assert_eq!(app.send("ann", "items.list", items).await.status, 404);
    let ids: Vec<Value> = app.ok("ann", "threads.list", json!({})).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(ids, [second]);
}

db_test!(answers_are_kept_per_user);
/// A user's answer is never another's: the same request from another user reads their own.
async fn answers_are_kept_per_user(app: TestApp) {
    let (thread, _) = app.create_thread("ann", "mine").await;
    let get = json!({"thread_id": thread});
    app.ok("ann", "threads.get_by_id", get.clone()).await;
    app.ok("ann", "threads.list", json!({})).await;
    assert_eq!(app.send("bob", "threads.get_by_id", get).await.status, 404);
    assert_eq!(
        app.ok("bob", "threads.list", json!({})).await["data"],
        json!([])
    );
}

/// On SQLite the answers are kept in memory: a change made to the file behind the server's
/// back (which a deployment must not do: the server owns its file) is not seen until the
/// server writes something itself, and is seen at once with the cache off. This is what shows
/// that reads are served from memory at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_are_served_from_memory() {
    for cache_mb in ["64", "0"] {
        let vars = [("CHATKIT_READ_CACHE_MB", cache_mb)];
        let app = spawn_app_with(Db::Sqlite, &vars).await.expect("sqlite app");
        let (thread, _) = app.create_thread("ann", "hello").await;
        let (other, _) = app.create_thread("ann", "other").await;
        let shown = title(&app, &thread).await;
        execute_sql(
            &app.db_url,
            &format!("UPDATE threads SET title = 'Behind its back' WHERE id = '{thread}'"),
        );
        let expected = if cache_mb == "0" {
            json!("Behind its back")
        } else {
            shown
        };
        assert_eq!(title(&app, &thread).await, expected, "cache {cache_mb} MB");
        // Any write through the server moves the marks on.
        app.ok(
            "ann",
            "threads.update",
            json!({"thread_id": other, "title": "Other"}),
        )
        .await;
        assert_eq!(title(&app, &thread).await, "Behind its back");
    }
}

/// On Postgres a change committed by anyone (here a plain SQL session, as another process or
/// an operator's tool would) shows in the next read of this server, every time; with the
/// change triggers gone, the same change is not seen, which shows that the reads are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_see_changes_committed_elsewhere_at_once() {
    let Some(app) = spawn_app(Db::Postgres).await else {
        return;
    };
    let (thread, _) = app.create_thread("ann", "hello").await;
    for round in 0..30 {
        title(&app, &thread).await;
        app.ok("ann", "threads.list", json!({})).await;
        execute_sql(
            &app.db_url,
            &format!("UPDATE threads SET title = 'Round {round}' WHERE id = '{thread}'"),
        );
        assert_eq!(title(&app, &thread).await, format!("Round {round}"));
        assert_eq!(
            titles(&app.ok("ann", "threads.list", json!({})).await),
            [format!("Round {round}")]
        );
    }
    execute_sql(&app.db_url, "DROP TRIGGER threads_changed ON threads");
    // Other tests' servers on the same database notify changes too, and any notification
    // starts a new mark; so the kept answer is looked for a few times, each after a change
    // made behind the server's back. A cache that kept nothing would show every change.
    let mut shown = json!("Round 29");
    let mut kept = false;
    for attempt in 0..5 {
        execute_sql(
            &app.db_url,
            &format!("UPDATE threads SET title = 'Unseen {attempt}' WHERE id = '{thread}'"),
        );
        let now = title(&app, &thread).await;
        if now == shown {
            kept = true;
            break;
        }
        shown = now;
    }
    assert!(kept, "every change made behind the server's back was shown");
}

/// Two server processes on one Postgres: each change made through one is seen by the very next
/// read through the other, which had the same reads cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_on_one_process_see_writes_on_another() {
    let fake = FakeLlm::start().await;
    let Some((_db, url)) = TestDb::create(Db::Postgres) else {
        return;
    };
    let vars = process_vars(&fake, &[]);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = ServerProcess::start(&url, dirs[0].path(), &as_refs(&vars)).await;
    let b = ServerProcess::start(&url, dirs[1].path(), &as_refs(&vars)).await;
    let mut stream = Sse::new(a.create_thread("ann", "hello").await);
    stream.read_all().await;
    let thread = stream.thread_id();
    let get = json!({"thread_id": thread});
    for round in 0..20 {
        b.ok("ann", "threads.get_by_id", get.clone()).await;
        a.ok(
            "ann",
            "threads.update",
            json!({"thread_id": thread, "title": format!("Round {round}")}),
        )
        .await;
        let read = b.ok("ann", "threads.get_by_id", get.clone()).await;
        assert_eq!(read["title"], format!("Round {round}"));
    }
}

/// Every database session of the server ended at once, over and over (as a failover does),
/// including the ones reads wait on for their barriers: reads go on answering, and each shows
/// the change committed just before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_stay_fresh_when_the_listening_sessions_end() {
    let Some(named) = named_postgres_app().await else {
        return;
    };
    let app = &named.app;
    let (thread, _) = app.create_thread("ann", "hello").await;
    let end_sessions = format!(
        "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE application_name = '{}' AND pid <> pg_backend_pid()",
        named.name
    );
    for round in 0..12 {
        title(app, &thread).await;
        if round % 3 == 1 {
            sql_count(&named.admin_url, &end_sessions);
        }
        execute_sql(
            &app.db_url,
            &format!("UPDATE threads SET title = 'Round {round}' WHERE id = '{thread}'"),
        );
        assert_eq!(title(app, &thread).await, format!("Round {round}"));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
