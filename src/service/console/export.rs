//! A thread exported for keeping or sharing: JSON with the ChatKit items exactly as the
//! protocol has them (as stored), or a Markdown transcript a person can read.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::transcript::{
    Entry, InteractionInfo, RunInfo, TOOL_CALL_KIND, Transcript, TranscriptItem,
};

/// A file to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// A safe file name (letters, digits, `_`, `-`, `.`).
    pub file_name: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The thread in the protocol's shape (`Thread`, its items page holding every ChatKit item,
/// hidden ones included), with what the console knows around it: owner, agent, our tool call
/// records, runs, feedback, forms and attachments.
pub fn json_export(
    transcript: &Transcript,
    exported_at: DateTime<Utc>,
) -> Result<ExportFile, serde_json::Error> {
    let thread = &transcript.thread;
    let mut items = Vec::new();
    let mut tool_calls = Vec::new();
    let mut feedback = Vec::new();
    let mut interactions = Vec::new();
    let mut runs = Vec::new();
    for entry in &transcript.entries {
        match entry {
            Entry::Item(item) if item.kind == TOOL_CALL_KIND => tool_calls.push(item.data.clone()),
            Entry::Item(item) => {
                items.push(item.data.clone());
                for mark in &item.feedback {
                    feedback.push(
                        json!({"item_id": item.id, "user_id": mark.user_id, "kind": mark.kind}),
                    );
                }
                if let Some(i) = &item.interaction {
                    interactions.push(json!({
                        "id": i.id, "item_id": item.id, "kind": i.kind, "status": i.status,
                        "tool_name": i.tool_name, "answer": i.answer, "answered_by": i.answered_by,
                        "created_at": time(i.created_at), "answered_at": i.answered_at.map(time),
                    }));
                }
            }
            Entry::Run(run) => runs.push(json!({
                "id": run.id, "status": run.status, "model": run.model,
                "prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens,
                "started_at": time(run.started_at), "finished_at": run.finished_at.map(time),
                "error": run.error, "partial_text": run.partial_text,
            })),
        }
    }
    let mut protocol_thread = json!({
        "id": thread.id,
        "created_at": time(thread.created_at),
        "status": transcript.status,
        "metadata": transcript.metadata,
        "items": {"data": items, "has_more": false},
    });
    if let Some(title) = &thread.title {
        protocol_thread["title"] = json!(title);
    }
    let attachments: Vec<Value> = transcript
        .attachments
        .iter()
        .map(|a| {
            json!({"id": a.id, "name": a.name, "mime_type": a.mime_type, "size": a.size,
                   "sha256": a.sha256, "state": a.state, "created_at": time(a.created_at)})
        })
        .collect();
    let document = json!({
        "thread": protocol_thread,
        "user_id": thread.user_id,
        "agent": {"id": thread.agent_id, "slug": thread.agent_slug, "name": thread.agent_name},
        "last_activity": time(thread.updated_at),
        "exported_at": time(exported_at),
        "tool_calls": tool_calls,
        "runs": runs,
        "feedback": feedback,
        "interactions": interactions,
        "attachments": attachments,
    });
    Ok(ExportFile {
        file_name: format!("{}.json", safe_name(&thread.id)),
        content_type: "application/json",
        body: serde_json::to_vec_pretty(&document)?,
    })
}

/// A readable transcript: a heading per message, tool call, widget, form and run, in order.
pub fn markdown_export(transcript: &Transcript, exported_at: DateTime<Utc>) -> ExportFile {
    let thread = &transcript.thread;
    let mut out = String::new();
    let title = thread.title.as_deref().unwrap_or("Untitled");
    let _ = writeln!(out, "# {}\n", one_line(title));
    let _ = writeln!(out, "- Thread: `{}`", thread.id);
    let _ = writeln!(out, "- User: `{}`", one_line(&thread.user_id));
    let _ = writeln!(
        out,
        "- Agent: {} (`{}`)",
        one_line(&thread.agent_name),
        thread.agent_slug
    );
    let _ = writeln!(out, "- Started: {}", time(thread.created_at));
    let _ = writeln!(out, "- Last activity: {}", time(thread.updated_at));
    let _ = writeln!(out, "- Items: {}", thread.item_count);
    let _ = writeln!(out, "- Exported: {}", time(exported_at));
    for entry in &transcript.entries {
        out.push('\n');
        match entry {
            Entry::Item(item) => item_markdown(&mut out, item),
            Entry::Run(run) => run_markdown(&mut out, run),
        }
    }
    ExportFile {
        file_name: format!("{}.md", safe_name(&thread.id)),
        content_type: "text/markdown; charset=utf-8",
        body: out.into_bytes(),
    }
}

fn item_markdown(out: &mut String, item: &TranscriptItem) {
    let data = &item.data;
    let when = time(item.created_at);
    let hidden = match item.visibility.as_str() {
        "hidden" => " (hidden context)",
        "model_only" => " (model only)",
        _ => "",
    };
    match item.kind.as_str() {
        "user_message" => {
            let _ = writeln!(out, "## User · {when}{hidden}\n");
            if let Some(quoted) = data.get("quoted_text").and_then(Value::as_str) {
                for line in quoted.lines() {
                    let _ = writeln!(out, "> {line}");
                }
                out.push('\n');
            }
            let _ = writeln!(out, "{}", texts(data));
            for a in &item.attachments {
                let _ = writeln!(
                    out,
                    "\nAttachment: {} ({}, {} bytes)",
                    one_line(&a.name),
                    a.mime_type,
                    a.size
                );
            }
        }
        "assistant_message" => {
            let _ = writeln!(out, "## Assistant · {when}{hidden}\n\n{}", texts(data));
        }
        TOOL_CALL_KIND => {
            let name = data.get("name").and_then(Value::as_str).unwrap_or("tool");
            let failed = if data.get("is_error").and_then(Value::as_bool) == Some(true) {
                ", failed"
            } else {
                ""
            };
            let ms = data
                .get("duration_ms")
                .and_then(Value::as_u64)
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "## Tool call `{}` · {when}{hidden} ({ms} ms{failed})\n",
                one_line(name)
            );
            let arguments = data
                .get("arguments")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "Arguments:\n\n{}\n",
                fenced(&pretty_text(arguments), "json")
            );
            let output = data
                .get("output")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let _ = writeln!(out, "Output:\n\n{}", fenced(output, ""));
        }
        "client_tool_call" => {
            let name = data.get("name").and_then(Value::as_str).unwrap_or("tool");
            let status = data
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("pending");
            let _ = writeln!(
                out,
                "## Client tool call `{}` · {when} ({status})\n",
                one_line(name)
            );
            let _ = writeln!(
                out,
                "Arguments:\n\n{}",
                fenced(&pretty(data.get("arguments")), "json")
            );
            if let Some(output) = data.get("output") {
                let _ = writeln!(
                    out,
                    "\nOutput:\n\n{}",
                    fenced(&pretty(Some(output)), "json")
                );
            }
        }
        "widget" => {
            let _ = writeln!(out, "## Widget · {when}\n");
            match data.get("copy_text").and_then(Value::as_str) {
                Some(text) => {
                    let _ = writeln!(out, "{text}");
                }
                None => {
                    let _ = writeln!(out, "{}", fenced(&pretty(data.get("widget")), "json"));
                }
            }
            if let Some(i) = &item.interaction {
                interaction_markdown(out, i);
            }
        }
        "hidden_context_item" | "sdk_hidden_context" => {
            let _ = writeln!(out, "## Hidden context · {when}\n");
            let content = match data.get("content") {
                Some(Value::String(text)) => text.clone(),
                other => fenced(&pretty(other), "json"),
            };
            let _ = writeln!(out, "{content}");
        }
        "end_of_turn" => {
            let _ = writeln!(out, "## End of turn · {when}");
        }
        other => {
            let _ = writeln!(out, "## {} · {when}{hidden}\n", one_line(&label(other)));
            let _ = writeln!(out, "{}", fenced(&pretty(Some(data)), "json"));
        }
    }
    for mark in &item.feedback {
        let verdict = if mark.kind == "negative" {
            "👎"
        } else {
            "👍"
        };
        let _ = writeln!(
            out,
            "\nFeedback: {verdict} {} from `{}`",
            mark.kind,
            one_line(&mark.user_id)
        );
    }
}

fn interaction_markdown(out: &mut String, i: &InteractionInfo) {
    let by = i
        .answered_by
        .as_deref()
        .map(|b| format!(" by the {b}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n{} `{}`: {}{by}",
        label(&i.kind),
        one_line(&i.tool_name),
        i.status
    );
    if let Some(answer) = &i.answer {
        let _ = writeln!(
            out,
            "\nAnswer:\n\n{}",
            fenced(&pretty(Some(answer)), "json")
        );
    }
}

fn run_markdown(out: &mut String, run: &RunInfo) {
    let model = run.model.as_deref().unwrap_or("default model");
    let duration = run
        .duration_ms
        .map(|ms| format!(" · {:.1} s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "---\n\nRun `{}` · {} · {} tokens in / {} out{duration} · {}",
        run.id,
        one_line(model),
        run.prompt_tokens,
        run.completion_tokens,
        run.status
    );
    if let Some(error) = &run.error {
        let _ = writeln!(out, "\nError: {}", one_line(error));
    }
    if let Some(partial) = &run.partial_text {
        let _ = writeln!(
            out,
            "\nText shown before it failed:\n\n{}",
            fenced(partial, "")
        );
    }
    out.push_str("\n---\n");
}

/// The `text` of each content part, one paragraph each.
fn texts(data: &Value) -> String {
    data.get("content")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n\n")
        })
        .unwrap_or_default()
}

/// `snake_case` as a label: "Structured input".
fn label(kind: &str) -> String {
    let spaced = kind.replace('_', " ");
    let mut chars = spaced.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn pretty(value: Option<&Value>) -> String {
    value
        .and_then(|v| serde_json::to_string_pretty(v).ok())
        .unwrap_or_default()
}

/// JSON text pretty-printed, or left as it is when it is not JSON.
fn pretty_text(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// A code block whose fence is longer than any backtick run inside, so no text can close it.
fn fenced(text: &str, lang: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{text}\n{fence}")
}

/// Headings and list entries are one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn safe_name(id: &str) -> String {
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect();
    if name.is_empty() {
        "thread".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_the_text() {
        assert_eq!(fenced("a", ""), "```\na\n```");
        assert_eq!(fenced("x ```` y", "json"), "`````json\nx ```` y\n`````");
    }

    #[test]
    fn names_and_labels_are_tame() {
        assert_eq!(safe_name("thr_1/../x"), "thr_1x");
        assert_eq!(safe_name("../"), "thread");
        assert_eq!(label("structured_input"), "Structured input");
        assert_eq!(one_line("a\n# b\tc"), "a # b c");
    }
}
