//! What the console does with threads: list them across every account, agent and user (with
//! filters that combine, full-text search and keyset pages), read a transcript, export it,
//! and delete it with its attachments' files. No HTTP here; routes call one method per page.
//!
//! Operators reading users' conversations is itself recorded: a transcript view is audited
//! at most once per operator and thread every [`VIEW_AUDIT_WINDOW`], exports and deletions
//! every time.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;

use super::export::{self, ExportFile};
use super::transcript::{self, AttachmentInfo, Transcript};
use super::{Actor, AuditService, ConsoleError};
use crate::chatkit::files::ImageKind;
use crate::runs::RunManager;
use crate::service::attachments::AttachmentService;
use crate::store::search::SearchQuery;
use crate::store::{
    ActivityCursor, AgentRow, AttachmentRow, AuditFilter, PageAt, Store, ThreadFilter,
    ThreadListPage,
};

/// Threads per page of the list.
pub const PAGE_SIZE: usize = 50;
/// A second view of the same transcript by the same operator within this window is not
/// recorded again.
pub const VIEW_AUDIT_WINDOW: Duration = Duration::minutes(15);

/// The list's filters as the page's query string gives them: all text, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct ListForm {
    /// An agent id.
    pub agent: String,
    pub user: String,
    /// `YYYY-MM-DD`, first day of last activity.
    pub from: String,
    /// `YYYY-MM-DD`, last day of last activity (inclusive).
    pub to: String,
    /// Checkboxes: present (any value) when ticked.
    pub pending: Option<String>,
    pub negative: Option<String>,
    pub failed: Option<String>,
    pub q: String,
    /// Cursor of the next page towards older activity.
    pub older: Option<String>,
    /// Cursor of the next page towards newer activity.
    pub newer: Option<String>,
}

/// The list's filters, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadQuery {
    pub agent_id: Option<String>,
    pub user_id: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub pending_form: bool,
    pub negative_feedback: bool,
    pub failed_run: bool,
    /// The search box as typed (trimmed).
    pub text: Option<String>,
    pub at: PageAt,
    /// Fields that could not be used, with why (the rest still filters).
    pub problems: Vec<(&'static str, String)>,
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn date(
    field: &'static str,
    text: &str,
    problems: &mut Vec<(&'static str, String)>,
) -> Option<NaiveDate> {
    let text = non_empty(text)?;
    match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        Ok(date) => Some(date),
        Err(_) => {
            problems.push((field, format!("'{text}' is not a date (YYYY-MM-DD)")));
            None
        }
    }
}

impl ThreadQuery {
    pub fn parse(form: &ListForm) -> ThreadQuery {
        let mut problems = Vec::new();
        let from = date("from", &form.from, &mut problems);
        let to = date("to", &form.to, &mut problems);
        let cursor = |text: &Option<String>| text.as_deref().and_then(ActivityCursor::decode);
        let at = match (cursor(&form.older), cursor(&form.newer)) {
            (Some(c), _) => PageAt::Older(c),
            (None, Some(c)) => PageAt::Newer(c),
            (None, None) => PageAt::First,
        };
        ThreadQuery {
            agent_id: non_empty(&form.agent),
            user_id: non_empty(&form.user),
            from,
            to,
            pending_form: form.pending.is_some(),
            negative_feedback: form.negative.is_some(),
            failed_run: form.failed.is_some(),
            text: non_empty(&form.q),
            at,
            problems,
        }
    }

    /// Whether anything narrows the list (the empty state says so).
    pub fn is_filtered(&self) -> bool {
        self.agent_id.is_some()
            || self.user_id.is_some()
            || self.from.is_some()
            || self.to.is_some()
            || self.pending_form
            || self.negative_feedback
            || self.failed_run
            || self.text.is_some()
    }

    fn filter(&self) -> ThreadFilter {
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        ThreadFilter {
            agent_id: self.agent_id.clone(),
            user_id: self.user_id.clone(),
            active_from: self.from.and_then(midnight),
            active_until: self.to.and_then(|d| d.succ_opt()).and_then(midnight),
            pending_form: self.pending_form,
            negative_feedback: self.negative_feedback,
            failed_run: self.failed_run,
            search: self.text.as_deref().and_then(SearchQuery::parse),
        }
    }
}

/// A page of the list and what its filter bar offers.
#[derive(Debug, Clone)]
pub struct ThreadList {
    pub page: ThreadListPage,
    /// Every agent, for the agent filter.
    pub agents: Vec<AgentRow>,
}

/// What deleting a thread removes, for the confirmation page.
#[derive(Debug, Clone)]
pub struct DeletionPreview {
    pub transcript: Transcript,
}

/// What a deletion removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedThread {
    pub id: String,
    pub title: Option<String>,
    pub items: i64,
    pub attachments: usize,
    pub files_removed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Markdown,
}

impl ExportFormat {
    fn name(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Markdown => "markdown",
        }
    }
}

#[derive(Clone)]
pub struct ThreadConsoleService {
    store: Store,
    attachments: AttachmentService,
    audit: AuditService,
    /// Stops a deleted thread's run, in whichever process it streams.
    runs: RunManager,
}

impl ThreadConsoleService {
    pub fn new(
        store: Store,
        attachments: AttachmentService,
        audit: AuditService,
        runs: RunManager,
    ) -> Self {
        ThreadConsoleService {
            store,
            attachments,
            audit,
            runs,
        }
    }

    /// A page of threads matching `query`, newest activity first.
    pub async fn list(&self, query: &ThreadQuery) -> Result<ThreadList, ConsoleError> {
        let page = self
            .store
            .console_threads(&query.filter(), query.at.clone(), PAGE_SIZE)
            .await?;
        let agents = self.store.console_agents().await?;
        Ok(ThreadList { page, agents })
    }

    /// The transcript of a thread of any owner; the view is audited (once per operator and
    /// thread per [`VIEW_AUDIT_WINDOW`]).
    pub async fn transcript(
        &self,
        actor: &Actor,
        thread_id: &str,
    ) -> Result<Transcript, ConsoleError> {
        let transcript = self.load(thread_id).await?;
        if !self.viewed_recently(actor, thread_id).await? {
            self.audit
                .record(
                    actor,
                    "thread.view",
                    Some("thread"),
                    Some(thread_id),
                    json!({}),
                )
                .await?;
        }
        Ok(transcript)
    }

    /// The thread as a file to download; always audited.
    pub async fn export(
        &self,
        actor: &Actor,
        thread_id: &str,
        format: ExportFormat,
    ) -> Result<ExportFile, ConsoleError> {
        let transcript = self.load(thread_id).await?;
        let now = Utc::now();
        let file = match format {
            ExportFormat::Json => {
                export::json_export(&transcript, now).map_err(|e| ConsoleError::Store(e.into()))?
            }
            ExportFormat::Markdown => export::markdown_export(&transcript, now),
        };
        self.audit
            .record(
                actor,
                "thread.export",
                Some("thread"),
                Some(thread_id),
                json!({"format": format.name(), "items": transcript.thread.item_count}),
            )
            .await?;
        Ok(file)
    }

    /// What deleting the thread would remove (admins only).
    pub async fn deletion(
        &self,
        actor: &Actor,
        thread_id: &str,
    ) -> Result<DeletionPreview, ConsoleError> {
        actor.require_admin()?;
        Ok(DeletionPreview {
            transcript: self.load(thread_id).await?,
        })
    }

    /// Deletes the thread with its items, runs, feedback, forms and attachments (rows and
    /// files); admins only, always audited.
    pub async fn delete(
        &self,
        actor: &Actor,
        thread_id: &str,
    ) -> Result<DeletedThread, ConsoleError> {
        actor.require_admin()?;
        let data = self.store.console_transcript(thread_id).await?;
        self.runs.stop_for_deletion(thread_id).await;
        let keys = self.store.console_delete_thread(thread_id).await?;
        let deleted = DeletedThread {
            id: thread_id.to_owned(),
            title: data.thread.title.clone(),
            items: data.thread.item_count,
            attachments: data.attachments.len(),
            files_removed: keys.len(),
        };
        self.attachments.remove_blobs(keys).await;
        self.audit
            .record(
                actor,
                "thread.delete",
                Some("thread"),
                Some(thread_id),
                json!({
                    "title": deleted.title,
                    "user_id": data.thread.user_id,
                    "agent": data.thread.agent_slug,
                    "items": deleted.items,
                    "attachments": deleted.attachments,
                }),
            )
            .await?;
        Ok(deleted)
    }

    async fn load(&self, thread_id: &str) -> Result<Transcript, ConsoleError> {
        let data = self.store.console_transcript(thread_id).await?;
        Ok(transcript::build(data, |row| self.attachment_info(row)))
    }

    async fn viewed_recently(&self, actor: &Actor, thread_id: &str) -> Result<bool, ConsoleError> {
        let Some(operator) = &actor.operator else {
            return Ok(false);
        };
        let since: DateTime<Utc> = Utc::now() - VIEW_AUDIT_WINDOW;
        let filter = AuditFilter {
            operator_email: Some(operator.email.clone()),
            action: Some("thread.view".to_owned()),
            object_type: Some("thread".to_owned()),
            object_id: Some(thread_id.to_owned()),
            from: Some(since),
            until: None,
        };
        Ok(!self.audit.page(&filter, 1, None).await?.data.is_empty())
    }

    fn attachment_info(&self, row: &AttachmentRow) -> AttachmentInfo {
        let uploaded = row.is_uploaded() && row.storage_key.is_some();
        AttachmentInfo {
            id: row.id.clone(),
            name: row.name.clone(),
            mime_type: row.mime_type.clone(),
            size: row.size,
            sha256: row.sha256.clone(),
            state: row.state.clone(),
            created_at: row.created_at.and_utc(),
            is_image: ImageKind::of_mime(&row.mime_type).is_some(),
            url: uploaded.then(|| self.attachments.content_path(&row.id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_a_query() {
        let form = ListForm {
            agent: " agt_1 ".into(),
            user: "".into(),
            from: "2026-03-01".into(),
            to: "yesterday".into(),
            failed: Some("on".into()),
            q: "  refund ".into(),
            older: Some("1772366400000000.thr_a".into()),
            ..ListForm::default()
        };
        let query = ThreadQuery::parse(&form);
        assert_eq!(query.agent_id.as_deref(), Some("agt_1"));
        assert_eq!(query.user_id, None);
        assert_eq!(query.from, NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(query.to, None);
        assert_eq!(query.problems.len(), 1);
        assert!(query.failed_run && !query.pending_form);
        assert!(matches!(&query.at, PageAt::Older(c) if c.id == "thr_a"));
        let filter = query.filter();
        assert_eq!(
            filter.active_from.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-03-01T00:00:00+00:00")
        );
        assert_eq!(
            filter.search.map(|s| s.words().to_vec()),
            Some(vec!["refund".to_owned()])
        );
        assert!(query.is_filtered());
        assert!(!ThreadQuery::parse(&ListForm::default()).is_filtered());
    }

    #[test]
    fn the_last_day_counts_whole() {
        let form = ListForm {
            to: "2026-03-01".into(),
            newer: Some("garbage".into()),
            ..ListForm::default()
        };
        let query = ThreadQuery::parse(&form);
        assert_eq!(query.at, PageAt::First);
        let until = query.filter().active_until.unwrap();
        assert_eq!(until.to_rfc3339(), "2026-03-02T00:00:00+00:00");
    }
}
