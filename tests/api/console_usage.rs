//! `/admin/usage` through the real server on both databases: turns with the fake model are
//! counted by day, agent, model and user with the tokens the runs recorded, priced at the
//! price set in the console when they ended (a later price change leaves them be), kept when
//! their threads are deleted, exported as CSV, and shown with their time to first words; a
//! rate limit someone ran into appears; only admins set prices (CSRF-checked, audited); and
//! the page in Chromium, with its SVG chart, under the console's CSP at desktop and phone size.

use serde_json::json;

use chatkit_server::service::console::usage::micros_to_dollars;
use chatkit_server::store::Role;

use crate::support::app::{Db, TestApp, eventually, spawn_llm_app_with};
use crate::support::browser::{Browser, Viewport};
use crate::support::console::{
    ConsoleSession, PASSWORD, add_operator, audit_rows, sign_in, sign_in_browser,
};
use crate::support::fake_llm::{FakeLlm, Reply};
use crate::support::fixtures::user_input;
use crate::support::macros::{db_case, llm_test};

const ADMIN: &str = "admin@example.com";
const REVIEWER: &str = "reviewer@example.com";

const VARS: &[(&str, &str)] = &[
    ("CHATKIT_AUTO_TITLES", "false"),
    ("CHATKIT_LIMIT_USER_REQUESTS_PER_MINUTE", "3"),
];

/// A turn of `user` in a new thread; its thread id.
async fn turn(app: &TestApp, llm: &FakeLlm, user: &str) -> String {
    llm.push(Reply::Text(vec!["Here ".into(), "you are.".into()]));
    let (thread_id, _) = app.create_thread(user, "Hello there").await;
    thread_id
}

/// Prompt and completion tokens the runs of `threads` recorded.
async fn recorded(app: &TestApp, threads: &[&str]) -> (i64, i64) {
    let mut sums = (0, 0);
    for thread in threads {
        for run in app.store.load_runs(thread).await.unwrap() {
            sums.0 += run.prompt_tokens;
            sums.1 += run.completion_tokens;
        }
    }
    sums
}

fn cost(prompt: i64, completion: i64, input: i64, output: i64) -> i64 {
    (prompt * input + completion * output + 500_000) / 1_000_000
}

fn stat(page: &str, name: &str) -> String {
    let marker = format!("data-stat=\"{name}\">");
    let start = page.find(&marker).expect(name) + marker.len();
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

fn plain(n: &str) -> i64 {
    n.replace(',', "").parse().unwrap()
}

async fn set_price(session: &ConsoleSession, model: &str, input: &str, output: &str) -> u16 {
    session
        .act(
            "/admin/usage/prices",
            &[("model", model), ("input", input), ("output", output)],
        )
        .await
        .status
}

llm_test!(usage_counts_prices_and_exports_the_runs, vars = VARS);
async fn usage_counts_prices_and_exports_the_runs(app: TestApp, llm: FakeLlm) {
    add_operator(&app, ADMIN, Role::Admin).await;
    add_operator(&app, REVIEWER, Role::Reviewer).await;
    let admin = sign_in(&app, ADMIN, PASSWORD).await;
    let reviewer = sign_in(&app, REVIEWER, PASSWORD).await;

    // Prices: admins only, with a CSRF token, audited; nonsense refused.
    assert_eq!(set_price(&admin, "fake-model", "2.50", "10").await, 303);
    assert_eq!(set_price(&reviewer, "fake-model", "0", "0").await, 403);
    let forged = admin
        .post(
            "/admin/usage/prices",
            &[("model", "fake-model"), ("input", "0"), ("output", "0")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let bad = set_price(&admin, "fake-model", "abc", "1").await;
    assert!((400..500).contains(&bad), "{bad}");
    let audit = audit_rows(&app, "model_price_set").await;
    assert_eq!(audit.len(), 1, "only the admin's change: {audit:?}");
    assert_eq!(
        audit[0].detail["after"],
        json!({"input_micros_per_mtok": 2_500_000, "output_micros_per_mtok": 10_000_000})
    );

    let ann = turn(&app, &llm, "ann").await;
    let bob = turn(&app, &llm, "bob").await;
    let (prompt, completion) = recorded(&app, &[&ann, &bob]).await;
    assert!(prompt > 0 && completion > 0, "the fake model reports usage");
    let priced = cost(prompt, completion, 2_500_000, 10_000_000);

    // A later price applies to later runs only; deleting a thread keeps its usage.
    assert_eq!(set_price(&admin, "fake-model", "100", "100").await, 303);
    app.ok("ann", "threads.delete", json!({ "thread_id": ann }))
        .await;

    let page = reviewer.get("/admin/usage").await;
    assert_eq!(page.status, 200, "{page:?}");
    let body = &page.body;
    assert_eq!(stat(body, "runs"), "2");
    assert_eq!(plain(&stat(body, "prompt")), prompt);
    assert_eq!(plain(&stat(body, "completion")), completion);
    assert_eq!(
        stat(body, "cost"),
        format!("${}", micros_to_dollars(priced))
    );
    assert!(stat(body, "p50").ends_with(" ms") || stat(body, "p50").ends_with(" s"));
    for shown in ["fake-model", ">ann<", ">bob<", "$100.00"] {
        assert!(body.contains(shown), "{shown} on the page");
    }
    assert!(body.contains("<svg"), "the chart");
    assert!(
        !body.contains("Save price"),
        "reviewers do not see the price form"
    );
    assert!(
        admin.get("/admin/usage").await.body.contains("Save price"),
        "admins do"
    );

    // Another agent's usage, and a range without runs, are empty.
    let other = crate::support::app::add_agent(&app, "other").await;
    let page = admin.get(&format!("/admin/usage?agent={other}")).await;
    assert_eq!(stat(&page.body, "runs"), "0");
    let page = admin
        .get("/admin/usage?from=2001-01-01&until=2001-01-31")
        .await;
    assert_eq!(stat(&page.body, "runs"), "0");
    let page = admin.get("/admin/usage?from=yesterday").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("is not a date"), "told, not failed");

    // The CSV: a line per day, agent, model and user, with its cost.
    let csv = admin.get("/admin/usage.csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .contains("attachment")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "day,agent,model,user,runs,failed_runs,prompt_tokens,completion_tokens,cost_usd"
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    let costs: i64 = lines[1..]
        .iter()
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells[2], "fake-model");
            let dollars = cells[8];
            let (whole, fraction) = dollars.split_once('.').unwrap();
            whole.parse::<i64>().unwrap() * 1_000_000
                + format!("{fraction:0<6}").parse::<i64>().unwrap()
        })
        .sum();
    assert_eq!(costs, priced);

    // Who ran into a limit: carol's fourth request of the minute is refused, and shows.
    for _ in 0..4 {
        app.send("carol", "threads.list", json!({})).await;
    }
    eventually("carol's refusal on the usage page", || async {
        let body = admin.get("/admin/usage").await.body;
        (body.contains(">carol<") && body.contains("user requests per minute")).then_some(())
    })
    .await;
}

db_case!(usage_page_in_a_browser);
async fn usage_page_in_a_browser(db: Db) {
    let Some((app, llm)) = spawn_llm_app_with(db, VARS).await else {
        return;
    };
    add_operator(&app, ADMIN, Role::Admin).await;
    for user in ["ann", "bob", "carol"] {
        llm.push(Reply::Text(vec!["Sure.".into()]));
        app.stream(user, "threads.create", json!({"input": user_input("Hi")}))
            .await;
    }
    let Some(browser) =
        Browser::start(&format!("console_usage-{}", db.name()), Viewport::Desktop).await
    else {
        return;
    };
    browser.goto(&format!("{}/admin/usage", app.address)).await;
    sign_in_browser(&browser, ADMIN).await;
    browser.wait_for(".chart svg rect.chart-in").await;
    assert_eq!(browser.text("[data-stat=runs]").await, "3");
    browser.screenshot("console-usage-desktop").await;
    browser.resize(Viewport::Phone).await;
    browser.assert_fits(390.0).await;
    browser.screenshot("console-usage-phone").await;
    browser.assert_no_csp_violations().await;
    browser.close().await;
}
