//! The webhook worker: a background task that sends the outbox's due deliveries and closes
//! overdue human-input questions so their `form.expired` goes out on time.
//!
//! Each delivery is a POST of the stored JSON body with `Content-Type: application/json`,
//! `X-ChatKit-Timestamp: <unix seconds>` and `X-ChatKit-Signature: v1=<hex HMAC-SHA256 of
//! "<timestamp>.<body>" under CHATKIT_SECRET_KEY>` (the timestamp is inside the signed string,
//! so a captured request cannot be replayed later under a new one), and `X-ChatKit-Delivery`
//! (the delivery id, also in the body, for receivers to drop repeats: delivery is at least
//! once). A 2xx answer delivers it; anything else (another status, a timeout, a refused
//! connection, a redirect) schedules a retry with growing delays until the attempts run out,
//! and then it is marked failed. Nothing here ever holds up a form or a run: they only write
//! the outbox row.
//!
//! Several processes may run workers on one database: each claims rows with a lease
//! (`store::webhooks`), and polls now and then for rows another process queued.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::human::HumanService;
use crate::chatkit::states::DeliveryStatus;
use crate::config::WebhookSettings;
use crate::store::{Attempt, Delivery, Outbox, Store};

/// Most deliveries sent at once.
const BATCH: usize = 16;
/// How often the worker looks for rows queued by other processes.
const POLL: Duration = Duration::from_secs(2);
/// Most of a receiver's error answer kept for the console.
const ERROR_SNIPPET: usize = 200;
/// The delays between attempts, as multiples of the retry base (the last one repeats).
const BACKOFF: [u32; 5] = [1, 4, 20, 120, 720];

/// `v1=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`, the `X-ChatKit-Signature` value.
pub fn signature(key: &[u8], timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// How long to wait after the `attempts`-th failed attempt.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let step = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
    base * BACKOFF[step.min(BACKOFF.len() - 1)]
}

/// Sends deliveries and sweeps expired questions until told to stop.
pub struct WebhookWorker {
    store: Store,
    human: HumanService,
    outbox: Arc<Outbox>,
    client: reqwest::Client,
    key: Vec<u8>,
    settings: WebhookSettings,
}

/// A running worker: stop it and wait for its current round to end.
pub struct RunningWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningWorker {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            log::error!("the webhook worker ended badly: {e}");
        }
    }
}

impl WebhookWorker {
    /// A worker for `store`'s outbox, signing with `key`; `None` when webhooks are off.
    pub fn new(
        store: Store,
        human: HumanService,
        key: Vec<u8>,
        settings: WebhookSettings,
    ) -> Option<WebhookWorker> {
        let outbox = store.outbox()?;
        // Redirects are not followed: a receiver that moved must be configured again, not
        // trusted to forward signed events elsewhere.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("chatkit-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok()?;
        Some(WebhookWorker {
            store,
            human,
            outbox,
            client,
            key,
            settings,
        })
    }

    pub fn spawn(self) -> RunningWorker {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        RunningWorker { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let mut next_sweep = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_sweep {
                if let Err(e) = self.human.expire_overdue().await {
                    log::warn!("expiry sweep failed: {e}");
                }
                next_sweep = tokio::time::Instant::now() + self.settings.sweep_every;
            }
            self.send_due().await;
            let wait = self.until_next(next_sweep).await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.outbox.rung() => {}
                _ = stopped.changed() => return,
            }
            if *stopped.borrow() {
                return;
            }
        }
    }

    /// Sends every delivery that is due, a batch at a time.
    async fn send_due(&self) {
        // The lease outlasts one attempt, so no other worker takes a row mid-send.
        let lease = self.settings.timeout + Duration::from_secs(30);
        loop {
            let batch = match self.store.claim_due_deliveries(BATCH, lease).await {
                Ok(batch) => batch,
                Err(e) => {
                    log::warn!("cannot read the webhook outbox: {e}");
                    return;
                }
            };
            if batch.is_empty() {
                return;
            }
            futures_util::future::join_all(batch.into_iter().map(|d| self.attempt(d))).await;
        }
    }

    /// How long to sleep: until the next retry, the next sweep or the next poll.
    async fn until_next(&self, next_sweep: tokio::time::Instant) -> Duration {
        let mut wait = POLL.min(next_sweep.saturating_duration_since(tokio::time::Instant::now()));
        if let Ok(Some(due)) = self.store.next_delivery_due().await {
            let until = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            wait = wait.min(until);
        }
        // Never spin: a row leased elsewhere stays due until its lease ends.
        wait.max(Duration::from_millis(20))
    }

    /// One POST of `delivery`, and its record.
    async fn attempt(&self, delivery: Delivery) {
        let timestamp = Utc::now().timestamp();
        let sent = self
            .client
            .post(&delivery.url)
            .header("Content-Type", "application/json")
            .header("X-ChatKit-Timestamp", timestamp.to_string())
            .header(
                "X-ChatKit-Signature",
                signature(&self.key, timestamp, &delivery.body),
            )
            .header("X-ChatKit-Delivery", &delivery.id)
            .timeout(self.settings.timeout)
            .body(delivery.body.clone())
            .send()
            .await;
        let (http_status, error) = match sent {
            Ok(response) if response.status().is_success() => {
                (Some(response.status().as_u16()), None)
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let snippet: String = text.trim().chars().take(ERROR_SNIPPET).collect();
                let error = if snippet.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {snippet}")
                };
                (Some(status.as_u16()), Some(error))
            }
            Err(e) => (None, Some(self.describe(&e))),
        };
        let attempts = delivery.attempts + 1;
        let status = match &error {
            None => DeliveryStatus::Delivered,
            Some(_) if attempts >= self.settings.max_attempts => DeliveryStatus::Failed,
            Some(_) => DeliveryStatus::Pending,
        };
        let wait = backoff(self.settings.retry_base, attempts);
        let next_attempt_at =
            Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(6));
        if let Some(error) = &error {
            log::warn!(
                "webhook {} to {} failed (attempt {attempts}): {error}",
                delivery.id,
                delivery.url
            );
        }
        let attempt = Attempt {
            status,
            http_status,
            error,
            next_attempt_at,
        };
        if let Err(e) = self.store.record_attempt(&delivery.id, attempt).await {
            log::error!("cannot record webhook attempt {}: {e}", delivery.id);
        }
    }

    /// A transport failure in words an operator can act on: what failed, and its deepest
    /// cause (e.g. "Connection refused (os error 111)"), which is the one that says why.
    fn describe(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("no answer within {} s", self.settings.timeout.as_secs_f32());
        }
        let what = if error.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        let mut deepest: &dyn std::error::Error = error;
        while let Some(cause) = deepest.source() {
            deepest = cause;
        }
        format!("{what}: {deepest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            signature(b"key", 1_700_000_000, r#"{"a":1}"#),
            "v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
        );
        assert_ne!(
            signature(b"key", 1_700_000_001, r#"{"a":1}"#),
            signature(b"key", 1_700_000_000, r#"{"a":1}"#)
        );
    }

    #[test]
    fn retries_back_off_and_level_out() {
        let base = Duration::from_secs(30);
        let waits: Vec<u64> = (1..=7).map(|n| backoff(base, n).as_secs()).collect();
        assert_eq!(waits, [30, 120, 600, 3600, 21_600, 21_600, 21_600]);
    }
}
