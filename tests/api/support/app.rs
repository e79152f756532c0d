//! The test server: every test boots the real server on 127.0.0.1:0 over its own database,
//! a fresh SQLite file or a fresh Postgres schema in `TEST_DATABASE_URL`, and talks HTTP to it.

use std::collections::HashMap;

use chatkit_server::config::Settings;
use chatkit_server::startup::Application;
use chatkit_server::store::{Scope, Store};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{Value, json};

use super::answer::Answer;
use super::fake_llm::FakeLlm;
use super::fixtures::user_input;
use super::skip;

/// The database a twin test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    /// `sqlite` or `postgres`, as in the names of the twin tests.
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

/// A database of its own for one test, removed when dropped.
pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, schema } = self
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn);
        }
    }
}

impl TestDb {
    /// A fresh database and its URL, or `None` when Postgres is asked for but not configured.
    pub fn create(db: Db) -> Option<(TestDb, String)> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some((TestDb::Sqlite(dir), url))
            }
            Db::Postgres => {
                let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
                    skip("Postgres test: TEST_DATABASE_URL is not set");
                    return None;
                };
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("TEST_DATABASE_URL does not connect: {e}"));
                diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .expect("create schema");
                let sep = if admin_url.contains('?') { '&' } else { '?' };
                let url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}");
                Some((TestDb::Postgres { admin_url, schema }, url))
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// A second handle on the server's database, for asserting what was stored.
    pub store: Store,
    /// The database URL, for starting another server on the same data.
    pub db_url: String,
    /// The attachment folder (`CHATKIT_STORAGE_DIR`): a temporary one unless the test gave one.
    pub storage_dir: std::path::PathBuf,
    /// The human-interaction service, for in-process callers (operator answers).
    pub human: chatkit_server::service::human::HumanService,
    /// Stops the HTTP server.
    pub stop: actix_web::dev::ServerHandle,
    _storage: tempfile::TempDir,
    _db: Option<TestDb>,
}

/// Settings of a test server: the given database, loopback port 0 unless `extra` names another
/// bind address, plus `extra` variables. Unless `extra` says otherwise, it looks for no model on
/// loopback (a local model server on the machine must not answer the tests) and has no demo
/// model, so a test without a model sees a server without one.
pub fn test_settings(db_url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("CHATKIT_PROBE_PORTS", "none"),
        ("CHATKIT_DEMO_MODEL", "false"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.insert("DATABASE_URL".into(), db_url.into());
    vars.entry("CHATKIT_BIND".into())
        .or_insert_with(|| "127.0.0.1:0".into());
    Settings::from_vars(|name| vars.get(name).cloned()).expect("test settings")
}

pub async fn spawn_app(db: Db) -> Option<TestApp> {
    spawn_app_with(db, &[]).await
}

pub async fn spawn_app_with(db: Db, extra: &[(&str, &str)]) -> Option<TestApp> {
    let (test_db, db_url) = TestDb::create(db)?;
    Some(serve(&db_url, extra, Some(test_db)).await)
}

/// Starts a server on an existing database; it owns `test_db` (and removes it) when given.
/// Its files go to the `CHATKIT_STORAGE_DIR` or `CHATKIT_STORAGE_URL` of `extra`, or else to a
/// folder of its own (never the default `./attachments`).
pub async fn serve(db_url: &str, extra: &[(&str, &str)], test_db: Option<TestDb>) -> TestApp {
    let storage = tempfile::tempdir().expect("storage dir");
    let storage_dir = match extra.iter().find(|(k, _)| *k == "CHATKIT_STORAGE_DIR") {
        Some((_, dir)) => std::path::PathBuf::from(dir),
        None => storage.path().to_path_buf(),
    };
    let storage_var = storage_dir.display().to_string();
    let mut vars = vec![("CHATKIT_STORAGE_DIR", storage_var.as_str())];
    if extra.iter().any(|(k, _)| *k == "CHATKIT_STORAGE_URL") {
        // The URL names the storage; both at once would be refused.
        vars.clear();
    }
    vars.extend_from_slice(extra);
    let app = Application::build(test_settings(db_url, &vars))
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let human = app.human();
    let stop = app.stop_handle();
    tokio::spawn(app.run_until_stopped());
    let store = Store::connect(db_url, 2).expect("test store");
    TestApp {
        address,
        client: reqwest::Client::new(),
        store,
        db_url: db_url.to_owned(),
        storage_dir,
        human,
        stop,
        _storage: storage,
        _db: test_db,
    }
}

impl TestApp {
    /// The data scope of `user` on the default agent, for reading the store directly.
    pub async fn scope(&self, user: &str) -> Scope {
        let (account, agent) = self.store.ensure_defaults().await.expect("defaults");
        Scope {
            account_id: account.id,
            agent_id: agent.id,
            user_id: user.to_owned(),
        }
    }

    /// POSTs a raw body to `/chatkit` as `user`.
    pub async fn post_raw(&self, user: &str, body: impl Into<reqwest::Body>) -> Answer {
        self.post_raw_to(None, user, body).await
    }

    /// POSTs a raw body to the `/chatkit` of agent `agent` (the default agent when `None`) as
    /// `user`.
    pub async fn post_raw_to(
        &self,
        agent: Option<&str>,
        user: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let query = agent.map(|a| format!("?agent={a}")).unwrap_or_default();
        let response = self
            .client
            .post(format!("{}/chatkit{query}", self.address))
            .header("X-ChatKit-User", user)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent");
        Answer::read(response).await.0
    }

    /// Sends a ChatKit request `{type, params}` as `user`.
    pub async fn send(&self, user: &str, kind: &str, params: Value) -> Answer {
        self.send_to(None, user, kind, params).await
    }

    /// Sends a ChatKit request `{type, params}` as `user` to agent `agent` (the default agent
    /// when `None`).
    pub async fn send_to(
        &self,
        agent: Option<&str>,
        user: &str,
        kind: &str,
        params: Value,
    ) -> Answer {
        let body = json!({"type": kind, "params": params}).to_string();
        self.post_raw_to(agent, user, body).await
    }

    /// A JSON request that must succeed; its body.
    pub async fn ok(&self, user: &str, kind: &str, params: Value) -> Value {
        let answer = self.send(user, kind, params).await;
        assert_eq!(answer.status, 200, "{kind} failed: {answer:?}");
        assert!(
            answer.content_type.starts_with("application/json"),
            "{answer:?}"
        );
        answer.json()
    }

    /// A streaming request that must succeed; its events.
    pub async fn stream(&self, user: &str, kind: &str, params: Value) -> Vec<Value> {
        let answer = self.send(user, kind, params).await;
        assert_eq!(answer.status, 200, "{kind} failed: {answer:?}");
        answer.events()
    }

    /// Starts a thread with one text message; returns the thread id and the stream's events.
    pub async fn create_thread(&self, user: &str, text: &str) -> (String, Vec<Value>) {
        let events = self
            .stream(user, "threads.create", json!({"input": user_input(text)}))
            .await;
        let id = events[0]["thread"]["id"]
            .as_str()
            .expect("thread.created first")
            .to_owned();
        (id, events)
    }
}

/// Variables of a server whose model is the fake at `base_url`.
pub fn llm_vars(base_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OPENAI_BASE_URL", base_url.to_owned()),
        ("OPENAI_API_KEY", "sk-test".to_owned()),
        ("CHATKIT_MODEL", "fake-model".to_owned()),
        ("CHATKIT_MODELS", "alt-model".to_owned()),
        (
            "CHATKIT_INSTRUCTIONS",
            "You are a test assistant.".to_owned(),
        ),
        ("CHATKIT_LLM_RETRY_BACKOFF_MS", "10".to_owned()),
        ("CHATKIT_LLM_IDLE_TIMEOUT_SECS", "2".to_owned()),
        ("CHATKIT_SSE_KEEP_ALIVE_SECS", "1".to_owned()),
        (
            "CHATKIT_CLIENT_TOOLS",
            r#"[{"name": "get_selection", "description": "The text the user selected on the page.",
                 "parameters": {"type": "object", "properties": {"what": {"type": "string"}}}}]"#
                .to_owned(),
        ),
    ]
}

/// Gives the rows of `table` (id, user) shared timestamps in `column`: three rows a minute from
/// `day` 00:00 on, in the order given, so that a keyset page has ties to break by id. Returns
/// the rows newest first, as a list ordered by (`column`, id) descending shows them.
pub fn tie_in_threes<'a>(
    db_url: &str,
    table: &str,
    column: &str,
    day: &str,
    rows: &[(String, &'a str)],
) -> Vec<(String, &'a str)> {
    for (minute, group) in rows.chunks(3).enumerate() {
        let ids: Vec<String> = group.iter().map(|(id, _)| format!("'{id}'")).collect();
        let sql = format!(
            "UPDATE {table} SET {column} = '{day} 00:{minute:02}:00' WHERE id IN ({})",
            ids.join(", ")
        );
        execute_sql(db_url, &sql);
    }
    let mut newest_first: Vec<(usize, &(String, &'a str))> = rows
        .iter()
        .enumerate()
        .map(|(n, row)| (n / 3, row))
        .collect();
    newest_first.sort_by(|a, b| (b.0, &b.1.0).cmp(&(a.0, &a.1.0)));
    newest_first
        .into_iter()
        .map(|(_, row)| row.clone())
        .collect()
}

/// A server answering with the fake model, on `db`.
pub async fn spawn_llm_app(db: Db) -> Option<(TestApp, FakeLlm)> {
    spawn_llm_app_with(db, &[]).await
}

/// Like [`spawn_llm_app`], with more variables.
pub async fn spawn_llm_app_with(db: Db, extra: &[(&str, &str)]) -> Option<(TestApp, FakeLlm)> {
    let fake = FakeLlm::start().await;
    let vars = llm_vars(&fake.base_url());
    let mut vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend_from_slice(extra);
    let app = spawn_app_with(db, &vars).await?;
    Some((app, fake))
}

/// A server on `db` whose model is a fresh fake and whose MCP servers are `servers` (the JSON
/// of `CHATKIT_MCP_SERVERS`).
pub async fn spawn_mcp_app(db: Db, servers: Value) -> Option<(TestApp, FakeLlm)> {
    let fake = FakeLlm::start().await;
    let mut vars = llm_vars(&fake.base_url());
    vars.push(("CHATKIT_MCP_SERVERS", servers.to_string()));
    vars.push(("CHATKIT_AUTO_TITLES", "false".to_owned()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(db, &vars).await?;
    Some((app, fake))
}

/// Runs one SQL statement on the test database (for data no API creates yet).
pub fn execute_sql(db_url: &str, sql: &str) {
    use chatkit_server::store::Backend;
    let done = match Backend::of_url(db_url) {
        Backend::Postgres => {
            diesel::sql_query(sql).execute(&mut PgConnection::establish(db_url).expect("connect"))
        }
        Backend::Sqlite => diesel::sql_query(sql).execute(&mut sqlite(db_url)),
    };
    done.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A connection to the test's SQLite file that waits for the server's writes, as any other
/// writer of a live database must (the server indexes messages for search in the background).
fn sqlite(db_url: &str) -> diesel::SqliteConnection {
    use chatkit_server::config::database::sqlite_path;
    use diesel::connection::SimpleConnection;
    let mut conn = diesel::SqliteConnection::establish(sqlite_path(db_url)).expect("connect");
    conn.batch_execute("PRAGMA busy_timeout = 10000")
        .expect("busy timeout");
    conn
}

/// The `n` of a one-row query on the test database, such as `SELECT COUNT(*) AS n FROM ...`.
pub fn sql_count(db_url: &str, sql: &str) -> i64 {
    use chatkit_server::store::Backend;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let found = match Backend::of_url(db_url) {
        Backend::Postgres => diesel::sql_query(sql)
            .get_result::<Count>(&mut PgConnection::establish(db_url).expect("connect")),
        Backend::Sqlite => diesel::sql_query(sql).get_result::<Count>(&mut sqlite(db_url)),
    };
    found.unwrap_or_else(|e| panic!("{sql}: {e}")).n
}

/// Adds an enabled agent `slug` to the default account; returns its id.
pub async fn add_agent(app: &TestApp, slug: &str) -> String {
    let (account, _) = app.store.ensure_defaults().await.expect("defaults");
    let id = format!("agt_{slug}");
    execute_sql(
        &app.db_url,
        &format!(
            "INSERT INTO agents (id, account_id, slug, name, enabled, created_at) \
             VALUES ('{id}', '{}', '{slug}', '{slug}', TRUE, '2026-01-01 00:00:00')",
            account.id
        ),
    );
    id
}

/// Polls `check` every 20 ms until it returns `Some`, failing after 10 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
