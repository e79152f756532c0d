//! The outbox on both backends: interaction changes queue the right events (and only when
//! webhooks are on), leases are exclusive, attempts and retries move rows as the worker and
//! the console expect.

use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::chatkit::states::{AnsweredBy, InteractionKind};
use crate::chatkit::types::Thread;
use crate::store::Scope;
use crate::store::test_db::each_backend;

fn form(id: &str, thread_id: &str) -> InteractionRow {
    let now = Utc::now().naive_utc();
    InteractionRow {
        id: id.into(),
        thread_id: thread_id.into(),
        run_id: None,
        item_id: format!("wdg_{id}"),
        call_id: "call_1".into(),
        tool_name: "request_human_input".into(),
        arguments: "{}".into(),
        kind: InteractionKind::Form,
        schema: r#"{"title": "Trip", "fields": []}"#.into(),
        status: InteractionStatus::Pending,
        answer: None,
        answered_by: None,
        details: None,
        created_at: now,
        answered_at: None,
        expires_at: now + chrono::Duration::hours(1),
    }
}

/// A store with the outbox on (or off), the default agent and a thread `thr_a`.
async fn store_with(url: &str, outbox: bool) -> Store {
    let mut store = Store::connect(url, 4).unwrap();
    if outbox {
        store = store.with_outbox(Outbox::new(
            Some("http://127.0.0.1:9/hook".into()),
            "https://chat.example.com/".into(),
        ));
    }
    let (account, agent) = store.ensure_defaults().await.unwrap();
    let scope = Scope {
        account_id: account.id,
        agent_id: agent.id,
        user_id: "ann".into(),
    };
    store
        .save_new_thread(&scope, &Thread::new("thr_a".into(), Utc::now()))
        .await
        .unwrap();
    store
}

async fn all(store: &Store) -> Vec<Delivery> {
    let page = store
        .delivery_page(&DeliveryFilter::default(), 100, None)
        .await
        .unwrap();
    page.data
}

#[tokio::test]
async fn interaction_changes_queue_their_events() {
    for db in each_backend() {
        let store = store_with(&db.url, true).await;
        store
            .save_interaction(&form("hi_1", "thr_a"))
            .await
            .unwrap();
        let rows = all(&store).await;
        assert_eq!(rows.len(), 1);
        let waiting = &rows[0];
        assert_eq!(
            (waiting.event, waiting.status, waiting.attempts),
            (WebhookEvent::Waiting, DeliveryStatus::Pending, 0)
        );
        assert_eq!(waiting.url, "http://127.0.0.1:9/hook");
        let body: Value = serde_json::from_str(&waiting.body).unwrap();
        assert_eq!(body["id"], waiting.id.as_str());
        assert_eq!(body["form"]["title"], "Trip");
        assert_eq!(body["form"]["agent"]["slug"], "default");
        assert_eq!(
            body["console_url"],
            "https://chat.example.com/admin/forms/hi_1"
        );

        // Answered once: one event; the losing answer adds none.
        let won = store
            .resolve_interaction(
                "hi_1",
                InteractionStatus::BestJudgement,
                None,
                Some(AnsweredBy::Operator),
            )
            .await
            .unwrap();
        let lost = store
            .resolve_interaction("hi_1", InteractionStatus::Cancelled, None, None)
            .await
            .unwrap();
        assert!(won && !lost);
        let rows = all(&store).await;
        assert_eq!(rows.len(), 2);
        let answered: Value = serde_json::from_str(&rows[0].body).unwrap();
        assert_eq!(answered["event"], "form.answered");
        assert_eq!(answered["form"]["status"], "best_judgement");
        assert_eq!(answered["form"]["answered_by"], "operator");

        // Expired and cancelled ones.
        store
            .save_interaction(&form("hi_2", "thr_a"))
            .await
            .unwrap();
        store
            .resolve_interaction("hi_2", InteractionStatus::Expired, None, None)
            .await
            .unwrap();
        store
            .save_interaction(&form("hi_3", "thr_a"))
            .await
            .unwrap();
        assert_eq!(store.cancel_pending_interactions("thr_a").await.unwrap(), 1);
        let events: Vec<(String, &str)> = all(&store)
            .await
            .iter()
            .map(|d| {
                let body: Value = serde_json::from_str(&d.body).unwrap();
                let status = body["form"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                (status, d.event.as_str())
            })
            .collect();
        assert_eq!(
            events[..3],
            [
                ("cancelled".to_owned(), "form.answered"),
                ("pending".to_owned(), "form.waiting"),
                ("expired".to_owned(), "form.expired"),
            ]
        );
    }
}

#[tokio::test]
async fn nothing_is_queued_without_an_outbox_or_a_receiver() {
    for db in each_backend() {
        let off = store_with(&db.url, false).await;
        off.save_interaction(&form("hi_1", "thr_a")).await.unwrap();
        assert!(all(&off).await.is_empty());

        // On, but neither the server nor the agent names a receiver.
        let store = Store::connect(&db.url, 2)
            .unwrap()
            .with_outbox(Outbox::new(None, "http://127.0.0.1:8000".into()));
        store
            .save_interaction(&form("hi_2", "thr_a"))
            .await
            .unwrap();
        assert!(all(&store).await.is_empty());
        // The agent's own URL is enough.
        let (_, agent) = store.ensure_defaults().await.unwrap();
        store
            .set_agent_webhook_url(&agent.id, Some("https://hooks.example.com/a"))
            .await
            .unwrap();
        assert_eq!(store.agents_with_webhook_url().await.unwrap(), ["default"]);
        store
            .save_interaction(&form("hi_3", "thr_a"))
            .await
            .unwrap();
        let rows = all(&store).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].url, "https://hooks.example.com/a");
    }
}

#[tokio::test]
async fn leases_are_exclusive_and_attempts_reschedule() {
    for db in each_backend() {
        let store = store_with(&db.url, true).await;
        for n in 0..6 {
            store
                .save_interaction(&form(&format!("hi_{n}"), "thr_a"))
                .await
                .unwrap();
        }
        let lease = Duration::from_secs(60);
        let other = store.clone();
        let (a, b) = tokio::join!(
            store.claim_due_deliveries(4, lease),
            other.claim_due_deliveries(4, lease)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut ids: Vec<&str> = a.iter().chain(&b).map(|d| d.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), a.len() + b.len(), "a row leased twice");
        let rest = store.claim_due_deliveries(10, lease).await.unwrap();
        assert_eq!(a.len() + b.len() + rest.len(), 6);
        assert!(
            store
                .claim_due_deliveries(10, lease)
                .await
                .unwrap()
                .is_empty()
        );

        // A failed attempt frees the row for its next time; a delivered one is done.
        let later = Utc::now() + chrono::Duration::minutes(5);
        let failing = a.iter().chain(&b).next().unwrap();
        store
            .record_attempt(
                &failing.id,
                Attempt {
                    status: DeliveryStatus::Pending,
                    http_status: Some(500),
                    error: Some("HTTP 500".into()),
                    next_attempt_at: later,
                },
            )
            .await
            .unwrap();
        let row = store.load_delivery(&failing.id).await.unwrap();
        assert_eq!((row.attempts, row.last_status), (1, Some(500)));
        assert!(row.locked_until.is_none());
        let due = store.next_delivery_due().await.unwrap().unwrap();
        assert!((due - later).num_milliseconds().abs() < 5);
        assert!(
            store
                .claim_due_deliveries(10, lease)
                .await
                .unwrap()
                .is_empty()
        );

        // "Retry now" makes it due at once; a delivered or leased row cannot be retried.
        assert!(store.retry_delivery(&failing.id).await.unwrap().is_some());
        let again = store.claim_due_deliveries(10, lease).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, failing.id);
        assert!(store.retry_delivery(&failing.id).await.unwrap().is_none());
        store
            .record_attempt(
                &failing.id,
                Attempt {
                    status: DeliveryStatus::Delivered,
                    http_status: Some(204),
                    error: None,
                    next_attempt_at: Utc::now(),
                },
            )
            .await
            .unwrap();
        let row = store.load_delivery(&failing.id).await.unwrap();
        assert_eq!((row.status, row.attempts), (DeliveryStatus::Delivered, 2));
        assert!(row.delivered_at.is_some());
        assert!(store.retry_delivery(&failing.id).await.unwrap().is_none());
        assert!(matches!(
            store.load_delivery("whd_none").await,
            Err(StoreError::NotFound("delivery"))
        ));
    }
}
