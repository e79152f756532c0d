//! Twin tests: each macro turns one test body into `name::sqlite` and `name::postgres`; the
//! Postgres half skips (or fails in strict mode) without `TEST_DATABASE_URL`.

/// Defines a test body `async fn name(app: TestApp)` as two tests, `name::sqlite` and
/// `name::postgres`. `db_test!(name, vars = VARS)` starts the servers with the extra variables
/// of the constant `VARS: &[(&str, &str)]` defined beside the test.
macro_rules! db_test {
    ($name:ident) => {
        mod $name {
            use $crate::support::app::{Db, spawn_app};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(spawn_app(Db::Sqlite).await.expect("sqlite app")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = spawn_app(Db::Postgres).await {
                    super::$name(app).await;
                }
            }
        }
    };
    ($name:ident, vars = $vars:ident) => {
        mod $name {
            use $crate::support::app::{Db, spawn_app_with};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = spawn_app_with(Db::Sqlite, super::$vars).await;
                super::$name(app.expect("sqlite app")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = spawn_app_with(Db::Postgres, super::$vars).await {
                    super::$name(app).await;
                }
            }
        }
    };
}

/// Like [`db_test!`] for a body `async fn name(app: TestApp, llm: FakeLlm)` whose server talks
/// to a fresh fake model.
macro_rules! llm_test {
    ($name:ident, vars = $vars:ident) => {
        mod $name {
            use $crate::support::app::{Db, spawn_llm_app_with};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let started = spawn_llm_app_with(Db::Sqlite, super::$vars).await;
                let (app, llm) = started.expect("sqlite app");
                super::$name(app, llm).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some((app, llm)) = spawn_llm_app_with(Db::Postgres, super::$vars).await {
                    super::$name(app, llm).await;
                }
            }
        }
    };
    ($name:ident) => {
        mod $name {
            use $crate::support::app::{Db, spawn_llm_app};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (app, llm) = spawn_llm_app(Db::Sqlite).await.expect("sqlite app");
                super::$name(app, llm).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some((app, llm)) = spawn_llm_app(Db::Postgres).await {
                    super::$name(app, llm).await;
                }
            }
        }
    };
}

/// Defines a test body `async fn name(db: Db)` that sets up its own servers, as two tests
/// (`name::sqlite`, `name::postgres`); bodies return early when a `spawn_*` gives `None`.
macro_rules! db_case {
    ($name:ident) => {
        mod $name {
            use $crate::support::app::Db;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(Db::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(Db::Postgres).await;
            }
        }
    };
}

pub(crate) use {db_case, db_test, llm_test};
