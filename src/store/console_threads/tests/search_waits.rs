//! Messages that wait for SQLite's search index (see `store::search_index`): replaced or
//! deleted while they wait, and replaced after they were indexed.

use super::*;

#[tokio::test]
async fn messages_that_change_or_go_while_they_wait_for_the_index() {
    for (_db, store, scope) in stores().await {
        messages_that_change_or_go_while_they_wait_on(store, scope).await;
    }
}

/// On SQLite messages wait in `search_pending` between searches; each case below happens
/// while they wait (on Postgres nothing waits, and the outcome must be the same).
async fn messages_that_change_or_go_while_they_wait_on(store: Store, scope: Scope) {
    let sqlite = store.backend() == Backend::Sqlite;
    let waiting = "SELECT COUNT(*) AS n FROM search_pending";
    thread(&store, &scope, "thr_a", None, "apricot", 0).await;
    thread(&store, &scope, "thr_b", None, "banana", 1).await;
    let reply = message("thr_a", "msg_r", "assistant_message", "cherry", 2);
    store.save_item(&scope, &reply).await.unwrap();
    if sqlite {
        assert_eq!(count(&store, waiting).await, 3);
    }
    // Replaced before it was indexed: found by its new text only.
    let edited = message("thr_a", "msg_r", "assistant_message", "damson", 2);
    store.save_item(&scope, &edited).await.unwrap();
    // Deleted before it was indexed: never found.
    store.console_delete_thread("thr_b").await.unwrap();
    if sqlite {
        assert_eq!(count(&store, waiting).await, 2);
    }
    assert!(ids(&store, &search("cherry")).await.is_empty());
    assert_eq!(ids(&store, &search("damson")).await, ["thr_a"]);
    assert!(ids(&store, &search("banana")).await.is_empty());
    assert_eq!(ids(&store, &search("apricot")).await, ["thr_a"]);
    if sqlite {
        assert_eq!(count(&store, waiting).await, 0);
        // Nothing waits, so the next round indexes nothing.
        assert_eq!(store.index_pending_search().await.unwrap(), 0);
    }
    // Replaced after it was indexed: waits again, found by its new text only.
    let again = message("thr_a", "msg_r", "assistant_message", "elderberry", 2);
    store.save_item(&scope, &again).await.unwrap();
    if sqlite {
        assert_eq!(store.index_pending_search().await.unwrap(), 1);
    }
    assert!(ids(&store, &search("damson")).await.is_empty());
    assert_eq!(ids(&store, &search("elderberry")).await, ["thr_a"]);
}

/// More messages wait than one write indexes (a bulk import): every one is indexed once, in
/// several writes. SQLite only: nothing waits on Postgres.
#[tokio::test]
async fn a_backlog_is_indexed_in_several_writes() {
    let (_db, store, scope) = stores().await.swap_remove(0);
    assert_eq!(store.backend(), Backend::Sqlite);
    thread(&store, &scope, "thr_a", None, "start", 0).await;
    let import = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4500) \
        INSERT INTO items (id, thread_id, kind, visibility, created_at, data) \
        SELECT printf('msg_%05d', i), 'thr_a', 'user_message', 'visible', \
        '2026-01-01 00:00:00', json_object('type', 'user_message', 'content', \
        json_array(json_object('type', 'input_text', 'text', 'word' || i))) FROM n";
    store
        .with_conn(move |conn| Ok(diesel::sql_query(import).execute(conn)?))
        .await
        .unwrap();
    let waiting = "SELECT COUNT(*) AS n FROM search_pending";
    assert_eq!(count(&store, waiting).await, 4501);
    assert_eq!(store.index_pending_search().await.unwrap(), 4501);
    assert_eq!(count(&store, waiting).await, 0);
    for word in ["start", "word1", "word2000", "word2001", "word4500"] {
        assert_eq!(ids(&store, &search(word)).await, ["thr_a"], "{word}");
    }
}
