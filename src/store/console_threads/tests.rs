//! The console's thread queries on SQLite, through the store's own write methods so the
//! triggers see what the application does. The HTTP tests run the same on Postgres.

use chrono::{Duration, TimeZone};
use serde_json::json;

use super::*;
use crate::chatkit::states::{AnsweredBy, InteractionKind, InteractionStatus, RunStatus};
use crate::chatkit::types::{FeedbackKind, Thread, ThreadItem};
use crate::store::{RunOutcome, Scope};

mod search_waits;

/// A database of its own: a SQLite file, or a Postgres schema (dropped afterwards).
enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, schema } = self
            && let Ok(mut conn) = diesel::PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn);
        }
    }
}

/// A fresh SQLite store, and a fresh Postgres one when `TEST_DATABASE_URL` is set.
async fn stores() -> Vec<(TestDb, Store, Scope)> {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![(
        format!("sqlite://{}", dir.path().join("t.db").display()),
        TestDb::Sqlite(dir),
    )];
    if let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") {
        let schema = format!("u_{}", uuid::Uuid::new_v4().simple());
        let mut conn = diesel::PgConnection::establish(&admin_url).unwrap();
        diesel::sql_query(format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .unwrap();
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}");
        urls.push((url, TestDb::Postgres { admin_url, schema }));
    }
    let mut out = Vec::new();
    for (url, db) in urls {
        let store = Store::connect(&url, 2).unwrap();
        let (account, agent) = store.ensure_defaults().await.unwrap();
        let scope = Scope {
            account_id: account.id,
            agent_id: agent.id,
            user_id: "ann".into(),
        };
        out.push((db, store, scope));
    }
    out
}

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::minutes(minute)
}

fn message(thread: &str, id: &str, kind: &str, text: &str, minute: i64) -> ThreadItem {
    let content = if kind == "user_message" {
        json!([{"type": "input_text", "text": text}])
    } else {
        json!([{"type": "output_text", "text": text, "annotations": []}])
    };
    serde_json::from_value(json!({
        "id": id, "thread_id": thread, "created_at": at(minute), "type": kind,
        "content": content, "attachments": [], "inference_options": {},
    }))
    .unwrap()
}

/// A thread of `scope` created at `minute` with one user message at the same time.
async fn thread(
    store: &Store,
    scope: &Scope,
    id: &str,
    title: Option<&str>,
    text: &str,
    minute: i64,
) {
    let mut thread = Thread::new(id.into(), at(minute));
    thread.title = title.map(str::to_owned);
    let item = message(id, &format!("{id}_u"), "user_message", text, minute);
    store
        .add_user_message(scope, Some(&thread), &item, &[], None)
        .await
        .unwrap();
}

async fn ids(store: &Store, filter: &ThreadFilter) -> Vec<String> {
    let page = store
        .console_threads(filter, PageAt::First, 100)
        .await
        .unwrap();
    page.threads.into_iter().map(|t| t.id).collect()
}

fn search(text: &str) -> ThreadFilter {
    ThreadFilter {
        search: SearchQuery::parse(text),
        ..ThreadFilter::default()
    }
}

#[tokio::test]
async fn counters_and_last_activity_follow_every_write() {
    for (_db, store, scope) in stores().await {
        counters_and_last_activity_follow_every_write_on(store, scope).await;
    }
}

async fn counters_and_last_activity_follow_every_write_on(store: Store, scope: Scope) {
    thread(&store, &scope, "thr_a", None, "hello", 0).await;
    let reply = message("thr_a", "msg_r", "assistant_message", "hi", 5);
    store.save_item(&scope, &reply).await.unwrap();
    let row = |page: ThreadListPage| page.threads.into_iter().next().unwrap();
    let first = row(store
        .console_threads(&ThreadFilter::default(), PageAt::First, 10)
        .await
        .unwrap());
    assert_eq!((first.item_count, first.updated_at), (2, at(5)));

    store
        .add_feedback(
            &scope,
            "thr_a",
            vec!["msg_r".into()],
            FeedbackKind::Negative,
        )
        .await
        .unwrap();
    store.start_run("run_1", "thr_a").await.unwrap();
    store.finish_run("run_1", failed()).await.unwrap();
    store
        .save_interaction(&pending_form("thr_a"))
        .await
        .unwrap();
    let now = row(store
        .console_threads(&ThreadFilter::default(), PageAt::First, 10)
        .await
        .unwrap());
    assert_eq!(
        (
            now.negative_feedback,
            now.failed_runs,
            now.pending_interactions
        ),
        (1, 1, 1)
    );

    // The verdict changes its mind, the form is answered, the reply goes (a retry).
    store
        .add_feedback(
            &scope,
            "thr_a",
            vec!["msg_r".into()],
            FeedbackKind::Positive,
        )
        .await
        .unwrap();
    store
        .resolve_interaction(
            "hi_1",
            InteractionStatus::Answered,
            None,
            Some(AnsweredBy::User),
        )
        .await
        .unwrap();
    store
        .delete_items_after(&scope, "thr_a", "thr_a_u")
        .await
        .unwrap();
    let after = row(store
        .console_threads(&ThreadFilter::default(), PageAt::First, 10)
        .await
        .unwrap());
    assert_eq!(
        (
            after.item_count,
            after.negative_feedback,
            after.pending_interactions,
            after.failed_runs
        ),
        (1, 0, 0, 1)
    );
}

fn failed() -> RunOutcome {
    RunOutcome {
        status: RunStatus::Failed,
        model: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        error: Some("boom".into()),
        context_dropped: None,
        partial_text: None,
        first_token_ms: None,
    }
}

fn pending_form(thread_id: &str) -> InteractionRow {
    let t = at(1).naive_utc();
    InteractionRow {
        id: "hi_1".into(),
        thread_id: thread_id.into(),
        run_id: None,
        item_id: "msg_form".into(),
        call_id: "call_1".into(),
        tool_name: "request_human_input".into(),
        arguments: "{}".into(),
        kind: InteractionKind::Form,
        schema: "{}".into(),
        status: InteractionStatus::Pending,
        answer: None,
        answered_by: None,
        details: None,
        created_at: t,
        answered_at: None,
        expires_at: t,
    }
}

#[tokio::test]
async fn pages_walk_the_list_both_ways_without_gaps_or_repeats() {
    for (_db, store, scope) in stores().await {
        pages_walk_the_list_both_ways_without_gaps_or_repeats_on(store, scope).await;
    }
}

async fn pages_walk_the_list_both_ways_without_gaps_or_repeats_on(store: Store, scope: Scope) {
    // Pairs of threads share a time, so ids break ties.
    for i in 0..25 {
        thread(&store, &scope, &format!("thr_{i:02}"), None, "x", i / 2).await;
    }
    let all = ids(&store, &ThreadFilter::default()).await;
    assert_eq!(all.len(), 25);
    let mut expected = all.clone();
    expected.sort_by_key(|id| std::cmp::Reverse((id[4..].parse::<i64>().unwrap() / 2, id.clone())));
    assert_eq!(all, expected, "newest activity first, then id");

    let filter = ThreadFilter::default();
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut at = PageAt::First;
    loop {
        let page = store.console_threads(&filter, at, 10).await.unwrap();
        seen.extend(page.threads.iter().map(|t| t.id.clone()));
        pages.push(page.clone());
        match page.older {
            Some(cursor) => at = PageAt::Older(cursor),
            None => break,
        }
    }
    assert_eq!(seen, all);
    assert_eq!(
        pages.iter().map(|p| p.threads.len()).collect::<Vec<_>>(),
        [10, 10, 5]
    );
    assert!(pages[0].newer.is_none());

    // Back from the last page: the middle one, then the first (full, no "newer").
    let back = store
        .console_threads(&filter, PageAt::Newer(pages[2].newer.clone().unwrap()), 10)
        .await
        .unwrap();
    assert_eq!(back.threads, pages[1].threads);
    let top = store
        .console_threads(&filter, PageAt::Newer(back.newer.clone().unwrap()), 10)
        .await
        .unwrap();
    assert_eq!(top, pages[0]);
    // A short way back from the second page still yields the full first page.
    let cursor = ActivityCursor::of(&pages[0].threads[3]);
    let top = store
        .console_threads(&filter, PageAt::Newer(cursor), 10)
        .await
        .unwrap();
    assert_eq!(top, pages[0]);
}

#[tokio::test]
async fn filters_combine() {
    for (_db, store, scope) in stores().await {
        filters_combine_on(store, scope).await;
    }
}

async fn filters_combine_on(store: Store, scope: Scope) {
    let bob = Scope {
        user_id: "bob".into(),
        ..scope.clone()
    };
    thread(&store, &scope, "thr_old", None, "a", 0).await;
    thread(&store, &scope, "thr_mid", None, "b", 60).await;
    thread(&store, &bob, "thr_bob", None, "c", 120).await;
    store.start_run("run_f", "thr_mid").await.unwrap();
    store.finish_run("run_f", failed()).await.unwrap();
    store.start_run("run_b", "thr_bob").await.unwrap();
    store.finish_run("run_b", failed()).await.unwrap();

    let by_user = ThreadFilter {
        user_id: Some("ann".into()),
        ..ThreadFilter::default()
    };
    assert_eq!(ids(&store, &by_user).await, ["thr_mid", "thr_old"]);
    let failed = ThreadFilter {
        failed_run: true,
        ..ThreadFilter::default()
    };
    assert_eq!(ids(&store, &failed).await, ["thr_bob", "thr_mid"]);
    let both = ThreadFilter {
        failed_run: true,
        ..by_user.clone()
    };
    assert_eq!(ids(&store, &both).await, ["thr_mid"]);
    let window = ThreadFilter {
        active_from: Some(at(30)),
        active_until: Some(at(120)),
        ..ThreadFilter::default()
    };
    assert_eq!(ids(&store, &window).await, ["thr_mid"]);
    let other_agent = ThreadFilter {
        agent_id: Some("agt_none".into()),
        ..ThreadFilter::default()
    };
    assert!(ids(&store, &other_agent).await.is_empty());
    let pending = ThreadFilter {
        pending_form: true,
        ..ThreadFilter::default()
    };
    assert!(ids(&store, &pending).await.is_empty());
}

#[tokio::test]
async fn search_finds_titles_and_message_words_with_both_plans() {
    for (_db, store, scope) in stores().await {
        search_finds_titles_and_message_words_with_both_plans_on(store, scope).await;
    }
}

async fn search_finds_titles_and_message_words_with_both_plans_on(store: Store, scope: Scope) {
    thread(
        &store,
        &scope,
        "thr_t",
        Some("Refund for order 1234"),
        "hello",
        0,
    )
    .await;
    thread(
        &store,
        &scope,
        "thr_m",
        None,
        "where is my parcel-tracking number?",
        1,
    )
    .await;
    let reply = message(
        "thr_m",
        "msg_a",
        "assistant_message",
        "Your **zebra** café is here",
        2,
    );
    store.save_item(&scope, &reply).await.unwrap();
    thread(&store, &scope, "thr_x", None, "nothing to see", 3).await;
    // The plans are queried below the search that would index what waits.
    store.index_pending_search().await.unwrap();

    // `None`: the plan `choose_plan` picks (on Postgres, the threads it found).
    for plan in [
        Some(Plan::Collect),
        Some(Plan::Scan),
        Some(Plan::Probe),
        None,
    ] {
        let find = |text: &str| {
            let (store, filter, plan) = (store.clone(), search(text), plan.clone());
            async move {
                store
                    .with_conn(move |conn| {
                        let plan = match plan {
                            Some(plan) => plan,
                            None => search::choose_plan(conn, filter.search.as_ref().unwrap())?,
                        };
                        list_page(conn, &filter, &plan, PageAt::First, 50)
                    })
                    .await
                    .unwrap()
                    .threads
                    .into_iter()
                    .map(|t| t.id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(find("refund").await, ["thr_t"], "{plan:?}");
        assert_eq!(find("ORDER 1234").await, ["thr_t"], "{plan:?}");
        assert_eq!(find("tracking").await, ["thr_m"], "{plan:?}");
        // SQLite matches the last word whole when probing (see `Plan::Probe`).
        let prefix = if plan != Some(Plan::Probe) || store.backend() == Backend::Postgres {
            vec!["thr_m".to_owned()]
        } else {
            vec![]
        };
        assert_eq!(
            find("zeb").await,
            prefix,
            "prefix of the last word, {plan:?}"
        );
        assert_eq!(find("cafe").await, ["thr_m"], "diacritics folded, {plan:?}");
        assert_eq!(find("tracking number").await, ["thr_m"], "{plan:?}");
        // All words in one title or message: a thread is not a bag of words.
        assert!(find("parcel zebra").await.is_empty(), "{plan:?}");
        assert!(find("zebra refund").await.is_empty(), "{plan:?}");
        for hostile in [
            r#""foo* NEAR("#,
            "zebra\" OR \"x",
            "-zebra",
            "zebra)",
            "NEAR(a b)",
        ] {
            let found = find(hostile).await;
            assert!(found.len() <= 1, "{hostile}: {found:?}");
        }
        assert_eq!(find("\"zebra\" OR \"nothing\"").await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn the_index_follows_edits_and_deletions() {
    for (_db, store, scope) in stores().await {
        the_index_follows_edits_and_deletions_on(store, scope).await;
    }
}

async fn the_index_follows_edits_and_deletions_on(store: Store, scope: Scope) {
    thread(&store, &scope, "thr_a", None, "first words", 0).await;
    assert_eq!(ids(&store, &search("first")).await, ["thr_a"]);
    // A replaced message is found by its new text only.
    let edited = message("thr_a", "thr_a_u", "user_message", "second words", 0);
    store.save_item(&scope, &edited).await.unwrap();
    assert!(ids(&store, &search("first")).await.is_empty());
    assert_eq!(ids(&store, &search("second")).await, ["thr_a"]);
    // A title, set later, is found.
    assert!(
        store
            .set_title_if_unset(&scope, "thr_a", "Shipping question")
            .await
            .unwrap()
    );
    assert_eq!(ids(&store, &search("shipping")).await, ["thr_a"]);

    let keys = store.console_delete_thread("thr_a").await.unwrap();
    assert!(keys.is_empty());
    assert!(ids(&store, &search("second")).await.is_empty());
    if store.backend() == Backend::Sqlite {
        let left = "SELECT (SELECT COUNT(*) FROM search_items) \
                    + (SELECT COUNT(*) FROM search_threads) AS n";
        assert_eq!(count(&store, left).await, 0);
    }
    assert!(matches!(
        store.console_delete_thread("thr_a").await,
        Err(StoreError::NotFound("thread"))
    ));
}

#[tokio::test]
async fn the_migration_fills_in_existing_threads() {
    for (_db, store, scope) in stores().await {
        the_migration_fills_in_existing_threads_on(store, scope).await;
    }
}

async fn the_migration_fills_in_existing_threads_on(store: Store, scope: Scope) {
    thread(
        &store,
        &scope,
        "thr_a",
        Some("Lost luggage"),
        "my suitcase",
        0,
    )
    .await;
    let reply = message("thr_a", "msg_r", "assistant_message", "found it", 9);
    store.save_item(&scope, &reply).await.unwrap();
    store
        .add_feedback(
            &scope,
            "thr_a",
            vec!["msg_r".into()],
            FeedbackKind::Negative,
        )
        .await
        .unwrap();
    thread(&store, &scope, "thr_b", None, "other", 5).await;
    let before = store
        .console_threads(&ThreadFilter::default(), PageAt::First, 10)
        .await
        .unwrap();
    // On SQLite the later migration that batches indexing is undone first and done again last.
    let (down, up) = match store.backend() {
        Backend::Sqlite => (
            concat!(
                include_str!(
                    "../../../migrations/sqlite/2026-12-06-000100_deferred_search_index/down.sql"
                ),
                include_str!(
                    "../../../migrations/sqlite/2026-11-29-000200_console_thread_search/down.sql"
                )
            ),
            concat!(
                include_str!(
                    "../../../migrations/sqlite/2026-11-29-000200_console_thread_search/up.sql"
                ),
                include_str!(
                    "../../../migrations/sqlite/2026-12-06-000100_deferred_search_index/up.sql"
                )
            ),
        ),
        Backend::Postgres => (
            include_str!(
                "../../../migrations/postgres/2026-11-29-000200_console_thread_search/down.sql"
            ),
            include_str!(
                "../../../migrations/postgres/2026-11-29-000200_console_thread_search/up.sql"
            ),
        ),
    };
    store
        .with_conn(move |conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute(down)?;
            conn.batch_execute(up)?;
            Ok(())
        })
        .await
        .unwrap();
    let after = store
        .console_threads(&ThreadFilter::default(), PageAt::First, 10)
        .await
        .unwrap();
    assert_eq!(after, before);
    assert_eq!(after.threads[0].item_count, 2);
    assert_eq!(after.threads[0].negative_feedback, 1);
    assert_eq!(ids(&store, &search("suitcase")).await, ["thr_a"]);
    assert_eq!(ids(&store, &search("luggage")).await, ["thr_a"]);
    // New messages after the backfill are numbered after the old ones.
    let more = message("thr_b", "msg_b2", "user_message", "suitcase too", 10);
    store.save_item(&scope, &more).await.unwrap();
    assert_eq!(ids(&store, &search("suitcase")).await, ["thr_b", "thr_a"]);
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    store
        .with_conn(move |conn| Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n))
        .await
        .unwrap()
}

#[test]
fn cursors_round_trip_and_reject_garbage() {
    let cursor = ActivityCursor {
        at: at(3) + Duration::microseconds(17),
        id: "thr_a.b".into(),
    };
    assert_eq!(ActivityCursor::decode(&cursor.encode()), Some(cursor));
    for bad in ["", "12", "x.thr", "12.", "99999999999999999999.thr"] {
        assert_eq!(ActivityCursor::decode(bad), None, "{bad}");
    }
}
