//! The chat page as a newcomer's browser meets it: the numbers behind the "Chat page" section of
//! `docs/benchmarks.md`.
//!
//! `cargo bench --bench chat_page` starts the real server (SQLite, the demo model), opens `/` in
//! headless Chromium (the tests' WebDriver support; skipped with a message when Chromium or
//! its driver is missing), and reports:
//! - the page's weight: every file the browser loaded for it (the HTML, the element's modules,
//!   the vendored Markdown renderer and sanitiser, styles, icons), each as it is and gzipped;
//! - first contentful paint and the moment the element is ready to type in
//!   (`chatkit-chat:ready`), for a first visit (empty cache) and for returning visits, over
//!   repeated loads on loopback.
//!
//! Nothing here asserts on time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../tests/api/support/mod.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::app::{Db, TestDb, serve};
use support::browser::{Browser, Viewport};

/// Returning visits timed.
const VISITS: usize = 30;
/// The targets of the issue.
const WEIGHT_TARGET_KB: f64 = 150.0;
const PAINT_TARGET_MS: f64 = 200.0;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}

async fn bench() {
    let Some((test_db, db_url)) = TestDb::create(Db::Sqlite) else {
        eprintln!("chat_page: no database");
        return;
    };
    let app = serve(&db_url, &[("CHATKIT_DEMO_MODEL", "true")], Some(test_db)).await;
    let Some(browser) = Browser::start("bench-chat-page", Viewport::Desktop).await else {
        eprintln!("chat_page: Chromium and chromedriver are needed; nothing measured");
        return;
    };
    let page = format!("{}/", app.address);

    // First visit: a fresh browser profile, so nothing is cached.
    let first = visit(&browser, &page).await;
    let files = loaded_files(&browser).await;
    let mut returning = Vec::new();
    for _ in 0..VISITS {
        returning.push(visit(&browser, &page).await);
    }
    browser.close().await;

    println!("## Chat page\n");
    println!("| file | bytes | gzipped |");
    println!("|---|---:|---:|");
    let (mut raw_total, mut gzip_total) = (0, 0);
    for url in &files {
        let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
        let gzipped = gzip_len(&body);
        raw_total += body.len();
        gzip_total += gzipped;
        let path = url.strip_prefix(&app.address).unwrap_or(url);
        println!("| `{path}` | {} | {gzipped} |", body.len());
    }
    let kb = gzip_total as f64 / 1024.0;
    println!(
        "| **all {} files** | **{raw_total}** | **{gzip_total}** ({kb:.1} KB; target < {WEIGHT_TARGET_KB} KB: {}) |\n",
        files.len(),
        verdict(kb < WEIGHT_TARGET_KB)
    );

    let paints: Vec<f64> = returning.iter().map(|t| t.0).collect();
    let readies: Vec<f64> = returning.iter().map(|t| t.1).collect();
    println!("| load | first contentful paint | chat ready |");
    println!("|---|---:|---:|");
    println!(
        "| first visit (empty cache) | {:.0} ms | {:.0} ms |",
        first.0, first.1
    );
    for (label, q) in [("p50", 0.50), ("p95", 0.95), ("max", 1.0)] {
        println!(
            "| returning, {label} of {VISITS} | {:.0} ms | {:.0} ms |",
            quantile(&paints, q),
            quantile(&readies, q)
        );
    }
    let worst = quantile(&paints, 1.0).max(first.0);
    println!(
        "\nFirst paint target < {PAINT_TARGET_MS} ms on loopback: {} (slowest {worst:.0} ms).",
        verdict(worst < PAINT_TARGET_MS)
    );
    app.stop.stop(true).await;
}

/// Loads `url` and returns (first contentful paint, element ready), in ms from navigation.
/// The element may be ready before the browser paints, so the paint entry is waited for.
async fn visit(browser: &Browser, url: &str) -> (f64, f64) {
    browser.goto(url).await;
    browser.wait_for("chatkit-chat .ck-input").await;
    for _ in 0..200 {
        let marks = browser
            .execute(
                "const paint = performance.getEntriesByName('first-contentful-paint')[0];
                 const ready = performance.getEntriesByName('chatkit-chat:ready')[0];
                 return [paint ? paint.startTime : null, ready ? ready.startTime : null];",
                vec![],
            )
            .await;
        if let (Some(paint), Some(ready)) = (marks[0].as_f64(), marks[1].as_f64()) {
            return (paint, ready);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no first paint or ready mark after 2 s");
}

/// The page's own URL and every resource it loaded, in load order.
async fn loaded_files(browser: &Browser) -> Vec<String> {
    let urls = browser
        .execute(
            "return [location.href].concat(performance.getEntriesByType('resource')
                 .map(e => e.name));",
            vec![],
        )
        .await;
    // The chat's own requests (`/chatkit?…`) are data, not the page.
    let mut files: Vec<String> = urls
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|u| u.starts_with("http") && !u.contains("/chatkit?") && !u.ends_with("/chatkit"))
        .map(str::to_owned)
        .collect();
    files.dedup();
    files
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut child = Command::new("gzip")
        .arg("-9c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    child.wait_with_output().unwrap().stdout.len()
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}
