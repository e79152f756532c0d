//! One turn: checks the model asked for, gives it the thread's history and the run's tools,
//! streams each step's text as an assistant message, hands the step's tool calls to
//! [`tool_calls`](super::tool_calls), and loops until an answer; then names an untitled thread.

use std::time::Duration;

use futures_util::StreamExt;

use super::llm::{
    self, InputItem, LlmError, ModelEvent, ModelRequest, Provider, ToolCall, UserPart,
};
use super::tool_calls::{run_resumed, run_tools};
use super::{Agent, AgentError, AgentSettings, Emit, ModelFiles, TurnInput, input, new_item};
use crate::chatkit::records::HistoryEntry;
use crate::chatkit::types::{
    AssistantMessageContent, AssistantMessageItem, ItemBody, ThreadItem, ThreadItemUpdate,
    ThreadStreamEvent, UserMessageItem,
};

impl Agent {
    /// Runs one turn over `history` (which already holds the turn's user message), whose
    /// attachments the caller loaded into `files`.
    pub async fn respond<S: Emit>(
        &self,
        sink: &mut S,
        history: &[HistoryEntry],
        files: &ModelFiles,
        input: &TurnInput,
    ) -> Result<(), AgentError> {
        match input {
            TurnInput::Action { action_type } => {
                return Err(AgentError::NoActionHandler(action_type.clone()));
            }
            TurnInput::ToolAction {
                sender,
                tool,
                arguments,
            } => {
                let outcome = Box::pin(self.tool_action(
                    sink.thread_id(),
                    sender.as_ref(),
                    tool,
                    arguments.clone(),
                ))
                .await?;
                for event in outcome.events {
                    sink.emit(event).await?;
                }
                return Ok(sink.record_tool_call(outcome.record).await?);
            }
            TurnInput::UserMessage(_)
            | TurnInput::Continue
            | TurnInput::Approved { .. }
            | TurnInput::Elicited { .. } => {}
        }
        let Some((provider, settings)) = &self.model else {
            return Err(AgentError::NoModel);
        };
        let options = latest_user_message(history)
            .map(|m| m.inference_options.clone())
            .unwrap_or_default();
        let model = match options.model {
            Some(asked) if asked != settings.model && !settings.allowed_models.contains(&asked) => {
                return Err(AgentError::ModelNotAllowed(asked));
            }
            Some(asked) => asked,
            None => settings.model.clone(),
        };
        // Known before any token: a failed run still says which model it used.
        sink.record_usage(&model, 0, 0);
        let (tools, notes) = Box::pin(self.run_tools_registry()).await;
        let instructions = match (&settings.instructions, notes.is_empty()) {
            (base, true) => base.clone(),
            (base, false) => Some(
                base.iter()
                    .cloned()
                    .chain(notes)
                    .collect::<Vec<_>>()
                    .join("\n\n"),
            ),
        };
        let mut request = ModelRequest {
            model,
            instructions,
            input: input::model_input(history, files),
            tools: tools.specs(),
            forced_tool: options
                .tool_choice
                .map(|c| c.id)
                .filter(|id| tools.contains(id)),
            temperature: settings.temperature,
        };

        let resumed = match input {
            TurnInput::Approved {
                call,
                asked_at,
                note,
            } => Some((call, *asked_at, None, note.as_deref())),
            TurnInput::Elicited {
                call,
                asked_at,
                answers,
            } => Some((call, *asked_at, Some(answers.clone()), None)),
            _ => None,
        };
        if let Some((call, asked_at, answers, note)) = resumed
            && !Box::pin(run_resumed(
                &tools,
                call,
                asked_at,
                answers,
                note,
                &mut request.input,
                sink,
            ))
            .await?
        {
            return Ok(()); // the tool asked again
        }
        for _step in 0..settings.max_steps {
            let calls = self
                .model_step(provider.as_ref(), settings, &mut request, sink)
                .await?;
            request.forced_tool = None;
            if calls.is_empty() {
                Box::pin(self.maybe_title(provider.as_ref(), settings, &request, sink)).await;
                return Ok(());
            }
            if !Box::pin(run_tools(
                &tools,
                &settings.approval_tools,
                calls,
                &mut request.input,
                sink,
            ))
            .await?
            {
                return Ok(()); // a client tool call ends the turn
            }
        }
        Err(AgentError::TooManySteps(settings.max_steps))
    }

    /// One model call: streams its text as an assistant message (added to the request's input
    /// for the next step) and returns its tool calls.
    async fn model_step<S: Emit>(
        &self,
        provider: &dyn Provider,
        settings: &AgentSettings,
        request: &mut ModelRequest,
        sink: &mut S,
    ) -> Result<Vec<ToolCall>, AgentError> {
        let mut stream = start_stream(provider, settings, request, sink).await?;
        let mut message: Option<(String, ThreadItem)> = None;
        let mut calls = Vec::new();
        while let Some(event) = stream.next().await {
            match event? {
                ModelEvent::TextDelta(delta) => {
                    let (text, item) = match &mut message {
                        Some(open) => open,
                        None => {
                            let item = assistant_item(sink.thread_id(), String::new());
                            sink.emit(ThreadStreamEvent::ItemAdded { item: item.clone() })
                                .await?;
                            sink.emit(content_update(
                                &item.id,
                                ThreadItemUpdate::ContentPartAdded {
                                    content_index: 0,
                                    content: AssistantMessageContent::new(""),
                                },
                            ))
                            .await?;
                            message.insert((String::new(), item))
                        }
                    };
                    text.push_str(&delta);
                    let update = ThreadItemUpdate::ContentPartTextDelta {
                        content_index: 0,
                        delta,
                    };
                    sink.emit(content_update(&item.id, update)).await?;
                }
                ModelEvent::ToolCall(call) => calls.push(call),
                ModelEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                } => {
                    sink.record_usage(&request.model, prompt_tokens, completion_tokens);
                }
            }
        }
        if let Some((text, mut item)) = message {
            request.input.push(InputItem::Assistant(text.clone()));
            let content = AssistantMessageContent::new(text);
            sink.emit(content_update(
                &item.id,
                ThreadItemUpdate::ContentPartDone {
                    content_index: 0,
                    content: content.clone(),
                },
            ))
            .await?;
            item.body = ItemBody::AssistantMessage(AssistantMessageItem {
                content: vec![content],
            });
            sink.emit(ThreadStreamEvent::ItemDone { item }).await?;
        }
        Ok(calls)
    }

    /// Names an untitled thread after its first exchange; a failure only costs the title.
    async fn maybe_title<S: Emit>(
        &self,
        provider: &dyn Provider,
        settings: &AgentSettings,
        request: &ModelRequest,
        sink: &mut S,
    ) {
        if !settings.auto_titles || sink.has_title() {
            return;
        }
        let conversation: Vec<String> = request
            .input
            .iter()
            .filter_map(|item| match item {
                InputItem::User(parts) => parts.iter().find_map(|p| match p {
                    UserPart::Text(t) => Some(format!("User: {t}")),
                    UserPart::Image { .. } => None,
                }),
                InputItem::Assistant(text) => Some(format!("Assistant: {text}")),
                _ => None,
            })
            .collect();
        let title_request = ModelRequest {
            model: request.model.clone(),
            instructions: Some(TITLE_INSTRUCTIONS.into()),
            input: vec![InputItem::User(vec![UserPart::Text(format!(
                "<conversation>\n{}\n</conversation>",
                conversation.join("\n")
            ))])],
            tools: vec![],
            forced_tool: None,
            temperature: None,
        };
        match provider.complete(&title_request).await {
            Ok(title) => {
                let title = clean_title(&title);
                if !title.is_empty()
                    && let Err(e) = sink.propose_title(title).await
                {
                    log::warn!("thread {}: saving the title failed: {e}", sink.thread_id());
                }
            }
            Err(e) => log::warn!("thread {}: no title: {e}", sink.thread_id()),
        }
    }
}

/// The longest `Retry-After` a turn waits out before it retries; a longer one ends the turn
/// with a message saying when to come back, rather than a stream that stalls for minutes.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(20);

/// Opens the model stream, retrying 429/5xx/connect failures: nothing has been shown yet, so a
/// retry is invisible to the user, apart from a progress line when the service asked for a
/// wait (its `Retry-After`, which replaces our own doubling backoff).
async fn start_stream<S: Emit>(
    provider: &dyn Provider,
    settings: &AgentSettings,
    request: &ModelRequest,
    sink: &mut S,
) -> Result<llm::ModelStream, AgentError> {
    let mut attempt = 0;
    loop {
        let error = match provider.stream(request).await {
            Ok(stream) => return Ok(stream),
            Err(LlmError::Unavailable {
                status,
                message,
                retry_after: Some(wait),
            }) if wait > RETRY_AFTER_CAP => {
                return Err(LlmError::RetryLater {
                    status,
                    message,
                    retry_after: wait,
                }
                .into());
            }
            Err(e) if e.is_retryable() && attempt < settings.max_retries => e,
            Err(e) => return Err(e.into()),
        };
        attempt += 1;
        log::warn!(
            "model call failed ({error}); retry {attempt} of {}",
            settings.max_retries
        );
        let pause = match error {
            LlmError::Unavailable {
                retry_after: Some(wait),
                ..
            } => {
                sink.emit(ThreadStreamEvent::ProgressUpdate {
                    icon: Some("clock".into()),
                    text: format!(
                        "The model service is busy; trying again in {} s",
                        wait.as_secs_f64().ceil()
                    ),
                })
                .await?;
                wait
            }
            _ => settings.retry_backoff * 2u32.saturating_pow(attempt - 1),
        };
        tokio::time::sleep(pause).await;
    }
}

fn latest_user_message(history: &[HistoryEntry]) -> Option<&UserMessageItem> {
    history.iter().rev().find_map(|entry| match entry {
        HistoryEntry::Item(ThreadItem {
            body: ItemBody::UserMessage(m),
            ..
        }) => Some(m),
        _ => None,
    })
}

fn assistant_item(thread_id: &str, text: String) -> ThreadItem {
    let content = if text.is_empty() {
        vec![]
    } else {
        vec![AssistantMessageContent::new(text)]
    };
    new_item(
        thread_id,
        ItemBody::AssistantMessage(AssistantMessageItem { content }),
    )
}

fn content_update(item_id: &str, update: ThreadItemUpdate) -> ThreadStreamEvent {
    ThreadStreamEvent::ItemUpdated {
        item_id: item_id.to_owned(),
        update,
    }
}

/// What the title call asks. The transcript it gets labels each turn with its speaker, and
/// small models tend to echo such a label ("User: Hi there"), so the ask says what a title is
/// and [`clean_title`] drops a label that slips through.
const TITLE_INSTRUCTIONS: &str = "Name the topic of the conversation between the \
    <conversation> tags in a short phrase of two to six words, like a heading (for example \
    \"Weekend trip to Oslo\" or \"Fixing a Rust borrow error\"). Do not answer the \
    conversation and do not quote it. Never start with a speaker label such as \"User:\" or \
    \"Assistant:\". Answer with the phrase only, without quotes or a final period.";

/// Labels a model may put before its title; they are not part of it.
const TITLE_LABELS: &[&str] = &["user", "assistant", "title", "topic"];

/// A model's title without quotes, a leading label, a trailing period, or more than 80
/// characters.
fn clean_title(raw: &str) -> String {
    let line = raw
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut text = line.trim();
    loop {
        text =
            text.trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '*' | '#'));
        let labelled = text.split_once(':').filter(|(label, _)| {
            TITLE_LABELS.contains(&label.trim().to_ascii_lowercase().as_str())
        });
        match labelled {
            Some((_, rest)) => text = rest,
            None => break,
        }
    }
    text.trim_end_matches('.').chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_cleaned() {
        assert_eq!(clean_title("\"Trip to Oslo.\"\nmore"), "Trip to Oslo");
        assert_eq!(clean_title("## Plans"), "Plans");
        assert_eq!(clean_title(&"x".repeat(200)).len(), 80);
        assert_eq!(clean_title("User: Trip to Oslo"), "Trip to Oslo");
        assert_eq!(
            clean_title("**Title:** \"Assistant: Rust lifetimes\""),
            "Rust lifetimes"
        );
        assert_eq!(clean_title("Ratio 3:2 prints"), "Ratio 3:2 prints");
    }
}
