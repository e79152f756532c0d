//! The outbox of human-input webhooks. When an interaction is created, answered or expires,
//! [`enqueue`] writes a delivery row inside the same transaction as the change (see
//! `store::human`), so a crash can lose neither; a worker then claims due rows with a lease
//! (`locked_until`, taken by a conditional UPDATE, which is safe with several processes on
//! either backend), sends them, and records each attempt here.
//!
//! The body is fixed when the row is written: every attempt sends (and signs) the same bytes.
//! It names the form, never its answer or any user text but the form's title.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::db::{self, AnyConnection};
use super::paging::{self, Listing, PageRequest};
use super::schema::{agents, threads, webhook_deliveries};
use super::{Found, InteractionRow, Store, StoreError, from_db_time, to_db_time};
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::states::{DeliveryStatus, InteractionStatus, WebhookEvent};
use crate::chatkit::types::{Order, Page};

/// Where deliveries go, set once at start: without it (no signing key) nothing is queued.
pub struct Outbox {
    /// `CHATKIT_HUMAN_WEBHOOK_URL`, for agents without a URL of their own.
    pub default_url: Option<String>,
    /// The server's public base URL, for the console link in each body.
    pub public_url: String,
    /// Rung after a row is queued or retried, so the worker of this process sends it at once
    /// (others find it on their next poll).
    doorbell: Notify,
}

impl Outbox {
    pub fn new(default_url: Option<String>, public_url: String) -> Self {
        Outbox {
            default_url,
            public_url: public_url.trim_end_matches('/').to_owned(),
            doorbell: Notify::new(),
        }
    }

    /// Resolves when a delivery was queued or retried in this process since the last call.
    pub async fn rung(&self) {
        self.doorbell.notified().await;
    }

    fn ring(&self) {
        self.doorbell.notify_one();
    }
}

/// One delivery, as the worker and the console see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub event: WebhookEvent,
    pub interaction_id: String,
    pub agent_id: String,
    pub url: String,
    pub body: String,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    /// The receiver's HTTP status at the last attempt, when it answered.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// While a worker sends it.
    pub locked_until: Option<DateTime<Utc>>,
}

/// How an attempt went, as the worker records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// `Delivered`, `Pending` (retry at `next_attempt_at`) or `Failed` (given up).
    pub status: DeliveryStatus,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
}

/// Which deliveries the console lists; `None` shows all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub event: Option<WebhookEvent>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
struct Record {
    id: String,
    event: String,
    interaction_id: String,
    agent_id: String,
    url: String,
    body: String,
    status: String,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: NaiveDateTime,
    delivered_at: Option<NaiveDateTime>,
    locked_until: Option<NaiveDateTime>,
}

impl Record {
    fn typed(self) -> Result<Delivery, StoreError> {
        Ok(Delivery {
            event: self.event.parse()?,
            status: self.status.parse()?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            last_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            next_attempt_at: from_db_time(self.next_attempt_at),
            created_at: from_db_time(self.created_at),
            delivered_at: self.delivered_at.map(from_db_time),
            locked_until: self.locked_until.map(from_db_time),
            id: self.id,
            interaction_id: self.interaction_id,
            agent_id: self.agent_id,
            url: self.url,
            body: self.body,
            last_error: self.last_error,
        })
    }
}

/// What an interaction in `status` reports.
fn event_of(status: InteractionStatus) -> WebhookEvent {
    match status {
        InteractionStatus::Pending => WebhookEvent::Waiting,
        InteractionStatus::Expired => WebhookEvent::Expired,
        _ => WebhookEvent::Answered,
    }
}

/// The form's title as asked (its schema's `title`), or the tool's name.
fn title_of(row: &InteractionRow) -> String {
    serde_json::from_str::<Value>(&row.schema)
        .ok()
        .and_then(|schema| schema["title"].as_str().map(str::to_owned))
        .filter(|title| !title.trim().is_empty())
        .unwrap_or_else(|| row.tool_name.clone())
}

/// Queues the webhook that reports `row` as it now stands, inside the caller's transaction.
/// `true` when a row was written (the thread's agent or the server has a receiver).
pub(super) fn enqueue(
    conn: &mut AnyConnection,
    outbox: &Outbox,
    row: &InteractionRow,
) -> Result<bool, StoreError> {
    let (agent_id, slug, name, own_url): (String, String, String, Option<String>) = threads::table
        .inner_join(agents::table)
        .filter(threads::id.eq(&row.thread_id))
        .select((
            agents::id,
            agents::slug,
            agents::name,
            agents::human_webhook_url,
        ))
        .first(conn)
        .found("thread")?;
    let Some(url) = own_url.or_else(|| outbox.default_url.clone()) else {
        return Ok(false);
    };
    let id = ids::new_id(IdKind::WebhookDelivery);
    let now = ids::now();
    let event = event_of(row.status);
    let mut form = json!({
        "id": row.id,
        "kind": row.kind.as_str(),
        "title": title_of(row),
        "status": row.status.as_str(),
        "agent": {"slug": slug, "name": name},
        "thread_id": row.thread_id,
    });
    if let Some(by) = row.answered_by {
        form["answered_by"] = by.as_str().into();
    }
    let body = json!({
        "id": id,
        "event": event.as_str(),
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "form": form,
        "console_url": format!("{}/admin/forms/{}", outbox.public_url, row.id),
    });
    let record = Record {
        id,
        event: event.as_str().to_owned(),
        interaction_id: row.id.clone(),
        agent_id,
        url,
        body: body.to_string(),
        status: DeliveryStatus::Pending.as_str().to_owned(),
        attempts: 0,
        next_attempt_at: to_db_time(now),
        last_status: None,
        last_error: None,
        created_at: to_db_time(now),
        delivered_at: None,
        locked_until: None,
    };
    diesel::insert_into(webhook_deliveries::table)
        .values(record)
        .execute(conn)?;
    Ok(true)
}

impl Store {
    /// Turns on the outbox: from now on interaction changes queue deliveries.
    pub fn with_outbox(mut self, outbox: Outbox) -> Store {
        self.outbox = Some(Arc::new(outbox));
        self
    }

    /// The outbox, when webhooks are on.
    pub fn outbox(&self) -> Option<Arc<Outbox>> {
        self.outbox.clone()
    }

    /// Wakes this process's worker after a transaction queued a delivery.
    pub(super) fn ring(&self, queued: bool) {
        if let (true, Some(outbox)) = (queued, &self.outbox) {
            outbox.ring();
        }
    }

    /// Leases up to `limit` pending deliveries that are due (and not leased by anyone) until
    /// `lease` from now, and returns them. Each lease is a conditional UPDATE, so of several
    /// workers exactly one gets a row.
    pub async fn claim_due_deliveries(
        &self,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(1));
        self.with_conn(move |conn| {
            let now = Utc::now().naive_utc();
            let free = webhook_deliveries::locked_until
                .is_null()
                .or(webhook_deliveries::locked_until.lt(now));
            let due: Vec<String> = webhook_deliveries::table
                .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                .filter(webhook_deliveries::next_attempt_at.le(now))
                .filter(free)
                .order(webhook_deliveries::next_attempt_at.asc())
                .select(webhook_deliveries::id)
                .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                .load(conn)?;
            let mut claimed = Vec::with_capacity(due.len());
            for id in due {
                let taken = diesel::update(
                    webhook_deliveries::table
                        .filter(webhook_deliveries::id.eq(&id))
                        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                        .filter(free),
                )
                .set(webhook_deliveries::locked_until.eq(now + lease))
                .execute(conn)?;
                if taken == 1 {
                    let record: Record = webhook_deliveries::table
                        .find(&id)
                        .select(Record::as_select())
                        .first(conn)?;
                    claimed.push(record.typed()?);
                }
            }
            Ok(claimed)
        })
        .await
    }

    /// Records an attempt on a delivery this worker leased, and frees the lease.
    pub async fn record_attempt(&self, id: &str, attempt: Attempt) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let now = Utc::now().naive_utc();
            let delivered = attempt.status == DeliveryStatus::Delivered;
            let updated = diesel::update(webhook_deliveries::table.find(id))
                .set((
                    webhook_deliveries::status.eq(attempt.status.as_str()),
                    webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                    webhook_deliveries::last_status.eq(attempt.http_status.map(i32::from)),
                    webhook_deliveries::last_error.eq(attempt.error),
                    webhook_deliveries::next_attempt_at.eq(to_db_time(attempt.next_attempt_at)),
                    webhook_deliveries::delivered_at.eq(delivered.then_some(now)),
                    webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            super::touched(updated, "delivery")
        })
        .await
    }

    /// When the next pending delivery that no worker holds is due, if any is.
    pub async fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.with_conn(|conn| {
            let now = Utc::now().naive_utc();
            let next: Option<NaiveDateTime> = webhook_deliveries::table
                .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                .filter(
                    webhook_deliveries::locked_until
                        .is_null()
                        .or(webhook_deliveries::locked_until.lt(now)),
                )
                .select(diesel::dsl::min(webhook_deliveries::next_attempt_at))
                .first(conn)?;
            Ok(next.map(from_db_time))
        })
        .await
    }

    /// Makes a pending or failed delivery due now (an admin's "Retry now") and returns it;
    /// `None` when there is no such delivery, it was delivered, or it is being sent right now.
    pub async fn retry_delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let id = id.to_owned();
        let retried = self
            .with_conn(move |conn| {
                db::write_transaction(conn, |conn| {
                    let now = Utc::now().naive_utc();
                    let updated = diesel::update(
                        webhook_deliveries::table
                            .filter(webhook_deliveries::id.eq(&id))
                            .filter(
                                webhook_deliveries::status.ne(DeliveryStatus::Delivered.as_str()),
                            )
                            .filter(
                                webhook_deliveries::locked_until
                                    .is_null()
                                    .or(webhook_deliveries::locked_until.lt(now)),
                            ),
                    )
                    .set((
                        webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                        webhook_deliveries::next_attempt_at.eq(now),
                    ))
                    .execute(conn)?;
                    if updated == 0 {
                        return Ok(None);
                    }
                    let record: Record = webhook_deliveries::table
                        .find(&id)
                        .select(Record::as_select())
                        .first(conn)?;
                    Ok::<_, StoreError>(Some(record.typed()?))
                })
            })
            .await?;
        self.ring(retried.is_some());
        Ok(retried)
    }

    /// One delivery by id.
    pub async fn load_delivery(&self, id: &str) -> Result<Delivery, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            webhook_deliveries::table
                .find(id)
                .select(Record::as_select())
                .first::<Record>(conn)
                .found("delivery")?
                .typed()
        })
        .await
    }

    /// Deliveries matching `filter`, newest first, strictly older than `after`.
    pub async fn delivery_page(
        &self,
        filter: &DeliveryFilter,
        limit: usize,
        after: Option<String>,
    ) -> Result<Page<Delivery>, StoreError> {
        let filter = filter.clone();
        let request = PageRequest {
            after,
            limit,
            order: Order::Desc,
        };
        self.with_conn(move |conn| {
            let mut query = webhook_deliveries::table
                .select(Record::as_select())
                .into_boxed();
            if let Some(status) = filter.status {
                query = query.filter(webhook_deliveries::status.eq(status.as_str()));
            }
            if let Some(event) = filter.event {
                query = query.filter(webhook_deliveries::event.eq(event.as_str()));
            }
            let listing = Listing {
                rows: query,
                scope: webhook_deliveries::id.is_not_null(),
            };
            let page = listing.load(conn, &request, |row: &Record| row.id.clone())?;
            paging::try_map(page, Record::typed)
        })
        .await
    }

    /// Sets or clears an agent's own webhook URL (checked by the caller).
    pub async fn set_agent_webhook_url(
        &self,
        agent_id: &str,
        url: Option<&str>,
    ) -> Result<(), StoreError> {
        let (agent_id, url) = (agent_id.to_owned(), url.map(str::to_owned));
        self.with_conn(move |conn| {
            let updated = diesel::update(agents::table.find(agent_id))
                .set(agents::human_webhook_url.eq(url))
                .execute(conn)?;
            super::touched(updated, "agent")
        })
        .await
    }

    /// The slugs of agents with a webhook URL of their own (start-up refuses them without a
    /// key to sign with).
    pub async fn agents_with_webhook_url(&self) -> Result<Vec<String>, StoreError> {
        self.with_conn(|conn| {
            Ok(agents::table
                .filter(agents::human_webhook_url.is_not_null())
                .select(agents::slug)
                .order(agents::slug.asc())
                .load(conn)?)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
