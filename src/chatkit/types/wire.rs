//! Answers that carry thread items as they were stored. An item is stored as the JSON its type
//! serializes to, so a page of items can go out as that text, spliced in unparsed: parsing it
//! into [`ThreadItem`]s only to write the same bytes again was most of the work of a read.
//! Only an item the server must change on the way out (an image's preview URL) is parsed.

use super::{Page, Thread, ThreadItem};

/// One item of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum WireItem {
    /// The item's stored JSON, written as it is.
    Stored(String),
    /// The item parsed, to be changed before it is written.
    Parsed(ThreadItem),
}

impl WireItem {
    /// The parsed item, if this one was parsed.
    pub fn parsed_mut(&mut self) -> Option<&mut ThreadItem> {
        match self {
            WireItem::Stored(_) => None,
            WireItem::Parsed(item) => Some(item),
        }
    }

    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            WireItem::Stored(json) => out.extend_from_slice(json.as_bytes()),
            WireItem::Parsed(item) => serde_json::to_writer(&mut *out, item)?,
        }
        Ok(())
    }

    /// The item as a value, however it was kept.
    fn into_item(self) -> serde_json::Result<ThreadItem> {
        match self {
            WireItem::Stored(json) => serde_json::from_str(&json),
            WireItem::Parsed(item) => Ok(item),
        }
    }
}

/// The JSON of a page of items, as `Page<ThreadItem>` serializes.
pub fn page_json(page: &Page<WireItem>) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(page_capacity(page));
    write_page(&mut out, page)?;
    Ok(out)
}

/// The JSON of `thread` (whose own `items` are empty) with `items` as its items, as
/// [`Thread`] serializes.
pub fn thread_json(thread: &Thread, items: Page<WireItem>) -> serde_json::Result<Vec<u8>> {
    /// How a thread's JSON ends when its items are empty: `items` is its last field.
    const EMPTY_ITEMS: &[u8] = br#"{"data":[],"has_more":false}}"#;
    let mut out = Vec::with_capacity(page_capacity(&items) + 256);
    serde_json::to_writer(&mut out, thread)?;
    if !thread.items.data.is_empty() || !out.ends_with(EMPTY_ITEMS) {
        // Not the shape spliced into (a thread with items of its own): serialized whole.
        let mut thread = thread.clone();
        thread.items = Page {
            data: items
                .data
                .into_iter()
                .map(WireItem::into_item)
                .collect::<Result<_, _>>()?,
            has_more: items.has_more,
            after: items.after,
        };
        return serde_json::to_vec(&thread);
    }
    out.truncate(out.len() - EMPTY_ITEMS.len());
    write_page(&mut out, &items)?;
    out.push(b'}');
    Ok(out)
}

fn page_capacity(page: &Page<WireItem>) -> usize {
    let items: usize = page
        .data
        .iter()
        .map(|item| match item {
            WireItem::Stored(json) => json.len() + 1,
            WireItem::Parsed(_) => 512,
        })
        .sum();
    items + 64
}

fn write_page(out: &mut Vec<u8>, page: &Page<WireItem>) -> serde_json::Result<()> {
    out.extend_from_slice(br#"{"data":["#);
    for (i, item) in page.data.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item.write(out)?;
    }
    out.extend_from_slice(if page.has_more {
        br#"],"has_more":true"#
    } else {
        br#"],"has_more":false"#
    });
    if let Some(after) = &page.after {
        out.extend_from_slice(br#","after":"#);
        serde_json::to_writer(&mut *out, after)?;
    }
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chatkit::types::test_support::item;

    /// A page and a thread written with stored item JSON are byte for byte what serializing
    /// the parsed items writes, with and without a cursor, with parsed items among them.
    #[test]
    fn spliced_answers_are_the_serialized_ones() {
        let items: Vec<ThreadItem> = (0..3)
            .map(|i| {
                item(serde_json::json!({
                    "id": format!("msg_{i}"), "thread_id": "thr_1",
                    "created_at": "2026-11-23T23:04:25.852670Z", "type": "assistant_message",
                    "content": [{"type": "output_text", "text": format!("answer \"{i}\" é"), "annotations": []}],
                }))
            })
            .collect();
        let wire = |parse_second: bool| -> Vec<WireItem> {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    if parse_second && i == 1 {
                        WireItem::Parsed(item.clone())
                    } else {
                        WireItem::Stored(serde_json::to_string(item).expect("serializes"))
                    }
                })
                .collect()
        };
        for (has_more, after) in [(false, None), (true, Some("msg_\"2".to_owned()))] {
            for parse_second in [false, true] {
                let typed = Page {
                    data: items.clone(),
                    has_more,
                    after: after.clone(),
                };
                let spliced = Page {
                    data: wire(parse_second),
                    has_more,
                    after: after.clone(),
                };
                assert_eq!(
                    page_json(&spliced).expect("page"),
                    serde_json::to_vec(&typed).expect("typed page")
                );
                let mut thread = Thread::new("thr_1".into(), chrono::DateTime::UNIX_EPOCH);
                thread.title = Some("A \"title\"".into());
                let spliced_thread = thread_json(&thread, spliced).expect("thread");
                thread.items = typed;
                assert_eq!(
                    spliced_thread,
                    serde_json::to_vec(&thread).expect("typed thread")
                );
            }
        }
    }
}
