//! Row types and their conversion to and from the protocol types. JSON lives in TEXT columns
//! (portable across both backends) and is (de)serialised only here.

use diesel::prelude::*;

use super::schema::{items, threads};
use super::{StoreError, from_db_time, to_db_time};
use crate::chatkit::records::{HistoryEntry, ToolCallRecord};
use crate::chatkit::types::{ItemBody, Page, Thread, ThreadItem, ThreadStatus, WireItem};

/// `items.kind` of a [`ToolCallRecord`].
const TOOL_CALL_KIND: &str = "tool_call";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = threads)]
pub struct ThreadRow {
    pub id: String,
    pub account_id: String,
    pub agent_id: String,
    pub user_id: String,
    pub title: Option<String>,
    pub status: String,
    pub allowed_image_domains: Option<String>,
    pub metadata: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl ThreadRow {
    /// The thread as the protocol sends it: items empty (the caller fills them when needed).
    pub fn into_thread(self) -> Result<Thread, StoreError> {
        Ok(Thread {
            title: self.title,
            id: self.id,
            created_at: from_db_time(self.created_at),
            status: serde_json::from_str::<ThreadStatus>(&self.status)?,
            allowed_image_domains: self
                .allowed_image_domains
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
            metadata: serde_json::from_str(&self.metadata)?,
            items: Page::default(),
        })
    }
}

/// Who may see a stored item: ChatKit clients see `visible` ones; `hidden` ones are ChatKit's
/// hidden context (model input only); `model_only` ones are our own records (tool calls and
/// results) that only the model and operators see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Visible,
    Hidden,
    ModelOnly,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::Hidden => "hidden",
            Visibility::ModelOnly => "model_only",
        }
    }
}

/// The wire name of a unit enum (`"pending"`, `"positive"`…), for the columns we filter on.
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = items)]
pub struct ItemRow {
    pub id: String,
    pub thread_id: String,
    pub kind: String,
    pub visibility: String,
    pub status: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub data: String,
}

impl ItemRow {
    pub fn from_item(item: &ThreadItem) -> Result<ItemRow, StoreError> {
        let visibility = if item.body.is_hidden() {
            Visibility::Hidden
        } else {
            Visibility::Visible
        };
        let status = match &item.body {
            ItemBody::ClientToolCall(call) => Some(wire_name(&call.status)),
            ItemBody::StructuredInput(input) => Some(wire_name(&input.status)),
            _ => None,
        };
        Ok(ItemRow {
            id: item.id.clone(),
            thread_id: item.thread_id.clone(),
            kind: item.body.type_name().to_owned(),
            visibility: visibility.as_str().to_owned(),
            status,
            created_at: to_db_time(item.created_at),
            data: serde_json::to_string(item)?,
        })
    }

    pub fn from_tool_call(record: &ToolCallRecord) -> Result<ItemRow, StoreError> {
        Ok(ItemRow {
            id: record.id.clone(),
            thread_id: record.thread_id.clone(),
            kind: TOOL_CALL_KIND.to_owned(),
            visibility: Visibility::ModelOnly.as_str().to_owned(),
            status: Some(if record.is_error { "error" } else { "ok" }.to_owned()),
            created_at: to_db_time(record.created_at),
            data: serde_json::to_string(record)?,
        })
    }

    pub fn into_item(self) -> Result<ThreadItem, StoreError> {
        Ok(serde_json::from_str(&self.data)?)
    }

    /// The item as it goes to a client: its stored JSON as it is, unless the server rewrites
    /// part of it on the way out, which only an image attachment of a user message needs (a
    /// fresh preview URL); such an item is parsed. The test is on the text: outside strings,
    /// whose quotes are escaped, `"type":"image"` is written for image attachments only, or for
    /// a user's tag data that looks like one, which is merely parsed for nothing.
    pub fn into_wire(self) -> Result<WireItem, StoreError> {
        if self.kind == "user_message" && self.data.contains(r#""type":"image""#) {
            return Ok(WireItem::Parsed(self.into_item()?));
        }
        Ok(WireItem::Stored(self.data))
    }

    pub fn into_entry(self) -> Result<HistoryEntry, StoreError> {
        Ok(if self.kind == TOOL_CALL_KIND {
            HistoryEntry::ToolCall(serde_json::from_str(&self.data)?)
        } else {
            HistoryEntry::Item(serde_json::from_str(&self.data)?)
        })
    }
}
