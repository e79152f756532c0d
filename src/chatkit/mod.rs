//! The ChatKit protocol: wire types, ids, errors, and the request dispatcher.

pub mod attachments;
pub mod error;
pub mod files;
pub mod ids;
pub mod records;
pub mod server;
pub mod types;
pub mod widgets;
