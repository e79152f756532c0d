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
//! - [`python`]: Python programs of the tests started as child processes, such as the MCP test
//!   server (`tests/mcp`).
//! - [`s3`]: an S3-compatible server (moto), started as a child process, with its bucket.
//! - [`process`]: the server binary as a child process, to kill, stop and start again on
//!   the same database.
//! - [`browser`]: headless Chromium over WebDriver, one at a time; `vendor/axe-core` is the
//!   accessibility checker the chat's browser tests inject into the page.
//! - [`console`]: operators, the sign-in form and signed-in requests to the operator console.
//! - [`turns`]: messages, whole turns with the fake model and ratings, for tests that need
//!   conversations to look at.
//! - [`logs`]: the server's log lines, captured in memory.
//!
//! A test whose prerequisite is missing calls [`skip`], which fails instead in strict mode;
//! the run ends by counting the skipped tests and why.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, Once};

pub mod answer;
pub mod app;
pub mod browser;
pub mod console;
pub mod fake_llm;
pub mod fixtures;
pub mod logs;
pub mod macros;
pub mod mcp_server;
pub mod process;
pub mod python;
pub mod s3;
pub mod turns;

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
    if let Ok(mut skipped) = SKIPPED.lock() {
        *skipped.entry(why.to_owned()).or_default() += 1;
    }
    static AT_EXIT: Once = Once::new();
    // SAFETY: registers a plain `extern "C"` function that touches only a static.
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(report_skipped);
    });
}

/// The reasons tests were skipped, each with how many tests it cost.
static SKIPPED: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Runs when the test binary exits, after the harness's own summary line, so the last lines
/// of `cargo test` say how much did not run and why.
extern "C" fn report_skipped() {
    let Ok(skipped) = SKIPPED.lock() else { return };
    let total: usize = skipped.values().sum();
    let mut text = format!("\nskipped: {total} test(s) whose prerequisites are missing\n");
    for (why, count) in skipped.iter() {
        text.push_str(&format!("  {count} x {why}\n"));
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}
