//! Which turns the trim keeps, on histories built by hand.

use super::*;
use crate::chatkit::records::ToolCallRecord;
use crate::chatkit::types::{AssistantMessageContent, AssistantMessageItem, UserMessageItem};

fn item(body: ItemBody) -> HistoryEntry {
    HistoryEntry::Item(ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: "thr".into(),
        created_at: ids::now(),
        body,
    })
}

/// A user message of `bytes` bytes.
fn user(bytes: usize) -> HistoryEntry {
    item(ItemBody::UserMessage(UserMessageItem {
        content: vec![UserMessageContent::InputText {
            text: "u".repeat(bytes),
        }],
        attachments: vec![],
        quoted_text: None,
        inference_options: Default::default(),
    }))
}

fn assistant(bytes: usize) -> HistoryEntry {
    item(ItemBody::AssistantMessage(AssistantMessageItem {
        content: vec![AssistantMessageContent {
            annotations: vec![],
            text: "a".repeat(bytes),
            type_: Default::default(),
        }],
    }))
}

fn tool(bytes: usize) -> HistoryEntry {
    HistoryEntry::ToolCall(ToolCallRecord {
        id: "tc".into(),
        thread_id: "thr".into(),
        created_at: ids::now(),
        call_id: "call".into(),
        name: String::new(),
        arguments: String::new(),
        output: "o".repeat(bytes),
        is_error: false,
        content: None,
        duration_ms: 0,
    })
}

#[test]
fn estimates_are_bytes_over_four() {
    assert_eq!(text_tokens(""), 0);
    assert_eq!(text_tokens("abcd"), 1);
    assert_eq!(text_tokens("abcde"), 2);
    assert_eq!(entry_tokens(&user(400)), 100);
    assert_eq!(entry_tokens(&tool(40)), 10);
}

#[test]
fn everything_fits_nothing_is_dropped() {
    let history = [user(40), assistant(40), user(40)];
    assert_eq!(entries_to_drop(&history, 1_000), 0);
    assert_eq!(entries_to_drop(&[], 10), 0);
}

#[test]
fn oldest_whole_turns_are_dropped_first() {
    // Turns of 20 tokens each (10 + 10); the latest is a lone user message of 10.
    let history = [
        user(40),
        assistant(40),
        user(40),
        assistant(40),
        user(40),
        assistant(40),
        user(40),
    ];
    assert_eq!(
        entries_to_drop(&history, 50),
        2,
        "the latest and two turns fit"
    );
    assert_eq!(
        entries_to_drop(&history, 49),
        4,
        "the latest and one turn fit"
    );
    assert_eq!(entries_to_drop(&history, 30), 4);
}

#[test]
fn the_latest_turn_is_kept_even_when_it_alone_is_too_big() {
    let history = [user(40), assistant(40), user(4_000)];
    assert_eq!(entries_to_drop(&history, 10), 2);
}

#[test]
fn a_tool_call_stays_with_its_turn() {
    // The middle turn has a big tool result: it goes whole, never just its older half.
    let history = [
        user(40),
        assistant(40),
        user(40),
        tool(400),
        assistant(40),
        user(40),
    ];
    assert_eq!(entries_to_drop(&history, 100), 5);
    assert_eq!(entries_to_drop(&history, 130), 2);
    assert_eq!(entries_to_drop(&history, 150), 0);
}

#[test]
fn entries_before_the_first_user_message_are_one_turn() {
    let history = [assistant(400), user(40), assistant(40), user(40)];
    assert_eq!(entries_to_drop(&history, 30), 1);
    assert_eq!(entries_to_drop(&history, 129), 1);
    assert_eq!(entries_to_drop(&history, 130), 0);
}

#[test]
fn default_budgets_leave_room_for_the_answer() {
    assert_eq!(default_budget("gpt-4o-mini"), 112_000);
    assert_eq!(default_budget("gpt-4.1-mini"), 1_047_576 - 130_947);
    assert_eq!(default_budget("gpt-5"), 350_000);
    assert_eq!(default_budget("o4-mini"), 175_000);
    assert_eq!(default_budget("llama3"), 27_904);
}

#[test]
fn a_window_stops_at_the_first_turn_that_does_not_fit() {
    // Newest first: the latest turn (10), a turn of 20, then one of 20 that does not fit 40.
    let newest_first = [user(40), assistant(40), user(40), assistant(40), user(40)];
    let mut window = Window::new(40);
    let taken = newest_first
        .iter()
        .take_while(|entry| window.take(entry))
        .count();
    assert_eq!(
        taken, 4,
        "stops at the user message that closes the third turn"
    );
    assert_eq!(window.kept(false), 3);
    // A walk that reached the thread's start closes the oldest turn there.
    let mut window = Window::new(1_000);
    assert!(window.take(&assistant(40)));
    assert_eq!(window.kept(false), 0, "an open turn is not kept yet");
    assert_eq!(window.kept(true), 1);
}
