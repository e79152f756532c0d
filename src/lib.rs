//! chatkit-server: a self-hosted backend for OpenAI's ChatKit chat widget.
//!
//! Modules in layer order, bottom to top; a module imports only from the layers below it (the
//! architecture test in `tests/api` enforces this):
//! `chatkit`, `config` < `observe` < `store`, `agent` < `runs`, `auth` < `service` < `routes` < `startup`.

pub mod chatkit;
pub mod config;

pub mod observe;

pub mod agent;
pub mod store;

pub mod auth;
pub mod runs;

pub mod service;

pub mod routes;

pub mod startup;
