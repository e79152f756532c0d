//! The model's context window on long threads: how many tokens of history an agent may send,
//! a cheap estimate of what each history entry costs, and which oldest turns are left out so
//! the rest fits. Whole turns only: a turn starts at a user message, so a tool call and its
//! result (one record, or one client tool item) are never split, and the latest user message's
//! turn is always kept.

use super::input::TEXT_INLINE_CAP;
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::records::HistoryEntry;
use crate::chatkit::types::{
    Attachment, ItemBody, SdkHiddenContextItem, ThreadItem, UserMessageContent,
};

/// Context window of models whose name starts with the prefix, in tokens; the first match wins.
const KNOWN_MODELS: &[(&str, u64)] = &[
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-5", 400_000),
    ("o3", 200_000),
    ("o4", 200_000),
];

/// Context window assumed for a model not in [`KNOWN_MODELS`].
const UNKNOWN_MODEL_CONTEXT: u64 = 32_000;

/// What an image attachment is counted as: images are billed by their tiles, not their bytes.
const IMAGE_TOKENS: u64 = 1_000;

/// The tokens of history a model may get when no budget is configured: its context window
/// less a reserve for the answer (the larger of 4,096 tokens and an eighth of the window).
pub fn default_budget(model: &str) -> u64 {
    let window = KNOWN_MODELS
        .iter()
        .find(|(prefix, _)| model.starts_with(prefix))
        .map_or(UNKNOWN_MODEL_CONTEXT, |(_, tokens)| *tokens);
    window.saturating_sub((window / 8).max(4_096))
}

/// Estimated tokens of a text: a byte count over four. An estimate, not a tokenizer: it is
/// close for English prose and JSON, and errs high for most other scripts' UTF-8.
pub fn text_tokens(text: &str) -> u64 {
    u64::try_from(text.len()).unwrap_or(u64::MAX).div_ceil(4)
}

/// Estimated tokens an entry adds to the model's input, attachments by their kind: an image a
/// fixed cost, any other file the most of its text the model may be given.
pub fn entry_tokens(entry: &HistoryEntry) -> u64 {
    match entry {
        HistoryEntry::ToolCall(record) => {
            text_tokens(&record.name) + text_tokens(&record.arguments) + text_tokens(&record.output)
        }
        HistoryEntry::Item(item) => match &item.body {
            ItemBody::UserMessage(message) => {
                let words: u64 = message
                    .content
                    .iter()
                    .map(|part| match part {
                        UserMessageContent::InputText { text } => text_tokens(text),
                        UserMessageContent::InputTag { text, data, .. } => {
                            text_tokens(text)
                                + text_tokens(&serde_json::to_string(data).unwrap_or_default())
                        }
                    })
                    .sum();
                let quoted = message.quoted_text.as_deref().map_or(0, text_tokens);
                let files: u64 = message
                    .attachments
                    .iter()
                    .map(|a| match a {
                        Attachment::Image(_) => IMAGE_TOKENS,
                        Attachment::File(_) => TEXT_INLINE_CAP / 4,
                    })
                    .sum();
                words + quoted + files
            }
            ItemBody::AssistantMessage(message) => {
                message.content.iter().map(|c| text_tokens(&c.text)).sum()
            }
            // Rarer items: their stored JSON is an upper bound of what the model is shown.
            body => text_tokens(&serde_json::to_string(body).unwrap_or_default()),
        },
    }
}

/// How many of the oldest entries of `history` to leave out so the rest fits in `budget`
/// tokens: whole turns, newest first, while they fit; the latest turn is kept even alone.
/// Entries before the first user message count as one turn.
pub fn entries_to_drop(history: &[HistoryEntry], budget: u64) -> usize {
    let mut window = Window::new(budget);
    let complete = history.iter().rev().all(|entry| window.take(entry));
    history.len() - window.kept(complete)
}

/// The walk back through a thread's history, newest entry first, that decides which of them
/// the model gets: it takes entries while their whole turns fit the budget, so the store can
/// stop reading as soon as one does not (see [`Store::load_recent_history`]).
///
/// [`Store::load_recent_history`]: crate::store::Store::load_recent_history
#[derive(Debug, Clone)]
pub struct Window {
    budget: u64,
    /// Tokens of the turns kept so far.
    used: u64,
    /// Tokens of the turn being walked, not yet kept.
    turn: u64,
    /// Entries walked, and how many of them (the newest) are kept.
    seen: usize,
    kept: usize,
    /// Whether the latest turn is still being walked (it is kept whatever its size).
    latest: bool,
    /// Whether a turn did not fit: no older entry is kept.
    full: bool,
}

impl Window {
    pub fn new(budget: u64) -> Self {
        Window {
            budget,
            used: 0,
            turn: 0,
            seen: 0,
            kept: 0,
            latest: true,
            full: false,
        }
    }

    /// Takes the next older entry; `false` once the budget is full and no older entry can be
    /// kept (the entries of the turn that did not fit are walked but not kept).
    pub fn take(&mut self, entry: &HistoryEntry) -> bool {
        if self.full {
            return false;
        }
        self.seen += 1;
        self.turn = self.turn.saturating_add(entry_tokens(entry));
        if starts_turn(entry) {
            self.close_turn();
        }
        !self.full
    }

    /// How many of the newest entries walked are kept; `complete` when the walk reached the
    /// thread's first entry, whose turn then ends there even without a user message.
    pub fn kept(&mut self, complete: bool) -> usize {
        if complete && !self.full && self.seen > self.kept {
            self.close_turn();
        }
        self.kept
    }

    fn close_turn(&mut self) {
        if !self.latest && self.used.saturating_add(self.turn) > self.budget {
            self.full = true;
            return;
        }
        self.latest = false;
        self.used = self.used.saturating_add(self.turn);
        self.turn = 0;
        self.kept = self.seen;
    }
}

fn starts_turn(entry: &HistoryEntry) -> bool {
    matches!(entry, HistoryEntry::Item(item) if matches!(item.body, ItemBody::UserMessage(_)))
}

/// A hidden note put where the left-out entries were, so that the model does not pretend to
/// remember them. Never stored.
pub fn dropped_note(thread_id: &str, dropped: u64) -> HistoryEntry {
    HistoryEntry::Item(ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: thread_id.to_owned(),
        created_at: ids::now(),
        body: ItemBody::SdkHiddenContext(SdkHiddenContextItem {
            content: format!(
                "{dropped} earlier items of this conversation are not shown to you, to fit \
                 your context window. If the user refers to them, say that you cannot see them."
            ),
        }),
    })
}

#[cfg(test)]
mod tests;
