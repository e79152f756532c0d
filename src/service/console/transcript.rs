//! A thread's transcript as an operator reads it: every stored item in order (hidden and
//! model-only ones too), each with its feedback, the form it asks (with who answered) and
//! its attachments, and each run placed where it ended. Pure data, built from what the
//! store loaded; the console's pages and the Markdown export present it.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::store::{
    AttachmentRow, FeedbackRow, InteractionRow, RunRow, ThreadSummary, TranscriptData,
};

/// Items of these kinds are our own records (tool calls with their results), not ChatKit's.
pub const TOOL_CALL_KIND: &str = "tool_call";

#[derive(Debug, Clone)]
pub struct Transcript {
    pub thread: ThreadSummary,
    /// The thread's status JSON (`{"type": "active"}` …).
    pub status: Value,
    pub metadata: Value,
    /// Items and runs, in the order they happened.
    pub entries: Vec<Entry>,
    /// Every attachment of the thread.
    pub attachments: Vec<AttachmentInfo>,
    pub runs: usize,
    pub failed_runs: usize,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

#[derive(Debug, Clone)]
pub enum Entry {
    Item(Box<TranscriptItem>),
    Run(RunInfo),
}

/// One stored item with what belongs to it.
#[derive(Debug, Clone)]
pub struct TranscriptItem {
    pub id: String,
    /// The item's `type` (`user_message`, `widget` …), or `tool_call` for a tool call record.
    pub kind: String,
    /// `visible`, `hidden` (ChatKit hidden context) or `model_only` (tool calls).
    pub visibility: String,
    pub created_at: DateTime<Utc>,
    /// The JSON as stored.
    pub data: Value,
    pub feedback: Vec<FeedbackMark>,
    /// The form, approval or question this item shows, if it shows one.
    pub interaction: Option<InteractionInfo>,
    /// The attachments a user message carries, with what the store knows of them.
    pub attachments: Vec<AttachmentInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackMark {
    pub user_id: String,
    /// `positive` or `negative`.
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct InteractionInfo {
    pub id: String,
    /// `form`, `approval` or `elicitation`.
    pub kind: String,
    /// `pending`, `answered`, `best_judgement`, `cancelled`, `expired` or `denied`.
    pub status: String,
    pub tool_name: String,
    /// The question as stored (JSON).
    pub schema: Value,
    pub answer: Option<Value>,
    /// `user` or `operator`.
    pub answered_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct AttachmentInfo {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    pub size: i64,
    pub sha256: Option<String>,
    /// `pending`, `uploading`, `uploaded` or `failed`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    /// An image the browser can show.
    pub is_image: bool,
    /// A same-origin, signed, expiring path to its bytes, once uploaded.
    pub url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RunInfo {
    pub id: String,
    /// `running`, `completed`, `failed`, `cancelled` or `interrupted`.
    pub status: String,
    pub model: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    /// Text streamed to the user: not kept in the thread (a failed turn), or as last saved
    /// (an interrupted one, which keeps it as its answer).
    pub partial_text: Option<String>,
    /// Oldest items of the thread left out of the model's input to fit its context budget.
    pub context_dropped: Option<i64>,
}

/// Builds the transcript; `attachment` turns an attachment row into what pages show (its
/// URL needs the attachment service).
pub fn build(
    data: TranscriptData,
    attachment: impl Fn(&AttachmentRow) -> AttachmentInfo,
) -> Transcript {
    let attachments: Vec<AttachmentInfo> = data.attachments.iter().map(&attachment).collect();
    let runs: Vec<RunInfo> = data.runs.iter().map(run_info).collect();
    let mut entries = Vec::with_capacity(data.items.len() + runs.len());
    let mut pending_runs = runs.iter().cloned().peekable();
    for stored in data.items {
        // A run goes before the first item that came after it ended.
        while let Some(run) = pending_runs.next_if(|r| run_time(r) < stored.created_at) {
            entries.push(Entry::Run(run));
        }
        let feedback = marks(&data.feedback, &stored.id);
        let interaction = data
            .interactions
            .iter()
            .rev()
            .find(|i| i.item_id == stored.id)
            .map(interaction_info);
        let carried = carried_attachments(&stored.data, &attachments);
        entries.push(Entry::Item(Box::new(TranscriptItem {
            id: stored.id,
            kind: stored.kind,
            visibility: stored.visibility,
            created_at: stored.created_at,
            data: stored.data,
            feedback,
            interaction,
            attachments: carried,
        })));
    }
    entries.extend(pending_runs.map(Entry::Run));
    Transcript {
        failed_runs: runs.iter().filter(|r| r.status == "failed").count(),
        prompt_tokens: runs.iter().map(|r| r.prompt_tokens).sum(),
        completion_tokens: runs.iter().map(|r| r.completion_tokens).sum(),
        runs: runs.len(),
        thread: data.thread,
        status: data.status,
        metadata: data.metadata,
        entries,
        attachments,
    }
}

/// When a run shows up in the transcript: when it ended, or began if it has not.
fn run_time(run: &RunInfo) -> DateTime<Utc> {
    run.finished_at.unwrap_or(run.started_at)
}

fn run_info(row: &RunRow) -> RunInfo {
    let started_at = row.started_at.and_utc();
    let finished_at = row.finished_at.map(|t| t.and_utc());
    RunInfo {
        id: row.id.clone(),
        status: row.status.as_str().to_owned(),
        model: row.model.clone(),
        prompt_tokens: row.prompt_tokens,
        completion_tokens: row.completion_tokens,
        started_at,
        finished_at,
        duration_ms: finished_at.map(|end| (end - started_at).num_milliseconds()),
        error: row.error.clone(),
        partial_text: row.partial_text.clone().filter(|t| !t.is_empty()),
        context_dropped: row.context_dropped.filter(|n| *n > 0),
    }
}

fn marks(feedback: &[FeedbackRow], item_id: &str) -> Vec<FeedbackMark> {
    feedback
        .iter()
        .filter(|f| f.item_id == item_id)
        .map(|f| FeedbackMark {
            user_id: f.user_id.clone(),
            kind: f.kind.clone(),
        })
        .collect()
}

/// Stored JSON that does not parse is shown as the text it is.
fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn interaction_info(row: &InteractionRow) -> InteractionInfo {
    InteractionInfo {
        id: row.id.clone(),
        kind: row.kind.as_str().to_owned(),
        status: row.status.as_str().to_owned(),
        tool_name: row.tool_name.clone(),
        schema: json_or_text(&row.schema),
        answer: row.answer.as_deref().map(json_or_text),
        answered_by: row.answered_by.map(|by| by.as_str().to_owned()),
        created_at: row.created_at.and_utc(),
        answered_at: row.answered_at.map(|t| t.and_utc()),
        expires_at: row.expires_at.and_utc(),
    }
}

/// The attachments a user message names, as the store knows them now; one that is gone is
/// described from the message alone.
fn carried_attachments(data: &Value, known: &[AttachmentInfo]) -> Vec<AttachmentInfo> {
    let Some(list) = data.get("attachments").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|a| {
            let id = a.get("id")?.as_str()?;
            let text = |key: &str| a.get(key).and_then(Value::as_str).unwrap_or_default();
            Some(
                known
                    .iter()
                    .find(|k| k.id == id)
                    .cloned()
                    .unwrap_or(AttachmentInfo {
                        id: id.to_owned(),
                        name: text("name").to_owned(),
                        mime_type: text("mime_type").to_owned(),
                        size: 0,
                        sha256: None,
                        state: "deleted".to_owned(),
                        created_at: DateTime::<Utc>::MIN_UTC,
                        is_image: false,
                        url: None,
                    }),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::store::StoredItem;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn item(id: &str, s: i64, data: Value) -> StoredItem {
        StoredItem {
            id: id.into(),
            kind: data["type"].as_str().unwrap_or(TOOL_CALL_KIND).into(),
            visibility: "visible".into(),
            status: None,
            created_at: at(s),
            data,
        }
    }

    fn run(id: &str, start: i64, end: Option<i64>, status: &str) -> RunRow {
        RunRow {
            id: id.into(),
            thread_id: "thr".into(),
            status: status.parse().unwrap(),
            model: Some("m".into()),
            prompt_tokens: 10,
            completion_tokens: 5,
            started_at: at(start).naive_utc(),
            finished_at: end.map(|e| at(e).naive_utc()),
            error: None,
            partial_text: Some(String::new()),
            context_dropped: None,
        }
    }

    fn data(items: Vec<StoredItem>, runs: Vec<RunRow>) -> TranscriptData {
        TranscriptData {
            thread: ThreadSummary {
                id: "thr".into(),
                title: None,
                account_id: "acc".into(),
                user_id: "ann".into(),
                agent_id: "agt".into(),
                agent_slug: "default".into(),
                agent_name: "Assistant".into(),
                item_count: items.len() as i64,
                created_at: at(0),
                updated_at: at(9),
                pending_interactions: 0,
                negative_feedback: 0,
                failed_runs: 0,
            },
            status: json!({"type": "active"}),
            metadata: json!({}),
            items,
            runs,
            feedback: vec![FeedbackRow {
                item_id: "a1".into(),
                user_id: "ann".into(),
                kind: "negative".into(),
                created_at: at(3).naive_utc(),
            }],
            interactions: vec![],
            attachments: vec![],
        }
    }

    #[test]
    fn runs_sit_where_they_ended_and_feedback_on_its_item() {
        let items = vec![
            item(
                "u1",
                0,
                json!({"type": "user_message", "attachments": [{"id": "atc_gone", "name": "x.pdf"}]}),
            ),
            item("a1", 2, json!({"type": "assistant_message"})),
            item("u2", 5, json!({"type": "user_message"})),
        ];
        let runs = vec![
            run("r1", 1, Some(3), "completed"),
            run("r2", 6, None, "running"),
        ];
        let transcript = build(data(items, runs), |_| unreachable!("no stored attachments"));
        let order: Vec<String> = transcript
            .entries
            .iter()
            .map(|e| match e {
                Entry::Item(i) => i.id.clone(),
                Entry::Run(r) => r.id.clone(),
            })
            .collect();
        assert_eq!(order, ["u1", "a1", "r1", "u2", "r2"]);
        let Entry::Item(a1) = &transcript.entries[1] else {
            panic!()
        };
        assert_eq!(
            a1.feedback,
            [FeedbackMark {
                user_id: "ann".into(),
                kind: "negative".into()
            }]
        );
        let Entry::Item(u1) = &transcript.entries[0] else {
            panic!()
        };
        assert_eq!(
            (
                u1.attachments[0].name.as_str(),
                u1.attachments[0].state.as_str()
            ),
            ("x.pdf", "deleted")
        );
        let Entry::Run(r1) = &transcript.entries[2] else {
            panic!()
        };
        assert_eq!(
            (r1.duration_ms, r1.partial_text.as_deref()),
            (Some(2000), None)
        );
        assert_eq!((transcript.runs, transcript.prompt_tokens), (2, 20));
    }
}
