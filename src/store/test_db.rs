//! Databases for the store's own tests: a fresh SQLite file always, and a fresh schema in
//! `TEST_DATABASE_URL` when that names a Postgres server (a note on stderr otherwise, or a
//! failure where `CHATKIT_TEST_STRICT` asks every test to run).

use std::io::Write;

use diesel::{Connection, PgConnection, RunQueryDsl};

/// A database of its own, removed when dropped.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// The Postgres server and the schema to drop.
    postgres: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, schema)) = &self.postgres
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn);
        }
    }
}

/// One fresh database per backend that can run here.
pub fn each_backend() -> Vec<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    let mut dbs = vec![TestDb {
        url: format!("sqlite://{}", dir.path().join("test.db").display()),
        _dir: Some(dir),
        postgres: None,
    }];
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) => {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = PgConnection::establish(&admin_url).unwrap();
            diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .unwrap();
            let sep = if admin_url.contains('?') { '&' } else { '?' };
            dbs.push(TestDb {
                url: format!("{admin_url}{sep}options=-c%20search_path%3D{schema}"),
                _dir: None,
                postgres: Some((admin_url, schema)),
            });
        }
        Err(_) if std::env::var_os("CHATKIT_TEST_STRICT").is_some() => {
            panic!("TEST_DATABASE_URL is not set and CHATKIT_TEST_STRICT is");
        }
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: Postgres: TEST_DATABASE_URL is not set"
            );
        }
    }
    dbs
}
