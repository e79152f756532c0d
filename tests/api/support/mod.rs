//! Everything the feature files share; they import from here, never from each other.
//!
//! - [`app`]: a test server over its own database (`TestApp`, `TestDb`, `Db`, `serve`,
//!   `spawn_*`, the settings of a test server) and the requests it answers.
//! - [`answer`]: an HTTP answer read whole, and the SSE events in it.
//! - [`macros`]: `db_test!`, `llm_test!` and `db_case!`, which run one test body on SQLite and
//!   on Postgres.
//! - [`fixtures`]: shared data and builders (a PNG, multipart bodies, message inputs, stored
//!   items, uploads, the human-input form and approval of the fake model).
//! - [`fake_llm`]: a fake OpenAI Chat Completions endpoint, scripted by the tests.
//! - [`mcp_server`]: a real MCP server (rmcp) inside the test process.
//! - [`python`]: the Python MCP anchor server, started as a child process.
//! - [`browser`]: headless Chromium over WebDriver, one at a time.
//!
//! A test whose prerequisite is missing calls [`skip`], which fails instead in strict mode.

use std::io::Write;

pub mod answer;
pub mod app;
pub mod browser;
pub mod fake_llm;
pub mod fixtures;
pub mod macros;
pub mod mcp_server;
pub mod python;

/// Set (to anything) where every test must really run: a missing prerequisite fails instead
/// of skipping.
pub const STRICT_VAR: &str = "CHATKIT_TEST_STRICT";

/// Says a test cannot run here: fails in strict mode, otherwise says why and skips. The note
/// goes straight to stderr, past the test harness's capture, so `cargo test` shows it.
pub fn skip(why: &str) {
    if std::env::var_os(STRICT_VAR).is_some() {
        panic!("required test prerequisite missing ({STRICT_VAR} is set): {why}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}
