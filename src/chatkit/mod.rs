//! The ChatKit protocol and nothing else: wire types, widgets, ids, the records the agent keeps
//! beside the items and their states, and file-type facts. It imports no other module of the crate, so every
//! layer above can use it; the request dispatcher that speaks it lives in `service::chatkit`.

pub mod actions;
pub mod files;
#[cfg(test)]
pub(crate) mod fuzz;
pub mod ids;
pub mod records;
pub mod states;
pub mod types;
pub mod widgets;
