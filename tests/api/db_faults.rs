//! A database that fails under a running server: Postgres ending the server's sessions, going
//! out of reach behind a proxy the test shuts, turning read-only; and a server asked to start
//! on a database it cannot write. Postgres tests skip without `TEST_DATABASE_URL`.

use std::sync::{Arc, Mutex};

use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::support::app::{Db, TestApp, TestDb, eventually, serve, sql_count};
use crate::support::console::{self, PASSWORD};
use crate::support::skip;

/// The Postgres server of `TEST_DATABASE_URL`, or `None` (the test skips).
fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("TEST_DATABASE_URL").ok();
    if url.is_none() {
        skip("Postgres test: TEST_DATABASE_URL is not set");
    }
    url
}

/// `url` with `param` added to its query string.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

fn admin_execute(admin_url: &str, sql: &str) {
    let mut conn = PgConnection::establish(admin_url).expect("admin connection");
    diesel::sql_query(sql)
        .execute(&mut conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Several requests at once, so the pool holds more than one connection.
async fn list_concurrently(app: &TestApp) {
    let lists = (0..4).map(|_| app.ok("ann", "threads.list", json!({})));
    futures_util::future::join_all(lists).await;
}

/// A server on a fresh Postgres database whose sessions carry `name` as their application
/// name, so that a test can find and end them; and the URL of the database's administrator.
pub(crate) struct NamedApp {
    pub app: TestApp,
    pub admin_url: String,
    pub name: String,
}

pub(crate) async fn named_postgres_app() -> Option<NamedApp> {
    let (test_db, url) = TestDb::create(Db::Postgres)?;
    let TestDb::Postgres { admin_url, .. } = &test_db else {
        unreachable!("a Postgres database")
    };
    let admin_url = admin_url.clone();
    let name = format!("ck_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let url = with_param(&url, &format!("application_name={name}"));
    let app = serve(&url, &[], Some(test_db)).await;
    Some(NamedApp {
        app,
        admin_url,
        name,
    })
}

/// A Postgres backend ended under the server (`pg_terminate_backend`, as a failover or a
/// restart does): reads go on answering, the dead connections never reach a client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_database_sessions_are_replaced_unseen() {
    let Some(NamedApp {
        app,
        admin_url,
        name,
    }) = named_postgres_app().await
    else {
        return;
    };
    let sessions = format!("FROM pg_stat_activity WHERE application_name = '{name}'");
    let count = format!("SELECT COUNT(*) AS n {sessions}");
    // The pool opens connections in the background: wait until it holds several.
    eventually("the pool to hold two sessions", || async {
        list_concurrently(&app).await;
        (sql_count(&admin_url, &count) >= 2).then_some(())
    })
    .await;

    // End them all, again until none is left: one the pool was still opening when the first
    // round ran would otherwise survive it.
    let mut ended = 0;
    eventually("the sessions to end", || {
        ended += sql_count(
            &admin_url,
            &format!("SELECT COUNT(pg_terminate_backend(pid)) AS n {sessions}"),
        );
        let left = sql_count(&admin_url, &count);
        async move { (left == 0).then_some(()) }
    })
    .await;
    assert!(ended >= 2, "the server's sessions: {ended}");

    for _ in 0..3 {
        let answer = app.send("ann", "threads.list", json!({})).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    list_concurrently(&app).await;
    let ready = reqwest::get(format!("{}/readyz", app.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

/// A TCP proxy in front of Postgres that the test can shut, as a network or a database that
/// goes away.
struct Proxy {
    addr: std::net::SocketAddr,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let pipes = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                pipes.lock().unwrap().push(pipe.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        Proxy { addr, tasks }
    }

    /// Stops listening and cuts every connection through it.
    fn shut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").expect("a URL").1;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = rest[..end]
        .rsplit_once('@')
        .map_or(&rest[..end], |(_, h)| h);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// Postgres out of reach: requests answer 503 `unavailable` with a message that says so, not
/// a 500; readiness fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_answers_unavailable() {
    let Some((test_db, url)) = TestDb::create(Db::Postgres) else {
        return;
    };
    let upstream = authority(&url);
    let proxy = Proxy::start(upstream.clone()).await;
    let url = url.replacen(&upstream, &proxy.addr.to_string(), 1);
    let app = serve(&url, &[], Some(test_db)).await;
    list_concurrently(&app).await;
    let (thread_id, _) = app.create_thread("ann", "hello").await;

    proxy.shut();
    let answer = app.send("ann", "threads.list", json!({})).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.error_code(), "unavailable");
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("database is unavailable"), "{message}");
    assert!(!message.contains("127.0.0.1"), "no detail: {message}");

    // A streaming request fails before its stream starts, with the same JSON answer.
    let answer = app
        .send(
            "ann",
            "threads.add_user_message",
            json!({"thread_id": thread_id, "input": crate::support::fixtures::user_input("again")}),
        )
        .await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.error_code(), "unavailable");

    let ready = reqwest::get(format!("{}/readyz", app.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
}

/// A database of its own on the Postgres server, dropped at the end: its settings can change
/// without touching other tests' databases.
struct OwnDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl OwnDatabase {
    fn create(admin_url: &str) -> OwnDatabase {
        let name = format!("ck_{}", uuid::Uuid::new_v4().simple());
        admin_execute(admin_url, &format!("CREATE DATABASE {name}"));
        let (head, query) = admin_url.split_once('?').unwrap_or((admin_url, ""));
        let rest = head.split_once("://").expect("a URL").1;
        let path_at = head.len() - rest.len() + rest.find('/').unwrap_or(rest.len());
        let mut url = format!("{}/{name}", &head[..path_at]);
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        OwnDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = diesel::sql_query(drop).execute(&mut conn);
        }
    }
}

const FIRST_ADMIN: &[(&str, &str)] = &[
    ("CHATKIT_ADMIN_EMAIL", "admin@example.com"),
    ("CHATKIT_ADMIN_PASSWORD", PASSWORD),
];

/// A database that turns read-only under the server (a replica after a failover): changes
/// answer 503 `read_only` in JSON and on the console, and readiness fails, while reads go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_refuses_changes_and_readiness() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let db = OwnDatabase::create(&admin_url);
    let app = serve(&db.url, FIRST_ADMIN, None).await;
    let (thread_id, _) = app.create_thread("ann", "hello").await;
    let ready = reqwest::get(format!("{}/readyz", app.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    admin_execute(
        &admin_url,
        &format!(
            "ALTER DATABASE {} SET default_transaction_read_only = on",
            db.name
        ),
    );
    sql_count(
        &admin_url,
        &format!(
            "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = '{}'",
            db.name
        ),
    );

    let readiness = eventually("readiness to see the read-only database", || async {
        let ready = reqwest::get(format!("{}/readyz", app.address))
            .await
            .unwrap();
        let status = ready.status().as_u16();
        let body: serde_json::Value = ready.json().await.unwrap();
        let read_only = body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("read-only");
        (status == 503 && read_only).then_some(body)
    })
    .await;
    assert_eq!(readiness["status"], "unavailable");

    let threads = app.ok("ann", "threads.list", json!({})).await;
    assert_eq!(threads["data"].as_array().unwrap().len(), 1);
    let rename = json!({"thread_id": thread_id, "title": "renamed"});
    let answer = app.send("ann", "threads.update", rename).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.error_code(), "read_only");
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("read-only"), "{message}");

    // Signing in writes a session: the console says why it cannot.
    let form = console::login_form(&app).await;
    let page = console::post_login(&app, &form, "admin@example.com", PASSWORD).await;
    assert_eq!(page.status, 503, "{page:?}");
    assert!(page.body.contains("read-only"), "{}", page.body);
    app.stop.stop(false).await;
}

/// Runs the server binary on `url` until it exits or says it serves; its exit status (`None`
/// when it served) and what it printed.
async fn start_binary(url: &str, dir: &std::path::Path) -> (Option<i32>, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatkit-server"))
        .env_clear()
        .env("DATABASE_URL", url)
        .env("CHATKIT_BIND", "127.0.0.1:0")
        .env("CHATKIT_PROBE_PORTS", "none")
        .env("CHATKIT_DEMO_MODEL", "false")
        .env("CHATKIT_STORAGE_DIR", dir.join("files"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut printed = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("serving ChatKit on") {
            child.kill().await.unwrap();
            return (None, printed);
        }
    }
    let status = child.wait().await.unwrap();
    (status.code(), printed)
}

/// A server asked to start on a database it cannot write refuses, saying why, instead of
/// answering reads and failing every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_to_start_on_a_read_only_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let store = chatkit_server::store::Store::connect(&path.display().to_string(), 1).unwrap();
    store.ensure_defaults().await.unwrap();
    drop(store);
    let (code, printed) =
        start_binary(&format!("file:{}?mode=ro", path.display()), dir.path()).await;
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("the database cannot be written") && printed.contains("read-only"),
        "{printed}"
    );

    let Some((test_db, url)) = TestDb::create(Db::Postgres) else {
        return;
    };
    let store = chatkit_server::store::Store::connect(&url, 1).unwrap();
    store.ensure_defaults().await.unwrap();
    drop(store);
    let read_only = url.replacen(
        "options=",
        "options=-c%20default_transaction_read_only%3Don%20",
        1,
    );
    let (code, printed) = start_binary(&read_only, dir.path()).await;
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("the database cannot be written") && printed.contains("read-only"),
        "{printed}"
    );
    drop(test_db);
}
