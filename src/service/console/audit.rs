//! Records and reads the audit log. Recording failures are errors, not warnings: an action
//! whose audit row cannot be written reports the failure to the operator who did it.

use serde_json::Value;

use super::{Actor, ConsoleError};
use crate::chatkit::types::Page;
use crate::store::{AuditEntry, AuditFilter, NewAuditEntry, Store, StoreError};

/// Largest audit page.
pub const MAX_PAGE: usize = 200;

#[derive(Clone)]
pub struct AuditService {
    store: Store,
}

impl AuditService {
    pub fn new(store: Store) -> Self {
        AuditService { store }
    }

    /// Appends one row: who (`actor`), from where, did `action` to which object, with a JSON
    /// `detail` (an object; never a password).
    pub async fn record(
        &self,
        actor: &Actor,
        action: &str,
        object_type: Option<&str>,
        object_id: Option<&str>,
        detail: Value,
    ) -> Result<AuditEntry, ConsoleError> {
        let operator = actor.operator.as_ref();
        self.record_as(NewAuditEntry {
            operator_id: operator.map(|o| o.id.clone()),
            operator_email: operator.map(|o| o.email.clone()),
            ip: actor.ip.clone(),
            action: action.to_owned(),
            object_type: object_type.map(str::to_owned),
            object_id: object_id.map(str::to_owned),
            detail,
        })
        .await
    }

    /// Appends a prepared row (a failed sign-in names the email tried, with no operator).
    pub(super) async fn record_as(&self, entry: NewAuditEntry) -> Result<AuditEntry, ConsoleError> {
        Ok(self.store.insert_audit(entry).await?)
    }

    /// One page of matching rows, newest first; `after` is the previous page's `after`.
    pub async fn page(
        &self,
        filter: &AuditFilter,
        limit: usize,
        after: Option<String>,
    ) -> Result<Page<AuditEntry>, ConsoleError> {
        let limit = limit.clamp(1, MAX_PAGE);
        match self.store.audit_page(filter, limit, after).await {
            Err(StoreError::InvalidCursor(_)) => Err(ConsoleError::InvalidInput(
                "after",
                "that page no longer exists; start from the first page".to_owned(),
            )),
            other => Ok(other?),
        }
    }

    /// The actions recorded so far, for a filter menu.
    pub async fn actions(&self) -> Result<Vec<String>, ConsoleError> {
        Ok(self.store.audit_actions().await?)
    }
}
