//! Feedback review: the thumbs-up and -down users gave, negative first and then newest, each
//! with the rated item and the user message before it. Read-only.

use super::ConsoleError;
use crate::chatkit::types::Page;
use crate::store::{AgentRow, FeedbackEntry, FeedbackFilter, Store, StoreError};

/// Largest page of the list.
pub const MAX_PAGE: usize = 100;

#[derive(Clone)]
pub struct FeedbackReview {
    store: Store,
}

impl FeedbackReview {
    pub fn new(store: Store) -> Self {
        FeedbackReview { store }
    }

    /// Every agent, for the agent filter.
    pub async fn agents(&self) -> Result<Vec<AgentRow>, ConsoleError> {
        Ok(self.store.console_agents().await?)
    }

    /// One page of matching feedback; `after` is the previous page's `after`.
    pub async fn page(
        &self,
        filter: &FeedbackFilter,
        limit: usize,
        after: Option<String>,
    ) -> Result<Page<FeedbackEntry>, ConsoleError> {
        let limit = limit.clamp(1, MAX_PAGE);
        match self.store.console_feedback(filter, limit, after).await {
            Err(StoreError::InvalidCursor(_)) => Err(ConsoleError::InvalidInput(
                "after",
                "that page no longer exists; start from the first page".to_owned(),
            )),
            other => Ok(other?),
        }
    }
}
