//! One integration-test binary: every test drives the real HTTP server. What the feature files
//! share lives in `support`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod agent_runs;
mod architecture;
mod attachments;
mod auth;
mod bad_input;
mod browser;
mod chat_client;
mod chat_widgets;
mod conformance;
mod console_access;
mod console_agents;
mod console_attachments;
mod console_feedback;
mod console_forms;
mod console_threads;
mod console_usage;
mod cors;
mod db_faults;
mod dictation;
mod first_run;
mod human;
mod isolation;
mod limits;
mod mcp;
mod mcp_faults;
mod metrics;
mod model_http2;
mod pages;
mod pagination;
mod read_cache;
mod recovery;
mod requests;
mod scale_out;
mod streams;
mod webhooks;
