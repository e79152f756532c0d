//! chatkit-server: a self-hosted backend for OpenAI's ChatKit chat widget.

pub mod agent;
pub mod auth;
pub mod chatkit;
pub mod config;
pub mod routes;
pub mod runs;
pub mod startup;
pub mod store;
