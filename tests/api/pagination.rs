//! Ordering, limits and strictly-after cursors of `threads.list` and `items.list`.

use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::fixtures::user_input;
use crate::support::macros::db_test;

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

db_test!(threads_list_pages_newest_first_by_default);
async fn threads_list_pages_newest_first_by_default(app: TestApp) {
    let mut created = Vec::new();
    for n in 0..25 {
        created.push(app.create_thread("ann", &format!("thread {n}")).await.0);
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let first = app.ok("ann", "threads.list", json!({})).await;
    assert_eq!(ids(&first), newest_first[..20]);
    assert_eq!(first["has_more"], true);
    assert_eq!(first["after"], newest_first[19]);
    assert_eq!(
        first["data"][0]["items"],
        json!({"data": [], "has_more": false})
    );

    let rest = app
        .ok("ann", "threads.list", json!({"after": first["after"]}))
        .await;
    assert_eq!(ids(&rest), newest_first[20..]);
    assert_eq!(rest["has_more"], false);
    assert!(
        rest.get("after").is_none(),
        "no cursor on the last page: {rest}"
    );

    let zero = app.ok("ann", "threads.list", json!({"limit": 0})).await;
    assert_eq!(ids(&zero).len(), 20, "limit 0 means the default");
    let null = app
        .ok(
            "ann",
            "threads.list",
            json!({"limit": null, "order": "asc"}),
        )
        .await;
    assert_eq!(ids(&null), created[..20]);

    let asc = app
        .ok(
            "ann",
            "threads.list",
            json!({"limit": 2, "order": "asc", "after": created[22]}),
        )
        .await;
    assert_eq!(ids(&asc), created[23..25]);
    assert_eq!(asc["has_more"], false);

    let at_end = app
        .ok("ann", "threads.list", json!({"after": created[0]}))
        .await;
    assert_eq!(at_end, json!({"data": [], "has_more": false}));

    let bad_cursor = app
        .send("ann", "threads.list", json!({"after": "thr_nope"}))
        .await;
    assert_eq!(bad_cursor.status, 400);
}

db_test!(items_list_pages_both_ways);
async fn items_list_pages_both_ways(app: TestApp) {
    let (id, events) = app.create_thread("ann", "m0").await;
    let mut created = vec![events[1]["item"]["id"].as_str().unwrap().to_owned()];
    for n in 1..5 {
        let events = app
            .stream(
                "ann",
                "threads.add_user_message",
                json!({"thread_id": id, "input": user_input(&format!("m{n}"))}),
            )
            .await;
        created.push(events[0]["item"]["id"].as_str().unwrap().to_owned());
    }

    let desc = app
        .ok("ann", "items.list", json!({"thread_id": id, "limit": 2}))
        .await;
    assert_eq!(ids(&desc), [created[4].clone(), created[3].clone()]);
    assert_eq!(desc["has_more"], true);
    assert_eq!(desc["after"], created[3]);
    let next = app
        .ok(
            "ann",
            "items.list",
            json!({"thread_id": id, "limit": 2, "after": desc["after"]}),
        )
        .await;
    assert_eq!(ids(&next), [created[2].clone(), created[1].clone()]);
    let last = app
        .ok(
            "ann",
            "items.list",
            json!({"thread_id": id, "limit": 2, "after": next["after"]}),
        )
        .await;
    assert_eq!(ids(&last), [created[0].clone()]);
    assert_eq!(last["has_more"], false);

    let asc = app
        .ok(
            "ann",
            "items.list",
            json!({"thread_id": id, "order": "asc", "limit": 0}),
        )
        .await;
    assert_eq!(ids(&asc), created);
    assert_eq!(asc["has_more"], false);

    let exact = app
        .ok(
            "ann",
            "items.list",
            json!({"thread_id": id, "order": "asc", "limit": 5}),
        )
        .await;
    assert_eq!(
        (ids(&exact).len(), exact["has_more"].clone()),
        (5, json!(false)),
        "a full last page has no more"
    );

    let after_end = app
        .ok(
            "ann",
            "items.list",
            json!({"thread_id": id, "order": "asc", "after": created[4]}),
        )
        .await;
    assert_eq!(after_end, json!({"data": [], "has_more": false}));

    let missing = app
        .send("ann", "items.list", json!({"thread_id": "thr_nope"}))
        .await;
    assert_eq!(missing.status, 404);
}
