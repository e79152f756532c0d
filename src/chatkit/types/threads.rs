//! Threads as the client sees them, and the cursor page that lists threads and items.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ThreadItem, timestamp};

/// One page of a cursor-paginated list; `after` is the cursor for the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(default)]
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl<T> Default for Page<T> {
    /// The empty page (`{"data":[],"has_more":false}`) every non-`get_by_id` thread carries.
    fn default() -> Self {
        Self {
            data: Vec::new(),
            has_more: false,
            after: None,
        }
    }
}

/// A thread as sent to the client (always with an `items` page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub id: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub status: ThreadStatus,
    /// Extra domains the client may load images from; omitted when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_image_domains: Option<Vec<String>>,
    /// Integration metadata; the SDK always sends `{}` here.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    pub items: Page<ThreadItem>,
}

impl Thread {
    /// A new, untitled, active thread with no items.
    pub fn new(id: String, created_at: DateTime<Utc>) -> Self {
        Thread {
            title: None,
            id,
            created_at,
            status: ThreadStatus::Active,
            allowed_image_domains: None,
            metadata: Map::new(),
            items: Page::default(),
        }
    }
}

/// Lifecycle state; the client disables (locked) or replaces (closed) the composer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThreadStatus {
    #[default]
    Active,
    Locked {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Closed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}
