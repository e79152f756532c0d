//! The audit log of operator actions. Insert-only by construction: this module has no method
//! that updates or deletes a row. Read newest first with keyset paging on `(at, id)`, so a
//! page costs the same however deep it is.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::schema::audit_log;
use super::threads::page_window;
use super::{Store, StoreError, from_db_time, page_of, to_db_time};
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::types::Page;

/// One recorded action.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    /// `None` for actions without a signed-in operator (a failed sign-in, the command line)
    /// or once the operator is gone.
    pub operator_id: Option<String>,
    pub operator_email: Option<String>,
    pub ip: Option<String>,
    /// e.g. `login`, `operator.create`.
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// A JSON object, e.g. `{"before": …, "after": …}`.
    pub detail: Value,
}

/// An action to record; the store gives it its id and time.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    pub operator_id: Option<String>,
    pub operator_email: Option<String>,
    pub ip: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub detail: Value,
}

/// Which rows a page shows; every field narrows, `None` does not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// The operator's email, exactly (case-insensitive).
    pub operator_email: Option<String>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// Rows at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Rows strictly before this instant.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    id: String,
    at: NaiveDateTime,
    operator_id: Option<String>,
    operator_email: Option<String>,
    ip: Option<String>,
    action: String,
    object_type: Option<String>,
    object_id: Option<String>,
    detail: String,
}

impl AuditRow {
    fn into_entry(self) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry {
            id: self.id,
            at: from_db_time(self.at),
            operator_id: self.operator_id,
            operator_email: self.operator_email,
            ip: self.ip,
            action: self.action,
            object_type: self.object_type,
            object_id: self.object_id,
            detail: serde_json::from_str(&self.detail)?,
        })
    }
}

impl Store {
    /// Appends an entry, timestamped now.
    pub async fn insert_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let detail = serde_json::to_string(&entry.detail)?;
        self.with_conn(move |conn| {
            let row = AuditRow {
                id: ids::new_id(IdKind::AuditEntry),
                at: to_db_time(ids::now()),
                operator_id: entry.operator_id,
                operator_email: entry.operator_email.map(|e| e.to_lowercase()),
                ip: entry.ip,
                action: entry.action,
                object_type: entry.object_type,
                object_id: entry.object_id,
                detail,
            };
            diesel::insert_into(audit_log::table)
                .values(&row)
                .execute(conn)?;
            row.into_entry()
        })
        .await
    }

    /// Up to `limit` entries matching `filter`, newest first, strictly older than the entry
    /// `after` (the previous page's `after`); an unknown `after` is
    /// [`StoreError::InvalidCursor`].
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        limit: usize,
        after: Option<String>,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let filter = filter.clone();
        self.with_conn(move |conn| {
            let mut query = audit_log::table.select(AuditRow::as_select()).into_boxed();
            if let Some(email) = &filter.operator_email {
                query = query.filter(audit_log::operator_email.eq(email.to_lowercase()));
            }
            if let Some(action) = &filter.action {
                query = query.filter(audit_log::action.eq(action.clone()));
            }
            if let Some(object_type) = &filter.object_type {
                query = query.filter(audit_log::object_type.eq(object_type.clone()));
            }
            if let Some(object_id) = &filter.object_id {
                query = query.filter(audit_log::object_id.eq(object_id.clone()));
            }
            if let Some(from) = filter.from {
                query = query.filter(audit_log::at.ge(to_db_time(from)));
            }
            if let Some(until) = filter.until {
                query = query.filter(audit_log::at.lt(to_db_time(until)));
            }
            if let Some(after) = &after {
                let at: NaiveDateTime = audit_log::table
                    .find(after)
                    .select(audit_log::at)
                    .first(conn)
                    .optional()?
                    .ok_or_else(|| StoreError::InvalidCursor(after.clone()))?;
                query = query.filter(
                    audit_log::at
                        .lt(at)
                        .or(audit_log::at.eq(at).and(audit_log::id.lt(after.clone()))),
                );
            }
            let rows: Vec<AuditRow> = query
                .order((audit_log::at.desc(), audit_log::id.desc()))
                .limit(page_window(limit))
                .load(conn)?;
            let entries = rows
                .into_iter()
                .map(AuditRow::into_entry)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(entries, limit, |e| e.id.clone()))
        })
        .await
    }

    /// The distinct actions recorded so far, for the audit page's filter menu.
    pub async fn audit_actions(&self) -> Result<Vec<String>, StoreError> {
        self.with_conn(|conn| {
            Ok(audit_log::table
                .select(audit_log::action)
                .distinct()
                .order(audit_log::action.asc())
                .load(conn)?)
        })
        .await
    }
}
