//! `GET /metrics`: who may read the metrics, and the values read at scrape time (the database
//! pool, the questions waiting for a person) before every metric is rendered.

use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::observe::metrics::{self, Scrape};
use crate::store::Store;

/// A scrape still answers, without the count, when the database is slow or away: that is
/// when the other metrics matter most.
const COUNT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the metrics were not given.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("the metrics need an Authorization: Bearer token (CHATKIT_METRICS_TOKEN)")]
    MissingToken,
    #[error("the bearer token is not the metrics token")]
    InvalidToken,
}

#[derive(Clone)]
pub struct MetricsService {
    store: Store,
    /// `None`: the metrics are open to everyone, like `/healthz`.
    token: Option<Secret>,
}

impl MetricsService {
    pub fn new(store: Store, token: Option<Secret>) -> MetricsService {
        MetricsService { store, token }
    }

    /// The metrics in the Prometheus text format, for a caller whose `Authorization` header
    /// holds the token, when one is set.
    pub async fn scrape(&self, authorization: Option<&str>) -> Result<String, MetricsError> {
        if let Some(token) = &self.token {
            let given = authorization
                .and_then(|value| value.strip_prefix("Bearer "))
                .ok_or(MetricsError::MissingToken)?;
            if !bool::from(given.trim().as_bytes().ct_eq(token.expose().as_bytes())) {
                return Err(MetricsError::InvalidToken);
            }
        }
        let pending = match tokio::time::timeout(
            COUNT_TIMEOUT,
            self.store.count_pending_interactions(),
        )
        .await
        {
            Ok(Ok(n)) => Some(n),
            Ok(Err(e)) => {
                log::warn!("metrics: cannot count the pending human inputs: {e}");
                None
            }
            Err(_) => {
                log::warn!("metrics: counting the pending human inputs timed out");
                None
            }
        };
        Ok(metrics::render(Scrape {
            pending_human_inputs: pending,
            pool: Some(self.store.pool_state()),
        }))
    }
}
