//! The console's view of human-input webhooks: every delivery, newest first (any operator),
//! and "Retry now" on a pending or failed one (admins only, audited), which makes it due at
//! once for the worker.

use serde_json::json;

use super::{Actor, AuditService, ConsoleError};
use crate::chatkit::states::DeliveryStatus;
use crate::chatkit::types::Page;
use crate::store::{Delivery, DeliveryFilter, Store, StoreError};

/// The receiver's host (and port, when not the scheme's), which is all the console shows of
/// a URL: a receiver's path or query often carries its secret.
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "(invalid URL)".to_owned())
}

/// Largest page of deliveries.
pub const MAX_PAGE: usize = 200;

#[derive(Clone)]
pub struct WebhookLog {
    store: Store,
    audit: AuditService,
}

impl WebhookLog {
    pub fn new(store: Store, audit: AuditService) -> Self {
        WebhookLog { store, audit }
    }

    /// Whether this server sends webhooks at all (the page says so when it does not).
    pub fn enabled(&self) -> bool {
        self.store.outbox().is_some()
    }

    /// One page of deliveries matching `filter`, newest first.
    pub async fn page(
        &self,
        filter: &DeliveryFilter,
        limit: usize,
        after: Option<String>,
    ) -> Result<Page<Delivery>, ConsoleError> {
        let limit = limit.clamp(1, MAX_PAGE);
        match self.store.delivery_page(filter, limit, after).await {
            Err(StoreError::InvalidCursor(_)) => Err(ConsoleError::InvalidInput(
                "after",
                "that page no longer exists; start from the first page".to_owned(),
            )),
            other => Ok(other?),
        }
    }

    /// Sends a pending or failed delivery again as soon as the worker can. Any operator may:
    /// it changes nothing but when the next attempt is (and it is audited).
    pub async fn retry(&self, actor: &Actor, id: &str) -> Result<Delivery, ConsoleError> {
        let before = self.store.load_delivery(id).await?;
        let Some(after) = self.store.retry_delivery(id).await? else {
            return Err(ConsoleError::Conflict(
                if before.status == DeliveryStatus::Delivered {
                    "This delivery was already delivered.".to_owned()
                } else {
                    "This delivery is being sent right now; look again in a moment.".to_owned()
                },
            ));
        };
        self.audit
            .record(
                actor,
                "webhook.retry",
                Some("webhook_delivery"),
                Some(id),
                json!({
                    "event": before.event.as_str(),
                    "interaction_id": before.interaction_id,
                    // Only the host: a receiver's path or query often is its secret.
                    "host": host_of(&before.url),
                    "before": {"status": before.status.as_str(), "attempts": before.attempts,
                               "next_attempt_at": before.next_attempt_at},
                    "after": {"status": after.status.as_str(), "attempts": after.attempts,
                              "next_attempt_at": after.next_attempt_at},
                }),
            )
            .await?;
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn only_the_host_is_shown() {
        assert_eq!(
            host_of("https://hooks.example.com/services/T0/B0/secret?x=1"),
            "hooks.example.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8080/h"), "127.0.0.1:8080");
        assert_eq!(host_of("nonsense"), "(invalid URL)");
    }
}
